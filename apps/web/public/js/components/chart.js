/**
 * A line chart as inline SVG, drawn by hand: a value axis with "nice"
 * ticks, a time axis aligned to local minutes/hours/days, the unit, gaps
 * where recording stopped, and a readout that follows the pointer.
 */
import { svg } from '../dom.js';
import { formatNumber } from '../format.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];

/**
 * @param {Array<[number, number]>} points - [ms, value], sorted by time
 * @param {object} o
 * @param {number} o.width
 * @param {number} o.height
 * @param {number} o.from - start of the time axis (ms)
 * @param {number} o.to - end of the time axis (ms)
 * @param {string} [o.unit]
 * @param {string} [o.label] - for the accessible name
 * @returns {SVGSVGElement}
 */
export function lineChart(points, { width, height, from, to, unit = '', label = 'Values' }) {
  const data = points.filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v));
  let lo = Math.min(...data.map((p) => p[1]));
  let hi = Math.max(...data.map((p) => p[1]));
  if (!data.length) [lo, hi] = [0, 1];
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  const yTicks = niceTicks(lo, hi, height < 260 ? 4 : 6);
  lo = Math.min(lo, yTicks[0]);
  hi = Math.max(hi, yTicks[yTicks.length - 1]);

  const yLabels = yTicks.map((v) => formatNumber(v));
  const charW = 7.2; // about the width of a digit at the label size
  const pad = { top: 22, right: 14, bottom: 30, left: Math.max(...yLabels.map((s) => s.length), unit.length) * charW + 14 };
  const plotW = Math.max(10, width - pad.left - pad.right);
  const plotH = Math.max(10, height - pad.top - pad.bottom);
  const x = (t) => pad.left + ((t - from) / (to - from)) * plotW;
  const y = (v) => pad.top + (1 - (v - lo) / (hi - lo)) * plotH;

  const root = svg('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': `${label}: ${data.length} points from ${new Date(from).toLocaleString()} to ${new Date(to).toLocaleString()}`,
    'data-testid': 'history-chart',
  });

  // Value axis: grid lines and labels, the unit above them.
  const grid = svg('g', { class: 'chart__grid' });
  yTicks.forEach((v, i) => {
    grid.append(
      svg('line', { x1: pad.left, x2: pad.left + plotW, y1: y(v), y2: y(v) }),
      svg('text', { x: pad.left - 8, y: y(v), class: 'chart__ylabel', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, yLabels[i]),
    );
  });
  if (unit) grid.append(svg('text', { x: pad.left - 8, y: 10, class: 'chart__unit', 'text-anchor': 'end' }, unit));

  // Time axis: ticks at round local times.
  const maxTicks = Math.max(2, Math.floor(plotW / 70));
  const step = TIME_STEPS.find((s) => (to - from) / s <= maxTicks) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const axis = svg('g', { class: 'chart__axis' });
  axis.append(svg('line', { x1: pad.left, x2: pad.left + plotW, y1: pad.top + plotH, y2: pad.top + plotH }));
  for (const t of timeTicks(from, to, step)) {
    axis.append(
      svg('line', { x1: x(t), x2: x(t), y1: pad.top + plotH, y2: pad.top + plotH + 5 }),
      svg('text', { x: x(t), y: pad.top + plotH + 19, 'text-anchor': 'middle', class: 'chart__xlabel' }, timeLabel(t, step)),
    );
  }

  // The line, broken where there is a gap much longer than the usual interval.
  const gap = gapThreshold(data, to - from);
  let d = '';
  let area = '';
  let runStart = null;
  let prev = null;
  const closeRun = () => {
    if (runStart !== null && prev !== null) area += `L${x(prev[0]).toFixed(1)},${(pad.top + plotH).toFixed(1)}L${x(runStart[0]).toFixed(1)},${(pad.top + plotH).toFixed(1)}Z`;
  };
  for (const p of data) {
    const px = x(p[0]).toFixed(1);
    const py = y(p[1]).toFixed(1);
    if (prev === null || p[0] - prev[0] > gap) {
      closeRun();
      d += `M${px},${py}`;
      area += `M${px},${py}`;
      runStart = p;
    } else {
      d += `L${px},${py}`;
      area += `L${px},${py}`;
    }
    prev = p;
  }
  closeRun();
  const series = svg('g', { class: 'chart__series' }, svg('path', { d: area, class: 'chart__area' }), svg('path', { d, class: 'chart__line' }));
  if (data.length <= 60) for (const p of data) series.append(svg('circle', { cx: x(p[0]), cy: y(p[1]), r: 2.5, class: 'chart__dot' }));

  // Readout: the nearest point to the pointer.
  const cursor = svg('g', { class: 'chart__cursor', visibility: 'hidden' });
  const cursorLine = svg('line', { y1: pad.top, y2: pad.top + plotH });
  const cursorDot = svg('circle', { r: 4 });
  const cursorBg = svg('rect', { rx: 4, height: 20 });
  const cursorText = svg('text', { 'dominant-baseline': 'middle' });
  cursor.append(cursorLine, cursorDot, cursorBg, cursorText);
  const hit = svg('rect', { x: pad.left, y: pad.top, width: plotW, height: plotH, fill: 'transparent', class: 'chart__hit' });
  const show = (ev) => {
    if (!data.length) return;
    const box = root.getBoundingClientRect();
    const mx = ((ev.clientX - box.left) / box.width) * width;
    const t = from + ((mx - pad.left) / plotW) * (to - from);
    const p = nearest(data, t);
    const cx = x(p[0]);
    const cy = y(p[1]);
    cursorLine.setAttribute('x1', cx);
    cursorLine.setAttribute('x2', cx);
    cursorDot.setAttribute('cx', cx);
    cursorDot.setAttribute('cy', cy);
    cursorText.textContent = `${formatNumber(p[1])}${unit ? ` ${unit}` : ''} · ${new Date(p[0]).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' })}`;
    const textW = cursorText.textContent.length * 6.6 + 12;
    const tx = Math.min(Math.max(cx - textW / 2, pad.left), pad.left + plotW - textW);
    cursorBg.setAttribute('x', tx);
    cursorBg.setAttribute('y', pad.top - 20);
    cursorBg.setAttribute('width', textW);
    cursorText.setAttribute('x', tx + 6);
    cursorText.setAttribute('y', pad.top - 10);
    cursor.setAttribute('visibility', 'visible');
  };
  hit.addEventListener('pointermove', show);
  hit.addEventListener('pointerdown', show);
  hit.addEventListener('pointerleave', () => cursor.setAttribute('visibility', 'hidden'));

  root.append(grid, axis, series, cursor, hit);
  return root;
}

/** About `count` round values covering lo..hi (steps of 1, 2 or 5 × 10^n). */
export function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => raw <= s) ?? 10 * mag;
  const start = Math.floor(lo / step) * step;
  const ticks = [];
  for (let v = start; v <= hi + step * 0.5 && ticks.length < 50; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < hi) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/** Times between from and to that are multiples of `step` in local time (days on local midnight). */
function timeTicks(from, to, step) {
  const ticks = [];
  if (step >= DAY) {
    const d = new Date(from);
    d.setHours(0, 0, 0, 0);
    if (d.getTime() < from) d.setDate(d.getDate() + 1);
    while (d.getTime() <= to && ticks.length < 100) {
      ticks.push(d.getTime());
      d.setDate(d.getDate() + step / DAY);
    }
    return ticks;
  }
  const offset = new Date(from).getTimezoneOffset() * MINUTE;
  for (let t = Math.ceil((from - offset) / step) * step + offset; t <= to && ticks.length < 100; t += step) ticks.push(t);
  return ticks;
}

function timeLabel(t, step) {
  const d = new Date(t);
  if (step >= DAY) return d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric' });
  if (d.getHours() === 0 && d.getMinutes() === 0) return d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric' });
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** A gap is 5× the median interval (at least 1/100 of the span). */
function gapThreshold(data, span) {
  if (data.length < 3) return Infinity;
  const dts = [];
  for (let i = 1; i < data.length; i++) dts.push(data[i][0] - data[i - 1][0]);
  dts.sort((a, b) => a - b);
  return Math.max(dts[Math.floor(dts.length / 2)] * 5, span / 100);
}

function nearest(data, t) {
  let lo = 0;
  let hi = data.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (data[mid][0] < t) lo = mid;
    else hi = mid;
  }
  return Math.abs(data[lo][0] - t) <= Math.abs(data[hi][0] - t) ? data[lo] : data[hi];
}
