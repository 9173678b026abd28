#!/usr/bin/env node
// Benchmark of durable round trips through @raspy/titanic (9/TSP) against
// plain MDP requests measured in the same run. See tools/bench/README.md.
//
//   node tools/bench/titanic.mjs [--quick] [--profile] [--pin split|same|none]
//        [--titanic-core broker|load] [--interval ms] [--data-parent dir]
//        [--request-workers n] [--reply-workers n] [--concurrency n] [--poll-delay ms]
//
//   --quick         short runs (smoke test, < 30 s)
//   --profile       run broker, Titanic and load under `node --cpu-prof` and print their top functions
//   --pin           split (default): broker on core 0, load (clients and echo workers) on core 1;
//                   same: everything on core 0; none: let the OS schedule
//   --titanic-core  with --pin split, the core of the Titanic process: that of the
//                   broker (0) or of the load (1, the default)
//   --interval      first polling interval of TitanicClient.wait() in ms (default 1)
//   --data-parent   where the journal's temp directory goes (default os.tmpdir(), a real disk here;
//                   /dev/shm makes fsync nearly free, to tell its cost from the rest)
//   --request-workers, --reply-workers, --concurrency
//                   TitanicServer's requestWorkers, replyWorkers and dispatcher concurrency
//                   (default: the library's defaults, 16, 4 and 16)
//   --poll-delay    experiment: sleep this many ms between titanic.request and wait()
//                   (whose first poll is immediate); default 0 (off)
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMsOf, endChild, firstJsonLine, median, pinningPlan, quantile, startNode } from './lib.mjs';
import { summarizeProfile } from './profile-summary.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    pin: { type: 'string', default: 'split' },
    'titanic-core': { type: 'string', default: 'load' },
    interval: { type: 'string', default: '1' },
    'data-parent': { type: 'string', default: tmpdir() },
    'request-workers': { type: 'string' },
    'reply-workers': { type: 'string' },
    concurrency: { type: 'string' },
    'poll-delay': { type: 'string', default: '0' },
  },
});

function optionalInt(name) {
  if (flags[name] === undefined) return undefined;
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not "${flags[name]}"`);
  return n;
}

const PLAN = {
  ...(flags.quick ? { warmupMs: 300, sliceMs: 400, slicesPerRun: 2, reps: 3 } : { warmupMs: 1500, sliceMs: 1000, slicesPerRun: 4, reps: 3 }),
  inflight: 100,
  workers: 4,
  payloadBytes: 64,
  interval: Number(flags.interval),
  pollDelay: Number(flags['poll-delay']),
  // TitanicServer options; undefined = the library's default.
  titanic: {
    requestWorkers: optionalInt('request-workers'),
    replyWorkers: optionalInt('reply-workers'),
    dispatcher: flags.concurrency === undefined ? undefined : { concurrency: optionalInt('concurrency') },
  },
};
// Durable round trips per second at least this fraction of plain MDP requests per second (100 in flight).
const TARGET_MIN_RATIO = 0.25;

// The four kinds of load, measured in turns.
const KINDS = {
  plain100: { label: `plain MDP, ${PLAN.inflight} in flight`, cmd: { cmd: 'plain', inflight: PLAN.inflight } },
  durable100: { label: `durable, ${PLAN.inflight} in flight`, cmd: { cmd: 'durable', inflight: PLAN.inflight } },
  plain1: { label: 'plain MDP, 1 in flight', cmd: { cmd: 'plain', inflight: 1 } },
  durable1: { label: 'durable, 1 in flight', cmd: { cmd: 'durable', inflight: 1 } },
};
const KIND_NAMES = Object.keys(KINDS);

if (!['split', 'same', 'none'].includes(flags.pin)) throw new Error(`--pin must be split, same or none, not "${flags.pin}"`);
if (!['broker', 'load'].includes(flags['titanic-core'])) throw new Error(`--titanic-core must be broker or load, not "${flags['titanic-core']}"`);
if (!(PLAN.pollDelay >= 0)) throw new Error(`--poll-delay must be a number of ms >= 0, not "${flags['poll-delay']}"`);
if (!(PLAN.interval > 0)) throw new Error(`--interval must be a positive number of ms, not "${flags.interval}"`);
const pin = pinningPlan(flags.pin);
if (pin !== null) pin.titanic = flags['titanic-core'] === 'broker' ? pin.broker : pin.load;

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = join(here, 'results');
const profDir = join(resultsDir, `prof-titanic-${stamp}`);
const children = new Set();
const notes = [];

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function nodeArgs(name) {
  return flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
}

async function expectMessage(child, type, what) {
  const m = await child.nextMessage();
  if (m?.type === 'error') throw new Error(`${what}: ${m.message}`);
  if (m?.type !== type) throw new Error(`${what}: expected "${type}", got ${JSON.stringify(m)}`);
  return m;
}

async function stopChild(child, message, signal = true) {
  const note = await endChild(child, { message, signal });
  if (note !== null) notes.push(note);
}

// ------------------------------------------------------------ measurement

/** One slice of one kind: the load's figures plus CPU of every process and Titanic's counters. */
async function measureSlice(env, kind) {
  const { broker, titanic, load } = env;
  const before = (await titanic.ask({ cmd: 'stats' })).stats;
  const cpu0 = { broker: cpuMsOf(broker.pid), titanic: cpuMsOf(titanic.pid), load: cpuMsOf(load.pid) };
  const r = (await load.ask({ ...KINDS[kind].cmd, ms: PLAN.sliceMs })).result;
  const cpu1 = { broker: cpuMsOf(broker.pid), titanic: cpuMsOf(titanic.pid), load: cpuMsOf(load.pid) };
  const after = (await titanic.ask({ cmd: 'stats' })).stats;
  return {
    ...r,
    cpuMs: { broker: cpu1.broker - cpu0.broker, titanic: cpu1.titanic - cpu0.titanic, load: cpu1.load - cpu0.load },
    syncs: after.syncs - before.syncs,
    executed: after.executed - before.executed,
    retried: after.retried - before.retried,
    openAfter: after.open,
  };
}

const PROCS = ['broker', 'titanic', 'load'];

/** Slices of one kind in one run, combined: counts, times and CPU summed, latencies pooled. */
function combine(slices) {
  const sum = (f) => slices.reduce((n, s) => n + f(s), 0);
  const pool = (key) => slices.flatMap((s) => s[key]).sort((a, b) => a - b);
  const count = sum((s) => s.count);
  const elapsedMs = sum((s) => s.elapsedMs);
  const latencies = pool('latenciesUs');
  const out = {
    slices: slices.length,
    count,
    errors: sum((s) => s.errors),
    firstError: slices.find((s) => s.firstError !== null)?.firstError ?? null,
    elapsedMs,
    rps: (count * 1000) / elapsedMs,
    p50us: quantile(latencies, 0.5),
    p99us: quantile(latencies, 0.99),
    maxUs: latencies[latencies.length - 1],
    pollsPerReq: sum((s) => s.polls) / count,
    syncsPerReq: sum((s) => s.syncs) / count,
    executed: sum((s) => s.executed),
    retried: sum((s) => s.retried),
    openAfter: slices[slices.length - 1].openAfter,
  };
  for (const phase of ['request', 'wait', 'close']) {
    const v = pool(`${phase}Us`);
    out[`${phase}P50us`] = quantile(v, 0.5);
  }
  for (const p of PROCS) {
    const ms = sum((s) => s.cpuMs[p]);
    out[`${p}CpuUsPerReq`] = (ms * 1000) / count;
    out[`${p}CpuPct`] = (100 * ms) / elapsedMs;
  }
  return out;
}

const METRICS = [
  'rps',
  'p50us',
  'p99us',
  'pollsPerReq',
  'syncsPerReq',
  'requestP50us',
  'waitP50us',
  'closeP50us',
  ...PROCS.flatMap((p) => [`${p}CpuUsPerReq`, `${p}CpuPct`]),
];

/** Medians over the runs; errors, executions and retries summed. */
function summarize(runs) {
  const out = { runs };
  for (const k of METRICS) out[k] = median(runs.map((r) => r[k]));
  for (const k of ['count', 'errors', 'executed', 'retried']) out[k] = runs.reduce((n, r) => n + r[k], 0);
  out.firstError = runs.find((r) => r.firstError !== null)?.firstError ?? null;
  out.openAfter = runs[runs.length - 1].openAfter;
  return out;
}

async function bench(dataDir) {
  const env = {};
  try {
    const brokerChild = track(startNode(join(here, 'broker-mdp.mjs'), [], { core: pin?.broker ?? null, nodeArgs: nodeArgs('broker'), cwd: root }));
    const info = await firstJsonLine(brokerChild, 'broker');
    env.broker = { child: brokerChild, pid: info.pid, endpoint: info.endpoint };

    const titanic = track(
      startNode(join(here, 'titanic-server.mjs'), [JSON.stringify({ broker: info.endpoint, dataDir, heartbeat: 60_000, ...PLAN.titanic })], {
        core: pin?.titanic ?? null,
        nodeArgs: nodeArgs('titanic'),
        ipc: true,
        cwd: root,
      }),
    );
    env.titanic = titanic;
    titanic.pid = (await expectMessage(titanic, 'ready', 'titanic')).pid;

    const load = track(
      startNode(
        join(here, 'titanic-load.mjs'),
        [
          JSON.stringify({
            endpoint: info.endpoint,
            service: 'echo',
            workers: PLAN.workers,
            payloadBytes: PLAN.payloadBytes,
            maxSockets: PLAN.inflight + 28,
            interval: PLAN.interval,
            pollDelay: PLAN.pollDelay,
            heartbeat: 60_000,
          }),
        ],
        { core: pin?.load ?? null, nodeArgs: nodeArgs('load'), ipc: true, cwd: root },
      ),
    );
    env.load = load;
    await expectMessage(load, 'ready', 'load');

    process.stderr.write('warming up');
    for (const kind of KIND_NAMES) {
      await load.ask({ ...KINDS[kind].cmd, ms: PLAN.warmupMs });
      process.stderr.write('.');
    }
    process.stderr.write('\n');

    const runs = Object.fromEntries(KIND_NAMES.map((k) => [k, []]));
    for (let rep = 0; rep < PLAN.reps; rep++) {
      // A run is made of short slices, the kinds taking turns slice by slice
      // (in alternating order), so that the noise of a shared machine falls
      // on all of them alike.
      const slices = Object.fromEntries(KIND_NAMES.map((k) => [k, []]));
      for (let i = 0; i < PLAN.slicesPerRun; i++) {
        for (const kind of i % 2 === 0 ? KIND_NAMES : [...KIND_NAMES].reverse()) slices[kind].push(await measureSlice(env, kind));
      }
      for (const kind of KIND_NAMES) {
        const r = combine(slices[kind]);
        runs[kind].push(r);
        const durable = kind.startsWith('durable') ? `  ${r.syncsPerReq.toFixed(2)} fsyncs/req  ${r.pollsPerReq.toFixed(2)} polls/req` : '';
        process.stderr.write(
          `run ${rep + 1}/${PLAN.reps} ${kind.padEnd(10)} ${r.rps.toFixed(0).padStart(5)} req/s  p50 ${(r.p50us / 1000).toFixed(2)} ms  p99 ${(r.p99us / 1000).toFixed(2)} ms${durable}${r.errors ? `  ${r.errors} ERRORS` : ''}\n`,
        );
      }
    }
    const out = Object.fromEntries(KIND_NAMES.map((k) => [k, summarize(runs[k])]));
    out.ratio = {
      durablePlain100: out.durable100.rps / out.plain100.rps,
      durablePlain1: out.durable1.rps / out.plain1.rps,
      durable100Durable1: out.durable100.rps / out.durable1.rps,
      perRun100: runs.durable100.map((d, i) => d.rps / runs.plain100[i].rps),
      perRun1: runs.durable1.map((d, i) => d.rps / runs.plain1[i].rps),
    };
    out.target = { text: `durable req/s >= ${TARGET_MIN_RATIO}x plain MDP req/s (${PLAN.inflight} in flight)`, value: out.ratio.durablePlain100, pass: out.ratio.durablePlain100 >= TARGET_MIN_RATIO };
    out.finalStats = (await titanic.ask({ cmd: 'stats' })).stats;
    return out;
  } finally {
    // Load first (its workers and clients leave), then Titanic (journal closed), then the broker.
    if (env.load) await stopChild(env.load, { cmd: 'close' });
    if (env.titanic) await stopChild(env.titanic, { cmd: 'stop' });
    if (env.broker) await stopChild(env.broker.child, null);
  }
}

// ------------------------------------------------------------ report

const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const ms2 = (us) => (Number.isFinite(us) ? (us / 1000).toFixed(2) : '-');
const ratio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => '  ' + r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('   ')).join('\n');
}

function report(results) {
  const m = results.meta;
  const r = results.titanic;
  const pinText = m.pinned ? `pinned: broker on core ${m.pin.broker}, Titanic on core ${m.pin.titanic}, load on core ${m.pin.load}` : 'NOT pinned';
  const lines = [
    `@raspy/titanic durable round trips, ${m.date}${m.commit ? ` (commit ${m.commit})` : ''}`,
    `node ${m.node}, zeromq ${m.zeromq}, ${m.cpus} cores (${m.cpuModel}), ${pinText}`,
    `${m.quick ? 'quick' : 'full'} run: medians of ${PLAN.reps} runs of ${(PLAN.sliceMs * PLAN.slicesPerRun) / 1000} s per kind (slices of ${PLAN.sliceMs / 1000} s, kinds taking turns); ` +
      `${PLAN.payloadBytes} B echo, ${PLAN.workers} workers; journal in ${m.dataDirParent} (fsync on); wait() interval ${PLAN.interval} ms (doubling)${PLAN.pollDelay > 0 ? `; EXPERIMENT: ${PLAN.pollDelay} ms sleep before wait()` : ''}`,
    `Titanic: ${PLAN.titanic.requestWorkers ?? '16 (default)'} titanic.request workers, ${PLAN.titanic.replyWorkers ?? '4 (default)'} titanic.reply and titanic.close workers each, dispatcher concurrency ${PLAN.titanic.dispatcher?.concurrency ?? '16 (default)'}`,
    '',
    table([
      ['', 'req/s', 'p50 ms', 'p99 ms', 'fsyncs/req', 'polls/req', 'store/wait/close p50 ms', 'CPU us/req broker/Titanic/load', 'CPU % broker/Titanic/load', 'errors'],
      ...KIND_NAMES.map((k) => {
        const x = r[k];
        const durable = k.startsWith('durable');
        return [
          KINDS[k].label,
          f0(x.rps),
          ms2(x.p50us),
          ms2(x.p99us),
          durable ? f2(x.syncsPerReq) : '',
          durable ? f2(x.pollsPerReq) : '',
          durable ? `${ms2(x.requestP50us)} / ${ms2(x.waitP50us)} / ${ms2(x.closeP50us)}` : '',
          PROCS.map((p) => f0(x[`${p}CpuUsPerReq`])).join(' / '),
          PROCS.map((p) => f0(x[`${p}CpuPct`])).join(' / '),
          f0(x.errors),
        ];
      }),
    ]),
    '',
    `  durable / plain, ${PLAN.inflight} in flight: ${ratio(r.ratio.durablePlain100)} (per run ${r.ratio.perRun100.map(ratio).join(', ')})`,
    `  durable / plain, 1 in flight:   ${ratio(r.ratio.durablePlain1)} (per run ${r.ratio.perRun1.map(ratio).join(', ')})`,
    `  durable, ${PLAN.inflight} in flight / 1 in flight: ${ratio(r.ratio.durable100Durable1)}`,
    `  target: ${r.target.text}: ${r.target.pass ? 'PASS' : 'MISS'} (${ratio(r.target.value)})`,
    `  Titanic at the end: ${r.finalStats.open} open, ${r.finalStats.executed} executed, ${r.finalStats.retried} retried, ${r.finalStats.syncs} fsyncs`,
  ];
  for (const k of KIND_NAMES) if (r[k].firstError) lines.push(`  ${k}: first error: ${r[k].firstError.split('\n')[0]}`);
  if (notes.length > 0) lines.push('', 'Notes:', ...notes.map((n) => `  ${n}`));
  return lines.join('\n');
}

// ------------------------------------------------------------ main

const zmqVersion = createRequire(import.meta.url)('zeromq/package.json').version;
let commit = null;
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // not a git checkout
}
const results = {
  meta: {
    benchmark: 'titanic',
    date: new Date().toISOString(),
    commit,
    node: process.version,
    zeromq: zmqVersion,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    pinned: pin !== null,
    pinMode: pin === null ? 'none' : flags.pin,
    pin,
    quick: flags.quick,
    plan: PLAN,
    targetMinRatio: TARGET_MIN_RATIO,
    dataDirParent: flags['data-parent'],
  },
};

let exitCode = 0;
const dataDir = mkdtempSync(join(flags['data-parent'], 'raspy-titanic-bench-'));

// Interrupted (or stopped by run.mjs): end the children; the run then fails
// and cleans up below, or, failing that, here after 3 s.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGTERM');
    setTimeout(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(130);
    }, 3000).unref();
  });
}
try {
  const t0 = performance.now();
  results.titanic = await bench(dataDir);
  results.meta.durationS = (performance.now() - t0) / 1000;
  results.meta.notes = notes;
  if (flags.profile) {
    results.profiles = {};
    for (const file of readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).sort()) results.profiles[file] = summarizeProfile(join(profDir, file), 20);
  }
  console.log(report(results));
  if (results.profiles) {
    for (const [file, summary] of Object.entries(results.profiles)) {
      console.log(`\nCPU profile ${relative(root, join(profDir, file))}: top functions by self time (${summary.totalMs.toFixed(0)} ms sampled)`);
      console.log(summary.text);
    }
  }
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `titanic-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults: ${relative(root, file)} (${results.meta.durationS.toFixed(0)} s)`);
  if (KIND_NAMES.some((k) => results.titanic[k].errors > 0) || results.titanic.finalStats.open !== 0) exitCode = 1;
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  for (const child of [...children]) await stopChild(child, null);
  rmSync(dataDir, { recursive: true, force: true });
}
process.exitCode = exitCode;
