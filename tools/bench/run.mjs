#!/usr/bin/env node
// Benchmarks of @raspy/mdp's broker against a raw zeromq.js proxy baseline
// measured in the same run. See tools/bench/README.md.
//
//   node tools/bench/run.mjs [--quick] [--profile] [--pin split|same|none] [--only sync,pipelined,scale,titanic,onewire]
//
//   --quick     short runs (smoke test, < 30 s)
//   --profile   run every broker under `node --cpu-prof` and print their top functions
//   --pin       split (default): broker on core 0, clients and workers on core 1;
//               same: everything on core 0; none: let the OS schedule
//   --only      a comma-separated subset of the benchmarks; `titanic` (not in the
//               default set) runs titanic.mjs (durable round trips) with the same
//               --quick, --profile and --pin; `onewire` (not in the default set either)
//               runs onewire.mjs (event loop delay while polling 1-Wire probes) with
//               the same --quick and --pin
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MdpClient } from '@raspy/mdp';
import { combineSlices, cpuMsOf, endChild, establishedOn, firstJsonLine, median, memoryOf, pinningPlan, portOf, sleep, startNode } from './lib.mjs';
import { summarizeProfile } from './profile-summary.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    pin: { type: 'string', default: 'split' },
    only: { type: 'string', default: 'sync,pipelined,scale' },
  },
});
const only = new Set(flags.only.split(',').map((s) => s.trim()));
const brokerBenchmarks = ['sync', 'pipelined', 'scale'].some((name) => only.has(name));

const PLAN = flags.quick
  ? { warmupMs: 300, sliceMs: 500, slicesPerRun: 1, reps: 3, inflight: 100, workers: 2, payloadBytes: 64, scale: { services: 10, workersPerService: 100, clients: 1000, requestsPerClient: 1, rounds: 1 } }
  : { warmupMs: 2000, sliceMs: 1000, slicesPerRun: 4, reps: 3, inflight: 100, workers: 2, payloadBytes: 64, scale: { services: 10, workersPerService: 100, clients: 1000, requestsPerClient: 3, rounds: 3 } };

// Targets: ours compared with the raw proxy.
const TARGETS = { syncP50MaxRatio: 1.5, pipelinedMinRatio: 0.75 };

const BROKERS = {
  raw: {
    label: 'raw proxy, 2 ROUTERs',
    script: join(here, 'broker-raw.mjs'),
    args: [],
    endpoints: (info) => ({ clientEndpoint: info.frontend, workerEndpoint: info.backend }),
  },
  raw1: {
    label: 'raw proxy, 1 ROUTER',
    script: join(here, 'broker-raw.mjs'),
    args: ['--single'],
    endpoints: (info) => ({ clientEndpoint: info.frontend, workerEndpoint: info.backend }),
  },
  ours: {
    label: '@raspy/mdp MdpBroker',
    script: join(here, 'broker-mdp.mjs'),
    args: [],
    endpoints: (info) => ({ clientEndpoint: info.endpoint, workerEndpoint: info.endpoint }),
  },
};
// The target baseline is `raw` (frontend + backend ROUTER); `raw1` is shown
// for reference in the round-trip benchmarks.
const KINDS = ['raw', 'ours'];
const RR_KINDS = ['raw', 'raw1', 'ours'];

if (!['split', 'same', 'none'].includes(flags.pin)) throw new Error(`--pin must be split, same or none, not "${flags.pin}"`);
const pin = pinningPlan(flags.pin);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = join(here, 'results');
const profDir = join(resultsDir, `prof-${stamp}`);
const children = new Set();
const notes = [];

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function startBroker(kind, phase) {
  const nodeArgs = ['--expose-gc'];
  if (flags.profile) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${kind}-${phase}.cpuprofile`);
  const child = track(startNode(BROKERS[kind].script, BROKERS[kind].args, { core: pin?.broker ?? null, nodeArgs, cwd: root }));
  const info = await firstJsonLine(child, BROKERS[kind].label);
  return { child, pid: info.pid, ...BROKERS[kind].endpoints(info) };
}

function startLoad(config) {
  return track(startNode(join(here, 'load.mjs'), [JSON.stringify(config)], { core: pin?.load ?? null, ipc: true, cwd: root }));
}

async function expectMessage(child, type) {
  const m = await child.nextMessage();
  if (m?.type === 'error') throw new Error(`load: ${m.message}`);
  if (m?.type !== type) throw new Error(`load: expected "${type}", got ${JSON.stringify(m)}`);
  return m;
}

async function stopChild(child, message, signal = true) {
  const note = await endChild(child, { message, signal });
  if (note !== null) notes.push(note);
}

// ------------------------------------------------------------ 1 + 2

const METRICS = ['p50us', 'p99us', 'rps', 'brokerCpuUsPerReq', 'brokerCpuPct', 'loadCpuPct'];

/** Medians over the runs, errors summed. */
function summarize(runs) {
  const out = { runs };
  for (const k of METRICS) out[k] = median(runs.map((r) => r[k]));
  out.errors = runs.reduce((n, r) => n + r.errors, 0);
  return out;
}

async function roundTrips() {
  const env = {};
  try {
    for (const kind of RR_KINDS) {
      const broker = await startBroker(kind, 'roundtrip');
      const load = startLoad({
        mode: 'rr',
        clientEndpoint: broker.clientEndpoint,
        workerEndpoint: broker.workerEndpoint,
        brokerPid: broker.pid,
        workers: PLAN.workers,
        service: 'echo',
        payloadBytes: PLAN.payloadBytes,
        maxSockets: PLAN.inflight + 28,
      });
      env[kind] = { broker, load };
      await expectMessage(load, 'ready');
    }
    const ask = async (kind, cmd) => (await env[kind].load.ask(cmd)).result;
    process.stderr.write('warming up');
    for (const kind of RR_KINDS) {
      await ask(kind, { cmd: 'sync', ms: PLAN.warmupMs });
      await ask(kind, { cmd: 'pipelined', inflight: PLAN.inflight, ms: PLAN.warmupMs });
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    const out = {};
    for (const [name, cmd] of [
      ['sync', { cmd: 'sync', ms: PLAN.sliceMs }],
      ['pipelined', { cmd: 'pipelined', inflight: PLAN.inflight, ms: PLAN.sliceMs }],
    ]) {
      if (!only.has(name)) continue;
      const runs = Object.fromEntries(RR_KINDS.map((k) => [k, []]));
      for (let rep = 0; rep < PLAN.reps; rep++) {
        // A run is made of short slices, the brokers taking turns slice by
        // slice (in alternating order), so that the noise of a shared machine
        // falls on all of them alike.
        const slices = Object.fromEntries(RR_KINDS.map((k) => [k, []]));
        for (let i = 0; i < PLAN.slicesPerRun; i++) {
          for (const kind of i % 2 === 0 ? RR_KINDS : [...RR_KINDS].reverse()) slices[kind].push(await ask(kind, cmd));
        }
        for (const kind of RR_KINDS) {
          const r = combineSlices(slices[kind]);
          runs[kind].push(r);
          process.stderr.write(`${name} run ${rep + 1}/${PLAN.reps} ${kind.padEnd(4)} p50 ${r.p50us.toFixed(0)} us  p99 ${r.p99us.toFixed(0)} us  ${r.rps.toFixed(0)} req/s\n`);
        }
      }
      out[name] = Object.fromEntries(RR_KINDS.map((k) => [k, summarize(runs[k])]));
      // Paired per-run ratios (same run, same time) next to the ratio of medians.
      out[name].pairedRatios = runs.ours.map((o, i) => ({ p50: o.p50us / runs.raw[i].p50us, rps: o.rps / runs.raw[i].rps }));
    }
    return out;
  } finally {
    for (const kind of RR_KINDS) {
      if (env[kind]?.load) await stopChild(env[kind].load, { cmd: 'close' });
      if (env[kind]?.broker) await stopChild(env[kind].broker.child, null);
    }
  }
}

// ------------------------------------------------------------ 3

const mem = (pid) => memoryOf(pid) ?? { rssKiB: NaN, hwmKiB: NaN };

/** The broker's V8 heap in use after a full GC, in KiB (it answers SIGUSR2 with a JSON line). */
async function heapOf(broker) {
  broker.child.kill('SIGUSR2');
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve(null), 5000)));
  const line = await Promise.race([broker.child.lines.next(), late]);
  clearTimeout(timer);
  return line?.value ? JSON.parse(line.value).heapUsed / 1024 : NaN;
}

async function registeredWorkers(endpoint) {
  const client = new MdpClient({ endpoint, timeout: 5000, retries: 0 });
  try {
    const [status, json] = await client.request('mmi.stats', '');
    return status.toString() === '200' ? JSON.parse(json.toString()).workers : null;
  } catch {
    return null;
  } finally {
    await client.close();
  }
}

/** One round: 1000 workers connect, 1000 clients do their requests, everything disconnects. */
async function scaleRound(kind, broker) {
  const s = PLAN.scale;
  const workers = s.services * s.workersPerService;
  let load = startLoad({
    mode: 'scale',
    clientEndpoint: broker.clientEndpoint,
    workerEndpoint: broker.workerEndpoint,
    brokerPid: broker.pid,
    ...s,
    maxSockets: workers + s.clients + 100,
  });
  try {
    const started = await expectMessage(load, 'workers-started');
    // Wait until every worker's TCP connection is up (seen in /proc/net/tcp),
    // then a moment more for the broker to read the READYs.
    const workerPort = portOf(broker.workerEndpoint);
    const t0 = performance.now();
    let connected = 0;
    while ((connected = establishedOn(workerPort)) < workers && performance.now() - t0 < 20_000) await sleep(50);
    const connectMs = performance.now() - t0 + started.ms;
    if (connected < workers) notes.push(`scale ${kind}: only ${connected} of ${workers} worker connections came up within 20 s`);
    await sleep(300);
    const withWorkers = mem(broker.pid);
    const cpu0 = cpuMsOf(broker.pid);
    load.send({ cmd: 'clients' });
    const done = await expectMessage(load, 'done');
    const brokerCpuMs = cpuMsOf(broker.pid) - cpu0;
    const afterRequests = mem(broker.pid);
    const registered = kind === 'ours' ? await registeredWorkers(broker.clientEndpoint) : null;
    load.send({ cmd: 'close' });
    const closed = await expectMessage(load, 'closed');
    // It exits by itself once its sockets have flushed (the workers' DISCONNECTs).
    await stopChild(load, null, false);
    load = null;
    await sleep(500);
    const afterClose = mem(broker.pid);
    const heapAfterClose = await heapOf(broker);
    return {
      workers,
      clients: s.clients,
      workersConnected: connected,
      connectWorkersMs: connectMs,
      registeredWorkers: registered,
      ...done,
      brokerCpuMs,
      closeMs: closed.ms,
      rssKiB: {
        withWorkers: withWorkers.rssKiB,
        afterRequests: afterRequests.rssKiB,
        afterClose: afterClose.rssKiB,
        // VmHWM lags VmRSS a little (both are sampled counters).
        peak: Math.max(afterClose.hwmKiB, withWorkers.rssKiB, afterRequests.rssKiB, afterClose.rssKiB),
      },
      heapUsedKiBAfterClose: heapAfterClose,
    };
  } finally {
    if (load !== null) await stopChild(load, { cmd: 'close' });
  }
}

/** Scale rounds against one broker process; later rounds show whether memory keeps growing. */
async function scaleOne(kind) {
  const broker = await startBroker(kind, 'scale');
  try {
    await sleep(300);
    const idle = mem(broker.pid);
    const idleHeap = await heapOf(broker);
    const rounds = [];
    for (let i = 0; i < PLAN.scale.rounds; i++) {
      process.stderr.write(`scale: ${kind} round ${i + 1}/${PLAN.scale.rounds}\n`);
      rounds.push(await scaleRound(kind, broker));
    }
    const first = rounds[0];
    return { ...first, rssKiB: { idle: idle.rssKiB, ...first.rssKiB }, heapUsedKiBIdle: idleHeap, rounds };
  } finally {
    await stopChild(broker.child, null);
  }
}

async function scale() {
  const out = {};
  for (const kind of KINDS) {
    out[kind] = await scaleOne(kind);
  }
  return out;
}

// ------------------------------------------------------------ titanic

/** Runs titanic.mjs (its own processes, table and JSON) and resolves with its exit code. */
function titanic() {
  const args = [join(here, 'titanic.mjs'), '--pin', flags.pin];
  if (flags.quick) args.push('--quick');
  if (flags.profile) args.push('--profile');
  const child = track(spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] }));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
}

// ------------------------------------------------------------ onewire

/** Runs onewire.mjs (its own processes, table and JSON) and resolves with its exit code. */
function onewire() {
  const args = [join(here, 'onewire.mjs'), '--pin', flags.pin];
  if (flags.quick) args.push('--quick');
  const child = track(spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] }));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
}

// ------------------------------------------------------------ report

const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const ratio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');
const mib = (kib) => (Number.isFinite(kib) ? `${(kib / 1024).toFixed(1)} MiB` : '-');

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => '  ' + r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('   ')).join('\n');
}

function report(results) {
  const lines = [];
  const m = results.meta;
  lines.push(`@raspy/mdp broker benchmarks, ${m.date}`);
  lines.push(`node ${m.node}, zeromq ${m.zeromq}, ${m.cpus} cores (${m.cpuModel}), ${m.pinned ? `pinned: broker on core ${m.pin.broker}, load on core ${m.pin.load}` : 'NOT pinned'}`);
  lines.push(`${m.quick ? 'quick' : 'full'} run: medians of ${PLAN.reps} runs of ${(PLAN.sliceMs * PLAN.slicesPerRun) / 1000} s per broker (slices of ${PLAN.sliceMs / 1000} s, brokers taking turns); ${PLAN.payloadBytes} B echo, ${PLAN.workers} workers`);
  for (const [name, title] of [
    ['sync', '1. Sync round trip (1 request in flight)'],
    ['pipelined', `2. Pipelined throughput (${PLAN.inflight} requests in flight)`],
  ]) {
    const r = results[name];
    if (!r) continue;
    lines.push('', title);
    const row = (label, x) => [label, f0(x.p50us), f0(x.p99us), f0(x.rps), f1(x.brokerCpuUsPerReq), f0(x.brokerCpuPct), f0(x.loadCpuPct), f0(x.errors)];
    lines.push(
      table([
        ['', 'p50 us', 'p99 us', 'req/s', 'broker CPU us/req', 'broker CPU %', 'load CPU %', 'errors'],
        ...RR_KINDS.map((k) => row(BROKERS[k].label, r[k])),
        ...['raw', 'raw1'].map((k) => [
          `ours / ${BROKERS[k].label}`,
          ratio(r.ours.p50us / r[k].p50us),
          ratio(r.ours.p99us / r[k].p99us),
          ratio(r.ours.rps / r[k].rps),
          ratio(r.ours.brokerCpuUsPerReq / r[k].brokerCpuUsPerReq),
          '',
          '',
          '',
        ]),
      ]),
    );
    const t = r.target;
    lines.push(`  target: ${t.text}: ${t.pass ? 'PASS' : 'MISS'} (${ratio(t.value)}; per run ${t.paired.map(ratio).join(', ')})`);
  }
  if (results.scale) {
    const s = results.scale;
    const p = PLAN.scale;
    lines.push('', `3. Scale (${p.services} services x ${p.workersPerService} workers, ${p.clients} clients x ${p.requestsPerClient} requests, all at once${p.rounds > 1 ? `; ${p.rounds} rounds on the same broker, first shown` : ''})`);
    const row = (label, x) => [
      label,
      mib(x.rssKiB.idle),
      mib(x.rssKiB.withWorkers),
      mib(x.rssKiB.afterRequests),
      mib(x.rssKiB.peak),
      mib(x.rssKiB.afterClose),
      `${x.answered}/${x.requests}`,
      `${x.distinctWorkers}/${x.workers}`,
      f0(x.connectWorkersMs),
      f0(x.ms),
      f0(x.brokerCpuMs),
    ];
    lines.push(
      table([
        ['', 'RSS idle', `+${p.services * p.workersPerService} workers`, 'after requests', 'peak', 'after close', 'answered', 'workers used', 'connect ms', 'requests ms', 'broker CPU ms'],
        row(BROKERS.raw.label, s.raw),
        row(BROKERS.ours.label, s.ours),
      ]),
    );
    if (p.rounds > 1) {
      for (const kind of KINDS) {
        const r = s[kind].rounds;
        lines.push(`  ${BROKERS[kind].label}, RSS after each round's requests: ${r.map((x) => mib(x.rssKiB.afterRequests)).join(', ')}; after close: ${r.map((x) => mib(x.rssKiB.afterClose)).join(', ')}; JS heap idle ${mib(s[kind].heapUsedKiBIdle)}, after each close ${r.map((x) => mib(x.heapUsedKiBAfterClose)).join(', ')}; answered ${r.map((x) => `${x.answered}/${x.requests}`).join(', ')}`);
      }
    }
    if (s.ours.registeredWorkers !== null) lines.push(`  mmi.stats: ${s.ours.registeredWorkers} workers registered with our broker`);
    for (const kind of KINDS) {
      for (const [i, r] of s[kind].rounds.entries()) if (r.failed > 0) lines.push(`  ${kind} round ${i + 1}: ${r.failed} requests failed, first: ${r.firstError}`);
    }
    lines.push(`  target: every request answered: ${s.target.pass ? 'PASS' : 'FAIL'}`);
  }
  if (notes.length > 0) lines.push('', 'Notes:', ...notes.map((n) => `  ${n}`));
  return lines.join('\n');
}

// ------------------------------------------------------------ main

const zmqVersion = createRequire(import.meta.url)('zeromq/package.json').version;
const results = {
  meta: {
    date: new Date().toISOString(),
    node: process.version,
    zeromq: zmqVersion,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    pinned: pin !== null,
    pinMode: pin === null ? 'none' : flags.pin,
    pin,
    quick: flags.quick,
    plan: PLAN,
    targets: TARGETS,
  },
};

let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => process.exit(130), 3000).unref();
});

let exitCode = 0;
try {
  const t0 = performance.now();
  if (only.has('sync') || only.has('pipelined')) {
    Object.assign(results, await roundTrips());
    if (results.sync) {
      const s = results.sync;
      const value = s.ours.p50us / s.raw.p50us;
      s.target = { text: `ours p50 <= ${TARGETS.syncP50MaxRatio}x raw proxy (2 ROUTERs) p50`, value, pass: value <= TARGETS.syncP50MaxRatio, paired: s.pairedRatios.map((x) => x.p50) };
    }
    if (results.pipelined) {
      const p = results.pipelined;
      const value = p.ours.rps / p.raw.rps;
      p.target = { text: `ours req/s >= ${TARGETS.pipelinedMinRatio}x raw proxy (2 ROUTERs) req/s`, value, pass: value >= TARGETS.pipelinedMinRatio, paired: p.pairedRatios.map((x) => x.rps) };
    }
  }
  if (only.has('scale') && !interrupted) {
    results.scale = await scale();
    results.scale.target = { pass: KINDS.every((k) => results.scale[k].rounds.every((r) => r.answered === r.requests)) };
  }
  results.meta.durationS = (performance.now() - t0) / 1000;
  results.meta.notes = notes;

  if (brokerBenchmarks && flags.profile) {
    results.profiles = {};
    for (const file of readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
      const summary = summarizeProfile(join(profDir, file), 15);
      results.profiles[file] = summary;
    }
  }

  if (brokerBenchmarks) console.log(report(results));
  if (results.profiles) {
    for (const [file, summary] of Object.entries(results.profiles)) {
      console.log(`\nCPU profile ${relative(root, join(profDir, file))}: top functions by self time (${summary.totalMs.toFixed(0)} ms sampled)`);
      console.log(summary.text);
    }
  }
  if (brokerBenchmarks) {
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `${stamp}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nresults: ${relative(root, file)} (${results.meta.durationS.toFixed(0)} s)`);
  }
  const errors = ['sync', 'pipelined'].some((n) => results[n] && RR_KINDS.some((k) => results[n][k].errors > 0));
  if (errors || (results.scale && !results.scale.target.pass)) exitCode = 1;
  if (only.has('titanic') && !interrupted) {
    if (brokerBenchmarks) console.log('');
    if ((await titanic()) !== 0) exitCode = 1;
  }
  if (only.has('onewire') && !interrupted) {
    if (brokerBenchmarks || only.has('titanic')) console.log('');
    if ((await onewire()) !== 0) exitCode = 1;
  }
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  for (const child of [...children]) await stopChild(child, null);
}
process.exitCode = exitCode;
