import { BrokerCore, type BrokerCoreOptions } from './broker-core.js';
import {
  decodeClientReply,
  decodeWorkerMessage,
  encodeClientRequest,
  encodeWorkerMessage,
  silentLogger,
  type MdpVersion,
  type WorkerMessage,
} from '../index.js';

const b = (s: string): Buffer => Buffer.from(s);

interface Sent {
  to: string;
  frames: Buffer[];
}

function harness(options: Partial<BrokerCoreOptions> = {}) {
  const sent: Sent[] = [];
  let now = 1000;
  const core = new BrokerCore(
    {
      heartbeatInterval: 1000,
      heartbeatLiveness: 3,
      requestTimeout: 5000,
      maxQueuePerService: 100,
      maxPendingRequests: 1000,
      maxServices: 100,
      maxWorkerAttempts: 3,
      maxPartialBytes: 1024,
      logger: silentLogger,
      ...options,
    },
    (identity, frames) => sent.push({ to: identity.toString(), frames }),
    now,
  );
  const h = {
    core,
    sent,
    get now() {
      return now;
    },
    advance(ms: number) {
      now += ms;
      core.tick(now);
    },
    raw(peer: string, frames: Buffer[]) {
      core.handle(b(peer), frames, now);
    },
    ready(worker: string, service: string, version: MdpVersion = 2) {
      h.raw(worker, encodeWorkerMessage({ command: 'ready', version, service }));
    },
    request(client: string, service: string, body: string[] = ['x'], version: MdpVersion = 2) {
      h.raw(client, encodeClientRequest(version, service, body.map(b)));
    },
    worker(worker: string, msg: WorkerMessage) {
      h.raw(worker, encodeWorkerMessage(msg));
    },
    reply(worker: string, client: string, body: string[], version: MdpVersion = 2, command: 'final' | 'partial' = 'final') {
      h.worker(worker, { command, version, client: b(client), body: body.map(b) } as WorkerMessage);
    },
    take(): Sent[] {
      return sent.splice(0);
    },
    /** Decoded messages sent to workers. */
    toWorkers() {
      return h.take().map((s) => {
        const d = decodeWorkerMessage(s.frames, 'from-broker');
        if (!d.ok) throw new Error(`broker sent an invalid worker message: ${d.error.message}`);
        return { to: s.to, ...d.value };
      });
    },
    clientReplies() {
      return h.take().map((s) => {
        const d = decodeClientReply(s.frames);
        if (!d.ok) throw new Error(`broker sent an invalid client message: ${d.error.message}`);
        return { to: s.to, ...d.value, text: d.value.body.map(String) };
      });
    },
  };
  return h;
}

describe('dispatch', () => {
  test('hands requests to idle workers least recently used first', () => {
    const h = harness();
    h.ready('w1', 'svc');
    h.ready('w2', 'svc');
    h.ready('w3', 'svc');
    for (const c of ['c1', 'c2', 'c3']) h.request(c, 'svc');
    expect(h.toWorkers().map((m) => [m.to, m.command, m.command === 'request' && m.client.toString()])).toEqual([
      ['w1', 'request', 'c1'],
      ['w2', 'request', 'c2'],
      ['w3', 'request', 'c3'],
    ]);
    // w2 finishes first, then w1: the next requests go to w2 then w1.
    h.reply('w2', 'c2', ['r2']);
    h.reply('w1', 'c1', ['r1']);
    expect(h.clientReplies().map((r) => [r.to, r.text])).toEqual([
      ['c2', ['r2']],
      ['c1', ['r1']],
    ]);
    h.request('c4', 'svc');
    h.request('c5', 'svc');
    expect(h.toWorkers().map((m) => m.to)).toEqual(['w2', 'w1']);
  });

  test('queues a request until a worker of its service registers', () => {
    const h = harness();
    h.request('c1', 'late', ['hello']);
    expect(h.take()).toEqual([]);
    expect(h.core.stats(h.now).services.late).toMatchObject({ workers: 0, queued: 1, requests: 1 });
    h.ready('w1', 'late');
    const [req] = h.toWorkers();
    expect(req).toMatchObject({ to: 'w1', command: 'request' });
    expect(req?.command === 'request' && req.body.map(String)).toEqual(['hello']);
  });

  test('answers each peer in its own version', () => {
    const h = harness();
    h.ready('w1', 'svc', 1);
    h.request('c2', 'svc', ['x'], 2);
    const [req] = h.toWorkers();
    expect(req).toMatchObject({ version: 1, command: 'request' });
    h.reply('w1', 'c2', ['ok'], 1);
    const [rep] = h.clientReplies();
    expect(rep).toMatchObject({ to: 'c2', version: 2, final: true, text: ['ok'] });
    h.request('c1', 'svc', ['x'], 1);
    h.toWorkers();
    h.reply('w1', 'c1', ['ok'], 1);
    expect(h.clientReplies()[0]).toMatchObject({ to: 'c1', version: 1, final: true });
  });

  test('forwards v0.2 partials to a v0.2 client as they come', () => {
    const h = harness();
    h.ready('w', 'cam');
    h.request('c', 'cam');
    h.take();
    h.reply('w', 'c', ['p1'], 2, 'partial');
    h.reply('w', 'c', ['p2'], 2, 'partial');
    h.reply('w', 'c', ['end'], 2, 'final');
    expect(h.clientReplies().map((r) => [r.final, r.text])).toEqual([
      [false, ['p1']],
      [false, ['p2']],
      [true, ['end']],
    ]);
  });

  test('gives a v0.1 client the partials and the final body in one REPLY', () => {
    const h = harness();
    h.ready('w', 'cam', 2);
    h.request('c', 'cam', ['x'], 1);
    h.take();
    h.reply('w', 'c', ['p1'], 2, 'partial');
    h.reply('w', 'c', ['p2'], 2, 'partial');
    expect(h.take()).toEqual([]);
    h.reply('w', 'c', ['end'], 2, 'final');
    expect(h.clientReplies()).toEqual([expect.objectContaining({ version: 1, final: true, text: ['p1', 'p2', 'end'] })]);
  });

  test('refuses to buffer unbounded partials for a v0.1 client', () => {
    const h = harness({ maxPartialBytes: 10 });
    h.ready('w', 'cam', 2);
    h.request('c', 'cam', ['x'], 1);
    h.take();
    h.reply('w', 'c', ['123456'], 2, 'partial');
    h.reply('w', 'c', ['123456'], 2, 'partial');
    h.reply('w', 'c', ['end'], 2, 'final');
    const [rep] = h.clientReplies();
    expect(rep?.text[0]).toBe('500');
    expect(JSON.parse(rep?.text[1] ?? '')).toMatchObject({ code: 'ERR_MDP_REQUEST_FAILED', source: 'broker' });
    // The worker is idle again and serves the next request.
    h.request('c', 'cam', ['x'], 1);
    expect(h.toWorkers()).toEqual([expect.objectContaining({ to: 'w', command: 'request' })]);
  });
});

describe('limits and expiry', () => {
  test('a request with no worker gets a 503 error reply after requestTimeout, then the service is forgotten', () => {
    const h = harness({ requestTimeout: 5000 });
    h.request('c', 'nobody');
    h.advance(4000);
    expect(h.take()).toEqual([]);
    h.advance(1000);
    const [rep] = h.clientReplies();
    expect(rep?.to).toBe('c');
    expect(rep?.text[0]).toBe('503');
    expect(JSON.parse(rep?.text[1] ?? '')).toEqual({
      error: 'no worker for service "nobody" registered within 5000 ms',
      code: 'ERR_MDP_SERVICE_UNAVAILABLE',
      service: 'nobody',
      source: 'broker',
    });
    expect(h.core.stats(h.now).services).toEqual({});
  });

  test('a full service queue answers with ERR_MDP_QUEUE_FULL instead of growing', () => {
    const h = harness({ maxQueuePerService: 2 });
    h.request('c1', 's');
    h.request('c2', 's');
    h.request('c3', 's');
    const [rep] = h.clientReplies();
    expect(rep?.to).toBe('c3');
    expect(JSON.parse(rep?.text[1] ?? '').code).toBe('ERR_MDP_QUEUE_FULL');
    expect(h.core.stats(h.now).services.s).toMatchObject({ queued: 2, requests: 3, errors: 1 });
  });

  test('the whole broker holds at most maxPendingRequests', () => {
    const h = harness({ maxPendingRequests: 3 });
    for (let i = 0; i < 5; i++) h.request(`c${i}`, `s${i}`);
    const replies = h.clientReplies();
    expect(replies.map((r) => r.to)).toEqual(['c3', 'c4']);
    expect(h.core.stats(h.now).queued).toBe(3);
    // The refused requests did not leave empty services behind.
    expect(Object.keys(h.core.stats(h.now).services).sort()).toEqual(['s0', 's1', 's2']);
  });

  test('at most maxServices services are known', () => {
    const h = harness({ maxServices: 2 });
    h.request('c', 'a');
    h.request('c', 'b');
    h.request('c', 'c');
    expect(JSON.parse(h.clientReplies()[0]?.text[1] ?? '').code).toBe('ERR_MDP_QUEUE_FULL');
    h.ready('w', 'd');
    expect(h.toWorkers()).toEqual([expect.objectContaining({ to: 'w', command: 'disconnect' })]);
  });
});

describe('heartbeats and dead workers', () => {
  test('sends HEARTBEAT to every worker, idle or busy, in its version', () => {
    const h = harness({ heartbeatInterval: 1000 });
    h.ready('w1', 'a', 1);
    h.ready('w2', 'b', 2);
    h.request('c', 'b');
    h.take();
    h.advance(1000);
    const hb = h.toWorkers();
    expect(hb.map((m) => [m.to, m.command, m.version]).sort()).toEqual([
      ['w1', 'heartbeat', 1],
      ['w2', 'heartbeat', 2],
    ]);
  });

  test('expires a silent worker after interval × liveness, a talking one stays', () => {
    const h = harness({ heartbeatInterval: 1000, heartbeatLiveness: 3 });
    h.ready('quiet', 's');
    h.ready('chatty', 's');
    for (let t = 0; t < 3; t++) {
      h.advance(999);
      h.worker('chatty', { command: 'heartbeat', version: 2 });
    }
    h.advance(10);
    expect(h.core.workerList(h.now).map((w) => w.identity)).toEqual([b('chatty').toString('hex')]);
  });

  test('a request held by a worker that dies goes to another worker', () => {
    const h = harness({ heartbeatInterval: 1000, heartbeatLiveness: 3 });
    h.ready('w1', 's');
    h.ready('w2', 's');
    h.request('c', 's', ['job']);
    expect(h.toWorkers()[0]?.to).toBe('w1');
    // w2 keeps talking, w1 (busy) goes silent and expires.
    for (let t = 0; t < 3; t++) {
      h.advance(999);
      h.worker('w2', { command: 'heartbeat', version: 2 });
    }
    h.take();
    h.advance(10);
    const [req] = h.toWorkers().filter((m) => m.command === 'request');
    expect(req).toMatchObject({ to: 'w2', command: 'request' });
    expect(req?.command === 'request' && req.body.map(String)).toEqual(['job']);
    h.reply('w2', 'c', ['done']);
    expect(h.clientReplies()[0]).toMatchObject({ to: 'c', text: ['done'] });
    expect(h.core.stats(h.now).services.s).toMatchObject({ workers: 1, requests: 1, replies: 1 });
  });

  test('a late reply from a worker that expired while busy is delivered if the request still waits', () => {
    // The ZeroMQ Guide's worker API does not heartbeat while the handler runs.
    const h = harness({ heartbeatInterval: 1000, heartbeatLiveness: 3 });
    h.ready('w1', 's', 1);
    h.request('c', 's', ['job'], 1);
    h.take();
    h.advance(3000);
    h.take();
    expect(h.core.stats(h.now).services.s).toMatchObject({ workers: 0, queued: 1 });
    h.reply('w1', 'c', ['done late'], 1);
    const out = h.take();
    const toClient = out.filter((m) => m.to === 'c').map((m) => decodeClientReply(m.frames));
    expect(toClient).toEqual([{ ok: true, value: expect.objectContaining({ version: 1, body: [b('done late')] }) }]);
    // The worker is told to register again.
    expect(out.filter((m) => m.to === 'w1').map((m) => decodeWorkerMessage(m.frames, 'from-broker'))).toEqual([
      { ok: true, value: { command: 'disconnect', version: 1 } },
    ]);
    expect(h.core.stats(h.now)).toMatchObject({ queued: 0, services: { s: { replies: 1, queued: 0 } } });
  });

  test('a late reply is dropped once another worker took the request (one answer per request)', () => {
    const h = harness({ heartbeatInterval: 1000, heartbeatLiveness: 3 });
    h.ready('w1', 's');
    h.request('c', 's', ['job']);
    h.take();
    h.advance(3000);
    h.ready('w2', 's');
    expect(h.toWorkers().filter((m) => m.command === 'request').map((m) => m.to)).toEqual(['w2']);
    h.reply('w1', 'c', ['late']);
    expect(h.take().filter((m) => m.to === 'c')).toEqual([]);
    h.reply('w2', 'c', ['fresh']);
    expect(h.clientReplies()).toEqual([expect.objectContaining({ to: 'c', text: ['fresh'] })]);
  });

  test('a worker that sends DISCONNECT while holding a request gives it back', () => {
    const h = harness();
    h.ready('w1', 's');
    h.ready('w2', 's');
    h.request('c', 's');
    expect(h.toWorkers()[0]?.to).toBe('w1');
    h.worker('w1', { command: 'disconnect', version: 2 });
    expect(h.toWorkers()).toEqual([expect.objectContaining({ to: 'w2', command: 'request' })]);
  });

  test('a REQUEST that could not be delivered (worker vanished) does not count as an attempt', () => {
    const failing = new Set(['dead1', 'dead2', 'dead3']);
    const sent: { to: string; frames: Buffer[] }[] = [];
    let core!: BrokerCore;
    const pendingFailures: (() => void)[] = [];
    core = new BrokerCore(
      {
        heartbeatInterval: 1000,
        heartbeatLiveness: 3,
        requestTimeout: 5000,
        maxQueuePerService: 100,
        maxPendingRequests: 1000,
        maxServices: 100,
        maxWorkerAttempts: 2,
        maxPartialBytes: 1024,
        logger: silentLogger,
      },
      (identity, frames, undelivered) => {
        const to = identity.toString();
        if (failing.has(to)) {
          // As the shell does: the failure comes back asynchronously.
          pendingFailures.push(() => {
            undelivered?.();
            core.peerUnreachable(identity, 0);
          });
        } else sent.push({ to, frames });
      },
      0,
    );
    for (const w of ['dead1', 'dead2', 'dead3', 'alive']) core.handle(b(w), encodeWorkerMessage({ command: 'ready', version: 2, service: 's' }), 0);
    core.handle(b('c'), encodeClientRequest(2, 's', [b('x')]), 0);
    while (pendingFailures.length > 0) pendingFailures.shift()?.();
    const toAlive = sent.filter((m) => m.to === 'alive').map((m) => decodeWorkerMessage(m.frames, 'from-broker'));
    expect(toAlive).toEqual([{ ok: true, value: expect.objectContaining({ command: 'request' }) }]);
    expect(sent.filter((m) => m.to === 'c')).toEqual([]);
  });

  test('gives up after maxWorkerAttempts workers died holding the request', () => {
    const h = harness({ maxWorkerAttempts: 2 });
    h.request('c', 's');
    h.ready('w1', 's');
    h.worker('w1', { command: 'disconnect', version: 2 });
    h.ready('w2', 's');
    h.worker('w2', { command: 'disconnect', version: 2 });
    const replies = h.take().filter((s) => s.to === 'c');
    expect(replies).toHaveLength(1);
    const d = decodeClientReply(replies[0]?.frames ?? []);
    expect(d.ok && JSON.parse(String(d.value.body[1])).code).toBe('ERR_MDP_REQUEST_FAILED');
  });
});

describe('unexpected and invalid commands', () => {
  test.each([1, 2] as const)('HEARTBEAT or a reply from an unknown v0.%s worker gets DISCONNECT', (version) => {
    const h = harness();
    h.worker('ghost', { command: 'heartbeat', version });
    h.reply('ghost', 'c', ['x'], version);
    expect(h.toWorkers()).toEqual([
      expect.objectContaining({ to: 'ghost', command: 'disconnect', version }),
      expect.objectContaining({ to: 'ghost', command: 'disconnect', version }),
    ]);
  });

  test('a second READY disconnects the worker and requeues its request', () => {
    const h = harness();
    h.ready('w1', 's');
    h.ready('w2', 's');
    h.request('c', 's');
    h.take();
    h.ready('w1', 's');
    expect(h.toWorkers()).toEqual([
      expect.objectContaining({ to: 'w1', command: 'disconnect' }),
      expect.objectContaining({ to: 'w2', command: 'request' }),
    ]);
    expect(h.core.stats(h.now).services.s?.workers).toBe(1);
  });

  test('a reply when the worker holds no request, or for another client, disconnects it', () => {
    const h = harness();
    h.ready('w1', 's');
    h.reply('w1', 'c', ['x']);
    expect(h.toWorkers()).toEqual([expect.objectContaining({ to: 'w1', command: 'disconnect' })]);
    h.ready('w2', 's');
    h.request('c', 's');
    h.take();
    h.reply('w2', 'someone-else', ['x']);
    expect(h.toWorkers()).toEqual([expect.objectContaining({ to: 'w2', command: 'disconnect' })]);
  });

  test('a worker may not register an mmi.* service', () => {
    const h = harness();
    h.ready('w', 'mmi.service');
    expect(h.toWorkers()).toEqual([expect.objectContaining({ to: 'w', command: 'disconnect' })]);
    expect(h.core.workerList(h.now)).toEqual([]);
  });

  test('invalid messages are dropped and counted; a registered worker that sends one is disconnected', () => {
    const h = harness();
    h.raw('x', [b('garbage')]);
    h.raw('x', []);
    expect(h.take()).toEqual([]);
    h.ready('w', 's');
    h.raw('w', [b('MDPW02'), Buffer.from([0x42])]);
    expect(h.toWorkers()).toEqual([expect.objectContaining({ to: 'w', command: 'disconnect' })]);
    expect(h.core.stats(h.now)).toMatchObject({ dropped: 3, workers: 0 });
  });

  test('disconnectAll tells every worker to go', () => {
    const h = harness();
    h.ready('w1', 'a', 1);
    h.ready('w2', 'b', 2);
    h.core.disconnectAll(h.now);
    expect(h.toWorkers().map((m) => [m.to, m.command, m.version])).toEqual([
      ['w1', 'disconnect', 1],
      ['w2', 'disconnect', 2],
    ]);
  });
});

describe('MMI', () => {
  function mmi(h: ReturnType<typeof harness>, service: string, body: string[] = [''], version: MdpVersion = 2) {
    h.request('c', service, body, version);
    const [rep] = h.clientReplies();
    expect(rep).toMatchObject({ service, final: true, version });
    return rep?.text ?? [];
  }

  test('mmi.service is 200 only while a worker is live', () => {
    const h = harness();
    expect(mmi(h, 'mmi.service', ['echo'])).toEqual(['404']);
    h.ready('w', 'echo');
    expect(mmi(h, 'mmi.service', ['echo'])).toEqual(['200']);
    expect(mmi(h, 'mmi.service', ['echo'], 1)).toEqual(['200']);
    h.advance(3000);
    expect(mmi(h, 'mmi.service', ['echo'])).toEqual(['404']);
  });

  test('mmi.echo returns the frames', () => {
    expect(mmi(harness(), 'mmi.echo', ['a', '', 'c'])).toEqual(['a', '', 'c']);
  });

  test('mmi.discovery matches live service names with a regex', () => {
    const h = harness();
    h.ready('w1', 'pi1.onewire.devices');
    h.ready('w2', 'pi2.sim.devices');
    h.ready('w3', 'pi1.core.cron');
    h.request('c', 'pi9.nobody.devices');
    h.take();
    expect(mmi(h, 'mmi.discovery', ['\\.devices$'])).toEqual(['200', 'pi1.onewire.devices', 'pi2.sim.devices']);
    expect(mmi(h, 'mmi.discovery', [''])).toEqual(['200', 'pi1.core.cron', 'pi1.onewire.devices', 'pi2.sim.devices']);
    expect(mmi(h, 'mmi.discovery', ['^nothing'])).toEqual(['200']);
    const bad = mmi(h, 'mmi.discovery', ['(unclosed']);
    expect(bad[0]).toBe('400');
    expect(bad[1]).toMatch(/bad pattern/);
  });

  test('mmi.discovery refuses patterns that backtrack catastrophically, quickly', () => {
    const h = harness();
    h.ready('w', 'a'.repeat(60));
    // Each of these would hang the broker for minutes on a 60-byte name.
    for (const p of ['(a+)+$', '(a|aa)*b', '(a*)*b', '(\\w+\\s?)+$', '(.*a){20}']) {
      expect(mmi(h, 'mmi.discovery', [p])[0]).toBe('400');
    }
    expect(mmi(h, 'mmi.discovery', ['(pi1|pi2)\\.onewire\\..*'])[0]).toBe('200');
    expect(mmi(h, 'mmi.discovery', ['^a{3,}$'])).toEqual(['200', 'a'.repeat(60)]);
  });

  test('mmi.stats reports per service workers, queued, requests, replies, errors and uptime', () => {
    const h = harness();
    h.ready('w', 'svc');
    h.request('c1', 'svc');
    h.request('c2', 'svc');
    h.take();
    h.reply('w', 'c1', ['ok']);
    h.take();
    h.advance(1500);
    h.take();
    const [status, json] = mmi(h, 'mmi.stats');
    expect(status).toBe('200');
    const stats = JSON.parse(json ?? '');
    expect(stats).toMatchObject({ uptime: 1.5, workers: 1, queued: 0, active: 1 });
    expect(stats.services.svc).toEqual({ workers: 1, idle: 0, queued: 0, requests: 2, replies: 1, errors: 0 });
    expect(new Date(stats.startedAt).getTime()).not.toBeNaN();
  });

  test('mmi.workers lists workers; other mmi.* names answer 501', () => {
    const h = harness();
    h.ready('w', 'svc', 1);
    const [status, json] = mmi(h, 'mmi.workers');
    expect(status).toBe('200');
    expect(JSON.parse(json ?? '')).toEqual([{ identity: b('w').toString('hex'), service: 'svc', version: 1, busy: false, expiresIn: 3000 }]);
    expect(mmi(h, 'mmi.nonsense')).toEqual(['501']);
    expect(mmi(h, 'mmi.nonsense', [''], 1)).toEqual(['501']);
  });
});
