/**
 * The core as a user runs it: a child process against a broker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MdpBroker, MdpClient, MdpWorker } from '@raspy/mdp';
import { KvClient, KvServer } from '@raspy/kv';
import { HistoryClient } from '@raspy/devices';
import { StoreClient, TitanicClient } from '@raspy/titanic';
import { Cleanup, waitFor, within } from '@raspy/test-support';

const main = join(__dirname, '..', 'dist', 'main.js');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function startCore(broker: string, dataDir: string, kv: string): Promise<{ child: ChildProcess; lines: Record<string, unknown>[]; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [main, '--broker', broker, '--kv', kv, '--host', 'house', '--data', dataDir, '--heartbeat-interval', '100', '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  cleanup.defer(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  await within(
    new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'raspy-core running') resolve();
      });
      void exited.then((code) => reject(new Error(`raspy-core exited with ${code}: ${JSON.stringify(lines)}`)));
    }),
    15_000,
    'raspy-core to run',
  );
  return { child, lines, exited };
}

test('runs Titanic and the settings store; settings survive a restart; SIGTERM stops it cleanly', async () => {
  const broker = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100 }));
  await broker.start();
  const ep = broker.endpoints[0] as string;
  const tree = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0 }));
  await tree.start();
  const kv = tree.endpoints.snapshot;
  const dir = mkdtempSync(join(tmpdir(), 'raspy-core-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));

  const first = await startCore(ep, dir, kv);
  expect(first.lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/emptied at boot/) }));
  const worker = new MdpWorker({ endpoint: ep, service: 'garden.pump', heartbeatInterval: 100, handler: (f) => ['pumped', ...f] });
  cleanup.defer(() => worker.stop());
  await worker.start();
  const mdp = cleanup.add(new MdpClient({ endpoint: ep, timeout: 5000 }));
  const titanic = new TitanicClient(mdp);
  expect((await titanic.call('garden.pump', ['10 litres'], { timeout: 10_000 })).map(String)).toEqual(['pumped', '10 litres']);
  const settings = new StoreClient(mdp);
  await settings.set('core/test', 'greeting', { text: 'hello' });

  first.child.kill('SIGTERM');
  expect(await first.exited).toBe(0);
  expect(first.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'titanic stopped', 'bye']));

  await startCore(ep, dir, kv);
  expect(await settings.get('core/test', 'greeting')).toEqual({ text: 'hello' });
  // The scenario service answers too.
  const [status, json] = (await mdp.request('house.core.scenarios', 'list')).map(String);
  expect(status).toBe('200');
  expect(JSON.parse(json as string)).toEqual({ scenarios: [] });
  // And the history: device readings from the tree are recorded and served.
  const writer = cleanup.add(new KvClient({ servers: kv, subtree: '/device/' }));
  await writer.start();
  const now = Date.now();
  await writer.setJson('/device/house/sim/hall-temp/temperature', { value: 19.5, unit: '°C', ts: now });
  const history = new HistoryClient(mdp, 'house.core.history');
  await waitFor(async () => (await history.query('/device/house/sim/hall-temp/temperature', now - 1000, now + 1000)).length === 1, 'the reading in the history');
  expect(await history.query('/device/house/sim/hall-temp/temperature', now - 1000, now + 1000)).toEqual([[now, 19.5]]);
  // Its figures are in the tree for the web app's system page.
  const system = cleanup.add(new KvClient({ servers: kv, subtree: '/system/' }));
  await system.start();
  await waitFor(() => system.get('/system/house/core') !== undefined, 'the core figures');
  expect(system.getJson('/system/house/core')).toMatchObject({ version: expect.any(String), titanic: { open: 0, pending: 0, executed: expect.any(Number) } });
});
