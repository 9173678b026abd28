import type { DeviceDescription } from '@raspy/devices';
import {
  align,
  commandSpec,
  decodeTreeValue,
  deviceState,
  formatReading,
  formatSize,
  formatTime,
  formatTreeValue,
  formatValue,
  formatValues,
  readingCommands,
  table,
} from './format.js';

const tv: DeviceDescription = {
  id: 'pi1/sim/tv',
  type: 'media.tv',
  name: 'TV',
  commands: {
    channel: { type: 'string' },
    power: { type: 'bool' },
    remote: { type: 'string', writeonly: true },
    snapshot: { type: 'bytes', readonly: true },
    name: { type: 'string', config: true },
  },
  subdevices: {
    volume: { id: 'pi1/sim/tv/volume', type: 'audio.volume', name: 'volume', commands: { level: { type: 'int', unit: '%' }, poll: { type: 'int', config: true } } },
  },
};

describe('values', () => {
  test('bool as on/off, numbers and text as they are, the rest as JSON', () => {
    expect(formatValue(true)).toBe('on');
    expect(formatValue(false)).toBe('off');
    expect(formatValue(21.4)).toBe('21.4');
    expect(formatValue(-3)).toBe('-3');
    expect(formatValue('hdmi1')).toBe('hdmi1');
    expect(formatValue(null)).toBe('null');
    expect(formatValue({ a: [1, 2] })).toBe('{"a":[1,2]}');
  });

  test('a reading with its unit', () => {
    expect(formatReading({ value: 21.4, unit: '°C' })).toBe('21.4 °C');
    expect(formatReading({ value: true })).toBe('on');
    expect(formatReading({ value: 80, unit: '' })).toBe('80');
  });

  test('a device\'s readings in one line, in the order of its description, configuration left out', () => {
    const values = {
      'volume/level': { value: 20, unit: '%', ts: 1 },
      power: { value: true, ts: 1 },
      channel: { value: 'BBC One', ts: 1 },
      name: { value: 'TV', ts: 1 },
      'volume/poll': { value: 60, unit: 's', ts: 1 },
      extra: { value: 1, ts: 1 },
    };
    expect(formatValues(values, tv)).toBe('channel="BBC One" power=on volume/level=20 % extra=1');
    expect(formatValues({ temperature: { value: 21.4, unit: '°C' }, power: { value: false } })).toBe('power=off temperature=21.4 °C');
    expect(formatValues({})).toBe('');
  });

  test('which commands hold readings, and the schema of a subdevice\'s command', () => {
    expect(readingCommands(tv)).toEqual(['channel', 'power', 'volume/level']);
    expect(commandSpec(tv, 'volume/level')).toEqual({ type: 'int', unit: '%' });
    expect(commandSpec(tv, 'power')).toEqual({ type: 'bool' });
    expect(commandSpec(tv, 'radio/level')).toBeUndefined();
    expect(commandSpec(undefined, 'power')).toBeUndefined();
  });
});

describe('tables', () => {
  test('columns padded to the widest cell, none after the last', () => {
    expect(table(['ID', 'STATE', 'VALUES'], [
      ['pi1/sim/kitchen', 'online', 'temperature=21.4 °C'],
      ['pi1/sim/tv', 'lost', ''],
    ])).toEqual([
      'ID               STATE   VALUES',
      'pi1/sim/kitchen  online  temperature=21.4 °C',
      'pi1/sim/tv       lost',
    ]);
    expect(align([['power', 'on'], ['volume/level', '20 %']])).toEqual(['power         on', 'volume/level  20 %']);
    // Widths count characters, not UTF-16 units.
    expect(align([['🌡', 'x'], ['ab', 'y']])).toEqual(['🌡   x', 'ab  y']);
  });
});

describe('the key/value tree', () => {
  test('a device\'s state from its $state key', () => {
    expect(deviceState({ online: true, ts: 1 })).toBe('online');
    expect(deviceState({ online: false, ts: 1 })).toBe('offline');
    expect(deviceState(undefined)).toBe('lost');
    expect(deviceState('garbage')).toBe('lost');
  });

  test('values decoded: JSON, text, binary, deleted', () => {
    expect(decodeTreeValue(Buffer.from('{"value":1,"ts":2}'))).toEqual({ kind: 'json', value: { value: 1, ts: 2 } });
    expect(decodeTreeValue(Buffer.from('hello there'))).toEqual({ kind: 'text', text: 'hello there' });
    expect(decodeTreeValue(Buffer.from([0xff, 0xfe, 0x00]))).toEqual({ kind: 'binary', size: 3 });
    expect(decodeTreeValue(undefined)).toEqual({ kind: 'deleted' });
    expect(decodeTreeValue(Buffer.alloc(0))).toEqual({ kind: 'deleted' });
  });

  test('values for people: readings, states, other JSON, deletions', () => {
    const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
    expect(formatTreeValue('/device/pi1/sim/lamp/level', json({ value: 80, unit: '%', ts: 1 }))).toBe('80 %');
    expect(formatTreeValue('/device/pi1/sim/lamp/power', json({ value: false, ts: 1 }))).toBe('off');
    expect(formatTreeValue('/device/pi1/sim/lamp/$state', json({ online: true, ts: 1 }))).toBe('online');
    expect(formatTreeValue('/device/pi1/sim/lamp/$state', undefined)).toBe('(deleted: lost)');
    expect(formatTreeValue('/device/pi1/sim/lamp/power', undefined)).toBe('(deleted)');
    expect(formatTreeValue('/server/pi1/sim', json({ online: true, ts: 1 }))).toBe('{"online":true,"ts":1}');
    expect(formatTreeValue('/house/name', Buffer.from('Sweet home'))).toBe('Sweet home');
    expect(formatTreeValue('/house/logo', Buffer.from([0x89, 0xff]))).toBe('(2 bytes)');
  });
});

describe('times and sizes', () => {
  test('local time of day with milliseconds', () => {
    const at = new Date(2026, 0, 2, 3, 4, 5, 67).getTime();
    expect(formatTime(at)).toBe('03:04:05.067');
  });

  test('byte counts', () => {
    expect(formatSize(512)).toBe('512 bytes');
    expect(formatSize(5008)).toBe('4.9 KiB');
    expect(formatSize(3 * 1024 * 1024 + 100_000)).toBe('3.1 MiB');
  });
});
