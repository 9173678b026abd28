/** Formatting values, units, times and durations for people. */

/** A number shown with at most 2 decimals (more for tiny non-zero values). */
export function formatNumber(n) {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && abs < 0.01) return String(Number(n.toPrecision(2)));
  return String(Number(n.toFixed(2)));
}

/**
 * A device value as text: booleans as on/off, numbers trimmed, JSON
 * compact, nothing as a dash; with the unit when there is one.
 */
export function formatValue(value, unit) {
  let text;
  if (value === undefined || value === null) return '—';
  if (typeof value === 'boolean') text = value ? 'on' : 'off';
  else if (typeof value === 'number') text = formatNumber(value);
  else if (typeof value === 'string') text = value;
  else text = truncate(JSON.stringify(value), 80);
  return unit && (typeof value === 'number' || typeof value === 'string') ? `${text} ${unit}` : text;
}

export function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Milliseconds from a number (ms) or an ISO string; NaN if neither. */
export function toMs(t) {
  if (typeof t === 'number') return t;
  if (typeof t === 'string') return Date.parse(t);
  return NaN;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** "14:05:09" today, "Tue 3 Jun, 14:05" another day, "—" for nothing. */
export function formatTime(t) {
  const ms = toMs(t);
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeFmt.format(d);
  return dateTimeFmt.format(d);
}

/** The full date and time, for title attributes. */
export function formatFullTime(t) {
  const ms = toMs(t);
  return Number.isFinite(ms) ? fullFmt.format(new Date(ms)) : '';
}

/** "5 s ago", "in 3 min", "2 h ago". */
export function relativeTime(t, now = Date.now()) {
  const ms = toMs(t);
  if (!Number.isFinite(ms)) return '';
  const diff = ms - now;
  const abs = Math.abs(diff);
  let text;
  if (abs < 5000) return 'just now';
  if (abs < 60_000) text = `${Math.round(abs / 1000)} s`;
  else if (abs < 3_600_000) text = `${Math.round(abs / 60_000)} min`;
  else if (abs < 86_400_000) text = `${Math.round(abs / 3_600_000)} h`;
  else text = `${Math.round(abs / 86_400_000)} d`;
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

/** A duration in seconds as "3 d 4 h", "5 h 12 min", "42 s". */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const hrs = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${hrs} h`;
  if (hrs > 0) return `${hrs} h ${min} min`;
  if (min > 0) return `${min} min ${s % 60} s`;
  return `${s} s`;
}

/** Milliseconds as "120 ms" or "3.4 s". */
export function formatMs(ms) {
  if (!Number.isFinite(ms)) return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${formatNumber(ms / 1000)} s`;
}

/** The emoji for a device type (oid); a gear for unknown types. */
export function typeIcon(type = '') {
  const exact = {
    'sensor.temperature': '🌡️',
    'sensor.humidity': '💧',
    'sensor.wind': '🌬️',
    'sensor.moisture': '🌱',
    'sensor.pressure': '🧭',
    'sensor.light': '🔆',
    'sensor.motion': '🚶',
    'sensor.door': '🚪',
    'switch.binary': '🔌',
    'switch.dimmer': '💡',
    'media.tv': '📺',
    'media.camera': '📷',
    'media.volume': '🔊',
    'media.channel': '🔢',
  };
  if (exact[type]) return exact[type];
  if (type.startsWith('sensor.')) return '📈';
  if (type.startsWith('switch.')) return '🔘';
  if (type.startsWith('media.')) return '🎛️';
  if (type.startsWith('light.')) return '💡';
  return '⚙️';
}

/** A human label for a command: its `label`, else its name. */
export function labelOf(name, spec) {
  return (spec && spec.label) || name;
}
