#!/usr/bin/env node
// The measured process of onewire.mjs: a OneWireServer (@raspy/onewire) on a
// w1 tree, publishing to the broker's key/value server, while
// perf_hooks.monitorEventLoopDelay watches its event loop. Started with an
// IPC channel (and UV_THREADPOOL_SIZE as the scenario asks); it never runs on
// its own.
//
//   node tools/bench/onewire-measure.mjs '<json config>'
//
// config: {
//   mode: "poll" | "idle" | "blocking",
//   root,            // the tree the OneWireServer reads (SysfsSource root)
//   poll,            // seconds; 0 in "idle" and "blocking" (served, not polled)
//   blockingFiles,   // "blocking": read with readFileSync, all of them every `blockingEveryMs`
//   blockingEveryMs,
//   broker, kv,      // endpoints of the broker app
//   settleMs, durationMs,
// }
//
// Messages: {type: "started", startMs, probes}, then after settleMs + durationMs
// {type: "result", ...}; then on {cmd: "stop"} it stops the server, waits
// until no file system request is pending (a read blocked on a FIFO would
// keep the process from exiting) and exits.
import { readFileSync } from 'node:fs';
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { OneWireServer, SysfsSource } from '@raspy/onewire';

const config = JSON.parse(process.argv[2]);
const reply = (m) => {
  if (process.connected) process.send(m);
};

// ------------------------------------------------------------ read timing

/** Reads of the source, counted from `since` (performance.now()). */
const reads = { since: Infinity, started: 0, completed: 0, ok: 0, bad: {}, errors: 0, firstProblem: null, latenciesMs: [], inFlight: 0, maxInFlight: 0 };

function resetReads() {
  Object.assign(reads, { since: performance.now(), started: 0, completed: 0, ok: 0, bad: {}, errors: 0, firstProblem: null, latenciesMs: [], maxInFlight: reads.inFlight });
}

/**
 * The SysfsSource itself does the reading; this only times `read()` (start
 * to result, queueing in the threadpool included) and counts its outcomes.
 */
function timed(source) {
  return {
    kind: source.kind,
    location: source.location,
    list: () => source.list(),
    resolution: (id) => source.resolution(id),
    setResolution: (id, bits) => source.setResolution(id, bits),
    close: () => source.close(),
    async read(id) {
      const t0 = performance.now();
      reads.inFlight++;
      reads.maxInFlight = Math.max(reads.maxInFlight, reads.inFlight);
      if (t0 >= reads.since) reads.started++;
      let outcome;
      try {
        outcome = await source.read(id);
        return outcome;
      } catch (err) {
        outcome = err;
        throw err;
      } finally {
        reads.inFlight--;
        const t1 = performance.now();
        recentCompletions.push(t1);
        if (recentCompletions.length > 64) recentCompletions.shift();
        if (t1 >= reads.since) {
          reads.completed++;
          reads.latenciesMs.push(t1 - t0);
          if (outcome instanceof Error) {
            reads.errors++;
            reads.firstProblem ??= `${id}: ${outcome.message}`;
          } else if (outcome.ok) reads.ok++;
          else {
            reads.bad[outcome.reason] = (reads.bad[outcome.reason] ?? 0) + 1;
            reads.firstProblem ??= `${id}: ${outcome.reason}: ${outcome.message}`;
          }
        }
      }
    },
  };
}

// ------------------------------------------------------------ stalls

/**
 * Where the long delays were: a 2 ms timer notes every tick that came 10 ms
 * or more late (when, how late), with the reads in flight and those
 * completed just before. onewire.mjs compares them with the stalls of the
 * control process (onewire-control.mjs) on the same core to tell the
 * machine's stalls from the process's own.
 */
const STALL_TICK_MS = 2;
const STALL_MIN_MS = 10;
const recentCompletions = [];
const stalls = [];
let stallTimer = null;
function watchStalls(origin) {
  let last = performance.now();
  stallTimer = setInterval(() => {
    const now = performance.now();
    const lag = now - last - STALL_TICK_MS;
    last = now;
    if (lag >= STALL_MIN_MS && stalls.length < 100) {
      stalls.push({
        at: Date.now(),
        atMs: Math.round(now - origin),
        lagMs: Math.round(lag * 10) / 10,
        inFlight: reads.inFlight,
        completedIn50ms: recentCompletions.filter((t) => t >= now - lag - 50).length,
      });
    }
  }, STALL_TICK_MS);
}

// ------------------------------------------------------------ garbage collection

/** GC pauses (they show in the event loop delay too). */
const gc = { count: 0, totalMs: 0, maxMs: 0, maxKind: null };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.totalMs += e.duration;
    if (e.duration > gc.maxMs) {
      gc.maxMs = e.duration;
      gc.maxKind = e.detail?.kind ?? null;
    }
  }
}).observe({ entryTypes: ['gc'] });
const GC_KINDS = { 1: 'scavenge', 2: 'mark-sweep-compact', 4: 'incremental marking', 8: 'weak callbacks' };

// ------------------------------------------------------------ blocking contrast

const blocking = { rounds: 0, files: 0, failures: 0, firstProblem: null, msMax: 0, msSum: 0 };
let blockingTimer = null;

function blockingRound() {
  const t0 = performance.now();
  for (const file of config.blockingFiles) {
    try {
      const text = readFileSync(file, 'utf8');
      if (!text.includes('YES')) throw new Error(`unexpected content ${JSON.stringify(text)}`);
      blocking.files++;
    } catch (err) {
      blocking.failures++;
      blocking.firstProblem ??= String(err?.message ?? err);
    }
  }
  const ms = performance.now() - t0;
  blocking.rounds++;
  blocking.msSum += ms;
  blocking.msMax = Math.max(blocking.msMax, ms);
}

// ------------------------------------------------------------ run

const quantile = (sorted, q) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]);
const ns = (x) => x / 1e6;

let server = null;
let stopping = null;

async function stop() {
  stopping ??= (async () => {
    if (blockingTimer !== null) clearInterval(blockingTimer);
    try {
      await server?.stop();
    } catch (err) {
      process.stderr.write(`onewire-measure: stop: ${err?.stack ?? err}\n`);
    }
    // Reads still under way (a threadpool thread blocked on a FIFO) would
    // keep exit() from returning: wait for them (onewire.mjs lets the FIFOs
    // answer at once now).
    const t0 = performance.now();
    while (process.getActiveResourcesInfo().some((r) => r.startsWith('FSReq')) && performance.now() - t0 < 60_000) await sleep(20);
    reply({ type: 'stopped', drainMs: performance.now() - t0 });
    if (process.connected) process.disconnect();
    process.exit(0);
  })();
  return stopping;
}

process.on('message', (m) => {
  if (m?.cmd === 'stop') void stop();
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());

try {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const t0 = performance.now();
  server = new OneWireServer({
    host: 'bench',
    source: timed(new SysfsSource({ root: config.root })),
    broker: config.broker,
    kv: config.kv,
    store: false,
    poll: config.poll,
  });
  await server.start();
  const startMs = performance.now() - t0;
  reply({ type: 'started', startMs, probes: server.server.describe().length, threadpool: process.env.UV_THREADPOOL_SIZE ?? null });
  if (config.mode === 'blocking') blockingTimer = setInterval(blockingRound, config.blockingEveryMs);

  await sleep(config.settleMs);

  // The measurement window.
  resetReads();
  Object.assign(blocking, { rounds: 0, files: 0, failures: 0, firstProblem: null, msMax: 0, msSum: 0 });
  Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0, maxKind: null });
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  reply({ type: 'window' });
  const windowStart = Date.now();
  const p0 = performance.now();
  watchStalls(p0);
  histogram.reset();
  histogram.enable();
  await sleep(config.durationMs);
  histogram.disable();
  clearInterval(stallTimer);
  const elapsedMs = performance.now() - p0;
  const windowEnd = Date.now();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);

  const latencies = reads.latenciesMs.sort((a, b) => a - b);
  reply({
    type: 'result',
    window: { start: windowStart, end: windowEnd, elapsedMs },
    startMs,
    delay: {
      minMs: ns(histogram.min),
      p50Ms: ns(histogram.percentile(50)),
      p90Ms: ns(histogram.percentile(90)),
      p99Ms: ns(histogram.percentile(99)),
      maxMs: ns(histogram.max),
      meanMs: ns(histogram.mean),
      samples: histogram.count,
      stalls,
    },
    eluPct: 100 * elu.utilization,
    cpuPct: (100 * (cpu.user + cpu.system)) / 1000 / elapsedMs,
    reads: {
      started: reads.started,
      completed: reads.completed,
      perSecond: (reads.completed * 1000) / elapsedMs,
      ok: reads.ok,
      bad: reads.bad,
      errors: reads.errors,
      firstProblem: reads.firstProblem,
      latencyP50Ms: quantile(latencies, 0.5),
      latencyP99Ms: quantile(latencies, 0.99),
      latencyMaxMs: latencies[latencies.length - 1] ?? NaN,
      maxInFlight: reads.maxInFlight,
      inFlightAtEnd: reads.inFlight,
    },
    blocking: config.mode === 'blocking' ? { ...blocking, meanMs: blocking.msSum / blocking.rounds, filesPerSecond: (blocking.files * 1000) / elapsedMs } : null,
    gc: { ...gc, maxKind: GC_KINDS[gc.maxKind] ?? gc.maxKind },
    rssMiB: process.memoryUsage().rss / 1048576,
    heapUsedMiB: process.memoryUsage().heapUsed / 1048576,
  });
} catch (err) {
  reply({ type: 'error', message: err?.stack ?? String(err) });
  await stop();
}
