/**
 * Titanic and the settings store through a real broker, real workers and
 * real files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MdpBroker, MdpClient, MdpWorker, type MdpHandler } from '@raspy/mdp';
import { Cleanup, memoryLogger, waitFor, within } from '@raspy/test-support';
import { StoreClient, StoreService, TitanicClient, TitanicServer, isTitanicError } from './index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const fixtures = join(__dirname, '..', 'test', 'fixtures');
const text = (frames: Buffer[]): string[] => frames.map(String);

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-titanic-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function broker(): Promise<string> {
  const b = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100, requestTimeout: 2000 }));
  await b.start();
  return b.endpoints[0] as string;
}

async function titanic(endpoint: string, dataDir: string, extra = {}): Promise<TitanicServer> {
  const t = new TitanicServer({
    broker: endpoint,
    dataDir,
    heartbeatInterval: 100,
    dispatcher: { requestTimeout: 1000, minBackoff: 20, maxBackoff: 200 },
    ...extra,
  });
  cleanup.defer(() => t.stop());
  await t.start();
  return t;
}

function worker(endpoint: string, service: string, handler: MdpHandler): MdpWorker {
  const w = new MdpWorker({ endpoint, service, handler, heartbeatInterval: 100 });
  cleanup.defer(() => w.stop({ timeout: 100 }));
  return w;
}

function client(endpoint: string): MdpClient {
  return cleanup.add(new MdpClient({ endpoint, timeout: 3000, retries: 1 }));
}

describe('9/TSP', () => {
  test('request, reply, close against a real worker', async () => {
    const ep = await broker();
    await titanic(ep, tempDir());
    await worker(ep, 'echo', (f) => ['echo', ...f]).start();
    const mdp = client(ep);
    const [status, uuid] = text(await mdp.request('titanic.request', 'echo', 'hello', ''));
    expect(status).toBe('200');
    expect(uuid).toMatch(/^[0-9a-f]{32}$/);
    const tc = new TitanicClient(mdp);
    expect(text(await tc.wait(uuid as string, { timeout: 5000 }))).toEqual(['echo', 'hello', '']);
    // titanic.reply is idempotent.
    expect(text(await mdp.request('titanic.reply', uuid as string))).toEqual(['200', 'echo', 'hello', '']);
    expect(text(await mdp.request('titanic.reply', uuid as string))).toEqual(['200', 'echo', 'hello', '']);
    expect(text(await mdp.request('titanic.close', uuid as string))).toEqual(['200']);
    expect(text(await mdp.request('titanic.reply', uuid as string))).toEqual(['400']);
    expect(text(await mdp.request('titanic.close', uuid as string))).toEqual(['200']);
  });

  test('a worker that appears only after the request was stored', async () => {
    const ep = await broker();
    await titanic(ep, tempDir());
    const tc = new TitanicClient(client(ep));
    const uuid = await tc.request('late.service', 'job');
    expect(await tc.reply(uuid)).toEqual({ status: 'pending' });
    await worker(ep, 'late.service', (f) => ['done', ...f]).start();
    expect(text(await tc.wait(uuid, { timeout: 5000 }))).toEqual(['done', 'job']);
  });

  test('a worker killed mid-request: the request is executed by another worker', async () => {
    const ep = await broker();
    await titanic(ep, tempDir());
    const child: ChildProcess = spawn(process.execPath, [join(fixtures, '..', '..', '..', 'mdp', 'test', 'fixtures', 'worker.mjs'), ep, 'pump', 'hang'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanup.defer(() => child.kill('SIGKILL'));
    const got = new Promise<void>((resolve) =>
      createInterface({ input: child.stdout! }).on('line', (l) => {
        if (l.startsWith('request')) resolve();
      }),
    );
    const tc = new TitanicClient(client(ep));
    const uuid = await tc.request('pump', 'on');
    await within(got, 5000, 'the child worker to get the request');
    await worker(ep, 'pump', (f) => ['pumping', ...f]).start();
    child.kill('SIGKILL');
    expect(text(await tc.wait(uuid, { timeout: 8000 }))).toEqual(['pumping', 'on']);
  });

  test('bad input gets clear statuses, never a crash', async () => {
    const ep = await broker();
    await titanic(ep, tempDir());
    const mdp = client(ep);
    expect(text(await mdp.request('titanic.request'))[0]).toBe('400'); // no service (one empty frame)
    expect(text(await mdp.request('titanic.request', 'bad\nname', 'x'))[0]).toBe('400');
    expect(text(await mdp.request('titanic.request', 'titanic.request', 'x'))[0]).toBe('400');
    // mmi.* is answered by the broker itself: stored, then executed at once.
    const [, mmi] = text(await mdp.request('titanic.request', 'mmi.echo', 'ping'));
    expect(text(await new TitanicClient(mdp).wait(mmi as string, { timeout: 5000 }))).toEqual(['ping']);
    for (const bad of ['', 'short', '../../../../etc/passwd', 'g'.repeat(32), 'A'.repeat(33)]) {
      expect(text(await mdp.request('titanic.reply', bad))).toEqual(['400']);
      expect(text(await mdp.request('titanic.close', bad))).toEqual(['200']);
    }
    // Upper-case ids are the same ids.
    const [, uuid] = text(await mdp.request('titanic.request', 'nobody', 'x'));
    expect(text(await mdp.request('titanic.reply', (uuid as string).toUpperCase()))).toEqual(['300']);
  });

  test('a restarted Titanic executes what was pending; a corrupt record is reported and skipped', async () => {
    const ep = await broker();
    const dir = tempDir();
    const first = await titanic(ep, dir);
    const tc = new TitanicClient(client(ep));
    const uuids = [await tc.request('later', 'a'), await tc.request('later', 'b')];
    await first.stop();
    appendFileSync(join(dir, 'requests.journal'), 'deadbeef {"t":"q","u":"garbage"}\n');
    const log = memoryLogger();
    await titanic(ep, dir, { logger: log });
    expect(log.lines.filter((l) => l.message === 'request journal').map((l) => l.fields.problem)).toEqual([
      expect.stringMatching(/line 3: (checksum mismatch|torn)/),
    ]);
    await worker(ep, 'later', (f) => ['ran', ...f]).start();
    expect(text(await tc.wait(uuids[0] as string, { timeout: 5000 }))).toEqual(['ran', 'a']);
    expect(text(await tc.wait(uuids[1] as string, { timeout: 5000 }))).toEqual(['ran', 'b']);
  });

  test('storage grows with what is open only: closed requests are compacted away', async () => {
    const ep = await broker();
    const dir = tempDir();
    const t = await titanic(ep, dir);
    await worker(ep, 'echo', (f) => f).start();
    const tc = new TitanicClient(client(ep));
    for (let round = 0; round < 12; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => tc.call('echo', [`${round}-${i}`], { timeout: 10_000 })));
    }
    const keep = await tc.request('nobody.home', 'stays');
    // 1,200 requests made 3,600 records (request, reply, close); compaction
    // keeps the file within about 1,000 records of what is open.
    const lines = (): number => readFileSync(join(dir, 'requests.journal'), 'utf8').split('\n').length - 1;
    await waitFor(() => lines() <= 1100, 'the journal to be compacted');
    expect(statSync(join(dir, 'requests.journal')).size).toBeLessThan(200_000);
    expect(t.stats()).toMatchObject({ open: 1, pending: 1 });
    expect(t.stats().syncs).toBeLessThan(3 * 1200); // batches: far fewer fsyncs than records
    expect(readFileSync(join(dir, 'requests.journal'), 'utf8')).toContain(keep);
  });
});

describe('titanic.store', () => {
  async function store(ep: string, dir: string): Promise<StoreService> {
    const s = new StoreService({ broker: ep, dataDir: dir, heartbeatInterval: 100 });
    cleanup.defer(() => s.stop());
    await s.start();
    return s;
  }

  test('get, set, delete, list with JSON values, kept across a restart', async () => {
    const ep = await broker();
    const dir = tempDir();
    const first = await store(ep, dir);
    const settings = new StoreClient(client(ep));
    await settings.set('pi1.sim/devices', 'kitchen-lamp', { name: 'Kitchen lamp', poll: 30 });
    await settings.set('pi1.sim/devices', 'tv', { name: 'TV' });
    await settings.set('core/scenarios', 'thermostat', { enabled: true, target: 20.5 });
    expect(await settings.get('pi1.sim/devices', 'kitchen-lamp')).toEqual({ name: 'Kitchen lamp', poll: 30 });
    expect(await settings.get('pi1.sim/devices', 'nothing')).toBeUndefined();
    expect(await settings.list('pi1.sim/devices')).toEqual({ 'kitchen-lamp': { name: 'Kitchen lamp', poll: 30 }, tv: { name: 'TV' } });
    expect(await settings.list('pi1.sim/devices', 'k')).toEqual({ 'kitchen-lamp': { name: 'Kitchen lamp', poll: 30 } });
    expect(await settings.namespaces()).toEqual(['core/scenarios', 'pi1.sim/devices']);
    expect(await settings.delete('pi1.sim/devices', 'tv')).toBe(true);
    expect(await settings.delete('pi1.sim/devices', 'tv')).toBe(false);
    await first.stop();
    await store(ep, dir);
    expect(await settings.list('pi1.sim/devices')).toEqual({ 'kitchen-lamp': { name: 'Kitchen lamp', poll: 30 } });
    expect(await settings.get('core/scenarios', 'thermostat')).toEqual({ enabled: true, target: 20.5 });
  });

  test('bad requests: 400 with a message, 404, 501', async () => {
    const ep = await broker();
    await store(ep, tempDir());
    const mdp = client(ep);
    const call = async (...frames: string[]): Promise<[string, unknown]> => {
      const [status, json] = text(await mdp.request('titanic.store', ...frames));
      return [status as string, JSON.parse(json as string)];
    };
    expect(await call('get', '{nope')).toEqual(['400', { error: expect.stringMatching(/not JSON/) }]);
    expect(await call('get', '[1]')).toEqual(['400', { error: 'the argument must be a JSON object' }]);
    expect(await call('get', '{"namespace":"../etc","key":"passwd"}')).toEqual(['400', { error: expect.stringMatching(/segment/) }]);
    expect(await call('get', '{"namespace":"a/b/c/d/e","key":"k"}')).toEqual(['400', { error: expect.stringMatching(/4 segments/) }]);
    expect(await call('set', '{"namespace":"a","key":"k"}')).toEqual(['400', { error: expect.stringMatching(/needs a "value"/) }]);
    expect(await call('set', JSON.stringify({ namespace: 'a', key: 'k', value: 'x'.repeat(70_000) }))).toEqual(['400', { error: expect.stringMatching(/larger than 65536/) }]);
    expect(await call('get', '{"namespace":"a","key":"missing"}')).toEqual(['404', { error: 'no setting a missing' }]);
    expect(await call('dance', '{}')).toEqual(['501', { error: expect.stringMatching(/unknown action "dance"/) }]);
    const settings = new StoreClient(mdp);
    await expect(settings.get('bad namespace!', 'k')).rejects.toMatchObject({ code: 'ERR_TITANIC_INVALID_ARGUMENT' });
  });

  test('concurrent writers: every acknowledged write is there, writes share fsyncs', async () => {
    const ep = await broker();
    const dir = tempDir();
    const first = await store(ep, dir);
    const writers = Array.from({ length: 8 }, () => new StoreClient(client(ep)));
    // Eight writers at once, each writing its keys in order.
    await Promise.all(
      writers.map(async (w, wi) => {
        for (let i = 0; i < 50; i++) await w.set('load/test', `w${wi}-k${i % 10}`, { wi, i });
      }),
    );
    await first.stop();
    await store(ep, dir);
    const entries = await new StoreClient(client(ep)).list<{ wi: number; i: number }>('load/test');
    expect(Object.keys(entries)).toHaveLength(80);
    for (let wi = 0; wi < 8; wi++) for (let k = 0; k < 10; k++) expect(entries[`w${wi}-k${k}`]?.i).toBe(40 + k);
  });
});

describe('crashes', () => {
  function startChild(ep: string, dir: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, [join(fixtures, 'titanic.mjs'), ep, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.defer(() => child.kill('SIGKILL'));
    return within(
      new Promise((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (l) => {
          if (l === 'started') resolve(child);
        });
        child.on('exit', (code) => reject(new Error(`titanic exited with ${code}`)));
      }),
      15_000,
      'titanic to start',
    );
  }

  test('SIGKILL while 1,000 requests stream in: every request that got 200 and a uuid gets its reply', async () => {
    const ep = await broker();
    const dir = tempDir();
    let child = await startChild(ep, dir);
    const executed = new Map<string, number>();
    await worker(ep, 'crash.echo', (f) => {
      executed.set(String(f[0]), (executed.get(String(f[0])) ?? 0) + 1);
      return ['ok', ...f];
    }).start();
    const mdp = cleanup.add(new MdpClient({ endpoint: ep, timeout: 1000, retries: 0, maxSockets: 64 }));
    const tc = new TitanicClient(mdp);
    const accepted = new Map<string, string>(); // uuid → body
    let refused = 0;
    let sent = 0;
    const senders = Array.from({ length: 20 }, async () => {
      while (sent < 1000) {
        const body = `job-${sent++}`;
        try {
          accepted.set(await tc.request('crash.echo', body), body);
        } catch {
          refused++; // no 200: no promise was made
        }
      }
    });
    await waitFor(() => accepted.size >= 300, '300 accepted requests');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const restart = (async () => {
      child = await startChild(ep, dir);
    })();
    await Promise.all(senders);
    await restart;
    expect(accepted.size + refused).toBe(1000);
    expect(accepted.size).toBeGreaterThan(300);
    const wait = new TitanicClient(cleanup.add(new MdpClient({ endpoint: ep, timeout: 3000, retries: 2 })));
    for (const [uuid, body] of accepted) {
      expect(text(await wait.wait(uuid, { timeout: 20_000 }))).toEqual(['ok', body]);
    }
    // Executed at least once each (workers are idempotent; a crash may repeat one).
    for (const body of accepted.values()) expect(executed.get(body) ?? 0).toBeGreaterThanOrEqual(1);
  }, 120_000);

  test('settings store killed during writes: every acknowledged write survives, nothing half-written', async () => {
    const ep = await broker();
    const dir = tempDir();
    let child = await startChild(ep, dir);
    const writer = spawn(process.execPath, [join(fixtures, 'store-writer.mjs'), ep], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.defer(() => writer.kill('SIGKILL'));
    const acked = new Map<string, number>();
    createInterface({ input: writer.stdout! }).on('line', (l) => {
      const m = /^acked (k\d+) (\d+)$/.exec(l);
      if (m) acked.set(m[1] as string, Math.max(acked.get(m[1] as string) ?? -1, Number(m[2])));
    });
    await waitFor(() => acked.size >= 200 && [...acked.values()].some((i) => i > 600), 'many acknowledged writes');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    writer.kill('SIGKILL');
    await new Promise((r) => writer.once('exit', r));
    const log = memoryLogger();
    const s = new StoreService({ broker: ep, dataDir: join(dir, 'store'), heartbeatInterval: 100, logger: log });
    cleanup.defer(() => s.stop());
    await s.start();
    const entries = await new StoreClient(client(ep)).list<{ i: number; text: string; nested: { list: number[] } }>('test/crash');
    for (const [key, i] of acked) {
      const v = entries[key];
      expect(v).toBeDefined();
      // The acknowledged write or a later one (written but not yet acknowledged when killed).
      expect(v!.i).toBeGreaterThanOrEqual(i);
      expect(v!.text).toBe('x'.repeat(v!.i % 500));
      expect(v!.nested.list).toEqual([v!.i, v!.i + 1, v!.i + 2]);
    }
    // At most the last line may be torn.
    expect(log.lines.filter((l) => l.message === 'settings journal' && !/torn last line/.test(String(l.fields.problem)))).toEqual([]);
    expect(isTitanicError(new Error('x'))).toBe(false);
  }, 60_000);
});
