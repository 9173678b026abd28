/**
 * The broker app as a user runs it: a child process, real sockets, signals.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdpClient, MdpWorker } from '@raspy/mdp';
import { KvClient, type KvEndpoints } from '@raspy/kv';

const main = join(__dirname, '..', 'dist', 'main.js');

interface Running {
  child: ChildProcess;
  endpoint: string;
  kv: KvEndpoints | null;
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** Starts the app on ephemeral ports and waits for its "raspy-broker running" log line. */
function startApp(extra: string[] = []): Promise<Running> {
  const args = ['--endpoint', 'tcp://127.0.0.1:*', '--kv-host', 'tcp://127.0.0.1', '--kv-port', '0', '--log-format', 'json', '--heartbeat-interval', '100'];
  const child = spawn(process.execPath, [main, ...args, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "raspy-broker running" line within 10 s: ${JSON.stringify(lines)}`)), 10_000);
    let buffer = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (line.msg === 'raspy-broker running') {
          clearTimeout(timer);
          const mdp = lines.find((l) => l.msg === 'broker listening') as { endpoints: string[] };
          const kv = lines.find((l) => l.msg === 'key/value server listening') as (KvEndpoints & Record<string, unknown>) | undefined;
          resolve({
            child,
            endpoint: mdp.endpoints[0] as string,
            kv: kv === undefined ? null : { snapshot: kv.snapshot, publisher: kv.publisher, collector: kv.collector },
            lines,
            exited,
          });
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the app exited with ${code} before listening: ${JSON.stringify(lines)}`));
    });
  });
}

let running: Running | null = null;
afterEach(() => {
  running?.child.kill('SIGKILL');
  running = null;
});

test('serves clients and workers, logs JSON lines with the component, and stops cleanly on SIGTERM', async () => {
  running = await startApp();
  const { child, endpoint, lines, exited } = running;
  expect(lines[0]).toMatchObject({ level: 'info', component: 'broker', msg: 'broker listening' });
  expect(lines).toContainEqual(expect.objectContaining({ component: 'kv', msg: 'key/value server listening' }));
  const worker = new MdpWorker({ endpoint, service: 'echo', handler: (f) => f, heartbeatInterval: 100 });
  await worker.start();
  const client = new MdpClient({ endpoint, timeout: 5000 });
  try {
    expect((await client.request('echo', 'hello')).map(String)).toEqual(['hello']);
  } finally {
    await client.close();
    await worker.stop();
  }
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'broker stopped', 'key/value server stopped', 'bye']));
});

test('hosts the key/value tree next to the broker, kept in a data directory across restarts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-broker-kv-'));
  try {
    running = await startApp(['--kv-data', dir]);
    const first = new KvClient({ servers: running.kv as KvEndpoints, subtree: '/house/' });
    await first.start();
    await first.setJson('/house/name', 'home sweet home');
    await first.close();
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    running = await startApp(['--kv-data', dir]);
    const second = new KvClient({ servers: running.kv as KvEndpoints, subtree: '/house/' });
    await second.start();
    expect(second.getJson('/house/name')).toBe('home sweet home');
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--no-kv runs the broker alone', async () => {
  running = await startApp(['--no-kv']);
  expect(running.kv).toBeNull();
  expect(running.lines.some((l) => l.component === 'kv')).toBe(false);
});

test('SIGINT stops it too', async () => {
  running = await startApp();
  running.child.kill('SIGINT');
  expect(await running.exited).toBe(0);
});

test('bad flags exit with status 2 and the usage', () => {
  const out = spawnSync(process.execPath, [main, '--heartbeat-interval', 'soon'], { encoding: 'utf8' });
  expect(out.status).toBe(2);
  expect(out.stderr).toMatch(/--heartbeat-interval \(RASPY_HEARTBEAT_INTERVAL\) must be a positive number, got "soon"/);
  expect(out.stderr).toMatch(/Usage: raspy-broker/);
});

test('an address already in use is reported and the app exits 1', async () => {
  running = await startApp();
  const out = spawnSync(process.execPath, [main, '--endpoint', running.endpoint, '--log-format', 'json'], { encoding: 'utf8' });
  expect(out.status).toBe(1);
  expect(out.stderr).toMatch(/cannot start the broker/);
  expect(out.stderr).toMatch(/in use/i);
});

test('--version and --help', () => {
  expect(spawnSync(process.execPath, [main, '--version'], { encoding: 'utf8' }).stdout).toMatch(/^raspy-broker \d+\.\d+\.\d+/);
  expect(spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8' }).stdout).toMatch(/--endpoint/);
});
