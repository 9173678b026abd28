/**
 * End-to-end tests of broker, client and worker over real sockets on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import { MdpBroker, MdpClient, MdpWorker, isMdpError, type MdpError, type MdpHandler, type MdpVersion } from './index.js';
import { Cleanup, deferred, memoryLogger, startBroker, waitFor, waitForWorkers, within } from './test-support/helpers.js';
import { unusedPort, whenPortFree } from '@raspy/test-support';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const text = (frames: Buffer[]): string[] => frames.map(String);

function worker(endpoint: string, service: string, handler: MdpHandler, version: MdpVersion = 2, extra = {}): MdpWorker {
  const w = new MdpWorker({ endpoint, service, handler, version, heartbeatInterval: 100, ...extra });
  // Some tests leave a handler hanging on purpose: don't wait long for it.
  cleanup.defer(() => w.stop({ timeout: 100 }));
  return w;
}

function client(endpoint: string, version: MdpVersion = 2, extra = {}): MdpClient {
  return cleanup.add(new MdpClient({ endpoint, version, timeout: 2000, retries: 1, ...extra }));
}

async function expectCode(promise: Promise<unknown>, code: MdpError['code']): Promise<MdpError> {
  try {
    await promise;
  } catch (err) {
    if (!isMdpError(err)) throw err;
    expect(err.code).toBe(code);
    return err;
  }
  throw new Error(`expected a rejection with ${code}`);
}

describe('both protocol versions on one broker', () => {
  test.each<[MdpVersion, MdpVersion]>([
    [1, 1],
    [1, 2],
    [2, 1],
    [2, 2],
  ])('a v0.%s client and a v0.%s worker', async (cv, wv) => {
    const { broker, endpoint } = await startBroker(cleanup);
    await worker(endpoint, 'echo', (frames) => ['echo', ...frames], wv).start();
    await waitForWorkers(broker, 'echo');
    const c = client(endpoint, cv);
    expect(text(await c.request('echo', 'a', Buffer.from([0, 1]), ''))).toEqual(['echo', 'a', '\u0000\u0001', '']);
    expect(broker.workers()).toEqual([expect.objectContaining({ service: 'echo', version: wv, busy: false })]);
  });

  test('clients and workers of both versions at once', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    await worker(endpoint, 'mixed', (f) => ['v1', ...f], 1).start();
    await worker(endpoint, 'mixed', (f) => ['v2', ...f], 2).start();
    await waitForWorkers(broker, 'mixed', 2);
    const c1 = client(endpoint, 1);
    const c2 = client(endpoint, 2);
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? c1 : c2).request('mixed', String(i))));
    replies.forEach((r, i) => expect(r[1]?.toString()).toBe(String(i)));
    const by = new Set(replies.map((r) => String(r[0])));
    expect(by).toEqual(new Set(['v1', 'v2']));
    expect(broker.stats().services.mixed).toMatchObject({ requests: 40, replies: 40, errors: 0 });
  });
});

describe('lifecycle', () => {
  test('stop() while start() is under way stops the broker once it has started; a failed start can be retried', async () => {
    const broker = new MdpBroker({ endpoint: 'tcp://127.0.0.1:*' });
    const started = broker.start();
    const stopped = broker.stop();
    await started;
    await stopped;
    expect(broker.running).toBe(false);
    const { broker: holder, endpoint } = await startBroker(cleanup);
    const second = new MdpBroker({ endpoint });
    await expect(second.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await holder.stop();
    await whenPortFree(() => second.start(), 'the port');
    expect(second.running).toBe(true);
    await second.stop();
  });
});

describe('MMI over the wire', () => {
  test('service, echo, discovery, stats, workers and 501', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    await worker(endpoint, 'pi1.sim.devices', () => 'ok').start();
    await waitForWorkers(broker, 'pi1.sim.devices');
    const c = client(endpoint);
    expect(text(await c.request('mmi.service', 'pi1.sim.devices'))).toEqual(['200']);
    expect(text(await c.request('mmi.service', 'nope'))).toEqual(['404']);
    expect(text(await c.request('mmi.echo', 'a', 'b'))).toEqual(['a', 'b']);
    expect(text(await c.request('mmi.discovery', '^pi1\\.'))).toEqual(['200', 'pi1.sim.devices']);
    const [status, json] = await c.request('mmi.stats');
    expect(String(status)).toBe('200');
    expect(JSON.parse(String(json)).services['pi1.sim.devices']).toMatchObject({ workers: 1 });
    expect(text(await c.request('mmi.bogus'))).toEqual(['501']);
    const v1 = client(endpoint, 1);
    expect(text(await v1.request('mmi.service', 'pi1.sim.devices'))).toEqual(['200']);
  });

  test('a worker registering an mmi.* name is refused by the library and disconnected by the broker', async () => {
    expect(() => new MdpWorker({ service: 'mmi.service', handler: () => 'x' })).toThrow(/reserved/);
    const { broker, endpoint } = await startBroker(cleanup);
    const raw = cleanup.add(new Dealer({ linger: 0 }));
    raw.connect(endpoint);
    await raw.send(['MDPW02', Buffer.from([1]), 'mmi.stats']);
    const [header, command] = await within(raw.receive(), 2000, 'DISCONNECT');
    expect(String(header)).toBe('MDPW02');
    expect(command).toEqual(Buffer.from([6]));
    expect(broker.stats().workers).toBe(0);
  });
});

describe('fairness and many requests in flight', () => {
  test('least-recently-used dispatch spreads sequential requests evenly over 5 workers', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    for (let i = 0; i < 5; i++) await worker(endpoint, 'fair', () => String(i)).start();
    await waitForWorkers(broker, 'fair', 5);
    const c = client(endpoint);
    const counts = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const [who] = await c.request('fair', 'x');
      counts.set(String(who), (counts.get(String(who)) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual([20, 20, 20, 20, 20]);
  });

  test('300 concurrent requests from one client object each get their own reply', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    const handler: MdpHandler = async (frames) => {
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 3)));
      return ['re', ...frames];
    };
    for (let i = 0; i < 4; i++) await worker(endpoint, 'conc', handler).start();
    await waitForWorkers(broker, 'conc', 4);
    const c = client(endpoint, 2, { maxSockets: 50, timeout: 10_000 });
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => c.request('conc', `n${i}`)));
    replies.forEach((r, i) => expect(text(r)).toEqual(['re', `n${i}`]));
    expect(c.inFlight).toBe(0);
  });
});

describe('streaming (v0.2 partial replies)', () => {
  const streaming: MdpHandler = async function* (frames) {
    for (let i = 0; i < 3; i++) yield [`part${i}`, ...frames];
    return ['end'];
  };

  test('a v0.2 client iterates partials then the final', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    await worker(endpoint, 'cam', streaming).start();
    await waitForWorkers(broker, 'cam');
    const got: [boolean, string[]][] = [];
    for await (const r of client(endpoint).stream('cam', 'x')) got.push([r.final, text(r.body)]);
    expect(got).toEqual([
      [false, ['part0', 'x']],
      [false, ['part1', 'x']],
      [false, ['part2', 'x']],
      [true, ['end']],
    ]);
  });

  test('ctx.partial() streams too; a v0.1 client gets everything in one reply', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    await worker(endpoint, 'cam', (frames, ctx) => {
      ctx.partial('p1');
      ctx.partial(['p2', 'p3']);
      return 'done';
    }).start();
    await waitForWorkers(broker, 'cam');
    expect(text(await client(endpoint, 1).request('cam', 'x'))).toEqual(['p1', 'p2', 'p3', 'done']);
    expect(text(await client(endpoint, 2).request('cam', 'x'))).toEqual(['done']);
  });

  test('a v0.1 worker with partials sends them in front of its one REPLY', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    await worker(endpoint, 'cam', streaming, 1).start();
    await waitForWorkers(broker, 'cam');
    const got = [];
    for await (const r of client(endpoint, 2).stream('cam', 'y')) got.push(r);
    expect(got).toHaveLength(1);
    expect(got[0]?.final).toBe(true);
    expect(text(got[0]?.body ?? [])).toEqual(['part0', 'y', 'part1', 'y', 'part2', 'y', 'end']);
  });

  test('breaking out of a stream abandons it and the client stays usable', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    const release = deferred();
    await worker(endpoint, 'slow', async function* () {
      yield 'first';
      await release.promise;
      return 'last';
    }).start();
    await waitForWorkers(broker, 'slow');
    const c = client(endpoint);
    for await (const r of c.stream('slow')) {
      expect(text(r.body)).toEqual(['first']);
      break;
    }
    expect(c.inFlight).toBe(0);
    release.resolve();
    expect(text(await c.request('slow'))).toEqual(['last']);
  });
});

describe('errors a client sees', () => {
  test('a request for a service nobody serves gets ERR_MDP_SERVICE_UNAVAILABLE after the broker timeout', async () => {
    const { endpoint } = await startBroker(cleanup, { requestTimeout: 200 });
    const err = await expectCode(client(endpoint).request('nobody.home', 'x'), 'ERR_MDP_SERVICE_UNAVAILABLE');
    expect(err.message).toMatch(/no worker for service "nobody.home"/);
  });

  test('a full queue gets ERR_MDP_QUEUE_FULL', async () => {
    const { endpoint } = await startBroker(cleanup, { maxQueuePerService: 2, requestTimeout: 5000 });
    const c = client(endpoint, 2, { timeout: 5000 });
    const waiting = [c.request('q', '1'), c.request('q', '2')].map((p) => p.catch((e: unknown) => e));
    // The third is refused at once; the two queued ones expire later.
    await expectCode(
      (async () => {
        await waitFor(async () => true, 'nothing');
        return c.request('q', '3');
      })(),
      'ERR_MDP_QUEUE_FULL',
    );
    await cleanup.run();
    await Promise.all(waiting);
  });

  test('no broker: ERR_MDP_BROKER_UNREACHABLE', async () => {
    // A port nothing listens on.
    const endpoint = `tcp://127.0.0.1:${await unusedPort()}`;
    const c = client(endpoint, 2, { timeout: 150, retries: 1 });
    const err = await expectCode(c.request('echo', 'x'), 'ERR_MDP_BROKER_UNREACHABLE');
    expect(err.message).toContain(endpoint);
  });

  test('a worker that never answers: ERR_MDP_TIMEOUT after the retries', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    let seen = 0;
    await worker(endpoint, 'mute', () => {
      seen++;
      return new Promise(() => {});
    }).start();
    await waitForWorkers(broker, 'mute');
    const err = await expectCode(client(endpoint, 2, { timeout: 200, retries: 1 }).request('mute', 'x'), 'ERR_MDP_TIMEOUT');
    expect(err.message).toMatch(/after 2 attempts of 200 ms/);
    expect(seen).toBe(1); // the second attempt waits in the queue behind the first
    await cleanup.run().catch(() => {});
  });

  test('an abort signal cancels a request; close() rejects the ones in flight', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    await worker(endpoint, 'mute', () => new Promise(() => {})).start();
    await waitForWorkers(broker, 'mute');
    const c = client(endpoint, 2, { timeout: 5000 });
    const ac = new AbortController();
    const aborted = c.requestWith('mute', ['x'], { signal: ac.signal });
    ac.abort(new Error('changed my mind'));
    await expect(aborted).rejects.toThrow('changed my mind');
    const pending = c.request('mute', 'y');
    await waitFor(() => c.inFlight === 1, 'request in flight');
    await c.close();
    await expectCode(pending, 'ERR_MDP_CLOSED');
    await expectCode(c.request('mute', 'z'), 'ERR_MDP_CLOSED');
  });
});

describe('worker behaviour', () => {
  test('a handler that throws produces an error reply and the worker keeps serving', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    const log = memoryLogger();
    await worker(
      endpoint,
      'fragile',
      (frames) => {
        if (String(frames[0]) === 'boom') throw new Error('sensor on fire');
        return 'fine';
      },
      2,
      { logger: log },
    ).start();
    await waitForWorkers(broker, 'fragile');
    const c = client(endpoint);
    expect(text(await c.request('fragile', 'boom'))).toEqual(['500', '{"error":"sensor on fire"}']);
    expect(text(await c.request('fragile', 'ok'))).toEqual(['fine']);
    expect(log.lines.some((l) => l.message === 'handler failed, sending an error reply')).toBe(true);
  });

  test('heartbeats keep flowing while a slow handler runs (10 heartbeat intervals)', async () => {
    const blog = memoryLogger();
    const { broker, endpoint } = await startBroker(cleanup, { logger: blog });
    const w = worker(endpoint, 'slow', async () => {
      await new Promise((r) => setTimeout(r, 1000));
      return 'late but fine';
    });
    await w.start();
    await waitForWorkers(broker, 'slow');
    expect(text(await client(endpoint, 2, { timeout: 3000 }).request('slow', 'x'))).toEqual(['late but fine']);
    expect(blog.lines.filter((l) => l.message === 'worker expired')).toEqual([]);
    expect(blog.lines.filter((l) => l.message === 'worker registered')).toHaveLength(1);
  });

  test('stop() finishes the request in hand, then disconnects', async () => {
    const { broker, endpoint } = await startBroker(cleanup);
    const started = deferred();
    const release = deferred();
    const w = worker(endpoint, 'job', async () => {
      started.resolve();
      await release.promise;
      return 'finished';
    });
    await w.start();
    await waitForWorkers(broker, 'job');
    const reply = client(endpoint).request('job', 'x');
    await started.promise;
    const stopping = w.stop();
    release.resolve();
    expect(text(await reply)).toEqual(['finished']);
    await stopping;
    await waitForWorkers(broker, 'job', 0);
  });

  test('a worker re-registers when the broker goes away and comes back on the same port', async () => {
    const first = await startBroker(cleanup);
    const w = worker(first.endpoint, 'phoenix', () => 'alive', 2, { reconnectDelay: 50 });
    await w.start();
    await waitForWorkers(first.broker, 'phoenix');
    await first.broker.stop();
    const second = cleanup.add(new MdpBroker({ endpoint: first.endpoint, heartbeatInterval: 100 }));
    await whenPortFree(() => second.start(), 'the port of the first broker');
    await waitForWorkers(second, 'phoenix', 1, 5000);
    expect(text(await client(first.endpoint).request('phoenix', 'x'))).toEqual(['alive']);
  });

  test('a worker whose broker dies silently reconnects after missing heartbeats', async () => {
    const first = await startBroker(cleanup);
    const log = memoryLogger();
    const w = worker(first.endpoint, 'phoenix', () => 'alive', 2, { reconnectDelay: 50, logger: log });
    await w.start();
    await waitForWorkers(first.broker, 'phoenix');
    // A "broker" that accepts connections and never speaks: the worker must notice.
    await first.broker.stop();
    const { Router } = await import('zeromq');
    const silent = cleanup.add(new Router({ linger: 0 }));
    await whenPortFree(() => silent.bind(first.endpoint), 'the port of the first broker');
    await waitFor(() => log.lines.some((l) => l.message === 'reconnecting to the broker'), 'the worker to give up on a silent broker', 3000);
    silent.close();
    const second = cleanup.add(new MdpBroker({ endpoint: first.endpoint, heartbeatInterval: 100 }));
    await whenPortFree(() => second.start(), 'the port of the first broker');
    await waitForWorkers(second, 'phoenix', 1, 5000);
  });
});

describe('faults', () => {
  let child: ChildProcess | null = null;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = null;
  });

  test('a worker killed with SIGKILL mid-request: another worker answers the request', async () => {
    const { broker, endpoint } = await startBroker(cleanup, { heartbeatInterval: 100, heartbeatLiveness: 3 });
    child = spawn(process.execPath, [join(__dirname, '..', 'test', 'fixtures', 'worker.mjs'), endpoint, 'job', 'hang'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const proc = child;
    const lines: string[] = [];
    const gotRequest = deferred();
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      lines.push(...d.trim().split('\n'));
      if (lines.some((l) => l.startsWith('request'))) gotRequest.resolve();
    });
    await waitForWorkers(broker, 'job', 1, 10_000);
    const reply = client(endpoint, 2, { timeout: 10_000, retries: 0 }).request('job', 'important');
    await within(gotRequest.promise, 5000, 'the child to receive the request');
    expect(lines).toContain('request important');
    // Now a healthy worker joins, and the child dies holding the request.
    await worker(endpoint, 'job', (frames) => ['rescued', ...frames]).start();
    await waitForWorkers(broker, 'job', 2);
    proc.kill('SIGKILL');
    expect(text(await reply)).toEqual(['rescued', 'important']);
    expect(broker.stats().services.job).toMatchObject({ workers: 1, replies: 1, errors: 0 });
  });

  test('the broker restarted under load: workers re-register and every client request succeeds', async () => {
    const first = await startBroker(cleanup);
    const endpoint = first.endpoint;
    for (let i = 0; i < 2; i++) await worker(endpoint, 'load', (f) => f, 2, { reconnectDelay: 50 }).start();
    await waitForWorkers(first.broker, 'load', 2);
    const c = client(endpoint, 2, { timeout: 300, retries: 20, maxSockets: 8 });
    let done = 0;
    let running = true;
    const loops = Array.from({ length: 4 }, async (_, k) => {
      let i = 0;
      while (running) {
        const body = `${k}:${i++}`;
        expect(text(await c.request('load', body))).toEqual([body]);
        done++;
      }
    });
    await waitFor(() => done >= 100, '100 requests before the restart');
    await first.broker.stop();
    const before = done;
    const second = cleanup.add(new MdpBroker({ endpoint, heartbeatInterval: 100 }));
    await whenPortFree(() => second.start(), 'the port of the first broker');
    await waitFor(() => done >= before + 100, '100 requests after the restart', 10_000);
    running = false;
    await Promise.all(loops);
    expect(second.stats().services.load?.workers).toBe(2);
  });

  test('thousands of malformed and random messages: the broker keeps serving and holds no garbage', async () => {
    const log = memoryLogger();
    const { broker, endpoint } = await startBroker(cleanup, { requestTimeout: 100, logger: log });
    await worker(endpoint, 'echo', (f) => f).start();
    await waitForWorkers(broker, 'echo');
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const headers = ['', 'MDPC01', 'MDPC02', 'MDPW01', 'MDPW02', 'junk'];
    const pick = (): Buffer =>
      rand(2) === 0
        ? Buffer.from(headers[rand(headers.length)] as string)
        : rand(2) === 0
          ? Buffer.from([rand(8)])
          : Buffer.from(Array.from({ length: rand(40) }, () => rand(256)));
    const sockets = Array.from({ length: 10 }, () => {
      const s = new Dealer({ linger: 0, sendHighWaterMark: 0 });
      s.connect(endpoint);
      return s;
    });
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 5000; i++) {
      const frames = Array.from({ length: 1 + rand(6) }, pick);
      await (sockets[i % sockets.length] as Dealer).send(frames);
    }
    // Every message has been read once this echo (sent after them on the same socket) comes back.
    const last = sockets[0] as Dealer;
    await last.send(['MDPC02', Buffer.from([1]), 'mmi.echo', 'fence']);
    for (;;) {
      const reply = await within(last.receive(), 5000, 'the fence echo');
      if (String(reply[2]) === 'mmi.echo' && String(reply[3]) === 'fence') break;
    }
    for (const s of sockets) s.close();
    expect(text(await client(endpoint).request('echo', 'still here'))).toEqual(['still here']);
    // Random requests that happened to be valid expire; nothing else stays.
    await waitFor(() => broker.stats().queued === 0, 'random requests to expire');
    const stats = broker.stats();
    expect(stats.dropped).toBeGreaterThan(4000);
    expect(Object.keys(stats.services)).toEqual(['echo']);
    expect(stats.workers).toBe(1);
    // Invalid input is logged, but not one line per message.
    expect(log.lines.filter((l) => l.level === 'warn').length).toBeLessThan(100);
    // Nothing per message is retained (generous bound: 5000 messages of up to 6 x 40 bytes).
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(50 * 1024 * 1024);
  });
});
