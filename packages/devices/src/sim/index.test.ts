import { isDeviceError } from '../errors.js';
import { validateDescription } from '../model/description.js';
import { DeviceRegistry, type DeviceConfig } from '../model/device.js';
import { SIMULATED_DEVICES, registerSimulatedDevices } from './index.js';
import { fakeContext } from './test-support/fake-context.js';

/** One working configuration per kind. */
const CONFIGS: DeviceConfig[] = [
  { id: 'garden', kind: 'sim.cyclic', options: { period: 86_400, min: 8, max: 24, unit: '°C' } },
  { id: 'battery', kind: 'sim.linear', options: { type: 'sensor.battery', start: 100, rate: -0.01, min: 0, max: 100, unit: '%' } },
  { id: 'wind', kind: 'sim.random-walk', options: { type: 'sensor.wind', command: 'speed', start: 10, step: 1, min: 0, max: 60, unit: 'km/h', seed: 3 } },
  { id: 'plug', kind: 'sim.switch' },
  { id: 'hall', kind: 'sim.dimmer', options: { level: 40 } },
  { id: 'living-room', kind: 'sim.tv', name: 'Living room TV' },
  { id: 'door', kind: 'sim.camera' },
];

describe('registerSimulatedDevices', () => {
  it('registers every simulated kind', () => {
    const registry = registerSimulatedDevices(new DeviceRegistry());
    expect(registry.kinds()).toEqual(['sim.camera', 'sim.cyclic', 'sim.dimmer', 'sim.linear', 'sim.random-walk', 'sim.switch', 'sim.tv']);
    expect(Object.keys(SIMULATED_DEVICES).sort()).toEqual(registry.kinds());
    expect(CONFIGS.map((c) => c.kind).sort()).toEqual(registry.kinds());
  });

  it('refuses to register them twice', () => {
    const registry = registerSimulatedDevices(new DeviceRegistry());
    expect(() => registerSimulatedDevices(registry)).toThrow('kind sim.cyclic is already registered');
  });

  it.each(CONFIGS.map((c) => [c.kind, c] as const))('%s describes itself validly and reads its readable commands', async (_kind, config) => {
    const registry = registerSimulatedDevices(new DeviceRegistry());
    const device = registry.create(config);
    const description = device.describe('pi1/sim');
    expect(validateDescription(JSON.parse(JSON.stringify(description)))).toEqual(description);
    const ctx = fakeContext();
    await device.start(ctx);
    const values = await device.read(ctx);
    const readable = Object.entries(device.commands)
      .filter(([, spec]) => spec.writeonly !== true && spec.type !== 'bytes')
      .map(([name]) => name)
      .sort();
    expect(Object.keys(values).sort()).toEqual(readable);
    for (const sub of Object.values(device.subdevices)) {
      const subValues = await sub.read(ctx);
      const subReadable = Object.entries(sub.commands)
        .filter(([, spec]) => spec.writeonly !== true && spec.type !== 'bytes')
        .map(([name]) => name)
        .sort();
      expect(Object.keys(subValues).sort()).toEqual(subReadable);
    }
    await device.stop();
  });

  it('names the device and the kind when options are bad', () => {
    const registry = registerSimulatedDevices(new DeviceRegistry());
    let error: unknown;
    try {
      registry.create({ id: 'kitchen', kind: 'sim.cyclic', options: { period: -1, min: 0, max: 1 } });
    } catch (err) {
      error = err;
    }
    expect(isDeviceError(error, 'ERR_DEVICE_INVALID')).toBe(true);
    expect((error as Error).message).toBe('device kitchen (sim.cyclic): period must be a positive number of seconds, got -1');
  });
});
