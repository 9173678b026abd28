/**
 * Wire compatibility with an independent ZeroMQ stack: Titanic peers written
 * in Python from the RFCs (test/python/tsp_peers.py, pyzmq + libzmq: the
 * Guide's ticlient on mdcliapi, and mdworker on mdwrkapi) talk 9/TSP over
 * 7/MDP and 18/MDP to our broker and Titanic, next to our own worker and
 * TitanicClient.
 *
 * Needs a python3 that can `import zmq` (Debian: python3-zmq), by default
 * /usr/bin/python3; RASPY_PYTHON overrides the path. Without it the suite is
 * skipped, unless RASPY_REQUIRE_INTEROP=1 (CI), where it fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MdpBroker, MdpClient, MdpWorker, type MdpHandler, type MdpVersion } from '@raspy/mdp';
import { Cleanup, waitFor, within } from '@raspy/test-support';
import { StoreClient, StoreService, TitanicClient, TitanicServer, type TitanicOptions } from './index.js';

const PYTHON = process.env.RASPY_PYTHON ?? '/usr/bin/python3';
const PEERS = join(__dirname, '..', 'test', 'python', 'tsp_peers.py');

const probe = spawnSync(PYTHON, ['-c', 'import zmq'], { encoding: 'utf8', timeout: 20_000 });
const available = probe.status === 0;
const unavailable = available
  ? ''
  : `${PYTHON} cannot import zmq (${probe.error?.message ?? ((probe.stderr ?? '').trim().split('\n').pop() || `exit status ${probe.status}`)}); ` +
    'install python3-zmq (Debian/Ubuntu) or point RASPY_PYTHON at a python3 with pyzmq';

if (!available && process.env.RASPY_REQUIRE_INTEROP === '1') {
  test('python3 with pyzmq is available (RASPY_REQUIRE_INTEROP=1)', () => {
    throw new Error(`the TSP interop tests are required but cannot run: ${unavailable}`);
  });
}

/** A JSON line printed by the Python client or `call`. */
interface PyEvent {
  event: 'uuid' | 'pending' | 'reply' | 'closed';
  uuid?: string;
  status?: string;
  body?: string[];
  hex?: string[];
}

/** One Python peer process: its stdout lines, its stderr, and its exit. */
class PythonPeer {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  code: number | null | undefined = undefined; // undefined while running
  readonly exited: Promise<number | null>;
  private readonly waiters = new Set<() => void>();

  constructor(args: string[]) {
    this.proc = spawn(PYTHON, [PEERS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.wake();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      const done = (code: number | null): void => {
        if (this.code !== undefined) return;
        this.code = code;
        this.wake();
        resolve(code);
      };
      this.proc.once('close', (code) => done(code));
      this.proc.once('error', (err) => {
        this.stderr += String(err);
        done(-1);
      });
    });
  }

  /** The JSON lines so far. */
  get events(): PyEvent[] {
    return this.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as PyEvent);
  }

  /** Waits for the `occurrence`-th stdout line that `match` accepts. */
  line(match: (line: string) => boolean, what: string, occurrence = 1, timeout = 10_000): Promise<string> {
    return within(
      new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const found = this.lines.filter(match)[occurrence - 1];
          if (found !== undefined) {
            this.waiters.delete(check);
            resolve(found);
          } else if (this.code !== undefined) {
            this.waiters.delete(check);
            reject(new Error(`python ${what}: the process exited (${this.code}) first; stderr: ${this.stderr}`));
          }
        };
        this.waiters.add(check);
        check();
      }),
      timeout,
      `python ${what} (stderr so far: ${this.stderr || 'nothing'})`,
    );
  }

  /** Waits for the `occurrence`-th JSON event of kind `kind`. */
  async event(kind: PyEvent['event'], what: string, occurrence = 1, timeout = 10_000): Promise<PyEvent> {
    const line = await this.line((l) => l.startsWith('{') && (JSON.parse(l) as PyEvent).event === kind, what, occurrence, timeout);
    return JSON.parse(line) as PyEvent;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.code === undefined) this.proc.kill(signal);
    await this.exited;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

const cleanup = new Cleanup();
const peers = new Set<PythonPeer>();
afterEach(async () => {
  try {
    await cleanup.run();
  } finally {
    await Promise.all([...peers].map((p) => p.kill()));
    peers.clear();
  }
});

function python(args: string[]): PythonPeer {
  const peer = new PythonPeer(args);
  peers.add(peer);
  return peer;
}

/** Runs a Python peer to its exit (within `timeout` ms): its exit code, events and stderr. */
async function finish(peer: PythonPeer, what: string, timeout = 20_000): Promise<{ code: number | null; events: PyEvent[]; stderr: string }> {
  const code = await within(peer.exited, timeout, `the python ${what} to exit (stderr so far: ${peer.stderr || 'nothing'})`);
  return { code, events: peer.events, stderr: peer.stderr };
}

/** Starts the Python TSP client (ticlient): options first, then the request frames. */
function pyTsp(endpoint: string, service: string, frames: string[], options: string[] = []): PythonPeer {
  return python(['client', '--endpoint', endpoint, '--service', service, ...options, '--', ...frames]);
}

/** Runs the Python TSP client to completion; fails with its stderr if it does not exit 0. */
async function pyTspOk(endpoint: string, service: string, frames: string[], options: string[] = []): Promise<PyEvent[]> {
  const { code, events, stderr } = await finish(pyTsp(endpoint, service, frames, options), `client (${service})`);
  if (code !== 0) throw new Error(`python TSP client exited with ${code}: ${stderr}`);
  return events;
}

/** One plain MDP request from Python: the reply frames as text, or null when nothing came back in time. */
async function pyCall(endpoint: string, service: string, frames: string[], options: string[] = []): Promise<string[] | null> {
  const peer = python(['call', '--endpoint', endpoint, '--service', service, ...options, '--', ...frames]);
  const { code, events, stderr } = await finish(peer, `call (${service})`);
  if (code === 2) return null;
  if (code !== 0) throw new Error(`python call exited with ${code}: ${stderr}`);
  return events[0]?.body as string[];
}

/** Starts a Python v0.1 worker and waits until it has sent READY. */
async function pyWorker(endpoint: string, service: string, extra: string[] = []): Promise<PythonPeer> {
  const peer = python(['worker', '--endpoint', endpoint, '--service', service, '--heartbeat', '100', ...extra]);
  await peer.line((l) => l === 'ready', `worker ${service} to send READY`);
  return peer;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-titanic-interop-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function waitForWorkers(broker: MdpBroker, service: string, count = 1): Promise<void> {
  return waitFor(() => (broker.stats().services[service]?.workers ?? 0) === count, `${count} workers of ${service}`);
}

async function startTitanic(broker: MdpBroker, endpoint: string, dataDir: string, extra: Partial<TitanicOptions> = {}): Promise<TitanicServer> {
  const t = new TitanicServer({
    broker: endpoint,
    dataDir,
    heartbeatInterval: 100,
    requestWorkers: 2,
    replyWorkers: 2,
    dispatcher: { requestTimeout: 1000, minBackoff: 20, maxBackoff: 200 },
    ...extra,
  });
  cleanup.defer(() => t.stop());
  await t.start();
  for (const s of ['titanic.request', 'titanic.reply', 'titanic.close']) await waitForWorkers(broker, s, 2);
  return t;
}

/** Our broker (ephemeral port, 100 ms heartbeats) and our Titanic on a fresh data directory. */
async function setup(extra: Partial<TitanicOptions> = {}): Promise<{ broker: MdpBroker; endpoint: string; titanic: TitanicServer; dataDir: string }> {
  const broker = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100, requestTimeout: 2000 }));
  await broker.start();
  const endpoint = broker.endpoints[0] as string;
  const dataDir = tempDir();
  return { broker, endpoint, titanic: await startTitanic(broker, endpoint, dataDir, extra), dataDir };
}

function ourWorker(endpoint: string, service: string, handler: MdpHandler): MdpWorker {
  const w = new MdpWorker({ endpoint, service, handler, heartbeatInterval: 100 });
  cleanup.defer(() => w.stop({ timeout: 100 }));
  return w;
}

function ourClient(endpoint: string, version: MdpVersion = 2): MdpClient {
  return cleanup.add(new MdpClient({ endpoint, version, timeout: 3000, retries: 1 }));
}

const hex = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('hex');
const UUID = /^[0-9a-f]{32}$/;
const BINARY = Buffer.from([0x00, 0xff, 0x01, 0x80]);

/** The events of a successful ticlient run: uuid, any number of pendings, the reply, closed if asked. */
function expectRun(events: PyEvent[], reply: string[], closed: boolean): string {
  const kinds = events.map((e) => e.event).filter((k) => k !== 'pending');
  expect(kinds).toEqual(closed ? ['uuid', 'reply', 'closed'] : ['uuid', 'reply']);
  expect(events.filter((e) => e.event === 'pending').every((e) => e.status === '300')).toBe(true);
  expect(events.find((e) => e.event === 'reply')?.hex).toEqual(reply.map((f) => (f.startsWith('hex:') ? f.slice(4) : hex(f))));
  const uuid = events[0]?.uuid as string;
  expect(uuid).toMatch(UUID);
  return uuid;
}

// Skipped (not failed) without a python3 that imports zmq, unless RASPY_REQUIRE_INTEROP=1 (see the test above).
const describeInterop = available ? describe : describe.skip;

describeInterop('9/TSP interop with pyzmq peers written from the RFCs', () => {
  describe('the Python TSP client (the Guide ticlient) and our worker', () => {
    test.each([
      ['a v0.1 client on a REQ socket', []],
      ['a v0.1 client on a DEALER socket', ['--dealer']],
      ['a v0.2 client on a DEALER socket (MDPC02)', ['--version', '2']],
    ])('%s: titanic.request, titanic.reply until 200, titanic.close', async (_, options) => {
      const { broker, endpoint, titanic } = await setup();
      const seen: string[][] = [];
      await ourWorker(endpoint, 'echo', (frames) => {
        seen.push(frames.map(hex));
        return ['echo', ...frames];
      }).start();
      await waitForWorkers(broker, 'echo');
      // Binary and empty frames survive the journal and both hops byte for byte.
      const frames = ['hello', `hex:${BINARY.toString('hex')}`, ''];
      const uuid = expectRun(await pyTspOk(endpoint, 'echo', frames, ['--close', ...options]), ['echo', ...frames], true);
      expect(seen).toEqual([[hex('hello'), BINARY.toString('hex'), '']]);
      expect(titanic.stats()).toMatchObject({ open: 0, pending: 0, executed: 1 });
      // Closed for everybody: our client and the Python client agree.
      expect(await new TitanicClient(ourClient(endpoint)).reply(uuid)).toEqual({ status: 'unknown' });
      expect(await pyCall(endpoint, 'titanic.reply', [uuid], options)).toEqual(['400']);
    });

    test('without --close the reply stays: titanic.reply is idempotent across clients and protocol versions', async () => {
      const { broker, endpoint, titanic } = await setup();
      await ourWorker(endpoint, 'echo', (frames) => ['echo', ...frames]).start();
      await waitForWorkers(broker, 'echo');
      const uuid = expectRun(await pyTspOk(endpoint, 'echo', ['once']), ['echo', 'once'], false);
      for (const options of [[], ['--dealer'], ['--version', '2']]) {
        expect(await pyCall(endpoint, 'titanic.reply', [uuid], options)).toEqual(['200', 'echo', 'once']);
      }
      expect(expectRun([{ event: 'uuid', uuid }, ...(await pyTspOk(endpoint, 'echo', [], ['--uuid', uuid]))], ['echo', 'once'], false)).toBe(uuid);
      expect(titanic.stats()).toMatchObject({ open: 1, pending: 0, executed: 1 });
      expect(await pyCall(endpoint, 'titanic.close', [uuid])).toEqual(['200']);
      expect(titanic.stats()).toMatchObject({ open: 0 });
    });

    test('256 KiB in eight binary frames, stored and executed byte for byte', async () => {
      const { broker, endpoint } = await setup();
      let seen: Buffer[] = [];
      await ourWorker(endpoint, 'bulk', (frames) => {
        seen = frames;
        return [...frames].reverse();
      }).start();
      await waitForWorkers(broker, 'bulk');
      const chunks = Array.from({ length: 8 }, () => randomBytes(32 * 1024));
      const events = await pyTspOk(endpoint, 'bulk', chunks.map((c) => `hex:${c.toString('hex')}`), ['--close']);
      expect(seen.map(hex)).toEqual(chunks.map(hex)); // as strings: toEqual on large Buffers is slow
      expectRun(events, [...chunks].reverse().map((c) => `hex:${c.toString('hex')}`), true);
    });
  });

  describe('Python client and Python worker, our broker and Titanic in between', () => {
    test('three Python clients at once, one Python worker: each gets its own reply', async () => {
      const { broker, endpoint, titanic } = await setup();
      const worker = await pyWorker(endpoint, 'py.echo');
      await waitForWorkers(broker, 'py.echo');
      const runs = await Promise.all(['a', 'b', 'c'].map((x, i) => pyTspOk(endpoint, 'py.echo', [x, `${x}${i}`], ['--close', ...(i === 2 ? ['--version', '2'] : [])])));
      runs.forEach((events, i) => {
        const x = 'abc'[i] as string;
        expectRun(events, ['py', x, `${x}${i}`], true);
      });
      expect(new Set(runs.map((e) => e[0]?.uuid)).size).toBe(3);
      expect(worker.lines.filter((l) => l.startsWith('request ')).sort()).toEqual(['request ["a", "a0"]', 'request ["b", "b1"]', 'request ["c", "c2"]']);
      expect(titanic.stats()).toMatchObject({ open: 0, executed: 3 });
    });
  });

  describe('our TitanicClient and the Python worker', () => {
    test.each([1, 2] as MdpVersion[])('over a v0.%s MdpClient: request, wait, idempotent reply, close', async (version) => {
      const { broker, endpoint, titanic } = await setup();
      const worker = await pyWorker(endpoint, 'py.echo', ['--name', 'pyworker']);
      await waitForWorkers(broker, 'py.echo');
      const tc = new TitanicClient(ourClient(endpoint, version));
      const uuid = await tc.request('py.echo', 'x', BINARY, '');
      expect(uuid).toMatch(UUID);
      const expected = [Buffer.from('pyworker'), Buffer.from('x'), BINARY, Buffer.alloc(0)];
      expect(await tc.wait(uuid, { timeout: 5000 })).toEqual(expected);
      expect(await tc.reply(uuid)).toEqual({ status: 'done', body: expected });
      await tc.close(uuid);
      expect(await tc.reply(uuid)).toEqual({ status: 'unknown' });
      expect(await tc.call('py.echo', ['again'], { timeout: 5000 })).toEqual([Buffer.from('pyworker'), Buffer.from('again')]);
      expect(worker.lines.filter((l) => l.startsWith('request '))).toEqual(['request ["x", "\\u0000\\\\xff\\u0001\\\\x80", ""]', 'request ["again"]']);
      expect(titanic.stats()).toMatchObject({ open: 0, executed: 2 });
    });
  });

  describe('malformed TSP requests from Python', () => {
    test('an empty or bad service frame gets 400, bad and unknown uuids 400 on titanic.reply and 200 on titanic.close; Titanic keeps serving', async () => {
      const { broker, endpoint, titanic } = await setup();
      // titanic.request: [service, body...]; an MDP request carries at least one frame, so "no service" is an empty one.
      expect((await pyCall(endpoint, 'titanic.request', ['']))?.[0]).toBe('400');
      expect((await pyCall(endpoint, 'titanic.request', ['', 'body']))?.[0]).toBe('400');
      expect((await pyCall(endpoint, 'titanic.request', [`hex:${hex('bad\nname')}`, 'body']))?.[0]).toBe('400');
      expect((await pyCall(endpoint, 'titanic.request', ['hex:ff00', 'body'], ['--version', '2']))?.[0]).toBe('400');
      // The ticlient treats a refused titanic.request as fatal.
      const refused = await finish(pyTsp(endpoint, '', ['x']), 'client with an empty service');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/titanic\.request answered 400/);
      // No body frame at all breaks 7/MDP itself: the broker drops it (silence), nothing is stored.
      expect(await pyCall(endpoint, 'titanic.request', [], ['--no-body', '--timeout', '500'])).toBeNull();
      expect(titanic.stats()).toMatchObject({ open: 0 });

      const unknown = '0123456789abcdef0123456789abcdef';
      for (const bad of ['', 'short', '../../../../etc/passwd', 'g'.repeat(32), 'a'.repeat(31), 'a'.repeat(33), `hex:${'e9'.repeat(32)}`, unknown]) {
        expect(await pyCall(endpoint, 'titanic.reply', [bad])).toEqual(['400']);
        expect(await pyCall(endpoint, 'titanic.close', [bad])).toEqual(['200']);
      }
      expect(await pyCall(endpoint, 'titanic.close', [unknown], ['--version', '2'])).toEqual(['200']);
      const lost = await finish(pyTsp(endpoint, 'echo', [], ['--uuid', unknown]), 'client polling an unknown uuid');
      expect(lost.code).toBe(1);
      expect(lost.stderr).toMatch(/does not know request .* \(400\)/);

      // Still serving: a full exchange after all that.
      await ourWorker(endpoint, 'echo', (frames) => ['echo', ...frames]).start();
      await waitForWorkers(broker, 'echo');
      expectRun(await pyTspOk(endpoint, 'echo', ['after'], ['--close']), ['echo', 'after'], true);
      expect(titanic.stats()).toMatchObject({ open: 0, executed: 1 });
    });
  });

  describe('500 from a full Titanic', () => {
    test('the ticlient gives up on a 500 to titanic.request; after a close there is room again', async () => {
      const { broker, endpoint } = await setup({ maxOpen: 1 });
      const [first] = await pyTspOk(endpoint, 'py.full', ['one'], ['--no-wait']);
      const full = await pyCall(endpoint, 'titanic.request', ['py.full', 'two']);
      expect(full?.[0]).toBe('500');
      const refused = await finish(pyTsp(endpoint, 'py.full', ['two'], ['--version', '2']), 'client refused with 500');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/titanic\.request answered 500/);
      expect(await pyCall(endpoint, 'titanic.close', [first?.uuid as string])).toEqual(['200']);
      await pyWorker(endpoint, 'py.full');
      await waitForWorkers(broker, 'py.full');
      expectRun(await pyTspOk(endpoint, 'py.full', ['three'], ['--close']), ['py', 'three'], true);
    });
  });

  describe('a request stored while no worker exists', () => {
    test('the Python client polls through 300s until the Python worker appears', async () => {
      const { endpoint, titanic } = await setup();
      const client = pyTsp(endpoint, 'py.late', ['job', 'hex:00'], ['--close', '--timeout', '15000']);
      const { uuid } = await client.event('uuid', 'client to store the request');
      await client.event('pending', 'client to hear 300 a few times', 3);
      expect(titanic.stats()).toMatchObject({ open: 1, pending: 1, executed: 0 });
      const worker = await pyWorker(endpoint, 'py.late');
      const { code, events, stderr } = await finish(client, 'client');
      expect({ code, stderr }).toMatchObject({ code: 0 }); // stderr shows in the diff if not
      expect(expectRun(events, ['py', 'job', 'hex:00'], true)).toBe(uuid);
      expect(worker.lines.filter((l) => l.startsWith('request '))).toEqual(['request ["job", "\\u0000"]']);
      expect(titanic.stats()).toMatchObject({ open: 0, executed: 1 });
    });

    test('client, worker and client again, never connected at the same time', async () => {
      const { endpoint, titanic } = await setup();
      const [stored] = await pyTspOk(endpoint, 'py.offline', ['hello'], ['--no-wait']);
      const uuid = stored?.uuid as string;
      expect(uuid).toMatch(UUID);
      // The worker comes, serves one request, and leaves (DISCONNECT).
      const worker = await pyWorker(endpoint, 'py.offline', ['--count', '1']);
      expect(await within(worker.exited, 10_000, 'the python worker to serve once and leave')).toBe(0);
      expect(worker.lines.filter((l) => l.startsWith('request '))).toEqual(['request ["hello"]']);
      await waitFor(() => titanic.stats().pending === 0, 'the reply to be stored');
      // The reply may still be on its way to the disk: a 300 or two first is fine.
      const events = await pyTspOk(endpoint, 'py.offline', [], ['--uuid', uuid, '--close']);
      expect(events.filter((e) => e.event !== 'pending')).toEqual([
        { event: 'reply', body: ['py', 'hello'], hex: [hex('py'), hex('hello')] },
        { event: 'closed' },
      ]);
      const after = await finish(pyTsp(endpoint, 'py.offline', [], ['--uuid', uuid]), 'client after the close');
      expect(after.code).toBe(1);
    });

    test('a 200 is a promise: the request survives a restart of Titanic before the worker appears', async () => {
      const { broker, endpoint, titanic, dataDir } = await setup();
      const [stored] = await pyTspOk(endpoint, 'py.durable', ['keep', 'me'], ['--no-wait', '--version', '2']);
      const uuid = stored?.uuid as string;
      await titanic.stop();
      await waitForWorkers(broker, 'titanic.reply', 0);
      const again = await startTitanic(broker, endpoint, dataDir);
      expect(again.stats()).toMatchObject({ open: 1, pending: 1 });
      await pyWorker(endpoint, 'py.durable');
      const events = await pyTspOk(endpoint, 'py.durable', [], ['--uuid', uuid, '--close', '--dealer']);
      expect(events.filter((e) => e.event !== 'pending')).toEqual([
        { event: 'reply', body: ['py', 'keep', 'me'], hex: [hex('py'), hex('keep'), hex('me')] },
        { event: 'closed' },
      ]);
      expect(again.stats()).toMatchObject({ open: 0, executed: 1 });
    });
  });

  describe('titanic.store from Python', () => {
    test('set then get, 400 for bad JSON, 404, 501; what Python set our StoreClient reads', async () => {
      const { broker, endpoint } = await setup();
      const store = new StoreService({ broker: endpoint, dataDir: tempDir(), heartbeatInterval: 100, workers: 2 });
      cleanup.defer(() => store.stop());
      await store.start();
      await waitForWorkers(broker, 'titanic.store', 2);
      const call = async (...frames: string[]): Promise<[string, unknown]> => {
        const reply = await pyCall(endpoint, 'titanic.store', frames);
        expect(reply).toHaveLength(2);
        return [reply?.[0] as string, JSON.parse(reply?.[1] as string)];
      };
      const value = { name: 'Küche', poll: 30, tags: ['a', 'b'], nested: { on: true, level: null } };
      expect(await call('set', JSON.stringify({ namespace: 'py/devices', key: 'lamp-1', value }))).toEqual(['200', {}]);
      expect(await call('get', JSON.stringify({ namespace: 'py/devices', key: 'lamp-1' }))).toEqual(['200', { value }]);
      expect(await new StoreClient(ourClient(endpoint)).get('py/devices', 'lamp-1')).toEqual(value);
      expect(await call('list', JSON.stringify({ namespace: 'py/devices' }))).toEqual(['200', { entries: { 'lamp-1': value } }]);
      expect(await call('get', '{nope')).toEqual(['400', { error: expect.stringMatching(/not JSON/) }]);
      expect(await call('set', '{"namespace":"py/devices","key":"k","value":')).toEqual(['400', { error: expect.stringMatching(/not JSON/) }]);
      expect(await call('set', '["py/devices","k",1]')).toEqual(['400', { error: 'the argument must be a JSON object' }]);
      expect(await call('get', JSON.stringify({ namespace: 'py/devices', key: 'missing' }))).toEqual(['404', { error: expect.any(String) }]);
      expect(await call('dance', '{}')).toEqual(['501', { error: expect.stringMatching(/unknown action/) }]);
      expect(await call('get', JSON.stringify({ namespace: 'py/devices', key: 'lamp-1' }))).toEqual(['200', { value }]);
    });

    test('a JSON argument that is not valid UTF-8 gets 400, nothing is stored', async () => {
      const { broker, endpoint } = await setup();
      const store = new StoreService({ broker: endpoint, dataDir: tempDir(), heartbeatInterval: 100, workers: 1 });
      cleanup.defer(() => store.stop());
      await store.start();
      await waitForWorkers(broker, 'titanic.store');
      const set = await pyCall(endpoint, 'titanic.store', ['set', `hex:${hex('{"namespace":"py/bytes","key":"k","value":"')}ff${hex('"}')}`]);
      expect(set).not.toBeNull(); // an answer, whatever it is: the failure below is the status
      expect(set?.[0]).toBe('400');
    });
  });
});
