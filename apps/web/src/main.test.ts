/**
 * raspy-web as a user runs it: a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MdpBroker } from '@raspy/mdp';
import { KvServer } from '@raspy/kv';
import { Cleanup, within } from '@raspy/test-support';

const main = join(__dirname, '..', 'dist', 'main.js');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

interface Run {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [main, ...args, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  cleanup.defer(() => child.kill('SIGKILL'));
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      lines.push({ text: line });
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

async function house(): Promise<{ broker: string; kv: string; data: string }> {
  const b = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*' }));
  await b.start();
  const kv = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0 }));
  await kv.start();
  const data = mkdtempSync(join(tmpdir(), 'raspy-web-main-'));
  cleanup.defer(() => rmSync(data, { recursive: true, force: true }));
  return { broker: b.endpoints[0] as string, kv: kv.endpoints.snapshot, data };
}

test('starts, prints its address, serves, and stops cleanly on SIGTERM', async () => {
  const h = await house();
  const r = run(['--broker', h.broker, '--kv', h.kv, '--data', h.data, '--bind', '127.0.0.1', '--port', '0']);
  await within(
    (async () => {
      while (!r.lines.some((l) => l.msg === 'raspy-web running')) await new Promise((res) => r.child.stderr!.once('data', res));
    })(),
    15_000,
    'raspy-web to run',
  );
  const running = r.lines.find((l) => l.msg === 'raspy-web running') as { url: string; setupRequired: boolean };
  expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  expect(running.setupRequired).toBe(true);
  const res = await fetch(`${running.url}api/session`);
  expect(await res.json()).toEqual({ authenticated: false, setupRequired: true, csrfToken: null });
  r.child.kill('SIGTERM');
  expect(await within(r.exited, 10_000, 'the exit')).toBe(0);
  expect(r.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'bye']));
});

test('RASPY_ADMIN_PASSWORD sets the password; a port in use and a damaged credentials file exit 1; bad flags exit 2', async () => {
  const h = await house();
  const withPassword = run(['--broker', h.broker, '--kv', h.kv, '--data', h.data, '--bind', '127.0.0.1', '--port', '0'], { RASPY_ADMIN_PASSWORD: 'from the configuration' });
  await within(
    (async () => {
      while (!withPassword.lines.some((l) => l.msg === 'raspy-web running')) await new Promise((res) => withPassword.child.stderr!.once('data', res));
    })(),
    15_000,
    'raspy-web to run',
  );
  const url = (withPassword.lines.find((l) => l.msg === 'raspy-web running') as { url: string }).url;
  const login = await fetch(`${url}api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'from the configuration' }) });
  expect(login.status).toBe(200);
  withPassword.child.kill('SIGTERM');
  expect(await withPassword.exited).toBe(0);

  // A port taken by another program.
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  cleanup.defer(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as { port: number }).port;
  const busy = run(['--broker', h.broker, '--kv', h.kv, '--data', h.data, '--bind', '127.0.0.1', '--port', String(port)]);
  expect(await within(busy.exited, 15_000, 'the exit')).toBe(1);
  expect(busy.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: expect.stringMatching(new RegExp(`port ${port} is in use`)) }));

  const damaged = mkdtempSync(join(tmpdir(), 'raspy-web-damaged-'));
  cleanup.defer(() => rmSync(damaged, { recursive: true, force: true }));
  mkdirSync(join(damaged, 'web'));
  writeFileSync(join(damaged, 'web', 'auth.json'), 'garbage');
  const broken = run(['--broker', h.broker, '--kv', h.kv, '--data', damaged, '--bind', '127.0.0.1', '--port', '0']);
  expect(await within(broken.exited, 15_000, 'the exit')).toBe(1);
  expect(broken.lines).toContainEqual(expect.objectContaining({ level: 'error', error: expect.stringMatching(/damaged/) }));

  const bad = run(['--port', 'eighty']);
  expect(await within(bad.exited, 15_000, 'the exit')).toBe(2);
});
