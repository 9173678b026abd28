#!/usr/bin/env node
// Our broker under test, in its own process.
//
//   node tools/bench/broker-mdp.mjs [endpoint] [--heartbeat ms] [--request-timeout ms]
//
// Binds (default tcp://127.0.0.1:*), prints one JSON line on stdout:
//   {"endpoint":"tcp://127.0.0.1:PORT","pid":N}
// and serves until SIGTERM / SIGINT or until stdin closes (the parent died),
// then stops the broker (closing its socket) and exits.
import { fstatSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MdpBroker } from '@raspy/mdp';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    heartbeat: { type: 'string', default: '60000' },
    'request-timeout': { type: 'string', default: '60000' },
  },
});

// The benchmarks give workers and broker the same long heartbeat interval
// (60 s by default): neither side sends heartbeats during a measurement, as
// the raw proxy sends none either (see broker-raw.mjs).
const broker = new MdpBroker({
  endpoint: positionals[0] ?? 'tcp://127.0.0.1:*',
  heartbeatInterval: Number(values.heartbeat),
  requestTimeout: Number(values['request-timeout']),
});
await broker.start();
process.stdout.write(`${JSON.stringify({ endpoint: broker.endpoints[0], pid: process.pid })}\n`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  await broker.stop();
  // Exit normally so that `node --cpu-prof` writes its profile.
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
  // Started by run.mjs with a pipe on stdin: its end means the parent is gone.
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
