// The load: MdpClient(s) and MdpWorker(s) of @raspy/mdp, the same for both
// brokers. Started by run.mjs with an IPC channel; it never runs on its own.
//
//   node tools/bench/load.mjs '<json config>'
//
// config.mode "rr": `workers` echo workers of service `service` and one
//   MdpClient. Answers the commands
//     {cmd: "sync", ms}              one request in flight for `ms`
//     {cmd: "pipelined", inflight, ms} `inflight` concurrent request loops for `ms`
//     {cmd: "close"}                 close everything and exit
// config.mode "scale": `services` x `workersPerService` workers and `clients`
//   MdpClients (one socket each); commands "clients" (each client does
//   `requestsPerClient` requests, all clients at once) and "close".
//
// Each measurement reads the broker's CPU time from /proc (config.brokerPid)
// right before and after, and its own with process.cpuUsage().
import { context } from 'zeromq';
import { MdpClient, MdpWorker } from '@raspy/mdp';
import { cpuMsOf, quantile } from './lib.mjs';

const config = JSON.parse(process.argv[2]);
const heartbeatInterval = config.heartbeat ?? 60_000;

// 1000 workers + 1000 clients need more than the default 1023 sockets.
if (config.maxSockets) context.maxSockets = config.maxSockets;

const reply = (m) => process.send(m);
const fail = (err) => reply({ type: 'error', message: err?.stack ?? String(err) });

function startWorker(service, handler) {
  const worker = new MdpWorker({ endpoint: config.workerEndpoint, service, handler, heartbeatInterval });
  // start() only connects and queues READY; it resolves at once.
  void worker.start();
  return worker;
}

/** Runs one measurement slice and returns its raw figures; run.mjs combines slices (lib.mjs combineSlices). */
function measure(run) {
  return async (...args) => {
    const broker0 = cpuMsOf(config.brokerPid);
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    const { count, latencies, errors } = await run(...args);
    const elapsedMs = performance.now() - t0;
    const self = process.cpuUsage(self0);
    const brokerCpuMs = cpuMsOf(config.brokerPid) - broker0;
    return {
      count,
      errors,
      elapsedMs,
      brokerCpuMs,
      loadCpuMs: (self.user + self.system) / 1000,
      // Microseconds, 0.1 us resolution (keeps the IPC message small).
      latenciesUs: latencies.map((ms) => Math.round(ms * 10_000) / 10),
    };
  };
}

async function rrMode() {
  const payload = Buffer.alloc(config.payloadBytes ?? 64, 'x');
  const workers = [];
  for (let i = 0; i < config.workers; i++) workers.push(startWorker(config.service, (frames) => frames));
  // Sockets stay open between requests (maxIdleSockets = maxSockets): the
  // measurement is of round trips, not of socket setup. No retries: a lost
  // reply must show as an error, not as a slow request.
  const client = new MdpClient({
    endpoint: config.clientEndpoint,
    maxSockets: config.maxSockets ?? 128,
    maxIdleSockets: config.maxSockets ?? 128,
    timeout: 10_000,
    retries: 0,
  });

  async function one(latencies) {
    const start = performance.now();
    const body = await client.request(config.service, payload);
    latencies.push(performance.now() - start);
    if (body.length !== 1 || body[0].length !== payload.length) throw new Error('wrong echo');
  }

  const sync = measure(async (ms) => {
    const latencies = [];
    const end = performance.now() + ms;
    while (performance.now() < end) await one(latencies);
    return { count: latencies.length, latencies, errors: 0 };
  });

  const pipelined = measure(async (inflight, ms) => {
    const latencies = [];
    const end = performance.now() + ms;
    let errors = 0;
    const loop = async () => {
      while (performance.now() < end) {
        try {
          await one(latencies);
        } catch (err) {
          if (++errors === 1) console.error('load: request failed:', err);
        }
      }
    };
    await Promise.all(Array.from({ length: inflight }, loop));
    return { count: latencies.length, latencies, errors };
  });

  // The broker may see the client before the workers: the first request waits.
  await one([]);
  reply({ type: 'ready' });

  for (;;) {
    const msg = await nextCommand();
    try {
      if (msg.cmd === 'sync') reply({ type: 'result', result: await sync(msg.ms) });
      else if (msg.cmd === 'pipelined') reply({ type: 'result', result: await pipelined(msg.inflight, msg.ms) });
      else if (msg.cmd === 'close') break;
    } catch (err) {
      fail(err);
    }
  }
  await client.close();
  await Promise.all(workers.map((w) => w.stop({ timeout: 1000 })));
  reply({ type: 'closed' });
}

async function scaleMode() {
  const t0 = performance.now();
  const workers = [];
  const served = new Map(); // worker index -> requests served
  for (let s = 0; s < config.services; s++) {
    for (let w = 0; w < config.workersPerService; w++) {
      const index = workers.length;
      const tag = Buffer.from(String(index));
      workers.push(
        startWorker(`svc.${s}`, (frames) => {
          served.set(index, (served.get(index) ?? 0) + 1);
          return [tag, ...frames];
        }),
      );
    }
    // Let the sockets connect in batches rather than 1000 SYNs at once.
    await new Promise((resolve) => setImmediate(resolve));
  }
  reply({ type: 'workers-started', ms: performance.now() - t0 });

  const clients = [];
  let msg = await nextCommand();
  if (msg.cmd === 'clients') {
    const t1 = performance.now();
    for (let i = 0; i < config.clients; i++) {
      clients.push(
        new MdpClient({ endpoint: config.clientEndpoint, maxSockets: 1, maxIdleSockets: 1, timeout: config.timeout ?? 30_000, retries: 0 }),
      );
    }
    let answered = 0;
    let failed = 0;
    let firstError = null;
    const latencies = [];
    await Promise.all(
      clients.map(async (client, i) => {
        for (let r = 0; r < config.requestsPerClient; r++) {
          const body = `client ${i} request ${r}`;
          const start = performance.now();
          try {
            const [tag, echo] = await client.request(`svc.${(i + r) % config.services}`, body);
            if (tag === undefined || echo?.toString() !== body) throw new Error('wrong echo');
            latencies.push(performance.now() - start);
            answered++;
          } catch (err) {
            failed++;
            firstError ??= String(err?.message ?? err);
          }
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    reply({
      type: 'done',
      ms: performance.now() - t1,
      requests: config.clients * config.requestsPerClient,
      answered,
      failed,
      firstError,
      distinctWorkers: served.size,
      p50us: quantile(latencies, 0.5) * 1000,
      p99us: quantile(latencies, 0.99) * 1000,
    });
    msg = await nextCommand();
  }
  const t2 = performance.now();
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(workers.map((w) => w.stop({ timeout: 1000 })));
  reply({ type: 'closed', ms: performance.now() - t2 });
}

// The parent went away without saying goodbye: do not linger.
let finished = false;
process.on('disconnect', () => {
  if (!finished) process.exit(1);
});

const inbox = [];
let wake = null;
process.on('message', (m) => {
  inbox.push(m);
  wake?.();
});
async function nextCommand() {
  while (inbox.length === 0) await new Promise((resolve) => (wake = resolve));
  wake = null;
  return inbox.shift();
}

try {
  if (config.mode === 'rr') await rrMode();
  else await scaleMode();
} catch (err) {
  fail(err);
}
// Nothing else keeps the process alive once the IPC channel is gone.
finished = true;
process.disconnect();
