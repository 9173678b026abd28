/**
 * The example of docs/new-server.md, run as a reader would run it, and
 * driven with the public client.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MdpBroker, MdpClient } from '@raspy/mdp';
import { KvClient, KvServer } from '@raspy/kv';
import { StoreService } from '@raspy/titanic';
import { Cleanup, waitFor, within } from '@raspy/test-support';
import { DevicesClient } from './index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

test('docs/examples/devices/garden-server.mjs: a new device server in one file', async () => {
  const broker = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*' }));
  await broker.start();
  const ep = broker.endpoints[0] as string;
  const kv = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0 }));
  await kv.start();
  const data = mkdtempSync(join(tmpdir(), 'raspy-docs-'));
  cleanup.defer(() => rmSync(data, { recursive: true, force: true }));
  const store = new StoreService({ broker: ep, dataDir: data });
  cleanup.defer(() => store.stop());
  await store.start();

  const child = spawn(process.execPath, [join(__dirname, '..', '..', '..', 'docs', 'examples', 'devices', 'garden-server.mjs')], {
    env: { ...process.env, RASPY_BROKER: ep, RASPY_KV: kv.endpoints.snapshot, RASPY_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  cleanup.defer(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await within(
    new Promise<void>((resolve) => createInterface({ input: child.stderr! }).on('line', (l) => l.includes('garden server running') && resolve())),
    15_000,
    'the garden server to run',
  );

  const devices = new DevicesClient(cleanup.add(new MdpClient({ endpoint: ep, timeout: 5000 })));
  expect(await devices.list()).toEqual([
    { id: 'pi1/garden/bed-moisture', type: 'sensor.moisture', name: 'Vegetable bed' },
    { id: 'pi1/garden/pump', type: 'switch.binary', name: 'Garden pump' },
  ]);
  const before = (await devices.poll('pi1/garden/bed-moisture')).moisture?.value as number;
  await devices.set('pi1/garden/pump', 'litres', 4);
  const after = (await devices.poll('pi1/garden/bed-moisture')).moisture?.value as number;
  expect(after).toBeGreaterThan(before);
  await expect(devices.set('pi1/garden/pump', 'litres', 500)).rejects.toMatchObject({ code: 'ERR_DEVICE_INVALID', message: 'litres must be at most 50 l, got 500' });

  const tree = cleanup.add(new KvClient({ servers: kv.endpoints, subtree: '/device/pi1/garden/' }));
  await tree.start();
  await waitFor(() => tree.getJson<{ online: boolean }>('/device/pi1/garden/pump/$state')?.online === true, 'the pump online');
  child.kill('SIGTERM');
  expect(await within(exited, 10_000, 'the garden server to stop')).toBe(0);
  await waitFor(() => tree.getJson<{ online: boolean }>('/device/pi1/garden/pump/$state')?.online === false, 'the pump offline');
});
