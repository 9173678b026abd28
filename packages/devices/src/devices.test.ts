/**
 * Device servers end to end: a real broker, key/value server and settings
 * store; devices written here, in a test file, with the public API only (as
 * a third party would).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MdpBroker, MdpClient } from '@raspy/mdp';
import { KvClient, KvServer } from '@raspy/kv';
import { StoreService } from '@raspy/titanic';
import { Cleanup, deferred, memoryLogger, waitFor, within } from '@raspy/test-support';
import {
  Device,
  DeviceRegistry,
  DeviceServer,
  DevicesClient,
  defineDevice,
  isDeviceError,
  registerSimulatedDevices,
  type DeviceConfig,
  type DeviceContext,
} from './index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

// ---- a third party's device types, in one file ------------------------------------------

/** A lamp with a dimmer: setting a level above 0 switches it on. */
class Lamp extends Device {
  readonly type = 'switch.dimmer';
  readonly commands = {
    power: { type: 'bool', label: 'Power' },
    level: { type: 'int', label: 'Brightness', unit: '%', min: 0, max: 100, step: 5 },
  } as const;
  private on = false;
  private level = 50;
  constructor(config: DeviceConfig) {
    super(config, 30);
  }
  read() {
    return { power: this.on, level: this.level };
  }
  override write(command: string, value: unknown) {
    if (command === 'power') this.on = value as boolean;
    if (command === 'level') {
      this.level = value as number;
      if (this.level > 0) this.on = true;
    }
    return value;
  }
}

function registry(): DeviceRegistry {
  let reads = 0;
  return new DeviceRegistry()
    .register('acme.lamp', (c) => new Lamp(c))
    .register(
      'acme.thermometer',
      defineDevice<{ celsius?: number }>({
        type: 'sensor.temperature',
        commands: { temperature: { type: 'real', unit: '°C', readonly: true, min: -40, max: 125 } },
        poll: 1,
        setup: (o) => ({ celsius: o.celsius ?? 20 }),
        read: (state) => ({ temperature: (state as { celsius: number }).celsius + (reads++ % 2) / 10 }),
      }),
    )
    .register(
      'acme.broken',
      defineDevice({
        type: 'sensor.x',
        commands: { x: { type: 'real', readonly: true } },
        read: () => {
          throw new Error('bus error');
        },
      }),
    );
}

// ---- the house around it ----------------------------------------------------------------

async function house(): Promise<{ broker: string; kv: KvServer; data: string }> {
  const b = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100 }));
  await b.start();
  const broker = b.endpoints[0] as string;
  const kv = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0 }));
  await kv.start();
  const data = mkdtempSync(join(tmpdir(), 'raspy-devices-'));
  cleanup.defer(() => rmSync(data, { recursive: true, force: true }));
  const store = new StoreService({ broker, dataDir: join(data, 'store'), heartbeatInterval: 100 });
  cleanup.defer(() => store.stop());
  await store.start();
  return { broker, kv, data };
}

async function server(h: { broker: string; kv: KvServer }, configs: DeviceConfig[], extra = {}): Promise<DeviceServer> {
  const reg = registry();
  const s = new DeviceServer({
    host: 'pi1',
    server: 'acme',
    broker: h.broker,
    kv: h.kv.endpoints,
    devices: configs.map((c) => reg.create(c)),
    heartbeatInterval: 100,
    availabilityInterval: 200,
    ...extra,
  });
  cleanup.defer(() => s.stop());
  await s.start();
  return s;
}

const configs: DeviceConfig[] = [
  { id: 'hall', kind: 'acme.lamp', name: 'Hall light' },
  { id: 'kitchen', kind: 'acme.thermometer', name: 'Kitchen', options: { celsius: 21 } },
];

test('list, describe, get and set through the broker; bad requests get 400/404/501', async () => {
  const h = await house();
  await server(h, configs);
  const mdp = cleanup.add(new MdpClient({ endpoint: h.broker, timeout: 5000 }));
  const devices = new DevicesClient(mdp);
  expect(await devices.servers()).toEqual(['pi1.acme.devices']);
  expect(await devices.list()).toEqual([
    { id: 'pi1/acme/hall', type: 'switch.dimmer', name: 'Hall light' },
    { id: 'pi1/acme/kitchen', type: 'sensor.temperature', name: 'Kitchen' },
  ]);
  const lamp = await devices.describe('pi1/acme/hall');
  expect(lamp.commands.level).toEqual({ type: 'int', label: 'Brightness', unit: '%', min: 0, max: 100, step: 5 });
  expect(Object.keys(lamp.commands).sort()).toEqual(['level', 'name', 'poll', 'power', 'record']);

  expect(await devices.get('pi1/acme/kitchen', 'temperature')).toMatchObject({ value: expect.any(Number), unit: '°C', ts: expect.any(Number) });
  expect(await devices.set('pi1/acme/hall', 'level', 80)).toMatchObject({ value: 80, unit: '%' });
  await waitFor(async () => (await devices.get('pi1/acme/hall', 'power')).value === true, 'power to follow the level');

  const refused = async (p: Promise<unknown>, code: string, message: RegExp): Promise<void> => {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(isDeviceError(err)).toBe(true);
    expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
  };
  await refused(devices.set('pi1/acme/hall', 'level', 101), 'ERR_DEVICE_INVALID', /level must be at most 100 %, got 101/);
  await refused(devices.set('pi1/acme/hall', 'level', 'bright'), 'ERR_DEVICE_INVALID', /whole number/);
  await refused(devices.set('pi1/acme/kitchen', 'temperature', 30), 'ERR_DEVICE_INVALID', /is a reading: it can be read, not set/);
  await refused(devices.set('pi1/acme/attic', 'power', true), 'ERR_DEVICE_NOT_FOUND', /no device pi1\/acme\/attic on pi1.acme.devices/);
  await refused(devices.get('pi1/acme/hall', 'colour'), 'ERR_DEVICE_NOT_FOUND', /has no command colour/);
  expect(await devices.get('pi1/acme/hall', 'level')).toMatchObject({ value: 80 }); // the refused sets changed nothing

  const raw = async (...frames: string[]): Promise<[string, string]> => {
    const [status, json] = (await mdp.request('pi1.acme.devices', ...frames)).map(String);
    return [status as string, (JSON.parse(json as string) as { error: string }).error];
  };
  expect(await raw('dance')).toEqual(['501', expect.stringMatching(/unknown action "dance"/)]);
  expect(await raw('get', '{not json')).toEqual(['400', expect.stringMatching(/not JSON/)]);
  expect(await raw('get', '[]')).toEqual(['400', expect.stringMatching(/must be a JSON object/)]);
  expect(await raw('set', '{"device":"hall","command":"power"}')).toEqual(['400', expect.stringMatching(/needs "value"/)]);
  expect(await raw('get', '{"command":"power"}')).toEqual(['400', expect.stringMatching(/needs "device"/)]);
});

test('values and availability are published into the key/value tree', async () => {
  const h = await house();
  await server(h, configs);
  const kv = cleanup.add(new KvClient({ servers: h.kv.endpoints, subtree: '/device/pi1/acme/' }));
  await kv.start();
  await waitFor(() => kv.get('/device/pi1/acme/kitchen/temperature') !== undefined, 'the first reading');
  expect(kv.getJson('/device/pi1/acme/kitchen/temperature')).toEqual({ value: expect.any(Number), unit: '°C', ts: expect.any(Number) });
  expect(kv.getJson('/device/pi1/acme/hall/$state')).toEqual({ online: true, ts: expect.any(Number) });
  expect(kv.getJson('/device/pi1/acme/hall/$description')).toMatchObject({ id: 'pi1/acme/hall', name: 'Hall light' });
  // The configuration too (the history recorder reads `record`).
  expect(kv.getJson('/device/pi1/acme/hall/name')).toEqual({ value: 'Hall light', ts: expect.any(Number) });
  expect(kv.getJson('/device/pi1/acme/hall/poll')).toEqual({ value: 30, unit: 's', ts: expect.any(Number) });
  expect(kv.getJson('/device/pi1/acme/kitchen/record')).toEqual({ value: true, ts: expect.any(Number) });
  // The thermometer polls every second: its value changes on its own.
  const first = kv.getJson<{ ts: number }>('/device/pi1/acme/kitchen/temperature')?.ts;
  await waitFor(() => (kv.getJson<{ ts: number }>('/device/pi1/acme/kitchen/temperature')?.ts ?? 0) > (first ?? 0), 'a second reading', 5000);
});

test('a device that fails to read is reported, and the others go on', async () => {
  const h = await house();
  await server(h, [...configs, { id: 'broken', kind: 'acme.broken' }]);
  const devices = new DevicesClient(cleanup.add(new MdpClient({ endpoint: h.broker, timeout: 5000 })));
  const err = await devices.poll('pi1/acme/broken').catch((e: unknown) => e);
  expect(err).toMatchObject({ code: 'ERR_DEVICE_UNAVAILABLE', status: '503', message: expect.stringMatching(/bus error/) });
  expect((await devices.poll('pi1/acme/hall')).power).toMatchObject({ value: false });
});

test('configuration (name, poll) is kept in the store across a restart', async () => {
  const h = await house();
  const first = await server(h, configs);
  const devices = new DevicesClient(cleanup.add(new MdpClient({ endpoint: h.broker, timeout: 5000 })));
  await devices.set('pi1/acme/hall', 'name', 'Entrance');
  await devices.set('pi1/acme/kitchen', 'poll', 120);
  expect((await devices.describe('pi1/acme/hall')).name).toBe('Entrance');
  await first.stop();
  await server(h, configs);
  expect((await devices.describe('pi1/acme/hall')).name).toBe('Entrance');
  expect(await devices.get('pi1/acme/kitchen', 'poll')).toMatchObject({ value: 120, unit: 's' });
  expect((await devices.list()).find((d) => d.id === 'pi1/acme/hall')?.name).toBe('Entrance');
});

test('discovery finds every device of every server with its description and values', async () => {
  const h = await house();
  await server(h, configs);
  const found = await new DevicesClient(cleanup.add(new MdpClient({ endpoint: h.broker, timeout: 5000 }))).discover();
  expect(found.map((d) => [d.id, d.service, d.description.name])).toEqual([
    ['pi1/acme/hall', 'pi1.acme.devices', 'Hall light'],
    ['pi1/acme/kitchen', 'pi1.acme.devices', 'Kitchen'],
  ]);
  expect(found[0]?.values.power).toMatchObject({ value: false });
  expect(found.errors).toBeUndefined();
});

test('a device server that dies: its devices show as lost within seconds, and come back with their configuration', async () => {
  const h = await house();
  const fixture = join(__dirname, '..', 'test', 'fixtures', 'server.mjs');
  const start = async () => {
    const child = spawn(process.execPath, [fixture, h.broker, JSON.stringify(h.kv.endpoints)], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.defer(() => child.kill('SIGKILL'));
    await within(
      new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (l) => l === 'started' && resolve());
        child.on('exit', (code) => reject(new Error(`the device server exited with ${code}`)));
      }),
      15_000,
      'the device server to start',
    );
    return child;
  };
  const child = await start();
  const kv = cleanup.add(new KvClient({ servers: h.kv.endpoints, subtree: '/device/pi1/child/' }));
  await kv.start();
  const devices = new DevicesClient(cleanup.add(new MdpClient({ endpoint: h.broker, timeout: 5000 })));
  await devices.set('pi1/child/porch', 'name', 'Porch light');
  await waitFor(() => kv.getJson<{ online: boolean }>('/device/pi1/child/porch/$state')?.online === true, 'online');
  const killedAt = performance.now();
  child.kill('SIGKILL');
  await waitFor(() => kv.get('/device/pi1/child/porch/$state') === undefined, 'the device to show as lost', 5000);
  const lostAfter = performance.now() - killedAt;
  expect(lostAfter).toBeLessThan(5000);
  await start();
  await waitFor(() => kv.getJson<{ online: boolean }>('/device/pi1/child/porch/$state')?.online === true, 'back online', 10_000);
  expect((await devices.describe('pi1/child/porch')).name).toBe('Porch light');
});

test('a clean stop marks devices offline at once', async () => {
  const h = await house();
  const s = await server(h, configs);
  const kv = cleanup.add(new KvClient({ servers: h.kv.endpoints, subtree: '/device/pi1/acme/' }));
  await kv.start();
  await s.stop();
  await waitFor(() => kv.getJson<{ online: boolean }>('/device/pi1/acme/hall/$state')?.online === false, 'offline');
});

test('a context of a device can publish readings learnt by itself (push)', async () => {
  let push: DeviceContext | null = null;
  class Button extends Device {
    readonly type = 'sensor.button';
    readonly commands = { pressed: { type: 'int', readonly: true } } as const;
    override start(ctx: DeviceContext) {
      push = ctx;
    }
    read() {
      return {};
    }
  }
  const h = await house();
  const s = new DeviceServer({ host: 'pi1', server: 'push', broker: h.broker, kv: h.kv.endpoints, devices: [new Button({ id: 'door', poll: 0 })], heartbeatInterval: 100 });
  cleanup.defer(() => s.stop());
  await s.start();
  const kv = cleanup.add(new KvClient({ servers: h.kv.endpoints, subtree: '/device/pi1/push/' }));
  await kv.start();
  (push as DeviceContext | null)?.publish({ pressed: 3 });
  await waitFor(() => kv.getJson<{ value: number }>('/device/pi1/push/door/pressed')?.value === 3, 'the pushed value');
});

test('a slow device is never read twice at once: polls are skipped (and logged) while a read hangs; a write reads again after it', async () => {
  const hang = { next: null as ReturnType<typeof deferred<void>> | null };
  let reads = 0;
  class SlowProbe extends Device {
    readonly type = 'sensor.level';
    readonly commands = { level: { type: 'int', readonly: true }, target: { type: 'int', min: 0, max: 100 } } as const;
    private target = 0;
    async read() {
      reads++;
      const seen = this.target;
      if (hang.next !== null) await hang.next.promise;
      return { level: reads, target: seen };
    }
    override write(_command: string, value: unknown) {
      this.target = value as number;
      return value;
    }
  }
  const h = await house();
  const logger = memoryLogger();
  const s = new DeviceServer({
    host: 'pi1',
    server: 'slow',
    broker: h.broker,
    kv: h.kv.endpoints,
    devices: [new SlowProbe({ id: 'tank', poll: 1 })],
    heartbeatInterval: 100,
    deviceTimeout: 200,
    logger,
  });
  cleanup.defer(() => s.stop());
  await s.start();
  expect(reads).toBe(1);
  const devices = new DevicesClient(cleanup.add(new MdpClient({ endpoint: h.broker, timeout: 5000 })));

  // The next poll's read hangs: it times out, and the polls after it are skipped, not piled up.
  hang.next = deferred();
  const skipped = () => logger.lines.some((l) => l.message === 'poll skipped: the previous reading has not finished');
  await waitFor(skipped, 'a skipped poll', 5000);
  expect(reads).toBe(2);
  expect(logger.lines.filter((l) => l.message === 'reading failed')).toHaveLength(1);
  // Asked for, it waits for the read under way (and runs out of time) rather than starting one.
  await expect(devices.poll('pi1/slow/tank')).rejects.toMatchObject({ code: 'ERR_DEVICE_UNAVAILABLE' });
  expect(reads).toBe(2);

  // A write while the read hangs: the read after it waits for the hung one, then reads anew.
  await devices.set('pi1/slow/tank', 'target', 40);
  expect(reads).toBe(2);
  const hung = hang.next;
  hang.next = null;
  hung.resolve();
  // The hung read's late result is dropped (its deadline passed); the third read is the write's.
  await waitFor(() => s.reading('tank', 'level')?.value === 3, 'a fresh read after the write');
  expect(s.reading('tank', 'target')?.value).toBe(40);
  expect(logger.lines.find((l) => l.message === 'slow reading finished')?.fields).toMatchObject({ device: 'tank', skippedPolls: expect.any(Number) });
  // Polling goes on.
  await waitFor(() => reads >= 4, 'polling again');
});

test('devices added and removed while the server runs: listed, published, then lost', async () => {
  const h = await house();
  const s = await server(h, [configs[0] as DeviceConfig]);
  const devices = new DevicesClient(cleanup.add(new MdpClient({ endpoint: h.broker, timeout: 5000 })));
  const kv = cleanup.add(new KvClient({ servers: h.kv.endpoints, subtree: '/device/pi1/acme/' }));
  await kv.start();
  await s.addDevice(registry().create({ id: 'attic', kind: 'acme.thermometer', name: 'Attic', options: { celsius: 30 } }));
  expect((await devices.list()).map((d) => d.id)).toEqual(['pi1/acme/attic', 'pi1/acme/hall']);
  await waitFor(() => kv.getJson<{ online: boolean }>('/device/pi1/acme/attic/$state')?.online === true, 'the new device online');
  expect(kv.getJson('/device/pi1/acme/attic/temperature')).toMatchObject({ unit: '°C' });
  await expect(s.addDevice(registry().create({ id: 'attic', kind: 'acme.lamp' }))).rejects.toMatchObject({ code: 'ERR_DEVICE_INVALID' });

  expect(await s.removeDevice('attic')).toBe(true);
  expect(await s.removeDevice('attic')).toBe(false);
  expect((await devices.list()).map((d) => d.id)).toEqual(['pi1/acme/hall']);
  await expect(devices.get('pi1/acme/attic', 'temperature')).rejects.toMatchObject({ code: 'ERR_DEVICE_NOT_FOUND' });
  await waitFor(() => kv.get('/device/pi1/acme/attic/$state') === undefined, 'the removed device to show as lost', 5000);
  expect(kv.getJson<{ online: boolean }>('/device/pi1/acme/hall/$state')?.online).toBe(true);
});

test('bytes values: getBytes joins a camera snapshot; on a value that is not bytes it is refused', async () => {
  const h = await house();
  const reg = registerSimulatedDevices(new DeviceRegistry());
  const s = new DeviceServer({
    host: 'pi1',
    server: 'cams',
    broker: h.broker,
    kv: false,
    devices: [reg.create({ id: 'garden', kind: 'sim.camera', options: { width: 320, height: 240 } }), reg.create({ id: 'lamp', kind: 'sim.switch' })],
    heartbeatInterval: 100,
  });
  cleanup.defer(() => s.stop());
  await s.start();
  const devices = new DevicesClient(cleanup.add(new MdpClient({ endpoint: h.broker, timeout: 5000 })));
  const { mime, data } = await devices.getBytes('pi1/cams/garden', 'snapshot');
  expect(mime).toBe('image/png');
  expect(data.subarray(1, 4).toString()).toBe('PNG');
  const err = await devices.getBytes('pi1/cams/lamp', 'power').then(() => null, (e: unknown) => e);
  expect(isDeviceError(err) && err.code === 'ERR_DEVICE_NOT_SUPPORTED').toBe(true);
  expect((err as Error).message).toMatch(/not a bytes value/);
});
