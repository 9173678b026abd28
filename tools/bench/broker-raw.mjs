#!/usr/bin/env node
// The baseline: a minimal zeromq.js ROUTER-to-ROUTER proxy that routes the
// very same MDP v0.2 frames as our broker, without validation, heartbeats,
// timeouts or statistics.
//
//   node tools/bench/broker-raw.mjs [frontend] [backend]
//   node tools/bench/broker-raw.mjs --single [endpoint]
//
// Clients connect to the frontend ROUTER, workers to the backend ROUTER
// (both default tcp://127.0.0.1:*). Prints one JSON line on stdout:
//   {"frontend":"tcp://127.0.0.1:P1","backend":"tcp://127.0.0.1:P2","pid":N}
// and serves until SIGTERM / SIGINT or until stdin closes (the parent died).
//
// With --single it binds one ROUTER for clients and workers alike, as our
// broker does, and tells them apart by the header frame (MDPC02 / MDPW02);
// frontend and backend are then the same endpoint. This second baseline shows
// what the one-socket design costs or saves by itself.
//
// Routing:
//   worker READY ["MDPW02", 0x01, service]      -> the worker joins its service's idle FIFO
//   client REQUEST ["MDPC02", 0x01, service, body...]
//                                               -> next idle worker of that service gets
//                                                  ["MDPW02", 0x02, clientId, "", body...],
//                                                  or the request waits in the service's FIFO
//   worker FINAL ["MDPW02", 0x04, clientId, "", body...]
//                                               -> client gets ["MDPC02", 0x03, service, body...]
//                                                  and the worker takes the next waiting request
//                                                  or goes back to the idle FIFO
//   worker PARTIAL (0x03)                       -> client gets ["MDPC02", 0x02, service, body...]
//   worker DISCONNECT (0x06)                    -> the worker is forgotten
//   anything else (HEARTBEAT...)                -> ignored
//
// It sends no heartbeats: the benchmarks give the workers a heartbeat interval
// (60 s) longer than any measurement, and our broker the same, so that neither
// broker spends anything on heartbeats and the comparison is like for like.
//
// It is written the way our MdpBroker is (an `await socket.receive()` loop per
// socket, fire-and-forget sends that complete synchronously thanks to
// sendTimeout 0, the same socket options), so that it is an honest minimal
// proxy rather than a handicapped one.
import { fstatSync } from 'node:fs';
import { Router } from 'zeromq';

const W02 = Buffer.from('MDPW02');
const C02 = Buffer.from('MDPC02');
const W_REQUEST = Buffer.from([0x02]);
const C_PARTIAL = Buffer.from([0x02]);
const C_FINAL = Buffer.from([0x03]);
const EMPTY = Buffer.alloc(0);
const READY = 0x01;
const PARTIAL = 0x03;
const FINAL = 0x04;
const DISCONNECT = 0x06;

/** A FIFO with O(1) shift (an array with a moving head). */
class Fifo {
  items = [];
  head = 0;
  get length() {
    return this.items.length - this.head;
  }
  push(x) {
    this.items.push(x);
  }
  shift() {
    if (this.head === this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  remove(x) {
    const i = this.items.indexOf(x, this.head);
    if (i >= 0) this.items.splice(i, 1);
  }
}

/** Per service: idle workers and waiting client requests (each a received message). */
const services = new Map();
/** Worker identity (latin1) -> { id, service }. */
const workers = new Map();

function serviceOf(nameFrame) {
  const key = nameFrame.toString('latin1');
  let s = services.get(key);
  if (s === undefined) {
    s = { name: nameFrame, idle: new Fifo(), waiting: new Fifo() };
    services.set(key, s);
  }
  return s;
}

const options = {
  // The same options as MdpBroker's ROUTER.
  mandatory: true,
  sendTimeout: 0,
  sendHighWaterMark: 10_000,
  receiveHighWaterMark: 10_000,
  maxMessageSize: 16 * 1024 * 1024,
  linger: 200,
};
const single = process.argv[2] === '--single';
const endpoints = process.argv.slice(single ? 3 : 2);
const frontend = new Router(options);
const backend = single ? frontend : new Router(options);
await frontend.bind(endpoints[0] ?? 'tcp://127.0.0.1:*');
if (!single) await backend.bind(endpoints[1] ?? 'tcp://127.0.0.1:*');
process.stdout.write(
  `${JSON.stringify({ frontend: frontend.lastEndpoint, backend: backend.lastEndpoint, pid: process.pid })}\n`,
);

const ignore = () => {}; // a vanished peer: nothing to do in a minimal proxy

/** Hands a client request [clientId, "MDPC02", 0x01, service, body...] to a worker. */
function toWorker(worker, request) {
  backend.send([worker.id, W02, W_REQUEST, request[0], EMPTY, ...request.slice(4)]).catch(ignore);
}

/** A client REQUEST [clientId, "MDPC02", 0x01, service, body...]. */
function onClient(msg) {
  if (msg.length < 5) return; // not a request with a body
  const service = serviceOf(msg[3]);
  const worker = service.idle.shift();
  if (worker !== undefined) toWorker(worker, msg);
  else service.waiting.push(msg);
}

/** A worker command [workerId, "MDPW02", command, ...]. */
function onWorker(msg) {
  const command = msg[2]?.[0];
  const key = msg[0].toString('latin1');
  if (command === FINAL || command === PARTIAL) {
    const worker = workers.get(key);
    if (worker === undefined || msg.length < 5) return;
    frontend.send([msg[3], C02, command === FINAL ? C_FINAL : C_PARTIAL, worker.service.name, ...msg.slice(5)]).catch(ignore);
    if (command === PARTIAL) return;
    const next = worker.service.waiting.shift();
    if (next !== undefined) toWorker(worker, next);
    else worker.service.idle.push(worker);
  } else if (command === READY && msg[3] !== undefined) {
    const worker = { id: msg[0], service: serviceOf(msg[3]) };
    workers.set(key, worker);
    const next = worker.service.waiting.shift();
    if (next !== undefined) toWorker(worker, next);
    else worker.service.idle.push(worker);
  } else if (command === DISCONNECT) {
    const worker = workers.get(key);
    if (worker === undefined) return;
    workers.delete(key);
    worker.service.idle.remove(worker);
  }
}

async function frontendLoop() {
  for (;;) onClient(await frontend.receive());
}

async function backendLoop() {
  for (;;) onWorker(await backend.receive());
}

/** --single: "MDPC02" and "MDPW02" differ in their fourth byte. */
async function singleLoop() {
  for (;;) {
    const msg = await frontend.receive();
    if (msg[1]?.[3] === 0x43) onClient(msg);
    else onWorker(msg);
  }
}

const loops = Promise.all(single ? [singleLoop()] : [frontendLoop(), backendLoop()]).catch((err) => {
  if (!frontend.closed && !backend.closed) throw err;
});

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  frontend.close();
  if (!single) backend.close();
  await loops;
  process.exit(0);
}
// SIGUSR2: print the heap figures (after a GC when run with --expose-gc) as a JSON line.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ rss, heapUsed, heapTotal, external, arrayBuffers })}\n`);
});
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (fstatSync(0).isFIFO() || fstatSync(0).isSocket()) {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
