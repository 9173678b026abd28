import { isDeviceError } from '../errors.js';
import { CyclicSensor, createCyclicSensor } from './cyclic-sensor.js';
import { fakeContext } from './test-support/fake-context.js';

const period = 60;

function sensor(options: Record<string, unknown> = {}): CyclicSensor {
  return createCyclicSensor({ id: 'garden', kind: 'sim.cyclic', options: { period, min: 10, max: 30, unit: '°C', ...options } });
}

describe('sim.cyclic', () => {
  it('is a triangle wave from the start: min, middle, max, middle, min', () => {
    const ctx = fakeContext();
    const device = sensor();
    const startTime = ctx.time;
    device.start(ctx);
    const at = (fraction: number): unknown => {
      ctx.time = startTime + fraction * period * 1000;
      return device.read(ctx);
    };
    expect(at(0)).toEqual({ temperature: 10 });
    expect(at(1 / 4)).toEqual({ temperature: 20 });
    expect(at(1 / 2)).toEqual({ temperature: 30 });
    expect(at(3 / 4)).toEqual({ temperature: 20 });
    expect(at(1)).toEqual({ temperature: 10 });
    expect(at(1 + 1 / 2)).toEqual({ temperature: 30 });
    // Linear in between, rounded to 2 decimals.
    expect(at(1 / 12)).toEqual({ temperature: 13.33 });
    expect(at(7 / 12)).toEqual({ temperature: 26.67 });
  });

  it('counts from the first read when it was never started', () => {
    const ctx = fakeContext(5_000);
    const device = sensor();
    expect(device.read(ctx)).toEqual({ temperature: 10 });
    ctx.advance(15_000);
    expect(device.read(ctx)).toEqual({ temperature: 20 });
    // A later start does not move the origin.
    device.start(ctx);
    ctx.advance(15_000);
    expect(device.read(ctx)).toEqual({ temperature: 30 });
  });

  it('shifts the wave by phase seconds', () => {
    const ctx = fakeContext(0);
    const device = sensor({ phase: 30 });
    device.start(ctx);
    expect(device.read(ctx)).toEqual({ temperature: 30 });
    ctx.advance(30_000);
    expect(device.read(ctx)).toEqual({ temperature: 10 });
    const behind = sensor({ phase: -15 });
    behind.start(ctx);
    expect(behind.read(ctx)).toEqual({ temperature: 20 });
  });

  it('names its command after the type, or as told', () => {
    expect(Object.keys(sensor().commands)).toEqual(['temperature']);
    expect(Object.keys(sensor({ type: 'sensor.humidity', unit: '%' }).commands)).toEqual(['humidity']);
    expect(Object.keys(sensor({ type: 'sensor.wind' }).commands)).toEqual(['wind']);
    const wind = sensor({ type: 'sensor.wind', command: 'speed', unit: 'km/h' });
    expect(wind.type).toBe('sensor.wind');
    expect(wind.read(fakeContext())).toEqual({ speed: 10 });
  });

  it('describes a readonly real command with unit and range', () => {
    const description = sensor().describe('pi1/sim');
    expect(description.id).toBe('pi1/sim/garden');
    expect(description.type).toBe('sensor.temperature');
    expect(description.commands.temperature).toMatchObject({ type: 'real', unit: '°C', min: 10, max: 30, readonly: true });
    expect(description.commands.poll).toBeDefined();
  });

  it('polls every 10 s unless configured', () => {
    expect(sensor().poll).toBe(10);
    expect(createCyclicSensor({ id: 'x', kind: 'sim.cyclic', poll: 2, options: { period: 1, min: 0, max: 1 } }).poll).toBe(2);
  });

  it.each([
    [{ period: 0 }, 'device garden (sim.cyclic): period must be a positive number of seconds, got 0'],
    [{ period: '60' }, 'period must be a positive number of seconds, got "60"'],
    [{ period: undefined }, 'period must be a positive number of seconds, got nothing (the option is required)'],
    [{ min: 30, max: 10 }, 'min (30) must be below max (10)'],
    [{ min: 10, max: 10 }, 'min (10) must be below max (10)'],
    [{ max: null }, 'max must be a number, got null'],
    [{ phase: Number.NaN }, 'phase must be a number of seconds, got NaN'],
    [{ perod: 5 }, 'unknown option "perod"; the options are period, min, max, phase, unit, type, command'],
    [{ type: 'Sensor Temp' }, 'type must be dotted lower-case words such as "sensor.temperature", got "Sensor Temp"'],
    [{ command: 'Temp' }, 'command must be a command name'],
    [{ type: 'sensor.poll' }, 'the command name "poll" (taken from type "sensor.poll") is a configuration command of every device'],
    [{ command: 'name' }, 'the command name "name" is a configuration command of every device'],
    [{ unit: '' }, 'unit must be a short text'],
  ])('refuses bad options %j', (options, message) => {
    let error: unknown;
    try {
      sensor(options);
    } catch (err) {
      error = err;
    }
    expect(isDeviceError(error, 'ERR_DEVICE_INVALID')).toBe(true);
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).toMatch(/^device garden \(sim\.cyclic\): /);
  });

  it('refuses options that are not an object', () => {
    expect(() => createCyclicSensor({ id: 'g', kind: 'sim.cyclic', options: [1] as unknown as Record<string, unknown> })).toThrow(
      'device g (sim.cyclic): options must be an object, got [1]',
    );
  });
});
