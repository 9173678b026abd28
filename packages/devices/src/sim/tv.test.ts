import { isDeviceError } from '../errors.js';
import type { Device } from '../model/device.js';
import { SimulatedTv, createSimulatedTv } from './tv.js';
import { fakeContext } from './test-support/fake-context.js';

function part(tv: SimulatedTv, name: string): Device {
  const sub = tv.subdevices[name];
  if (sub === undefined) throw new Error(`no subdevice ${name}`);
  return sub;
}

describe('sim.tv', () => {
  it('has power, volume and channel subdevices with ids equal to their names', () => {
    const tv = createSimulatedTv({ id: 'living-room', kind: 'sim.tv' });
    expect(Object.keys(tv.subdevices)).toEqual(['power', 'volume', 'channel']);
    for (const [name, sub] of Object.entries(tv.subdevices)) expect(sub.id).toBe(name);
    expect([part(tv, 'power').type, part(tv, 'volume').type, part(tv, 'channel').type]).toEqual(['switch.binary', 'media.volume', 'media.channel']);
  });

  it('starts off on the tuner, channel 1, volume 20, or as configured', () => {
    const tv = createSimulatedTv({ id: 'tv', kind: 'sim.tv' });
    expect(tv.read()).toEqual({ input: 'tuner' });
    expect(part(tv, 'power').read(fakeContext())).toEqual({ power: false });
    expect(part(tv, 'volume').read(fakeContext())).toEqual({ level: 20, mute: false });
    expect(part(tv, 'channel').read(fakeContext())).toEqual({ number: 1 });
    const custom = createSimulatedTv({
      id: 'tv',
      kind: 'sim.tv',
      options: { power: true, volume: 5, channel: 42, inputs: ['hdmi1', 'dvd'], input: 'dvd' },
    });
    expect(custom.state).toEqual({ power: true, volume: 5, mute: false, channel: 42, input: 'dvd' });
    expect(createSimulatedTv({ id: 'tv', kind: 'sim.tv', options: { inputs: ['hdmi1', 'dvd'] } }).read()).toEqual({ input: 'hdmi1' });
  });

  it('changes the shared state through its subdevices', async () => {
    const ctx = fakeContext();
    const tv = createSimulatedTv({ id: 'tv', kind: 'sim.tv' });
    expect(await part(tv, 'power').write('power', true, ctx)).toBe(true);
    expect(await part(tv, 'volume').write('level', 35, ctx)).toBe(35);
    expect(await part(tv, 'volume').write('mute', true, ctx)).toBe(true);
    expect(await part(tv, 'channel').write('number', 7, ctx)).toBe(7);
    expect(await tv.write('input', 'hdmi2', ctx)).toBe('hdmi2');
    expect(tv.state).toEqual({ power: true, volume: 35, mute: true, channel: 7, input: 'hdmi2' });
    expect(await part(tv, 'volume').read(ctx)).toEqual({ level: 35, mute: true });
    expect(await part(tv, 'power').write('power', false, ctx)).toBe(false);
    expect(tv.state.power).toBe(false);
  });

  it('moves the channel up and down, wrapping at 999 and 1', async () => {
    const ctx = fakeContext();
    const tv = createSimulatedTv({ id: 'tv', kind: 'sim.tv', options: { channel: 998 } });
    const channel = part(tv, 'channel');
    expect(await channel.write('up', true, ctx)).toBe(true);
    expect(channel.read(ctx)).toEqual({ number: 999 });
    await channel.write('up', true, ctx);
    expect(channel.read(ctx)).toEqual({ number: 1 });
    await channel.write('down', true, ctx);
    expect(channel.read(ctx)).toEqual({ number: 999 });
    await channel.write('down', true, ctx);
    expect(channel.read(ctx)).toEqual({ number: 998 });
    // false is not a press.
    expect(await channel.write('up', false, ctx)).toBe(false);
    expect(tv.state.channel).toBe(998);
    // Actions change state only; nothing is pushed by the device itself.
    expect(ctx.published).toEqual([]);
  });

  it('refuses commands it does not have', () => {
    const tv = createSimulatedTv({ id: 'tv', kind: 'sim.tv' });
    expect(() => tv.write('power', true, fakeContext())).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_NOT_SUPPORTED' }));
    expect(() => part(tv, 'volume').write('up', true, fakeContext())).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_NOT_SUPPORTED' }));
  });

  it('describes the TV with its subdevices, up and down write-only', () => {
    const description = createSimulatedTv({ id: 'tv', kind: 'sim.tv', name: 'Living room TV' }).describe('pi1/sim');
    expect(description).toMatchObject({ id: 'pi1/sim/tv', type: 'media.tv', name: 'Living room TV' });
    expect(description.commands.input).toMatchObject({ type: 'enum', values: ['hdmi1', 'hdmi2', 'hdmi3', 'tuner'] });
    const subs = description.subdevices ?? {};
    expect(Object.keys(subs)).toEqual(['power', 'volume', 'channel']);
    expect(subs.power).toMatchObject({ id: 'pi1/sim/tv/power', type: 'switch.binary' });
    expect(subs.volume?.commands.level).toMatchObject({ type: 'int', min: 0, max: 100, step: 1, unit: '%' });
    expect(subs.volume?.commands.mute).toMatchObject({ type: 'bool' });
    expect(subs.channel?.commands.number).toMatchObject({ type: 'int', min: 1, max: 999 });
    expect(subs.channel?.commands.up).toMatchObject({ type: 'bool', writeonly: true });
    expect(subs.channel?.commands.down).toMatchObject({ type: 'bool', writeonly: true });
  });

  it.each([
    [{ channel: 0 }, 'device tv (sim.tv): channel must be a whole number from 1 to 999, got 0'],
    [{ volume: 101 }, 'volume must be a whole number from 0 to 100, got 101'],
    [{ input: 'vcr' }, 'input must be one of the inputs (hdmi1, hdmi2, hdmi3, tuner), got "vcr"'],
    [{ inputs: [] }, 'inputs must be a list of distinct input names such as ["hdmi1", "tuner"], got []'],
    [{ inputs: ['a', 'a'] }, 'inputs must be a list of distinct input names'],
    [{ power: 1 }, 'power must be true or false, got 1'],
  ])('refuses %j', (options, message) => {
    let error: unknown;
    try {
      createSimulatedTv({ id: 'tv', kind: 'sim.tv', options });
    } catch (err) {
      error = err;
    }
    expect(isDeviceError(error, 'ERR_DEVICE_INVALID')).toBe(true);
    expect((error as Error).message).toContain(message);
  });
});
