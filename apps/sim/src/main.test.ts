/**
 * The simulated house as `npm start` runs it: a child process serving the
 * devices of house.json.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MdpBroker, MdpClient } from '@raspy/mdp';
import { KvServer } from '@raspy/kv';
import { DevicesClient } from '@raspy/devices';
import { Cleanup, within } from '@raspy/test-support';
import { defaultHouseFile, parseConfig } from './config.js';

const main = join(__dirname, '..', 'dist', 'main.js');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function house(): Promise<{ broker: string; kv: string }> {
  const broker = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100 }));
  await broker.start();
  const kv = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0 }));
  await kv.start();
  return { broker: broker.endpoints[0] as string, kv: kv.endpoints.snapshot };
}

function run(args: string[]): { lines: Record<string, unknown>[]; ready: Promise<void>; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [main, '--log-format', 'json', '--heartbeat-interval', '100', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  cleanup.defer(() => child.kill('SIGKILL'));
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve) =>
    createInterface({ input: child.stderr! }).on('line', (line) => {
      raw += line + '\n';
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'raspy-sim running') resolve();
      } catch {
        // usage text
      }
    }),
  );
  return { lines, ready, exited, stderr: () => raw };
}

test('serves the devices of house.json: sensors, lights, a TV with subdevices, a camera', async () => {
  const h = await house();
  const sim = run(['--broker', h.broker, '--kv', h.kv]);
  await within(sim.ready, 15_000, 'raspy-sim to run');
  const devices = new DevicesClient(cleanup.add(new MdpClient({ endpoint: h.broker, timeout: 5000 })));
  const list = await devices.list();
  expect(list).toHaveLength(10);
  expect(list.map((d) => d.type)).toEqual(expect.arrayContaining(['sensor.temperature', 'sensor.humidity', 'sensor.wind', 'switch.binary', 'switch.dimmer', 'media.tv', 'media.camera']));
  expect(await devices.get('pi1/sim/living-temp', 'temperature')).toMatchObject({ unit: '°C', value: expect.any(Number) });
  expect(await devices.set('pi1/sim/tv/volume', 'level', 30)).toMatchObject({ value: 30 });
  await expect(devices.set('pi1/sim/tv/volume', 'level', 300)).rejects.toMatchObject({ code: 'ERR_DEVICE_INVALID' });
  await expect(devices.get('pi1/sim/garden-camera', 'snapshot')).rejects.toMatchObject({ code: 'ERR_DEVICE_NOT_SUPPORTED', message: expect.stringMatching(/getBytes/) });
  const snapshot = await devices.getBytes('pi1/sim/garden-camera', 'snapshot');
  expect(snapshot.mime).toBe('image/png');
  expect(snapshot.data.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
});

test('a house file that is not valid stops it with a clear message', async () => {
  const h = await house();
  const dir = mkdtempSync(join(tmpdir(), 'raspy-sim-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ host: 'pi1', server: 'sim', devices: [{ id: 'x', kind: 'sim.nonexistent' }] }));
  const sim = run(['--broker', h.broker, '--kv', h.kv, '--config', file]);
  expect(await within(sim.exited, 10_000, 'raspy-sim to exit')).toBe(1);
  expect(sim.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'invalid device in the house file', error: expect.objectContaining({ message: expect.stringMatching(/unknown kind "sim.nonexistent"/) }) }));
});

test('config: defaults and refusals', () => {
  const file = defaultHouseFile('/opt/raspy/apps/sim/dist/main.js');
  expect(file).toBe('/opt/raspy/apps/sim/house.json');
  expect(parseConfig([], {}, file)).toMatchObject({ kind: 'run', config: { file, broker: 'tcp://127.0.0.1:5514', kv: 'tcp://127.0.0.1:5515' } });
  expect(parseConfig(['--host', 'Pi One'], {}, file)).toMatchObject({ kind: 'error' });
  expect(parseConfig(['--kv', '5515'], {}, file)).toMatchObject({ kind: 'error', message: expect.stringMatching(/tcp:\/\/host:port/) });
});
