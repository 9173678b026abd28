/**
 * Wire compatibility with an independent ZeroMQ stack: Majordomo peers written
 * in Python from the RFCs (test/python/mdp_peers.py, pyzmq + libzmq) talk to
 * our broker, client and worker, in both protocol versions.
 *
 * Needs a python3 that can `import zmq` (Debian: python3-zmq), by default
 * /usr/bin/python3; RASPY_PYTHON overrides the path. Without it the suite is
 * skipped, unless RASPY_REQUIRE_INTEROP=1 (CI), where it fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MdpBroker, MdpClient, MdpWorker, type MdpHandler, type MdpVersion, type StreamReply } from './index.js';
import { Cleanup, memoryLogger, startBroker, waitFor, waitForWorkers, within } from './test-support/helpers.js';
import { whenPortFree } from '@raspy/test-support';

const PYTHON = process.env.RASPY_PYTHON ?? '/usr/bin/python3';
const PEERS = join(__dirname, '..', 'test', 'python', 'mdp_peers.py');

const probe = spawnSync(PYTHON, ['-c', 'import zmq'], { encoding: 'utf8', timeout: 20_000 });
const available = probe.status === 0;
const unavailable = available
  ? ''
  : `${PYTHON} cannot import zmq (${probe.error?.message ?? ((probe.stderr ?? '').trim().split('\n').pop() || `exit status ${probe.status}`)}); ` +
    'install python3-zmq (Debian/Ubuntu) or point RASPY_PYTHON at a python3 with pyzmq';

if (!available && process.env.RASPY_REQUIRE_INTEROP === '1') {
  test('python3 with pyzmq is available (RASPY_REQUIRE_INTEROP=1)', () => {
    throw new Error(`the MDP interop tests are required but cannot run: ${unavailable}`);
  });
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

interface PyReply {
  final: boolean;
  service: string;
  body: string[];
}

/** Runs the Python client to completion; fails with its stderr if it does not exit 0. */
async function pyClient(endpoint: string, version: MdpVersion, service: string, frames: string[], count = 1): Promise<PyReply[]> {
  const args = ['client', '--endpoint', endpoint, '--version', String(version), '--service', service, '--count', String(count)];
  const peer = python([...args, '--', ...frames]);
  const code = await within(peer.exited, 10_000, `the python client (${service})`);
  if (code !== 0) throw new Error(`python client exited with ${code}: ${peer.stderr}`);
  return peer.lines.map((l) => JSON.parse(l) as PyReply);
}

/** Starts a Python worker and waits until it has sent READY. */
async function pyWorker(endpoint: string, version: MdpVersion, service: string, heartbeat: number, extra: string[] = []): Promise<PythonPeer> {
  const args = ['worker', '--endpoint', endpoint, '--version', String(version), '--service', service, '--heartbeat', String(heartbeat)];
  const peer = python([...args, ...extra]);
  await peer.line((l) => l === 'ready', `worker ${service} to send READY`);
  return peer;
}

/** Starts the Python broker on an ephemeral port and returns it with its endpoint. */
async function pyBroker(heartbeat: number, extra: string[] = []): Promise<{ peer: PythonPeer; endpoint: string }> {
  const peer = python(['broker', '--bind', 'tcp://127.0.0.1:0', '--heartbeat', String(heartbeat), '--verbose', ...extra]);
  const endpoint = await peer.line((l) => l.startsWith('tcp://'), 'broker to print its endpoint');
  return { peer, endpoint };
}

function ourWorker(endpoint: string, service: string, handler: MdpHandler, version: MdpVersion, heartbeatInterval: number, extra = {}): MdpWorker {
  const w = new MdpWorker({ endpoint, service, handler, version, heartbeatInterval, ...extra });
  cleanup.defer(() => w.stop({ timeout: 100 }));
  return w;
}

function ourClient(endpoint: string, version: MdpVersion, extra = {}): MdpClient {
  return cleanup.add(new MdpClient({ endpoint, version, timeout: 3000, retries: 0, ...extra }));
}

const text = (frames: Buffer[]): string[] => frames.map(String);
const echo: MdpHandler = (frames) => ['echo', ...frames];
const streaming: MdpHandler = async function* (frames) {
  for (let i = 0; i < 3; i++) yield [`part${i}`, ...frames];
  return ['end'];
};
const BOTH: MdpVersion[] = [1, 2];
const PAIRS: [MdpVersion, MdpVersion][] = [
  [1, 1],
  [1, 2],
  [2, 1],
  [2, 2],
];

async function collect(stream: AsyncIterable<StreamReply>): Promise<[boolean, string[]][]> {
  const got: [boolean, string[]][] = [];
  for await (const r of stream) got.push([r.final, text(r.body)]);
  return got;
}

// Skipped (not failed) without a python3 that imports zmq, unless RASPY_REQUIRE_INTEROP=1 (see the test above).
const describeInterop = available ? describe : describe.skip;

describeInterop('MDP interop with pyzmq peers written from the RFCs', () => {
  describe('our broker and worker, Python clients', () => {
    test.each(BOTH)('a v0.1 client on a REQ socket, three requests in a row, our v0.%s worker', async (wv) => {
      const { broker, endpoint } = await startBroker(cleanup);
      await ourWorker(endpoint, 'echo', echo, wv, 100).start();
      await waitForWorkers(broker, 'echo');
      const replies = await pyClient(endpoint, 1, 'echo', ['a', 'b'], 3);
      expect(replies).toEqual(Array(3).fill({ final: true, service: 'echo', body: ['echo', 'a', 'b'] }));
      expect(broker.stats().services.echo).toMatchObject({ requests: 3, replies: 3, errors: 0 });
    });

    test('a v0.2 DEALER client receives each PARTIAL our worker yields, then the FINAL it returns', async () => {
      const { broker, endpoint } = await startBroker(cleanup);
      await ourWorker(endpoint, 'cam', streaming, 2, 100).start();
      await waitForWorkers(broker, 'cam');
      expect(await pyClient(endpoint, 2, 'cam', ['x'], 2)).toEqual(
        Array(2)
          .fill([
            { final: false, service: 'cam', body: ['part0', 'x'] },
            { final: false, service: 'cam', body: ['part1', 'x'] },
            { final: false, service: 'cam', body: ['part2', 'x'] },
            { final: true, service: 'cam', body: ['end'] },
          ])
          .flat(),
      );
    });

    test('the same streaming handler on a v0.1 worker: one FINAL to a v0.2 client, one REPLY to a REQ client', async () => {
      const { broker, endpoint } = await startBroker(cleanup);
      await ourWorker(endpoint, 'cam', streaming, 1, 100).start();
      await waitForWorkers(broker, 'cam');
      const all = ['part0', 'y', 'part1', 'y', 'part2', 'y', 'end'];
      expect(await pyClient(endpoint, 2, 'cam', ['y'])).toEqual([{ final: true, service: 'cam', body: all }]);
      expect(await pyClient(endpoint, 1, 'cam', ['y'])).toEqual([{ final: true, service: 'cam', body: all }]);
    });

    test.each(BOTH)('MMI for a v0.%s Python client: mmi.service 200 and 404, 501 for other mmi.*', async (cv) => {
      const { broker, endpoint } = await startBroker(cleanup);
      await ourWorker(endpoint, 'echo', echo, 2, 100).start();
      await waitForWorkers(broker, 'echo');
      expect(await pyClient(endpoint, cv, 'mmi.service', ['echo'])).toEqual([{ final: true, service: 'mmi.service', body: ['200'] }]);
      expect(await pyClient(endpoint, cv, 'mmi.service', ['nobody'])).toEqual([{ final: true, service: 'mmi.service', body: ['404'] }]);
      expect(await pyClient(endpoint, cv, 'mmi.nope', ['x'])).toEqual([{ final: true, service: 'mmi.nope', body: ['501'] }]);
    });
  });

  describe('our broker and client, Python workers', () => {
    test.each(PAIRS)('a v0.%s Python worker and our v0.%s client', async (wv, cv) => {
      const { broker, endpoint } = await startBroker(cleanup);
      await pyWorker(endpoint, wv, 'py.echo', 100);
      await waitForWorkers(broker, 'py.echo');
      expect(broker.workers()).toEqual([expect.objectContaining({ service: 'py.echo', version: wv, busy: false })]);
      const c = ourClient(endpoint, cv);
      expect(text(await c.request('py.echo', 'a', ''))).toEqual(['py', 'a', '']);
      expect(text(await c.request('py.echo', 'b'))).toEqual(['py', 'b']);
      expect(broker.stats().services['py.echo']).toMatchObject({ workers: 1, replies: 2, errors: 0 });
    });

    test('Python v0.2 PARTIALs come through client.stream(); a v0.1 client gets them in front of the final', async () => {
      const { broker, endpoint } = await startBroker(cleanup);
      await pyWorker(endpoint, 2, 'py.cam', 100, ['--partials', '3']);
      await waitForWorkers(broker, 'py.cam');
      expect(await collect(ourClient(endpoint, 2).stream('py.cam', 'x'))).toEqual([
        [false, ['partial', '0']],
        [false, ['partial', '1']],
        [false, ['partial', '2']],
        [true, ['py', 'x']],
      ]);
      expect(text(await ourClient(endpoint, 2).request('py.cam', 'x'))).toEqual(['py', 'x']);
      expect(text(await ourClient(endpoint, 1).request('py.cam', 'x'))).toEqual(['partial', '0', 'partial', '1', 'partial', '2', 'py', 'x']);
    });

    test('least recently used dispatch over two Python workers (v0.1, v0.2) and one of ours', async () => {
      const { broker, endpoint } = await startBroker(cleanup);
      await pyWorker(endpoint, 1, 'pool', 100, ['--name', 'py1']);
      await pyWorker(endpoint, 2, 'pool', 100, ['--name', 'py2']);
      await ourWorker(endpoint, 'pool', () => 'ts', 2, 100).start();
      await waitForWorkers(broker, 'pool', 3);
      const c = ourClient(endpoint, 2);
      const counts: Record<string, number> = {};
      for (let i = 0; i < 30; i++) {
        const [who] = await c.request('pool', String(i));
        counts[String(who)] = (counts[String(who)] ?? 0) + 1;
      }
      expect(counts).toEqual({ py1: 10, py2: 10, ts: 10 });
    });

    test.each(BOTH)('a v0.%s Python worker registers again on a fresh socket after our broker sends DISCONNECT', async (wv) => {
      const first = await startBroker(cleanup);
      const peer = await pyWorker(first.endpoint, wv, 'phoenix', 100);
      await waitForWorkers(first.broker, 'phoenix');
      const readies = peer.lines.filter((l) => l === 'ready').length;
      await first.broker.stop(); // DISCONNECT to every worker
      await waitFor(() => peer.stderr.includes('DISCONNECT from the broker'), 'the python worker to read DISCONNECT');
      await peer.line((l) => l === 'ready', 'worker to send READY on a new socket', readies + 1);
      const second = cleanup.add(new MdpBroker({ endpoint: first.endpoint, heartbeatInterval: 100 }));
      await whenPortFree(() => second.start(), 'the port of the first broker');
      await waitForWorkers(second, 'phoenix');
      expect(text(await ourClient(first.endpoint, 2).request('phoenix', 'again'))).toEqual(['py', 'again']);
    });

    test.each(BOTH)('SIGTERM: a v0.%s Python worker sends DISCONNECT and our broker forgets it at once', async (wv) => {
      const log = memoryLogger();
      const { broker, endpoint } = await startBroker(cleanup, { logger: log });
      const peer = await pyWorker(endpoint, wv, 'leaving', 100);
      await waitForWorkers(broker, 'leaving');
      peer.proc.kill('SIGTERM');
      expect(await within(peer.exited, 5000, 'the python worker to exit')).toBe(0);
      await waitForWorkers(broker, 'leaving', 0);
      const messages = log.lines.map((l) => l.message);
      expect(messages).toContain('worker disconnected');
      expect(messages).not.toContain('worker expired');
      expect(log.lines.filter((l) => l.level === 'warn')).toEqual([]);
    });
  });

  describe('faults', () => {
    test.each(BOTH)('a v0.%s Python worker killed with SIGKILL mid-request: our broker hands the request to our worker', async (wv) => {
      const { broker, endpoint } = await startBroker(cleanup, { heartbeatInterval: 100, heartbeatLiveness: 3 });
      const peer = await pyWorker(endpoint, wv, 'job', 100, ['--hang']);
      await waitForWorkers(broker, 'job');
      const reply = ourClient(endpoint, 2, { timeout: 10_000 }).request('job', 'important');
      await peer.line((l) => l === 'request important', 'worker to receive the request');
      // A healthy worker of ours joins; then the Python worker dies holding the request.
      await ourWorker(endpoint, 'job', (frames) => ['rescued', ...frames], 2, 100).start();
      await waitForWorkers(broker, 'job', 2);
      expect(broker.workers().filter((w) => w.busy)).toEqual([expect.objectContaining({ version: wv })]);
      await peer.kill('SIGKILL');
      expect(text(await reply)).toEqual(['rescued', 'important']);
      expect(broker.stats().services.job).toMatchObject({ workers: 1, replies: 1, errors: 0 });
    });
  });

  describe('the Python broker', () => {
    test('sanity check of the reference peers among themselves (no code of ours involved)', async () => {
      const { endpoint } = await pyBroker(250);
      await pyWorker(endpoint, 1, 'ref.v1', 250);
      await pyWorker(endpoint, 2, 'ref.v2', 250, ['--partials', '1']);
      expect(await pyClient(endpoint, 1, 'ref.v1', ['a'])).toEqual([{ final: true, service: 'ref.v1', body: ['py', 'a'] }]);
      expect(await pyClient(endpoint, 2, 'ref.v2', ['b'])).toEqual([
        { final: false, service: 'ref.v2', body: ['partial', '0'] },
        { final: true, service: 'ref.v2', body: ['py', 'b'] },
      ]);
    });

    test.each(PAIRS)('our v0.%s client and our v0.%s worker through the Python broker', async (cv, wv) => {
      const { peer, endpoint } = await pyBroker(250);
      const c = ourClient(endpoint, cv);
      // The Python broker queues the request until the worker has registered.
      const pending = c.request('echo', 'a', Buffer.from([0, 1]), '');
      await ourWorker(endpoint, 'echo', echo, wv, 250).start();
      expect(text(await pending)).toEqual(['echo', 'a', '\u0000\u0001', '']);
      expect(text(await c.request('echo', 'again'))).toEqual(['echo', 'again']);
      await waitFor(() => peer.stderr.includes(`worker ready for echo (v0.${wv})`), 'the Python broker to log the READY');
    });

    test('our v0.2 worker streams PARTIALs to our v0.2 client through the Python broker', async () => {
      const { endpoint } = await pyBroker(250);
      await ourWorker(endpoint, 'cam', streaming, 2, 250).start();
      expect(await collect(ourClient(endpoint, 2).stream('cam', 'x'))).toEqual([
        [false, ['part0', 'x']],
        [false, ['part1', 'x']],
        [false, ['part2', 'x']],
        [true, ['end']],
      ]);
    });

    test.each(BOTH)("our v0.%s client's mmi.service against the Python broker follows our worker's READY and DISCONNECT", async (cv) => {
      const { endpoint } = await pyBroker(250);
      const c = ourClient(endpoint, cv);
      const status = async (name: string): Promise<string> => String((await c.request('mmi.service', name))[0]);
      expect(await status('echo')).toBe('404');
      const w = ourWorker(endpoint, 'echo', echo, 2, 250);
      await w.start();
      await waitFor(async () => (await status('echo')) === '200', 'mmi.service to report the worker');
      expect(text(await c.request('mmi.bogus', 'x'))).toEqual(['501']);
      await w.stop();
      await waitFor(async () => (await status('echo')) === '404', 'mmi.service to forget the worker after DISCONNECT');
    });

    test.each(BOTH)('heartbeats hold our v0.%s worker and the Python broker together through a slow request', async (wv) => {
      const { peer, endpoint } = await pyBroker(250);
      const log = memoryLogger();
      // Six heartbeat intervals of work; the Python broker expires a worker after three silent ones.
      await ourWorker(endpoint, 'slow', async () => {
        await new Promise((r) => setTimeout(r, 1500));
        return 'late but fine';
      }, wv, 250, { logger: log }).start();
      expect(text(await ourClient(endpoint, 2, { timeout: 5000 }).request('slow', 'x'))).toEqual(['late but fine']);
      expect(log.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
      expect(peer.stderr).not.toContain('expired');
    });
  });

  describe('peers that heartbeat the way the ZeroMQ Guide examples do', () => {
    test('a broker that heartbeats idle workers only: our worker keeps a long request instead of reconnecting', async () => {
      const { peer, endpoint } = await pyBroker(250, ['--idle-heartbeats-only']);
      const log = memoryLogger();
      let runs = 0;
      await ourWorker(endpoint, 'slow', async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 1500)); // six silent broker intervals
        return 'done';
      }, 2, 250, { logger: log }).start();
      expect(text(await ourClient(endpoint, 2, { timeout: 5000 }).request('slow', 'x'))).toEqual(['done']);
      expect(runs).toBe(1);
      expect(log.lines.filter((l) => l.message === 'reconnecting to the broker')).toEqual([]);
      expect(peer.stderr).not.toContain('expired');
    });

    test('a worker that blocks without heartbeats: our broker expires it but still delivers its late reply once', async () => {
      const log = memoryLogger();
      const { broker, endpoint } = await startBroker(cleanup, { heartbeatInterval: 100, heartbeatLiveness: 3, logger: log });
      const peer = await pyWorker(endpoint, 1, 'blocking', 100, ['--block', '1000']);
      await waitForWorkers(broker, 'blocking');
      expect(text(await ourClient(endpoint, 2, { timeout: 5000 }).request('blocking', 'x'))).toEqual(['py', 'x']);
      const messages = log.lines.map((l) => l.message);
      expect(messages).toContain('worker expired');
      expect(messages).toContain('late reply from an expired worker delivered');
      expect(peer.lines.filter((l) => l.startsWith('request'))).toEqual(['request x']);
      // Told to register again, the worker comes back.
      await waitForWorkers(broker, 'blocking', 1);
    });
  });
});
