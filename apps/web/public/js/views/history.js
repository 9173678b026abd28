/** The history of one value: a chart of GET /api/history over 1 h, 6 h, 24 h or 7 d. */
import { get, qs } from '../api.js';
import { h } from '../dom.js';
import { live } from '../live.js';
import { formatNumber, formatTime, labelOf } from '../format.js';
import { commandOfKey } from '../devices.js';
import { lineChart } from '../components/chart.js';
import { errorPanel, loading, note, pageHeader } from '../components/ui.js';

const RANGES = [
  { id: '1h', text: '1 h', ms: 3_600_000 },
  { id: '6h', text: '6 h', ms: 6 * 3_600_000 },
  { id: '24h', text: '24 h', ms: 24 * 3_600_000 },
  { id: '7d', text: '7 d', ms: 7 * 24 * 3_600_000 },
];

export async function historyView({ root, query, scope }) {
  const key = query.get('key') ?? '';
  let range = RANGES.find((r) => r.id === query.get('range')) ?? RANGES[1];
  document.title = 'History · RasPy';

  const m = /^\/device\/([^/]+\/[^/]+\/[^/]+)\/(.+)$/.exec(key);
  const deviceId = m ? m[1] : null;
  const back = deviceId ? { href: `#/device/${deviceId}`, text: 'Device' } : { href: '#/', text: 'Devices' };
  const header = pageHeader('History', { back, subtitle: h('code', null, key || 'no key') });
  root.append(header);
  if (!key) {
    root.append(errorPanel('No key given: open a history from a device page.'));
    return;
  }

  // Name, label and unit come from the device description.
  let unit = '';
  let label = key;
  if (deviceId) {
    try {
      const device = await get(`/api/device?${qs({ id: deviceId })}`, { signal: scope.signal });
      const c = commandOfKey(key, device.description);
      if (c) {
        unit = c.spec.unit ?? device.values?.[c.path]?.unit ?? '';
        label = `${device.description.name} · ${c.sub ? `${c.sub}/` : ''}${labelOf(c.name, c.spec)}`;
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      // The chart works without it.
    }
  }
  if (!unit) unit = live.get(key)?.unit ?? '';
  header.querySelector('h1').textContent = label;
  document.title = `${label} · RasPy`;

  const buttons = RANGES.map((r) =>
    h('button', { type: 'button', class: 'seg__btn', 'aria-pressed': String(r === range), dataset: { range: r.id }, on: { click: () => choose(r) } }, r.text),
  );
  const chartBox = h('div', { class: 'chart-box' });
  const stats = h('dl', { class: 'stats' });
  root.append(
    h('div', { class: 'toolbar' }, h('div', { class: 'seg', role: 'group', 'aria-label': 'Period' }, buttons)),
    h('section', { class: 'panel' }, chartBox, stats),
  );

  let points = [];
  let from = 0;
  let to = 0;

  const draw = () => {
    if (!points.length) {
      chartBox.replaceChildren(
        lineChart([], { width: chartBox.clientWidth || 600, height: chartHeight(), from, to, unit, label }),
        note(
          h('p', null, h('strong', null, 'No recorded values in this period.')),
          h('p', null, 'The house keeps a history only for devices whose “Record values” setting is on', deviceId ? [' (', h('a', { href: `#/device/${deviceId}` }, 'device settings'), ')'] : null, '.'),
        ),
      );
      stats.replaceChildren();
      return;
    }
    chartBox.replaceChildren(lineChart(points, { width: chartBox.clientWidth || 600, height: chartHeight(), from, to, unit, label }));
    const values = points.map((p) => p[1]);
    const u = unit ? ` ${unit}` : '';
    const stat = (t, v) => h('div', null, h('dt', null, t), h('dd', null, v));
    stats.replaceChildren(
      stat('Last', `${formatNumber(values[values.length - 1])}${u} at ${formatTime(points[points.length - 1][0])}`),
      stat('Min', `${formatNumber(Math.min(...values))}${u}`),
      stat('Max', `${formatNumber(Math.max(...values))}${u}`),
      stat('Average', `${formatNumber(values.reduce((a, b) => a + b, 0) / values.length)}${u}`),
      stat('Points', String(points.length)),
    );
  };

  const load = async () => {
    to = Date.now();
    from = to - range.ms;
    chartBox.replaceChildren(loading('Loading the history…'));
    try {
      const res = await get(`/api/history?${qs({ key, from, to, points: 500 })}`, { signal: scope.signal });
      points = (res.points ?? [])
        .map(([t, v]) => [Number(t), typeof v === 'boolean' ? Number(v) : v])
        .filter(([t, v]) => Number.isFinite(t) && typeof v === 'number')
        .sort((a, b) => a[0] - b[0]);
    } catch (err) {
      if (err.name === 'AbortError') return;
      chartBox.replaceChildren(errorPanel(`The history could not be loaded: ${err.message}`, load));
      stats.replaceChildren();
      return;
    }
    draw();
  };

  function choose(r) {
    range = r;
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.range === r.id));
    // Keep the period in the address (without a new route) so a reload keeps it.
    history.replaceState(null, '', `#/history?${qs({ key, range: r.id })}`);
    load();
  }

  // New live values extend the chart; the window slides with the clock.
  scope.onCleanup(
    live.watchKey(key, (_k, v) => {
      if (!v || typeof v.value !== 'number' || !points.length && !to) return;
      const t = typeof v.ts === 'number' ? v.ts : Date.now();
      // The stream's snapshot (at connect or reconnect) brings the current value again: not a new point.
      if (points.length && t <= points[points.length - 1][0]) return;
      to = Math.max(Date.now(), t);
      from = to - range.ms;
      points.push([t, v.value]);
      points = points.filter((p) => p[0] >= from);
      draw();
    }),
  );
  let lastWidth = 0;
  const resize = new ResizeObserver(() => {
    const w = chartBox.clientWidth;
    if (w && Math.abs(w - lastWidth) > 4 && (points.length || to)) {
      lastWidth = w;
      draw();
    }
  });
  resize.observe(chartBox);
  scope.onCleanup(() => resize.disconnect());

  await load();
  lastWidth = chartBox.clientWidth;
}

function chartHeight() {
  return window.innerWidth < 600 ? 240 : 340;
}
