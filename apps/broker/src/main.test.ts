/**
 * The broker app as a user runs it: a child process, real sockets, signals.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { MdpClient, MdpWorker } from '@raspy/mdp';

const main = join(__dirname, '..', 'dist', 'main.js');

interface Running {
  child: ChildProcess;
  endpoint: string;
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** Starts the app on an ephemeral port and waits for its "broker listening" log line. */
function startApp(extra: string[] = []): Promise<Running> {
  const child = spawn(process.execPath, [main, '--endpoint', 'tcp://127.0.0.1:*', '--log-format', 'json', '--heartbeat-interval', '100', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "broker listening" line within 10 s: ${JSON.stringify(lines)}`)), 10_000);
    let buffer = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (line.msg === 'broker listening') {
          clearTimeout(timer);
          resolve({ child, endpoint: (line.endpoints as string[])[0] as string, lines, exited });
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
  expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'broker stopped', 'bye']));
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
