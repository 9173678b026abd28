import { isDeviceError } from '../errors.js';
import { RandomWalkSensor, createRandomWalkSensor } from './random-walk-sensor.js';
import { fakeContext } from './test-support/fake-context.js';

const options = { type: 'sensor.humidity', start: 50, step: 2, min: 40, max: 60, unit: '%', seed: 7 };

function walker(extra: Record<string, unknown> = {}, id = 'bath'): RandomWalkSensor {
  return createRandomWalkSensor({ id, kind: 'sim.random-walk', options: { ...options, ...extra } });
}

/** Reads a device at the given offsets (ms) from a common start. */
function readAt(device: RandomWalkSensor, offsets: number[]): number[] {
  const ctx = fakeContext(0);
  device.start(ctx);
  return offsets.map((t) => {
    ctx.time = t;
    return device.read(ctx).humidity as number;
  });
}

describe('sim.random-walk', () => {
  it('starts at start and stays within [min, max], moving at most step per second, over 10,000 steps', () => {
    const offsets = Array.from({ length: 10_001 }, (_, i) => i * 1000);
    const values = readAt(walker(), offsets);
    expect(values[0]).toBe(50);
    let moved = 0;
    const outside: number[] = [];
    const jumps: number[] = [];
    for (let i = 1; i < values.length; i++) {
      const v = values[i] as number;
      if (v < 40 || v > 60) outside.push(i);
      // 0.01 of slack for the rounding to 2 decimals.
      if (Math.abs(v - (values[i - 1] as number)) > 2 + 0.01) jumps.push(i);
      if (v !== values[i - 1]) moved++;
    }
    expect(outside).toEqual([]);
    expect(jumps).toEqual([]);
    expect(moved).toBeGreaterThan(9_900);
    // It explores the range and reaches both ends' neighbourhoods.
    expect(Math.min(...values)).toBeLessThan(41);
    expect(Math.max(...values)).toBeGreaterThan(59);
  });

  it('stays within bounds with a step wider than the range', () => {
    const values = readAt(walker({ step: 50 }), Array.from({ length: 10_000 }, (_, i) => i * 1000 + 250));
    expect(values.filter((v) => v < 40 || v > 60)).toEqual([]);
    expect(new Set(values).size).toBeGreaterThan(1000);
  });

  it('gives the same values for the same seed and read times', () => {
    const times = Array.from({ length: 500 }, (_, i) => i * 1_700 + (i % 3) * 333);
    expect(readAt(walker(), times)).toEqual(readAt(walker(), times));
    expect(readAt(walker({ seed: 8 }), times)).not.toEqual(readAt(walker(), times));
  });

  it('depends on the time only, not on how often it was read', () => {
    const often = readAt(walker(), Array.from({ length: 3_601 }, (_, i) => i * 1000));
    const seldom = readAt(walker(), [0, 600_000, 1_800_000, 3_600_000]);
    expect(seldom).toEqual([often[0], often[600], often[1800], often[3600]]);
  });

  it('interpolates between whole seconds', () => {
    const [a, half, b] = readAt(walker(), [10_000, 10_500, 11_000]) as [number, number, number];
    expect(half).toBeCloseTo((a + b) / 2, 1);
  });

  it('replays from the start when the clock goes back', () => {
    const device = walker();
    const ctx = fakeContext(0);
    device.start(ctx);
    ctx.time = 5_000;
    const at5 = device.read(ctx);
    ctx.time = 100_000;
    device.read(ctx);
    ctx.time = 5_000;
    expect(device.read(ctx)).toEqual(at5);
  });

  it('takes its default seed from the device id', () => {
    const { seed: _seed, ...unseeded } = options;
    const make = (id: string): RandomWalkSensor => createRandomWalkSensor({ id, kind: 'sim.random-walk', options: unseeded });
    const times = Array.from({ length: 20 }, (_, i) => i * 1000);
    expect(readAt(make('a'), times)).toEqual(readAt(make('a'), times));
    expect(readAt(make('a'), times)).not.toEqual(readAt(make('b'), times));
  });

  it('describes a readonly real command with its range', () => {
    expect(walker().describe('pi1/sim').commands.humidity).toMatchObject({ type: 'real', unit: '%', min: 40, max: 60, readonly: true });
  });

  it.each([
    [{ step: 0 }, 'device bath (sim.random-walk): step must be a positive number (the largest change per second), got 0'],
    [{ start: 70 }, 'start (70) must be within min and max [40, 60]'],
    [{ min: 60, max: 40 }, 'min (60) must be below max (40)'],
    [{ seed: 1.5 }, 'seed must be an integer, got 1.5'],
  ])('refuses %j', (extra, message) => {
    let error: unknown;
    try {
      walker(extra);
    } catch (err) {
      error = err;
    }
    expect(isDeviceError(error, 'ERR_DEVICE_INVALID')).toBe(true);
    expect((error as Error).message).toContain(message);
  });
});
