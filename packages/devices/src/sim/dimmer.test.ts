import { isDeviceError } from '../errors.js';
import { createSimulatedDimmer } from './dimmer.js';
import { fakeContext } from './test-support/fake-context.js';

describe('sim.dimmer', () => {
  it('starts off at 100 %, or as configured', () => {
    expect(createSimulatedDimmer({ id: 'hall', kind: 'sim.dimmer' }).read()).toEqual({ level: 100, power: false });
    expect(createSimulatedDimmer({ id: 'hall', kind: 'sim.dimmer', options: { initial: true, level: 30 } }).read()).toEqual({ level: 30, power: true });
  });

  it('switches on when the level is set above 0', () => {
    const ctx = fakeContext();
    const light = createSimulatedDimmer({ id: 'hall', kind: 'sim.dimmer' });
    expect(light.write('level', 40, ctx)).toBe(40);
    expect(light.read()).toEqual({ level: 40, power: true });
    expect(light.write('level', 60, ctx)).toBe(60);
    expect(light.read()).toEqual({ level: 60, power: true });
  });

  it('keeps the level while off and comes back at it', () => {
    const ctx = fakeContext();
    const light = createSimulatedDimmer({ id: 'hall', kind: 'sim.dimmer', options: { initial: true, level: 70 } });
    expect(light.write('power', false, ctx)).toBe(false);
    expect(light.read()).toEqual({ level: 70, power: false });
    expect(light.write('power', true, ctx)).toBe(true);
    expect(light.read()).toEqual({ level: 70, power: true });
  });

  it('switches off at level 0 and comes back at 100 %', () => {
    const ctx = fakeContext();
    const light = createSimulatedDimmer({ id: 'hall', kind: 'sim.dimmer', options: { initial: true, level: 50 } });
    expect(light.write('level', 0, ctx)).toBe(0);
    expect(light.read()).toEqual({ level: 0, power: false });
    expect(light.write('power', true, ctx)).toBe(true);
    expect(light.read()).toEqual({ level: 100, power: true });
  });

  it('sets the level while off, which switches it on', () => {
    const ctx = fakeContext();
    const light = createSimulatedDimmer({ id: 'hall', kind: 'sim.dimmer', options: { level: 20 } });
    light.write('level', 25, ctx);
    expect(light.read()).toEqual({ level: 25, power: true });
  });

  it('describes level 0..100 % and power', () => {
    const description = createSimulatedDimmer({ id: 'hall', kind: 'sim.dimmer' }).describe('pi1/sim');
    expect(description.type).toBe('switch.dimmer');
    expect(description.commands.level).toMatchObject({ type: 'int', min: 0, max: 100, unit: '%' });
    expect(description.commands.level?.readonly).toBeUndefined();
    expect(description.commands.power).toMatchObject({ type: 'bool' });
  });

  it.each([
    [{ level: 101 }, 'device hall (sim.dimmer): level must be a whole number from 0 to 100, got 101'],
    [{ level: 2.5 }, 'level must be a whole number from 0 to 100, got 2.5'],
    [{ initial: true, level: 0 }, 'a dimmer that is on at the start (initial: true) needs a level above 0'],
    [{ brightness: 3 }, 'unknown option "brightness"; the options are initial, level'],
  ])('refuses %j', (options, message) => {
    let error: unknown;
    try {
      createSimulatedDimmer({ id: 'hall', kind: 'sim.dimmer', options });
    } catch (err) {
      error = err;
    }
    expect(isDeviceError(error, 'ERR_DEVICE_INVALID')).toBe(true);
    expect((error as Error).message).toContain(message);
  });
});
