// The load of titanic.mjs: echo workers (MdpWorker), plain MDP requests
// (MdpClient) and durable round trips (TitanicClient), in one process.
// Started by titanic.mjs with an IPC channel; it never runs on its own.
//
//   node tools/bench/titanic-load.mjs '<json config>'
//
// config: { endpoint, service, workers, payloadBytes, maxSockets, interval, timeout, pollDelay }
// Sends {type: "ready"} once a plain and a durable round trip went through,
// then answers
//   {cmd: "plain", inflight, ms}    `inflight` loops of MdpClient.request(service) for `ms`
//   {cmd: "durable", inflight, ms}  `inflight` loops of durable round trips for `ms`
//   {cmd: "close"}                  close everything and exit
// with {type: "result", result} (raw figures of one slice).
//
// A durable round trip: titanic.request (the request stored and fsynced),
// then TitanicClient.wait() (titanic.reply polled, first at once, then after
// `interval` ms, doubling, until 200: the dispatcher had the request executed
// by an echo worker and the reply stored and fsynced), then titanic.close
// (recorded and fsynced). Each phase is timed, and the titanic.reply polls
// are counted (a counting wrapper around the MdpClient the TitanicClient uses).
import { MdpClient, MdpWorker } from '@raspy/mdp';
import { TitanicClient } from '@raspy/titanic';

const config = JSON.parse(process.argv[2]);
const reply = (m) => process.send(m);
const fail = (err) => reply({ type: 'error', message: err?.stack ?? String(err) });

const payload = Buffer.alloc(config.payloadBytes ?? 64, 'x');
const interval = config.interval ?? 1;
const timeout = config.timeout ?? 30_000;
// Experiment only (titanic.mjs --poll-delay): sleep this long between the
// store and wait(), whose first poll is immediate. 0 = off.
const pollDelay = config.pollDelay ?? 0;

const workers = [];
for (let i = 0; i < config.workers; i++) {
  const worker = new MdpWorker({ endpoint: config.endpoint, service: config.service, handler: (frames) => frames, heartbeatInterval: config.heartbeat ?? 60_000 });
  void worker.start();
  workers.push(worker);
}

// Sockets stay open between requests (maxIdleSockets = maxSockets): the
// measurement is of round trips, not of socket setup. No retries: a lost
// reply must show as an error, not as a slow request. Separate clients for
// the two kinds, so that neither inherits the other's sockets.
const clientOptions = { endpoint: config.endpoint, maxSockets: config.maxSockets, maxIdleSockets: config.maxSockets, timeout, retries: 0 };
const plainClient = new MdpClient(clientOptions);
const titanicMdp = new MdpClient(clientOptions);

// Counts the requests the TitanicClient makes, by service (titanic.reply = polls).
const calls = { 'titanic.request': 0, 'titanic.reply': 0, 'titanic.close': 0 };
const counting = {
  request(service, ...body) {
    calls[service] = (calls[service] ?? 0) + 1;
    return titanicMdp.request(service, ...body);
  },
};
const titanic = new TitanicClient(counting);

function checkEcho(body) {
  if (body.length !== 1 || !body[0].equals(payload)) throw new Error(`wrong echo: ${body.length} frames, ${body[0]?.length} bytes`);
}

async function plainOne(out) {
  const start = performance.now();
  checkEcho(await plainClient.request(config.service, payload));
  out.latencies.push(performance.now() - start);
}

async function durableOne(out) {
  const t0 = performance.now();
  const uuid = await titanic.request(config.service, payload);
  const t1 = performance.now();
  if (pollDelay > 0) await new Promise((resolve) => setTimeout(resolve, pollDelay));
  const body = await titanic.wait(uuid, { interval, timeout });
  const t2 = performance.now();
  await titanic.close(uuid);
  const t3 = performance.now();
  checkEcho(body);
  out.latencies.push(t3 - t0);
  out.requestMs.push(t1 - t0);
  out.waitMs.push(t2 - t1);
  out.closeMs.push(t3 - t2);
}

const us = (ms) => Math.round(ms * 10_000) / 10; // microseconds, 0.1 us resolution

/** `inflight` loops of `one` for `ms`; the slice ends when the last round trip under way is done. */
async function slice(one, inflight, ms) {
  const out = { latencies: [], requestMs: [], waitMs: [], closeMs: [] };
  const polls0 = calls['titanic.reply'];
  let errors = 0;
  let firstError = null;
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  const loop = async () => {
    while (performance.now() < end) {
      try {
        await one(out);
      } catch (err) {
        errors++;
        firstError ??= err?.stack ?? String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: inflight }, loop));
  const elapsedMs = performance.now() - t0;
  const self = process.cpuUsage(self0);
  if (firstError !== null) console.error('titanic-load: a round trip failed:', firstError);
  return {
    count: out.latencies.length,
    errors,
    firstError,
    elapsedMs,
    loadCpuMs: (self.user + self.system) / 1000,
    polls: calls['titanic.reply'] - polls0,
    latenciesUs: out.latencies.map(us),
    requestUs: out.requestMs.map(us),
    waitUs: out.waitMs.map(us),
    closeUs: out.closeMs.map(us),
  };
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
  // The broker may see the clients before the workers (and Titanic): the
  // first requests wait for them.
  const first = { latencies: [], requestMs: [], waitMs: [], closeMs: [] };
  await plainOne(first);
  await durableOne(first);
  reply({ type: 'ready' });
  for (;;) {
    const msg = await nextCommand();
    try {
      if (msg.cmd === 'plain') reply({ type: 'result', result: await slice(plainOne, msg.inflight, msg.ms) });
      else if (msg.cmd === 'durable') reply({ type: 'result', result: await slice(durableOne, msg.inflight, msg.ms) });
      else if (msg.cmd === 'close') break;
      else fail(new Error(`unknown command ${JSON.stringify(msg)}`));
    } catch (err) {
      fail(err);
    }
  }
  await plainClient.close();
  await titanicMdp.close();
  await Promise.all(workers.map((w) => w.stop({ timeout: 1000 })));
  reply({ type: 'closed' });
} catch (err) {
  fail(err);
}
// Nothing else keeps the process alive once the IPC channel is gone.
finished = true;
process.disconnect();
