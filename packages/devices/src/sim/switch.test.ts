import { isDeviceError } from '../errors.js';
import { createSimulatedSwitch } from './switch.js';
import { fakeContext } from './test-support/fake-context.js';

describe('sim.switch', () => {
  it('starts off, or as configured', () => {
    expect(createSimulatedSwitch({ id: 'plug', kind: 'sim.switch' }).read()).toEqual({ power: false });
    expect(createSimulatedSwitch({ id: 'plug', kind: 'sim.switch', options: { initial: true } }).read()).toEqual({ power: true });
  });

  it('keeps what it is told and returns it', () => {
    const ctx = fakeContext();
    const plug = createSimulatedSwitch({ id: 'plug', kind: 'sim.switch' });
    expect(plug.write('power', true, ctx)).toBe(true);
    expect(plug.read()).toEqual({ power: true });
    expect(plug.write('power', true, ctx)).toBe(true);
    expect(plug.write('power', false, ctx)).toBe(false);
    expect(plug.read()).toEqual({ power: false });
  });

  it('refuses to set anything else', () => {
    const plug = createSimulatedSwitch({ id: 'plug', kind: 'sim.switch' });
    expect(() => plug.write('name', 'x', fakeContext())).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_NOT_SUPPORTED' }));
  });

  it('describes a writable bool power', () => {
    const description = createSimulatedSwitch({ id: 'plug', kind: 'sim.switch' }).describe('pi1/sim');
    expect(description.type).toBe('switch.binary');
    expect(description.commands.power).toEqual({ type: 'bool', label: 'Power', description: 'On or off.' });
  });

  it('refuses a non-boolean initial', () => {
    let error: unknown;
    try {
      createSimulatedSwitch({ id: 'plug', kind: 'sim.switch', options: { initial: 'on' } });
    } catch (err) {
      error = err;
    }
    expect(isDeviceError(error, 'ERR_DEVICE_INVALID')).toBe(true);
    expect((error as Error).message).toBe('device plug (sim.switch): initial must be true or false, got "on"');
  });
});
