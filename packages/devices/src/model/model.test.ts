import {
  CONFIG_COMMANDS,
  Device,
  DeviceRegistry,
  defineDevice,
  parseDeviceId,
  parseValueText,
  validateDescription,
  validateServerConfig,
  validateValue,
  type CommandSpec,
} from '../index.js';

const thermometer = {
  id: 'pi1/sim/kitchen',
  type: 'sensor.temperature',
  name: 'Kitchen',
  commands: { temperature: { type: 'real', unit: '°C', readonly: true, min: -40, max: 125 }, ...CONFIG_COMMANDS },
};

describe('descriptions', () => {
  test('a good description with subdevices validates and survives a JSON round trip', () => {
    const tv = {
      id: 'pi1/sim/tv',
      type: 'media.tv',
      name: 'TV',
      commands: { input: { type: 'enum', values: ['hdmi1', 'tuner'] } },
      subdevices: { volume: { id: 'pi1/sim/tv/volume', type: 'media.volume', name: 'Volume', commands: { level: { type: 'int', min: 0, max: 100, step: 1, unit: '%' } } } },
    };
    expect(validateDescription(JSON.parse(JSON.stringify(tv)))).toEqual(tv);
    expect(validateDescription(thermometer)).toEqual(thermometer);
  });

  test.each<[string, (d: Record<string, unknown>) => unknown, RegExp]>([
    ['a bad id', (d) => ({ ...d, id: 'pi1/kitchen' }), /<host>\/<server>\/<device>/],
    ['an upper-case id', (d) => ({ ...d, id: 'PI1/sim/k' }), /lower-case/],
    ['a bad type', (d) => ({ ...d, type: 'Sensor' }), /dotted lower-case/],
    ['no name', (d) => ({ ...d, name: '' }), /name must be/],
    ['an unknown field', (d) => ({ ...d, colour: 'red' }), /unknown field "colour"/],
    ['a bad command name', (d) => ({ ...d, commands: { 'Temp!': { type: 'real' } } }), /command name "Temp!"/],
    ['an unknown value type', (d) => ({ ...d, commands: { t: { type: 'float' } } }), /description.commands.t: type must be one of/],
    ['min above max', (d) => ({ ...d, commands: { t: { type: 'int', min: 5, max: 1 } } }), /min \(5\) is above max \(1\)/],
    ['a fractional bound on an int', (d) => ({ ...d, commands: { t: { type: 'int', max: 1.5 } } }), /must be an integer/],
    ['an enum without values', (d) => ({ ...d, commands: { m: { type: 'enum' } } }), /needs "values"/],
    ['readonly and writeonly', (d) => ({ ...d, commands: { t: { type: 'bool', readonly: true, writeonly: true } } }), /both readonly and writeonly/],
    ['values on a bool', (d) => ({ ...d, commands: { t: { type: 'bool', values: ['a'] } } }), /only for enum/],
    ['a subdevice with the wrong id', (d) => ({ ...d, subdevices: { a: { id: 'pi1/sim/x/a', type: 'x', name: 'A', commands: {} } } }), /must have id pi1\/sim\/kitchen\/a/],
    ['a subdevice named like a command', (d) => ({ ...d, subdevices: { temperature: { id: 'pi1/sim/kitchen/temperature', type: 'x', name: 'A', commands: {} } } }), /both a command and a subdevice/],
  ])('refuses %s with a precise message', (_what, change, message) => {
    expect(() => validateDescription(change(thermometer as unknown as Record<string, unknown>))).toThrow(message);
    try {
      validateDescription(change(thermometer as unknown as Record<string, unknown>));
    } catch (err) {
      expect(err).toMatchObject({ name: 'DeviceError', code: 'ERR_DEVICE_INVALID', status: '400' });
    }
  });

  test('device ids', () => {
    expect(parseDeviceId('pi1/sim/tv/volume')).toEqual({ host: 'pi1', server: 'sim', path: ['tv', 'volume'] });
    expect(() => parseDeviceId('pi1.sim/tv')).toThrow(/<host>\/<server>\/<device>/);
  });
});

describe('values', () => {
  const level: CommandSpec = { type: 'int', min: 0, max: 100, unit: '%' };
  test('type and range are checked with a message saying what was expected', () => {
    expect(validateValue(level, 40)).toBe(40);
    expect(() => validateValue(level, 101, 'level')).toThrow('level must be at most 100 %, got 101');
    expect(() => validateValue(level, 4.5, 'level')).toThrow('level must be a whole number, got 4.5');
    expect(() => validateValue(level, '40', 'level')).toThrow('level must be a whole number, got "40"');
    expect(() => validateValue({ type: 'enum', values: ['a', 'b'] }, 'c')).toThrow('value must be one of a, b, got "c"');
    expect(() => validateValue({ type: 'bool' }, 'on')).toThrow('true or false');
    expect(() => validateValue({ type: 'string', maxLength: 3 }, 'long')).toThrow('at most 3 characters');
  });

  test('text typed by people is parsed per type', () => {
    expect(parseValueText({ type: 'bool' }, 'on')).toBe(true);
    expect(parseValueText({ type: 'bool' }, 'OFF')).toBe(false);
    expect(parseValueText(level, '42')).toBe(42);
    expect(parseValueText({ type: 'json' }, '{"a":1}')).toEqual({ a: 1 });
    expect(() => parseValueText(level, 'lots', 'level')).toThrow(/level must be a whole number/);
    expect(() => parseValueText(level, '', 'level')).toThrow(/level must be a whole number/);
  });
});

describe('registry and devices', () => {
  class Lamp extends Device {
    readonly type = 'switch.binary';
    readonly commands = { power: { type: 'bool' } } as const;
    on = false;
    read() {
      return { power: this.on };
    }
  }

  test('registered kinds are created; unknown kinds are refused with the list of known ones', () => {
    const registry = new DeviceRegistry().register('test.lamp', (c) => new Lamp(c));
    const lamp = registry.create({ id: 'hall', kind: 'test.lamp', name: 'Hall light' });
    expect(lamp.describe('pi1/test')).toMatchObject({ id: 'pi1/test/hall', type: 'switch.binary', name: 'Hall light', commands: { power: { type: 'bool' }, poll: CONFIG_COMMANDS.poll } });
    expect(() => registry.create({ id: 'x', kind: 'test.nope' })).toThrow('device x: unknown kind "test.nope"; registered kinds: test.lamp');
    expect(() => registry.register('test.lamp', (c) => new Lamp(c))).toThrow(/already registered/);
    expect(() => registry.register('Bad Kind', (c) => new Lamp(c))).toThrow(/dotted lower-case/);
  });

  test('a device declaring an invalid command is refused when described', () => {
    class Broken extends Device {
      readonly type = 'sensor.x';
      readonly commands = { t: { type: 'real', min: 10, max: 0 } } as Record<string, CommandSpec>;
      read() {
        return {};
      }
    }
    expect(() => new Broken({ id: 'b' }).describe('pi1/x')).toThrow(/min \(10\) is above max \(0\)/);
    expect(() => new Broken({ id: 'Bad Id' })).toThrow(/device id "Bad Id"/);
  });

  test('defineDevice makes a kind from plain functions; a factory error names the device', () => {
    const registry = new DeviceRegistry().register(
      'test.counter',
      defineDevice<{ start?: number }>({
        type: 'sensor.count',
        commands: { count: { type: 'int', readonly: true } },
        setup: (o) => {
          if (o.start !== undefined && typeof o.start !== 'number') throw new Error('start must be a number');
          return { n: o.start ?? 0 };
        },
        read: (state) => ({ count: ++(state as { n: number }).n }),
      }),
    );
    const counter = registry.create({ id: 'c', kind: 'test.counter', options: { start: 5 } });
    const ctx = { now: () => 0, logger: undefined as never, publish: () => {} };
    expect(counter.read(ctx)).toEqual({ count: 6 });
    expect(() => registry.create({ id: 'd', kind: 'test.counter', options: { start: 'x' } })).toThrow('device d (test.counter): start must be a number');
  });
});

describe('server configuration files', () => {
  test('a good file, and precise refusals', () => {
    const good = { host: 'pi1', server: 'sim', devices: [{ id: 'a', kind: 'sim.switch', name: 'A', poll: 5, options: {} }] };
    expect(validateServerConfig(good)).toEqual(good);
    expect(() => validateServerConfig({ ...good, host: 'Pi 1' })).toThrow(/host must be/);
    expect(() => validateServerConfig({ ...good, devices: [...good.devices, good.devices[0]] })).toThrow(/two devices are called a/);
    expect(() => validateServerConfig({ ...good, devices: [{ id: 'a', kind: 'sim.switch', poll: -1 }] })).toThrow(/devices\[0\].poll must be at least 0/);
    expect(() => validateServerConfig({ ...good, devices: [{ id: 'a', kind: 'sim.switch', colour: 1 }] })).toThrow(/devices\[0\]: unknown field "colour"/);
  });
});
