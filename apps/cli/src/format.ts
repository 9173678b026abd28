/**
 * How `raspy` shows things to people: values (bool as on/off, units after
 * numbers), a device's readings in one line, tables, times, and the values
 * of the key/value tree. Pure functions over data, unit-tested.
 *
 * @module
 */
import type { CommandSpec, DeviceDescription, Reading } from '@raspy/devices';

/** A device's availability, from its `$state` key in the tree. */
export type DeviceState = 'online' | 'offline' | 'lost' | 'unknown';

/**
 * A value for people: `on`/`off` for booleans, numbers and text as they are,
 * anything else as compact JSON.
 *
 * @param value - a JSON value
 * @returns its text
 */
export function formatValue(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value === undefined) return '';
  return JSON.stringify(value);
}

/**
 * A reading with its unit: `21.4 °C`, `on`, `80 %`.
 *
 * @param reading - the value and its unit, if any
 * @returns its text
 */
export function formatReading(reading: Pick<Reading, 'value' | 'unit'>): string {
  const text = formatValue(reading.value);
  return reading.unit === undefined || reading.unit === '' ? text : `${text} ${reading.unit}`;
}

/**
 * The schema of a command of a device, or of a subdevice's command given as
 * `<sub>/<command>` (as {@link DevicesClient.discover} keys them).
 *
 * @returns the schema, or undefined when the description has no such command
 */
export function commandSpec(description: DeviceDescription | undefined, key: string): CommandSpec | undefined {
  if (description === undefined) return undefined;
  const slash = key.indexOf('/');
  if (slash < 0) return description.commands[key];
  return commandSpec(description.subdevices?.[key.slice(0, slash)], key.slice(slash + 1));
}

/**
 * The commands of a device that hold readings worth showing, in the order
 * of its description: its own, then its subdevices' as `<sub>/<command>`.
 * Configuration commands, actions and bytes are left out.
 */
export function readingCommands(description: DeviceDescription, prefix = ''): string[] {
  const out: string[] = [];
  for (const [name, spec] of Object.entries(description.commands)) {
    if (spec.config === true || spec.writeonly === true || spec.type === 'bytes') continue;
    out.push(prefix + name);
  }
  for (const [name, sub] of Object.entries(description.subdevices ?? {})) out.push(...readingCommands(sub, `${prefix}${name}/`));
  return out;
}

/**
 * A device's readings as `name=value` pairs in one line:
 * `temperature=21.4 °C power=on`. Commands of the description come first,
 * in its order; configuration readings are left out; text with spaces is
 * quoted.
 *
 * @param values - readings by command (`<sub>/<command>` for subdevices)
 * @param description - the device's description, for the order and what to leave out
 */
export function formatValues(values: Readonly<Record<string, Pick<Reading, 'value' | 'unit'>>>, description?: DeviceDescription): string {
  const order = description === undefined ? [] : readingCommands(description);
  const keys = [...order.filter((k) => k in values), ...Object.keys(values).filter((k) => !order.includes(k)).sort()];
  const parts: string[] = [];
  for (const key of keys) {
    const spec = commandSpec(description, key);
    if (spec?.config === true) continue;
    const reading = values[key] as Pick<Reading, 'value' | 'unit'>;
    const text = typeof reading.value === 'string' && (reading.value === '' || /[\s="]/.test(reading.value)) ? JSON.stringify(reading.value) : formatValue(reading.value);
    parts.push(`${key}=${reading.unit ? `${text} ${reading.unit}` : text}`);
  }
  return parts.join(' ');
}

/**
 * Lines of a table: a header, then the rows, columns padded to their widest
 * cell (the last one is not padded).
 *
 * @param header - column titles
 * @param rows - cells, as many as titles
 * @returns the lines, without newlines
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return align([header, ...rows]);
}

/**
 * Rows of cells with their columns aligned, two spaces apart; the last
 * column is not padded, so no line ends with spaces.
 *
 * @param rows - cells
 * @returns the lines, without newlines
 */
export function align(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(cell))));
  return rows.map((cells) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - width(c))))
      .join('  ')
      .trimEnd(),
  );
}

/** Length in terminal columns, near enough: code points, not UTF-16 units. */
function width(text: string): number {
  return [...text].length;
}

/**
 * A device's state from its `$state` key: online, offline (stopped
 * cleanly), lost (the key ran out: its server stopped refreshing it).
 *
 * @param state - the parsed `$state` value, or undefined when absent
 */
export function deviceState(state: unknown): DeviceState {
  if (typeof state !== 'object' || state === null) return 'lost';
  return (state as { online?: unknown }).online === true ? 'online' : 'offline';
}

/**
 * A time of day for people, local time with milliseconds: `14:03:07.125`.
 *
 * @param ms - milliseconds since the epoch
 */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * A value of the key/value tree decoded: JSON when it is JSON, else text
 * when it is UTF-8, else its size.
 *
 * @param value - the bytes, or undefined for a deleted key
 */
export function decodeTreeValue(value: Buffer | undefined): { kind: 'deleted' } | { kind: 'json'; value: unknown } | { kind: 'text'; text: string } | { kind: 'binary'; size: number } {
  if (value === undefined || value.length === 0) return { kind: 'deleted' };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(value);
  } catch {
    return { kind: 'binary', size: value.length };
  }
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'text', text };
  }
}

/**
 * A value of the key/value tree for people: a device reading as a reading
 * (`21.4 °C`), a `$state` as online/offline, other JSON compact, a deleted
 * key as `(deleted)`.
 *
 * @param key - the key (its last segment says what the value is)
 * @param value - the bytes, or undefined for a deleted key
 */
export function formatTreeValue(key: string, value: Buffer | undefined): string {
  const decoded = decodeTreeValue(value);
  switch (decoded.kind) {
    case 'deleted':
      return key.endsWith('/$state') ? '(deleted: lost)' : '(deleted)';
    case 'binary':
      return `(${decoded.size} bytes)`;
    case 'text':
      return decoded.text;
    case 'json': {
      const v = decoded.value;
      if (key.endsWith('/$state')) return deviceState(v);
      if (key.startsWith('/device/') && isReading(v)) return formatReading(v);
      return JSON.stringify(v);
    }
  }
}

/** Whether a JSON value has the shape of a published reading, `{value, unit?, ts}`. */
export function isReading(v: unknown): v is Reading {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'value' in v && typeof (v as { ts?: unknown }).ts === 'number';
}

/**
 * A byte count for people: `512 bytes`, `14.2 KiB`, `3.1 MiB`.
 *
 * @param n - bytes
 */
export function formatSize(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
