/**
 * The whole house as `npm start` runs it: three processes, one log stream,
 * one Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MdpClient } from '@raspy/mdp';
import { KvClient } from '@raspy/kv';
import { StoreClient } from '@raspy/titanic';
import { Cleanup, waitFor, within } from '@raspy/test-support';
import { localAddress, parseConfig } from './config.js';

const main = join(__dirname, '..', 'dist', 'main.js');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('starts broker, key/value tree and core; everything works; Ctrl-C stops all of it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-house-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const house = spawn(process.execPath, [main, '--data', dir, '--endpoint', 'tcp://127.0.0.1:*', '--kv-port', '0', '--web-port', '0', '--web-bind', '127.0.0.1', '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  cleanup.defer(() => house.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => house.on('exit', (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  const running = await within(
    new Promise<Record<string, unknown>>((resolve) => {
      createInterface({ input: house.stderr! }).on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'house running') resolve(entry);
      });
    }),
    20_000,
    'the house to run',
  );
  const pids = lines.filter((l) => typeof l.pid === 'number').map((l) => l.pid as number);
  expect(pids).toHaveLength(4); // broker, core, simulated house, web app
  // One stream, every line with its component.
  expect(['broker', 'kv', 'titanic', 'store', 'house'].every((c) => lines.some((l) => l.component === c))).toBe(true);
  expect(lines.every((l) => typeof l.component === 'string' && typeof l.msg === 'string')).toBe(true);

  const mdp = cleanup.add(new MdpClient({ endpoint: running.broker as string, timeout: 5000 }));
  await waitFor(async () => String((await mdp.request('mmi.service', 'titanic.store'))[0]) === '200', 'the store to register');
  const store = new StoreClient(mdp);
  await store.set('house/test', 'ok', true);
  expect(await store.get('house/test', 'ok')).toBe(true);
  const kv = cleanup.add(new KvClient({ servers: running.kv as string, subtree: '/house/' }));
  await kv.start();
  await kv.setJson('/house/mode', 'home');
  expect(kv.getJson('/house/mode')).toBe('home');

  // The simulated house is up: its devices are in the tree.
  const devices = cleanup.add(new KvClient({ servers: running.kv as string, subtree: '/device/pi1/sim/' }));
  await devices.start();
  await waitFor(() => devices.getJson<{ online: boolean }>('/device/pi1/sim/living-temp/$state')?.online === true, 'the simulated devices');
  expect(devices.getJson('/device/pi1/sim/living-temp/temperature')).toMatchObject({ value: expect.any(Number), unit: '°C' });

  // The web app: its address printed, the first visit asks for the admin password.
  expect(running.open).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  const session = await fetch(`${running.open as string}api/session`);
  expect(await session.json()).toEqual({ authenticated: false, setupRequired: true, csrfToken: null });
  expect((await fetch(running.open as string)).headers.get('content-type')).toMatch(/text\/html/);

  house.kill('SIGINT');
  expect(await within(exited, 20_000, 'the house to stop')).toBe(0);
  for (const pid of pids) expect(alive(pid)).toBe(false);
  const messages = lines.map((l) => l.msg);
  expect(messages).toEqual(expect.arrayContaining(['stopping the house', 'house stopped', 'device server stopped', 'bye']));
  // One signal each, in order: no part was forced.
  expect(messages).not.toContain('second signal, exiting now');
  expect(messages.indexOf('device server stopped')).toBeLessThan(messages.indexOf('broker stopped'));
});

test('if the house is killed, its parts stop by themselves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-house-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const house = spawn(process.execPath, [main, '--data', dir, '--endpoint', 'tcp://127.0.0.1:*', '--kv-port', '0', '--log-format', 'json', '--no-sim', '--web-port', '0', '--web-bind', '127.0.0.1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  cleanup.defer(() => house.kill('SIGKILL'));
  const pids: number[] = [];
  await within(
    new Promise<void>((resolve) => {
      createInterface({ input: house.stderr! }).on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (typeof entry.pid === 'number') pids.push(entry.pid);
        if (entry.msg === 'house running') resolve();
      });
    }),
    20_000,
    'the house to run',
  );
  expect(pids).toHaveLength(3); // broker, core, web app
  house.kill('SIGKILL');
  await waitFor(() => pids.every((pid) => !alive(pid)), 'the parts to stop', 15_000);
});

test('config: defaults, local address of a wildcard bind, bad flags', () => {
  const out = parseConfig([], {}, true);
  expect(out).toMatchObject({ kind: 'run', config: { endpoint: 'tcp://*:5514', kvPort: 5515, logFormat: 'pretty', dataDir: expect.stringMatching(/\.raspy$/) } });
  expect(parseConfig([], {}, false)).toMatchObject({ config: { logFormat: 'json' } });
  expect(localAddress('tcp://0.0.0.0:5514')).toBe('tcp://127.0.0.1:5514');
  expect(localAddress('tcp://192.168.1.2:5514')).toBe('tcp://192.168.1.2:5514');
  expect(parseConfig(['--kv-port', 'x'], {})).toMatchObject({ kind: 'error' });
  expect(parseConfig(['--endpoint', 'ipc:///x'], {})).toMatchObject({ kind: 'error' });
  expect(parseConfig([], {})).toMatchObject({ config: { web: true, webPort: 8514, webBind: '0.0.0.0' } });
  expect(parseConfig(['--no-web'], {})).toMatchObject({ config: { web: false } });
  expect(parseConfig([], { RASPY_WEB: 'off' })).toMatchObject({ config: { web: false } });
  expect(parseConfig(['--web-port', '99999'], {})).toMatchObject({ kind: 'error' });
});
