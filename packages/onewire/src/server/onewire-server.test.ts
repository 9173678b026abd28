/**
 * The 1-Wire device server over a scripted source: probes that come and go,
 * bad readings shown as such, resolution.
 */
import { MdpBroker, MdpClient } from '@raspy/mdp';
import { KvClient, KvServer } from '@raspy/kv';
import { DevicesClient } from '@raspy/devices';
import { Cleanup, deferred, waitFor } from '@raspy/test-support';
import { OneWireServer } from './onewire-server.js';
import type { ProbeInfo, TemperatureReading, TemperatureSource } from '../source.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

class ScriptedSource implements TemperatureSource {
  readonly kind = 'sysfs' as const;
  readonly location = 'test';
  probes = new Map<string, TemperatureReading>();
  resolutions = new Map<string, number>();
  resolutionAsked = 0;
  reads = 0;
  closed = false;
  async list(): Promise<ProbeInfo[]> {
    return [...this.probes.keys()].map((id) => ({ id, family: id.slice(0, 2), chip: 'DS18B20', bus: 'w1_bus_master1' }));
  }
  gate: Promise<void> | null = null;
  inFlight = 0;
  async read(id: string): Promise<TemperatureReading> {
    this.reads++;
    this.inFlight++;
    try {
      if (this.gate !== null) await this.gate;
    } finally {
      this.inFlight--;
    }
    return this.probes.get(id) ?? { ok: false, reason: 'missing', message: `${id} is gone` };
  }
  async resolution(id: string): Promise<number | null> {
    this.resolutionAsked++;
    return this.resolutions.get(id) ?? null;
  }
  async setResolution(id: string, bits: 9 | 10 | 11 | 12): Promise<void> {
    this.resolutions.set(id, bits);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

async function setup(source: ScriptedSource) {
  const broker = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100 }));
  await broker.start();
  const tree = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0 }));
  await tree.start();
  const server = new OneWireServer({
    host: 'pi1',
    source,
    broker: broker.endpoints[0] as string,
    kv: tree.endpoints,
    store: false,
    heartbeatInterval: 100,
    availabilityInterval: 200,
    scanInterval: 100,
    poll: 1,
  });
  cleanup.defer(() => server.stop());
  await server.start();
  const kv = cleanup.add(new KvClient({ servers: tree.endpoints, subtree: '/device/pi1/onewire/' }));
  await kv.start();
  const devices = new DevicesClient(cleanup.add(new MdpClient({ endpoint: broker.endpoints[0] as string, timeout: 5000 })));
  return { server, kv, devices };
}

test('each probe is a sensor.temperature device; probes plugged in appear and unplugged ones go lost', async () => {
  const source = new ScriptedSource();
  source.probes.set('28-0000052fd3c1', { ok: true, celsius: 21.5 });
  const { kv, devices } = await setup(source);
  expect(await devices.list()).toEqual([{ id: 'pi1/onewire/28-0000052fd3c1', type: 'sensor.temperature', name: 'DS18B20 28-0000052fd3c1' }]);
  expect(await devices.get('pi1/onewire/28-0000052fd3c1', 'temperature')).toMatchObject({ value: 21.5, unit: '°C' });
  expect(await devices.get('pi1/onewire/28-0000052fd3c1', 'status')).toMatchObject({ value: 'ok' });

  source.probes.set('28-00000a1b2c3d', { ok: true, celsius: 4 });
  await waitFor(() => kv.getJson<{ online: boolean }>('/device/pi1/onewire/28-00000a1b2c3d/$state')?.online === true, 'the new probe');
  source.probes.delete('28-0000052fd3c1');
  await waitFor(() => kv.get('/device/pi1/onewire/28-0000052fd3c1/$state') === undefined, 'the unplugged probe to go lost');
  expect((await devices.list()).map((d) => d.id)).toEqual(['pi1/onewire/28-00000a1b2c3d']);
  // Plugged back: it comes back.
  source.probes.set('28-0000052fd3c1', { ok: true, celsius: 22 });
  await waitFor(() => kv.getJson<{ online: boolean }>('/device/pi1/onewire/28-0000052fd3c1/$state')?.online === true, 'the probe back');
});

test('a bad reading is published as a status with its reason, never as a temperature', async () => {
  const source = new ScriptedSource();
  source.probes.set('28-0000052fd3c1', { ok: true, celsius: 19.25 });
  const { kv, devices } = await setup(source);
  await waitFor(() => kv.getJson<{ value: number }>('/device/pi1/onewire/28-0000052fd3c1/temperature')?.value === 19.25, 'a good reading');
  source.probes.set('28-0000052fd3c1', { ok: false, reason: 'zero', message: 'all-zero scratchpad: a shorted data line?' });
  const values = await devices.poll('pi1/onewire/28-0000052fd3c1');
  expect(values.status).toMatchObject({ value: 'zero' });
  expect(values.error).toMatchObject({ value: 'all-zero scratchpad: a shorted data line?' });
  expect(values.temperature).toMatchObject({ value: 19.25 }); // the last good one, not 0 °C
  await waitFor(() => kv.getJson<{ value: string }>('/device/pi1/onewire/28-0000052fd3c1/status')?.value === 'zero', 'the status in the tree');
  expect(kv.getJson<{ value: number }>('/device/pi1/onewire/28-0000052fd3c1/temperature')?.value).toBe(19.25);
});

test('resolution is shown where known, and settable where the source can', async () => {
  const source = new ScriptedSource();
  source.probes.set('28-0000052fd3c1', { ok: true, celsius: 20 });
  source.resolutions.set('28-0000052fd3c1', 12);
  const { devices } = await setup(source);
  expect(await devices.get('pi1/onewire/28-0000052fd3c1', 'resolution')).toMatchObject({ value: 12, unit: 'bits' });
  // Asked again after the write, then not at every reading (on old kernels it costs a conversion).
  const asked = source.resolutionAsked;
  expect(await devices.set('pi1/onewire/28-0000052fd3c1', 'resolution', 9)).toMatchObject({ value: 9 });
  expect(source.resolutions.get('28-0000052fd3c1')).toBe(9);
  const reads = source.reads;
  await waitFor(() => source.reads >= reads + 2, 'two more readings');
  expect(source.resolutionAsked).toBe(asked + 1);
  expect(await devices.get('pi1/onewire/28-0000052fd3c1', 'resolution')).toMatchObject({ value: 9 });
  await expect(devices.set('pi1/onewire/28-0000052fd3c1', 'resolution', 13)).rejects.toMatchObject({ code: 'ERR_DEVICE_INVALID' });
});

test('probes found together are added together: their first readings (750 ms each on a real bus) are not taken one after the other', async () => {
  const source = new ScriptedSource();
  for (const id of ['28-000000000001', '28-000000000002', '28-000000000003']) source.probes.set(id, { ok: true, celsius: 20 });
  const gate = deferred();
  source.gate = gate.promise;
  const starting = setup(source);
  await waitFor(() => source.inFlight === 3, 'the three first readings under way at once');
  gate.resolve();
  const { devices } = await starting;
  expect((await devices.list()).map((d) => d.id)).toHaveLength(3);
});

test('stop closes the source', async () => {
  const source = new ScriptedSource();
  const { server } = await setup(source);
  await server.stop();
  expect(source.closed).toBe(true);
});
