/**
 * A device page: a control per command, drawn from the schema only; the
 * subdevices as sections of their own; the configuration commands (name,
 * poll, record) under "Settings".
 */
import { get, qs } from '../api.js';
import { h } from '../dom.js';
import { live } from '../live.js';
import { typeIcon } from '../format.js';
import { allSubdevices, splitId, stateKey } from '../devices.js';
import { createControl } from '../components/control.js';
import { errorPanel, loading, pageHeader, setStateBadge, stateFromKey } from '../components/ui.js';

export async function deviceView({ root, params, scope }) {
  const [id] = params;
  document.title = `${id} · RasPy`;
  const back = { href: '#/', text: 'Devices' };
  root.append(loading('Loading the device…'));

  let device;
  try {
    device = await get(`/api/device?${qs({ id })}`, { signal: scope.signal });
  } catch (err) {
    if (err.name === 'AbortError') return;
    root.replaceChildren(
      pageHeader(id, { back }),
      err.status === 404 ? errorPanel(`There is no device ${id}.`) : errorPanel(`The device could not be loaded: ${err.message}`, () => deviceView({ root: clear(root), params, scope })),
    );
    return;
  }
  const desc = device.description ?? { id, name: id, type: '', commands: {} };
  const values = device.values ?? {};
  document.title = `${desc.name} · RasPy`;

  const stateEl = h('span', { 'data-testid': 'device-state' });
  setStateBadge(stateEl, live.synced ? stateFromKey(live.get(stateKey(id))) : device.state ?? 'lost');
  scope.onCleanup(live.watchKey(stateKey(id), (_k, v) => setStateBadge(stateEl, stateFromKey(v))));

  const { host, server } = splitId(id);
  const header = pageHeader(desc.name, {
    back,
    actions: stateEl,
    subtitle: [h('span', { class: 'card__icon', 'aria-hidden': 'true' }, typeIcon(desc.type)), ` ${desc.type || 'device'} · `, h('code', null, id), ` · server ${host}/${server}`],
  });
  const title = header.querySelector('h1');

  /** The controls of one (sub)device; `config` picks the settings or the rest. */
  const controls = (d, sub, config) =>
    Object.entries(d.commands ?? {})
      .filter(([, spec]) => !!spec.config === config)
      .map(([name, spec]) => {
        const path = sub ? `${sub}/${name}` : name;
        let reading = values[path];
        // The name is in the description even when no reading of it is published.
        if (!reading && name === 'name' && spec.config) reading = { value: d.name };
        return createControl({
          deviceId: d.id,
          name,
          spec,
          reading,
          scope,
          onValue: !sub && name === 'name' && spec.config ? (v) => typeof v === 'string' && v && (title.textContent = v) : undefined,
        });
      });

  const sections = [];
  const own = controls(desc, '', false);
  if (own.length) sections.push(panel(allSubdevices(desc).length ? 'Device' : 'Controls', null, own));
  for (const { path, description: sub } of allSubdevices(desc)) {
    const list = controls(sub, path, false);
    if (list.length) sections.push(panel(sub.name || path, `${typeIcon(sub.type)} ${sub.type ?? ''} · ${path}`, list, { testid: 'subdevice', path }));
  }
  if (sections.length === 0) sections.push(panel('Controls', null, [h('p', { class: 'hint' }, 'This device has no commands.')]));

  // Settings: the device's own configuration, then its parts' (folded away).
  const settings = controls(desc, '', true);
  const subSettings = allSubdevices(desc)
    .map(({ path, description: sub }) => ({ path, sub, list: controls(sub, path, true) }))
    .filter((s) => s.list.length);
  const settingsPanel = h(
    'section',
    { class: 'panel panel--settings', 'aria-labelledby': 'settings-title', 'data-testid': 'settings' },
    h('h2', { class: 'panel__title', id: 'settings-title' }, '⚙️ Settings'),
    h('div', { class: 'controls' }, settings),
    subSettings.length
      ? h(
          'details',
          { class: 'sub-settings' },
          h('summary', null, 'Settings of the parts'),
          subSettings.map((s) => h('div', { class: 'sub-settings__group' }, h('h3', null, s.sub.name || s.path), h('div', { class: 'controls' }, s.list))),
        )
      : null,
  );
  if (settings.length || subSettings.length) sections.push(settingsPanel);

  root.replaceChildren(header, h('div', { class: 'panels' }, sections));

  // The name may change from elsewhere (settings store, another browser).
  scope.onCleanup(
    live.watchKey(`/device/${id}/$description`, (_k, v) => {
      if (v && typeof v.name === 'string') title.textContent = v.name;
    }),
  );
}

function panel(title, subtitle, children, { testid, path } = {}) {
  return h(
    'section',
    { class: 'panel', 'data-testid': testid, dataset: { path } },
    h('h2', { class: 'panel__title' }, title),
    subtitle ? h('p', { class: 'panel__subtitle' }, subtitle) : null,
    h('div', { class: 'controls' }, children),
  );
}

function clear(el) {
  el.replaceChildren();
  return el;
}
