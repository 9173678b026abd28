/**
 * The dashboard: every device, grouped by host then server, each card with
 * its state and live values. Cards are links to the device page.
 */
import { get } from '../api.js';
import { h } from '../dom.js';
import { live } from '../live.js';
import { formatValue, labelOf, typeIcon } from '../format.js';
import { allCommands, isReadable, splitId, stateKey, valueKey } from '../devices.js';
import { errorPanel, loading, note, pageHeader, setStateBadge, stateFromKey } from '../components/ui.js';

export async function dashboardView({ root, scope }) {
  document.title = 'Devices · RasPy';
  const summary = h('span', { class: 'page-subtitle' });
  const body = h('div', { class: 'dashboard' }, loading('Loading the devices…'));
  root.append(pageHeader('Devices', { actions: summary }), body);

  /** key → value element, and device id → card parts, for live updates. */
  let valueEls = new Map();
  let cards = new Map();
  let reloadTimer = null;

  const updateSummary = () => {
    const states = [...cards.values()].map((c) => c.state);
    const online = states.filter((s) => s === 'online').length;
    summary.textContent = states.length ? `${online} of ${states.length} online` : '';
  };

  const load = async () => {
    let devices;
    try {
      ({ devices } = await get('/api/devices', { signal: scope.signal }));
    } catch (err) {
      if (err.name === 'AbortError') return;
      body.replaceChildren(errorPanel(`The devices could not be loaded: ${err.message}`, load));
      return;
    }
    valueEls = new Map();
    cards = new Map();
    if (!devices || devices.length === 0) {
      body.replaceChildren(
        note(
          h('p', null, h('strong', null, 'No devices yet.')),
          h('p', null, 'Devices appear here as soon as a device server of the house publishes them (for a demo, run the simulated house with npm start).'),
        ),
      );
      updateSummary();
      return;
    }
    body.replaceChildren(...groups(devices).map(([host, servers]) => hostSection(host, servers)));
    updateSummary();
  };

  // ---------------------------------------------------------------- drawing

  function hostSection(host, servers) {
    return h(
      'section',
      { class: 'host', 'aria-labelledby': `host-${host}` },
      h('h2', { class: 'host__title', id: `host-${host}` }, h('span', { class: 'host__icon', 'aria-hidden': 'true' }, '🖥️'), host),
      servers.map(([server, list]) => {
        const serverKey = `/server/${host}/${server}`;
        const status = h('span', { class: 'server__status' });
        const setServer = (v) => {
          if (!live.synced) return;
          status.textContent = v && v.online !== false ? '' : 'server offline';
          status.className = v && v.online !== false ? 'server__status' : 'server__status badge badge--warn';
        };
        setServer(live.get(serverKey));
        scope.onCleanup(live.watchKey(serverKey, (_k, v) => setServer(v)));
        return h(
          'section',
          { class: 'server' },
          h('h3', { class: 'server__title' }, server, status),
          h('ul', { class: 'cards', role: 'list' }, list.map((d) => h('li', null, deviceCard(d)))),
        );
      }),
    );
  }

  function deviceCard(device) {
    const desc = device.description ?? { id: device.id, name: device.id, commands: {} };
    const stateEl = h('span', { 'data-testid': 'device-state' });
    const known = live.synced ? stateFromKey(live.get(stateKey(device.id))) : device.state ?? 'lost';
    setStateBadge(stateEl, known);
    const nameEl = h('span', { class: 'card__name' }, desc.name || splitId(device.id).device);

    const rows = [];
    for (const c of allCommands(desc)) {
      if (c.spec.config || !isReadable(c.spec)) continue;
      const key = valueKey(c.deviceId, c.name);
      const liveReading = live.get(key);
      const reading = liveReading && typeof liveReading === 'object' && 'value' in liveReading ? liveReading : device.values?.[c.path];
      const unit = c.spec.unit ?? reading?.unit;
      const el = h('dd', { class: 'card__value', 'data-testid': 'value', dataset: { key } }, formatValue(reading?.value, unit));
      valueEls.set(key, { el, unit });
      // Values of subdevices read as "volume/level", the path people see in scenarios too; a
      // subdevice's command of its own name (the TV's power/power) reads as the subdevice.
      const label = !c.sub ? labelOf(c.name, c.spec) : c.sub.split('/').at(-1) === c.name ? c.sub : c.path;
      rows.push(h('div', { class: 'card__row' }, h('dt', { title: c.spec.description ?? '' }, label), el));
    }
    const hasSnapshot = allCommands(desc).some((c) => c.spec.type === 'bytes' && String(c.spec.mime ?? '').startsWith('image/'));

    const card = h(
      'a',
      { class: 'card', href: `#/device/${device.id}`, 'data-testid': 'device-card', dataset: { deviceId: device.id, state: known } },
      h(
        'div',
        { class: 'card__head' },
        h('span', { class: 'card__icon', 'aria-hidden': 'true', title: desc.type ?? '' }, typeIcon(desc.type)),
        nameEl,
        stateEl,
      ),
      rows.length ? h('dl', { class: 'card__values' }, rows) : h('p', { class: 'card__empty' }, hasSnapshot ? 'Open for the picture' : 'No readings'),
    );
    cards.set(device.id, { card, stateEl, nameEl, state: known });
    return card;
  }

  // ------------------------------------------------------------ live changes

  const setState = (id, state) => {
    const c = cards.get(id);
    if (!c || c.state === state) return;
    c.state = state;
    c.card.dataset.state = state;
    setStateBadge(c.stateEl, state);
    updateSummary();
  };

  scope.onCleanup(
    live.watchPrefix('/device/', (key, value) => {
      const v = valueEls.get(key);
      if (v) {
        if (value && typeof value === 'object' && 'value' in value) v.el.textContent = formatValue(value.value, v.unit ?? value.unit);
        return;
      }
      const m = /^\/device\/(.+)\/(\$state|\$description)$/.exec(key);
      if (!m) return;
      const [, id, what] = m;
      if (what === '$state') {
        setState(id, stateFromKey(value));
      } else if (value && cards.has(id)) {
        cards.get(id).nameEl.textContent = value.name ?? id;
      } else if (value && !cards.has(id) && id.split('/').length === 3) {
        // A device we have not seen: load the list again (once for a burst).
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(load, 500);
      }
    }),
  );
  // After a reconnect, devices that vanished from the tree while we were away are lost.
  const onSnapshot = () => {
    for (const id of cards.keys()) setState(id, stateFromKey(live.get(stateKey(id))));
  };
  live.addEventListener('snapshot', onSnapshot);
  scope.onCleanup(() => {
    live.removeEventListener('snapshot', onSnapshot);
    clearTimeout(reloadTimer);
  });

  await load();
}

/** Devices as [[host, [[server, devices]]]], sorted by name. */
function groups(devices) {
  const hosts = new Map();
  for (const d of devices) {
    const { host, server } = splitId(d.id);
    if (!hosts.has(host)) hosts.set(host, new Map());
    const servers = hosts.get(host);
    if (!servers.has(server)) servers.set(server, []);
    servers.get(server).push(d);
  }
  const byName = (a, b) => a.localeCompare(b, undefined, { numeric: true });
  return [...hosts.entries()]
    .sort(([a], [b]) => byName(a, b))
    .map(([host, servers]) => [
      host,
      [...servers.entries()]
        .sort(([a], [b]) => byName(a, b))
        .map(([server, list]) => [server, list.sort((a, b) => byName(a.description?.name ?? a.id, b.description?.name ?? b.id))]),
    ]);
}
