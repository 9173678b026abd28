import { isDeviceError } from '../errors.js';
import { createLinearSensor } from './linear-sensor.js';
import { fakeContext } from './test-support/fake-context.js';

describe('sim.linear', () => {
  it('changes by rate per second from the start', () => {
    const ctx = fakeContext();
    const tank = createLinearSensor({ id: 'tank', kind: 'sim.linear', options: { type: 'sensor.level', start: 10, rate: 0.1, unit: 'l' } });
    tank.start(ctx);
    expect(tank.read(ctx)).toEqual({ level: 10 });
    ctx.advance(3_000);
    expect(tank.read(ctx)).toEqual({ level: 10.3 }); // not 10.299999...
    ctx.advance(500);
    expect(tank.read(ctx)).toEqual({ level: 10.35 });
    ctx.advance(1_000_000);
    expect(tank.read(ctx)).toEqual({ level: 110.35 });
  });

  it('is clamped to max and to min', () => {
    const ctx = fakeContext(0);
    const filling = createLinearSensor({ id: 'filling', kind: 'sim.linear', options: { start: 90, rate: 2, min: 0, max: 100 } });
    const draining = createLinearSensor({ id: 'draining', kind: 'sim.linear', options: { type: 'sensor.battery', start: 3, rate: -0.5, min: 0 } });
    filling.start(ctx);
    draining.start(ctx);
    ctx.advance(4_000);
    expect(filling.read(ctx)).toEqual({ temperature: 98 });
    expect(draining.read(ctx)).toEqual({ battery: 1 });
    ctx.advance(1_000);
    expect(filling.read(ctx)).toEqual({ temperature: 100 });
    ctx.advance(60_000);
    expect(filling.read(ctx)).toEqual({ temperature: 100 });
    expect(draining.read(ctx)).toEqual({ battery: 0 });
  });

  it('clamps a start outside the bounds, and reads the start when the clock goes back', () => {
    const ctx = fakeContext(10_000);
    const device = createLinearSensor({ id: 'x', kind: 'sim.linear', options: { start: 5, rate: 1, min: 10, max: 20 } });
    device.start(ctx);
    expect(device.read(ctx)).toEqual({ temperature: 10 });
    ctx.time = 0;
    expect(device.read(ctx)).toEqual({ temperature: 10 });
    ctx.time = 18_000;
    expect(device.read(ctx)).toEqual({ temperature: 13 });
  });

  it('describes min and max only when given', () => {
    const open = createLinearSensor({ id: 'a', kind: 'sim.linear', options: { start: 0, rate: 1 } }).describe('pi1/sim');
    expect(open.commands.temperature).toEqual(expect.not.objectContaining({ min: expect.anything() }));
    const bounded = createLinearSensor({ id: 'b', kind: 'sim.linear', options: { start: 0, rate: 1, max: 5 } }).describe('pi1/sim');
    expect(bounded.commands.temperature).toMatchObject({ type: 'real', max: 5, readonly: true });
  });

  it.each([
    [{ rate: 1 }, 'device lin (sim.linear): start must be a number, got nothing (the option is required)'],
    [{ start: 0, rate: 'fast' }, 'rate must be a number (change per second), got "fast"'],
    [{ start: 0, rate: 1, min: 5, max: 1 }, 'min (5) must be below max (1)'],
    [{ start: 0, rate: 1, max: Infinity }, 'max must be a number, got Infinity'],
  ])('refuses %j', (options, message) => {
    let error: unknown;
    try {
      createLinearSensor({ id: 'lin', kind: 'sim.linear', options });
    } catch (err) {
      error = err;
    }
    expect(isDeviceError(error, 'ERR_DEVICE_INVALID')).toBe(true);
    expect((error as Error).message).toContain(message);
  });
});
