#!/usr/bin/env node
// Does polling 16 DS18B20 probes through @raspy/onewire keep the event loop
// free? Event loop delay of a process running a OneWireServer on a w1 sysfs
// tree, against an idle process and a deliberately blocking reader measured
// in the same run. See tools/bench/README.md.
//
//   node tools/bench/onewire.mjs [--quick] [--pin split|same|none]
//        [--scenarios idle,fast,blocking,slow,slow-tp16,blocking-slow]
//        [--delay-from read|open] [--conversion-ms 750]
//
//   --quick          5 s windows instead of 20 s (smoke test)
//   --profile        run the measured process under `node --cpu-prof` and print its top functions
//                    (profiles kept in results/prof-onewire-<timestamp>/)
//   --pin            split (default): the measured process on core 0; broker + key/value server,
//                    the FIFO writers and this script (which counts the readings) on core 1;
//                   same: everything on core 0; none: let the OS schedule
//   --scenarios      which ones, in this order (see SCENARIOS below); `slow-tpN` polls the slow
//                    tree with UV_THREADPOOL_SIZE=N, `slow-open[-tpN]` with the FIFOs' delay counted
//                    from the reader's open() instead of its read()
//   --delay-from     default for the slow scenarios: read (as the kernel) or open
//   --conversion-ms  how long a slow read takes (default 750, a DS18B20 at 12 bits)
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { KvClient } from '@raspy/kv';
import { cpuMsOf, endChild, pinningPlan, sleep, startNode } from './lib.mjs';
import { buildTree } from './onewire-fixture.mjs';
import { summarizeProfile } from './profile-summary.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const brokerMain = join(root, 'apps/broker/dist/main.js');

const DEFAULT_SCENARIOS = 'idle,fast,blocking,slow,slow-tp16,blocking-slow';
const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    pin: { type: 'string', default: 'split' },
    scenarios: { type: 'string', default: DEFAULT_SCENARIOS },
    'delay-from': { type: 'string', default: 'read' },
    'conversion-ms': { type: 'string', default: '750' },
  },
});

const PLAN = {
  ...(flags.quick ? { durationMs: 5000, settleMs: 1500 } : { durationMs: 20_000, settleMs: 3000 }),
  probes: 16,
  masters: 2,
  pollSeconds: 1,
  conversionMs: Number(flags['conversion-ms']),
  delayFrom: flags['delay-from'],
};
/** The issue's requirement: event loop delay under this while polling (max and p99 checked). */
const TARGET_MS = 20;

if (!['split', 'same', 'none'].includes(flags.pin)) throw new Error(`--pin must be split, same or none, not "${flags.pin}"`);
if (!['read', 'open'].includes(PLAN.delayFrom)) throw new Error(`--delay-from must be read or open, not "${PLAN.delayFrom}"`);
if (!(PLAN.conversionMs >= 0)) throw new Error(`--conversion-ms must be a number of ms >= 0, not "${flags['conversion-ms']}"`);

/**
 * What a scenario runs in the measured process. Every one runs a
 * OneWireServer (store off) connected to the broker and key/value server;
 * only the polling and the reading differ.
 */
function scenario(name) {
  if (name === 'idle') return { label: 'idle: 16 probes served, not polled (baseline)', tree: 'fast', mode: 'idle', poll: 0 };
  if (name === 'fast') return { label: 'polling 16 probes every 1 s, plain files', tree: 'fast', mode: 'poll', poll: PLAN.pollSeconds };
  if (name === 'blocking') {
    return { label: 'not polled; readFileSync of the 16 plain w1_slave every 1 s (contrast)', tree: 'fast', mode: 'blocking', poll: 0, blocking: 'fast' };
  }
  if (name === 'blocking-slow') {
    return { label: `not polled; readFileSync of 1 slow w1_slave every 1 s (contrast)`, tree: 'fast', slow: true, mode: 'blocking', poll: 0, blocking: 'slow1' };
  }
  const m = /^slow(-open|-read)?(?:-tp(\d+))?$/.exec(name);
  if (m) {
    const from = m[1] === undefined ? PLAN.delayFrom : m[1].slice(1);
    const threadpool = m[2] === undefined ? null : Number(m[2]);
    const fromText = from === 'read' ? '' : ', delay from open()';
    return {
      label: `polling 16 slow probes (${PLAN.conversionMs} ms) every 1 s, UV_THREADPOOL_SIZE ${threadpool ?? '4 (default)'}${fromText}`,
      tree: 'slow',
      slow: true,
      mode: 'poll',
      poll: PLAN.pollSeconds,
      threadpool,
      from,
    };
  }
  throw new Error(`unknown scenario "${name}"; known: idle, fast, blocking, blocking-slow, slow, slow-tpN, slow-open, slow-open-tpN`);
}
const NAMES = flags.scenarios.split(',').map((s) => s.trim()).filter(Boolean);
const SCENARIOS = Object.fromEntries(NAMES.map((n) => [n, scenario(n)]));

// Pinning: the measured process where pinningPlan puts "the broker" (core 0),
// everything else where it puts "the load" (core 1).
const plan = pinningPlan(flags.pin);
const pin = plan === null ? null : { measured: plan.broker, others: plan.load };
if (pin !== null) {
  // This script counts the readings (a KvClient) while measuring: keep it off the measured core.
  execFileSync('taskset', ['-a', '-p', '-c', String(pin.others), String(process.pid)], { stdio: 'ignore' });
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = join(here, 'results');
const profDir = join(resultsDir, `prof-onewire-${stamp}`);
const children = new Set();
const trees = new Set();
const notes = [];

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function removeTree(tree) {
  rmSync(tree.dir, { recursive: true, force: true });
  trees.delete(tree);
}

/** The next IPC message of a child, which must be `type`; fails after `timeoutMs`. */
async function expectMessage(child, type, what, timeoutMs = 120_000) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no "${type}" within ${timeoutMs} ms`)), timeoutMs)));
  try {
    const m = await Promise.race([child.nextMessage(), late]);
    if (m?.type === 'error') throw new Error(`${what}: ${m.message}`);
    if (m?.type !== type) throw new Error(`${what}: expected "${type}", got ${JSON.stringify(m)}`);
    return m;
  } finally {
    clearTimeout(timer);
  }
}

/** Environment of a child: ours, with UV_THREADPOOL_SIZE as given (null: unset, libuv's default 4). */
function envWith(threadpool, extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.UV_THREADPOOL_SIZE;
  if (threadpool !== null) env.UV_THREADPOOL_SIZE = String(threadpool);
  return env;
}

// ------------------------------------------------------------ broker + key/value server

async function startBroker() {
  const argv = [brokerMain, '--endpoint', 'tcp://127.0.0.1:*', '--kv-host', 'tcp://127.0.0.1', '--kv-port', '0', '--log-format', 'json'];
  const [cmd, args] = pin === null ? [process.execPath, argv] : ['taskset', ['-c', String(pin.others), process.execPath, ...argv]];
  // It logs on stderr; it also stops when our end of its stdin closes (we went away).
  const child = track(spawn(cmd, args, { cwd: root, env: envWith(null, { RASPY_STOP_WITH_PARENT: '1' }), stdio: ['pipe', 'ignore', 'pipe'] }));
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const eps = {};
  const problems = [];
  let listening;
  const ready = new Promise((resolve, reject) => {
    listening = resolve;
    child.once('exit', (code, signal) => reject(new Error(`the broker app exited (${code ?? signal}) before listening`)));
  });
  // Read its whole log (a full pipe would stall it); warnings and errors become notes.
  createInterface({ input: child.stderr }).on('line', (text) => {
    let line;
    try {
      line = JSON.parse(text);
    } catch {
      problems.push(text);
      return;
    }
    if (line.msg === 'broker listening') eps.broker = line.endpoints[0];
    else if (line.msg === 'key/value server listening') eps.kv = { snapshot: line.snapshot, publisher: line.publisher, collector: line.collector };
    else if (line.level === 'warn' || line.level === 'error') problems.push(`${line.level}: ${line.msg}`);
    if (eps.broker !== undefined && eps.kv !== undefined) listening();
  });
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('broker app: no endpoints within 15 s')), 15_000)));
  try {
    await Promise.race([ready, late]);
  } finally {
    clearTimeout(timer);
  }
  return { child, pid: child.pid, ...eps, problems };
}

// ------------------------------------------------------------ the measured core

/** Jiffies of one core (or of all, for null) from /proc/stat: busy, idle (with iowait), steal. */
function coreTimes(core) {
  try {
    const label = core === null ? 'cpu' : `cpu${core}`;
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${label} `));
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
  } catch {
    return null;
  }
}

/** Microseconds during which some task waited for a CPU (/proc/pressure/cpu), or null. */
function cpuPressureUs() {
  try {
    return Number(/^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

function coreUse(a, b) {
  if (a === null || b === null) return null;
  const busy = b.busy - a.busy;
  const idle = b.idle - a.idle;
  const steal = b.steal - a.steal;
  const total = busy + idle + steal;
  return total > 0 ? { busyPct: (100 * busy) / total, stealPct: (100 * steal) / total } : null;
}

// ------------------------------------------------------------ counting the readings

/**
 * Watches the probes' readings in the key/value tree (another process than
 * the measured one): every completed read publishes `status` (and
 * `temperature` when good); a read that took longer than the device timeout
 * publishes `$error` instead.
 */
async function startCounter(kv) {
  const client = new KvClient({ servers: kv, subtree: '/device/bench/onewire/' });
  const statuses = [];
  const errors = [];
  client.on('change', ({ key, value }) => {
    if (value === undefined) return;
    if (key.endsWith('/status')) {
      const r = JSON.parse(value.toString('utf8'));
      statuses.push({ ts: r.ts, value: r.value });
    } else if (key.endsWith('/$error')) {
      const r = JSON.parse(value.toString('utf8'));
      errors.push({ ts: r.ts, error: r.error });
    }
  });
  await client.start({ timeout: 10_000 });
  return {
    client,
    count(from, to) {
      const inWindow = (x) => x.ts >= from && x.ts < to;
      const s = statuses.filter(inWindow);
      const e = errors.filter(inWindow);
      const bad = {};
      for (const x of s) if (x.value !== 'ok') bad[x.value] = (bad[x.value] ?? 0) + 1;
      return {
        readings: s.length,
        perSecond: (s.length * 1000) / (to - from),
        ok: s.filter((x) => x.value === 'ok').length,
        bad,
        timeouts: e.length,
        firstTimeout: e[0]?.error ?? null,
      };
    },
  };
}

// ------------------------------------------------------------ one scenario

/** Opens every FIFO for writing without blocking, to end a reader stuck waiting for a writer. */
function unblockReaders(tree) {
  let n = 0;
  for (const p of tree.probes) {
    try {
      closeSync(openSync(p.file, constants.O_WRONLY | constants.O_NONBLOCK));
      n++;
    } catch {
      // ENXIO: nobody is waiting on it
    }
  }
  return n;
}

async function stopMeasured(measured, tree) {
  if (measured.exitCode !== null || measured.signalCode !== null) return null;
  if (measured.connected) measured.send({ cmd: 'stop' });
  else measured.kill('SIGTERM');
  const drained = measured.nextMessage().catch(() => null);
  let timer;
  const outcome = await Promise.race([measured.exited, new Promise((resolve) => (timer = setTimeout(() => resolve('late'), 60_000)))]);
  clearTimeout(timer);
  if (outcome === 'late') {
    // Blocked on a FIFO nobody serves any more: give it writers, then kill it.
    if (tree !== null) {
      for (let i = 0; i < 50 && measured.exitCode === null && measured.signalCode === null; i++) {
        unblockReaders(tree);
        await sleep(100);
      }
    }
    if (measured.exitCode === null && measured.signalCode === null) {
      measured.kill('SIGKILL');
      notes.push(`measured process ${measured.pid} did not exit and was killed`);
    }
    await measured.exited;
  }
  const m = await Promise.race([drained, sleep(100).then(() => null)]);
  return m?.type === 'stopped' ? m.drainMs : null;
}

async function runScenario(name, sc, fastTree) {
  const env = { broker: null, writer: null, counter: null, measured: null, control: null, slowTree: null };
  try {
    if (sc.slow) {
      env.slowTree = buildTree({ probes: PLAN.probes, masters: PLAN.masters, slow: true });
      trees.add(env.slowTree);
    }
    const tree = sc.tree === 'slow' ? env.slowTree : fastTree;
    env.broker = await startBroker();
    if (env.slowTree !== null) {
      env.writer = track(
        startNode(
          join(here, 'onewire-fifo-server.mjs'),
          [JSON.stringify({ probes: env.slowTree.probes, spareDir: env.slowTree.spareDir, delayMs: PLAN.conversionMs, from: sc.from ?? PLAN.delayFrom })],
          // One pending open per FIFO, each a threadpool thread of its own.
          { core: pin?.others ?? null, ipc: true, cwd: root, env: envWith(4 * PLAN.probes) },
        ),
      );
      env.writer.pid = (await expectMessage(env.writer, 'ready', 'FIFO writer')).pid;
    }
    env.counter = await startCounter(env.broker.kv);

    const blockingFiles = sc.blocking === 'fast' ? fastTree.probes.map((p) => p.file) : sc.blocking === 'slow1' ? [env.slowTree.probes[0].file] : [];
    env.measured = track(
      startNode(
        join(here, 'onewire-measure.mjs'),
        [
          JSON.stringify({
            mode: sc.mode,
            root: tree.root,
            poll: sc.poll,
            blockingFiles,
            blockingEveryMs: 1000,
            broker: env.broker.broker,
            kv: env.broker.kv,
            settleMs: PLAN.settleMs,
            durationMs: PLAN.durationMs,
          }),
        ],
        {
          core: pin?.measured ?? null,
          ipc: true,
          cwd: root,
          env: envWith(sc.threadpool ?? null),
          nodeArgs: flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [],
        },
      ),
    );
    // taskset execs node: the pid is the measured process's.
    if (env.writer !== null) await env.writer.ask({ cmd: 'watch', pid: env.measured.pid });
    env.control = track(startNode(join(here, 'onewire-control.mjs'), [], { core: pin?.measured ?? null, ipc: true, cwd: root, env: envWith(null) }));
    await expectMessage(env.control, 'ready', `${name}: control process`);
    const started = await expectMessage(env.measured, 'started', `${name}: measured process`);
    process.stderr.write(`${name}: started in ${(started.startMs / 1000).toFixed(1)} s (${started.probes} probes), measuring ${PLAN.durationMs / 1000} s\n`);
    await expectMessage(env.measured, 'window', `${name}: measured process`, PLAN.settleMs + 60_000);
    await env.control.ask({ cmd: 'start' });
    const cpu0 = { broker: cpuMsOf(env.broker.pid), writer: env.writer ? cpuMsOf(env.writer.pid) : NaN, self: process.cpuUsage(), core: coreTimes(pin?.measured ?? null), psi: cpuPressureUs() };
    const result = await expectMessage(env.measured, 'result', `${name}: measured process`, PLAN.durationMs + 60_000);
    const cpu1 = { broker: cpuMsOf(env.broker.pid), writer: env.writer ? cpuMsOf(env.writer.pid) : NaN, self: process.cpuUsage(cpu0.self), core: coreTimes(pin?.measured ?? null), psi: cpuPressureUs() };
    env.control.send({ cmd: 'stop' });
    const control = (await expectMessage(env.control, 'result', `${name}: control process`, 10_000)).delay;
    const spanMs = result.window.elapsedMs;
    // Readings published at the end of the window are still on their way.
    await sleep(700);
    const kv = env.counter.count(result.window.start, result.window.end);
    const writer = env.writer ? (await env.writer.ask({ cmd: 'stats' })).stats : null;

    // Teardown: FIFOs answer at once, so that reads still queued end.
    if (env.writer !== null) await env.writer.ask({ cmd: 'delay', ms: 0 });
    const drainMs = await stopMeasured(env.measured, env.slowTree);
    const out = {
      name,
      label: sc.label,
      threadpool: started.threadpool,
      startMs: started.startMs,
      ...result,
      kv,
      writer,
      drainMs,
      control,
      // The measured core (or all of them, unpinned) during the window: how busy, and stolen by the hypervisor.
      core: coreUse(cpu0.core, cpu1.core),
      // Share of the window in which some task of the machine waited for a CPU (PSI).
      cpuPressurePct: (100 * (cpu1.psi - cpu0.psi)) / 1000 / spanMs,
      // CPU during the window (from IPC messages: within a few ms).
      helpersCpuPct: {
        broker: (100 * (cpu1.broker - cpu0.broker)) / spanMs,
        writer: (100 * (cpu1.writer - cpu0.writer)) / spanMs,
        counter: (100 * (cpu1.self.user + cpu1.self.system)) / 1000 / spanMs,
      },
      brokerProblems: env.broker.problems.slice(0, 5),
    };
    out.delay.pass = { max: out.delay.maxMs < TARGET_MS, p99: out.delay.p99Ms < TARGET_MS };
    // Stalls the control process on the same core had at the same moment came from the machine:
    // what the control did not have of a stall is the process's own.
    const span = (x) => [x.at - x.lagMs - 2, x.at];
    const controlSpans = control.stalls.map(span);
    for (const x of out.delay.stalls) {
      const [a0, a1] = span(x);
      let covered = 0;
      let from = a0;
      for (const [b0, b1] of controlSpans.filter(([b0, b1]) => b1 > a0 && b0 < a1).sort((p, q) => p[0] - q[0])) {
        const lo = Math.max(from, b0);
        const hi = Math.min(a1, b1);
        if (hi > lo) covered += hi - lo;
        from = Math.max(from, hi);
      }
      x.ownMs = Math.round(Math.max(0, a1 - a0 - covered));
      x.shared = x.ownMs < 10;
    }
    const own = out.delay.stalls.filter((x) => !x.shared);
    out.delay.ownStallMaxMs = own.length === 0 ? null : Math.max(...own.map((x) => x.ownMs));
    out.delay.pass.own = out.delay.ownStallMaxMs === null || out.delay.ownStallMaxMs < TARGET_MS;
    return out;
  } finally {
    if (env.writer?.connected) env.writer.send({ cmd: 'delay', ms: 0 });
    if (env.measured !== null) await stopMeasured(env.measured, env.slowTree);
    if (env.control !== null) await endChild(env.control, { signal: true });
    if (env.writer !== null) {
      const note = await endChild(env.writer, { message: { cmd: 'stop' } });
      if (note !== null) notes.push(`${name}: FIFO writer: ${note}`);
    }
    await env.counter?.client.close();
    if (env.broker !== null) {
      const note = await endChild(env.broker.child, { signal: true });
      if (note !== null) notes.push(`${name}: broker: ${note}`);
    }
    if (env.slowTree !== null) removeTree(env.slowTree);
  }
}

// ------------------------------------------------------------ report

const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const sumOf = (o) => Object.values(o ?? {}).reduce((n, x) => n + x, 0);

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => '  ' + r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('   ')).join('\n');
}

function report(results) {
  const m = results.meta;
  const pinText = m.pinned ? `pinned: measured process on core ${m.pin.measured}; broker + key/value server, FIFO writers and this script (reading counter) on core ${m.pin.others}` : 'NOT pinned';
  const lines = [
    `@raspy/onewire: event loop delay while polling, ${m.date}${m.commit ? ` (commit ${m.commit})` : ''}`,
    `node ${m.node}, ${m.cpus} cores (${m.cpuModel}), ${pinText}`,
    `${m.quick ? 'quick' : 'full'} run: ${PLAN.durationMs / 1000} s window per scenario after ${PLAN.settleMs / 1000} s settling; ${PLAN.probes} DS18B20 on ${PLAN.masters} bus masters; ` +
      `slow probes: w1_slave FIFOs answering ${PLAN.conversionMs} ms after the reader's ${PLAN.delayFrom}() began; monitorEventLoopDelay resolution 1 ms`,
    '',
  ];
  const rows = [['', 'delay p50', 'p99', 'max ms', 'control max', 'own stalls', 'ELU %', 'CPU %', 'reads/s', 'published/s', 'bad', 'timeouts', 'read p50', 'p99', 'max ms', 'in flight', 'start s', `max<${TARGET_MS}`, `own<${TARGET_MS}`, `p99<${TARGET_MS}`]];
  for (const r of results.scenarios) {
    if (r.error) {
      rows.push([r.name, 'ERROR', ...Array(18).fill('')]);
      continue;
    }
    const polled = r.reads.completed > 0;
    const readsPerSecond = r.blocking ? r.blocking.filesPerSecond : (r.reads.ok * 1000) / r.window.elapsedMs;
    rows.push([
      r.name,
      f2(r.delay.p50Ms),
      f2(r.delay.p99Ms),
      f2(r.delay.maxMs),
      f2(r.control.maxMs),
      r.delay.ownStallMaxMs === null ? '<10' : f0(r.delay.ownStallMaxMs),
      f1(r.eluPct),
      f1(r.cpuPct),
      f1(readsPerSecond),
      r.blocking ? '' : f1(r.kv.perSecond),
      f0(r.blocking ? r.blocking.failures : sumOf(r.reads.bad) + r.reads.errors),
      r.blocking ? '' : f0(r.kv.timeouts),
      polled ? f0(r.reads.latencyP50Ms) : '',
      polled ? f0(r.reads.latencyP99Ms) : '',
      polled ? f0(r.reads.latencyMaxMs) : '',
      polled ? f0(r.reads.maxInFlight) : '',
      f1(r.startMs / 1000),
      r.delay.pass.max ? 'PASS' : 'MISS',
      r.delay.pass.own ? 'PASS' : 'MISS',
      r.delay.pass.p99 ? 'PASS' : 'MISS',
    ]);
  }
  lines.push(table(rows), '');
  lines.push('  delay: monitorEventLoopDelay, the time between the ticks of its 1 ms timer (so about 1 ms when the loop is free); control max: the same in an');
  lines.push('  idle process on the same core at the same time; own stalls: the longest stall (a 2 ms timer late by 10 ms or more) that the control did not');
  lines.push('  have at the same moment, i.e. not the machine\'s ("<10": none), and own<20 checks it; ELU: event loop utilisation;');
  lines.push('  reads/s: SysfsSource.read() calls that gave a temperature during the window (or files read by the blocking reader); published/s: readings');
  lines.push('  that reached the key/value tree (seen by another process); bad: reads that gave no temperature; timeouts: reads the DeviceServer gave up on (10 s), published');
  lines.push('  as $error instead; read p50/p99/max: SysfsSource.read() from call to result (threadpool queueing included); in flight: most reads under way');
  lines.push('  at once; start: OneWireServer.start() (it reads each probe once, one after the other).');
  lines.push('');
  for (const r of results.scenarios) {
    if (r.error) {
      lines.push(`  ${r.name}: ${r.label}: ERROR ${r.error.split('\n')[0]}`);
      continue;
    }
    const parts = [`${r.name}: ${r.label}`];
    if (r.reads.completed > 0) {
      parts.push(`reads started ${r.reads.started}, completed ${r.reads.completed} (${f1(r.reads.perSecond)}/s, ${r.reads.ok} ok), still under way at the end ${r.reads.inFlightAtEnd}`);
      parts.push(`key/value: ${r.kv.readings} readings (${r.kv.ok} ok${sumOf(r.kv.bad) ? `, bad ${JSON.stringify(r.kv.bad)}` : ''})${r.kv.timeouts ? `, ${r.kv.timeouts} timeouts (${r.kv.firstTimeout})` : ''}`);
      if (r.reads.firstProblem) parts.push(`first problem: ${r.reads.firstProblem}`);
    }
    if (r.blocking) parts.push(`blocking rounds ${r.blocking.rounds}, ${f1(r.blocking.meanMs)} ms mean, ${f1(r.blocking.msMax)} ms max${r.blocking.failures ? `, ${r.blocking.failures} failures (${r.blocking.firstProblem})` : ''}`);
    if (r.writer) {
      const w = r.writer;
      parts.push(
        `FIFO sessions ${w.sessions}, written ${w.written}${w.writeErrors ? `, ${w.writeErrors} write errors (${w.firstError})` : ''}` +
          (w.from === 'read' ? `, read() seen ${w.readsSeen} (open to read ${f1(w.openToReadMsSum / Math.max(1, w.readsSeen))} ms mean, ${f0(w.openToReadMsMax)} max)${w.fallbacks ? `, ${w.fallbacks} FELL BACK to open (${w.procError})` : ''}` : '') +
          (w.sharedSessions ? `, ${w.sharedSessions} shared by two readers (emulation artifact: an empty read each)` : ''),
      );
    }
    parts.push(
      `GC ${r.gc.count} pauses, ${f1(r.gc.totalMs)} ms in all, longest ${f1(r.gc.maxMs)} ms${r.gc.maxKind ? ` (${r.gc.maxKind})` : ''}; RSS ${f1(r.rssMiB)} MiB, heap ${f1(r.heapUsedMiB)} MiB at the end; ${f0(r.delay.samples)} delay samples`,
    );
    if (r.core) {
      parts.push(
        `measured core${pin === null ? 's (all)' : ` ${pin.measured}`}: ${f1(r.core.busyPct)} % busy (the measured process ${f1(r.cpuPct)} %), ${f1(r.core.stealPct)} % stolen` +
          (Number.isFinite(r.cpuPressurePct) ? `; machine: some task waiting for a CPU ${f0(r.cpuPressurePct)} % of the time` : ''),
      );
    }
    if (r.delay.stalls.length > 0) {
      const shown = r.delay.stalls
        .slice(0, 8)
        .map((x) => `${x.lagMs} ms at ${(x.atMs / 1000).toFixed(1)} s (${x.shared ? 'the control too' : `own ${x.ownMs} ms`}; ${x.inFlight} reads in flight, ${x.completedIn50ms} completed just before)`);
      parts.push(`stalls (a 2 ms timer 10 ms or more late): ${r.delay.stalls.length}${r.delay.stalls.length >= 100 ? '+' : ''}: ${shown.join('; ')}${r.delay.stalls.length > 8 ? '; ...' : ''}`);
    }
    parts.push(`CPU % broker ${f1(r.helpersCpuPct.broker)}${r.writer ? `, FIFO writer ${f1(r.helpersCpuPct.writer)}` : ''}, counter ${f1(r.helpersCpuPct.counter)}${r.drainMs !== null ? `; reads left drained in ${f0(r.drainMs)} ms after the stop` : ''}`);
    if (r.brokerProblems.length) parts.push(`broker log: ${r.brokerProblems.join('; ')}`);
    lines.push(`  ${parts.join('\n    ')}`);
  }
  const polled = results.scenarios.filter((r) => !r.error && r.reads.completed > 0);
  if (polled.length > 0) {
    lines.push('');
    for (const r of polled) {
      const why = r.delay.pass.max
        ? ''
        : r.delay.pass.own
          ? ` (the control process on the same core had every stall of ${TARGET_MS} ms or more at the same moment: the machine's; its max ${f2(r.control.maxMs)} ms; ` +
            `the longest stall of its own ${r.delay.ownStallMaxMs === null ? 'under 10' : `about ${f0(r.delay.ownStallMaxMs)}`} ms: PASS without the machine's stalls)`
          : ` (a stall of about ${f0(r.delay.ownStallMaxMs)} ms that the control did not have: MISS also without the machine's stalls)`;
      lines.push(`  target while polling (${r.name}): event loop delay < ${TARGET_MS} ms: max ${f2(r.delay.maxMs)} ms ${r.delay.pass.max ? 'PASS' : 'MISS'}${why}, p99 ${f2(r.delay.p99Ms)} ms ${r.delay.pass.p99 ? 'PASS' : 'MISS'}`);
    }
  }
  if (notes.length > 0) lines.push('', 'Notes:', ...notes.map((n) => `  ${n}`));
  return lines.join('\n');
}

// ------------------------------------------------------------ main

let commit = null;
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // not a git checkout
}
const results = {
  meta: {
    benchmark: 'onewire',
    date: new Date().toISOString(),
    commit,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    pinned: pin !== null,
    pinMode: pin === null ? 'none' : flags.pin,
    pin,
    quick: flags.quick,
    plan: PLAN,
    targetMs: TARGET_MS,
    scenarios: NAMES,
  },
  scenarios: [],
};

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    interrupted = true;
    for (const child of children) child.kill('SIGTERM');
    setTimeout(() => {
      for (const child of children) child.kill('SIGKILL');
      for (const tree of [...trees]) removeTree(tree);
      process.exit(130);
    }, 5000).unref();
  });
}

let exitCode = 0;
const fastTree = buildTree({ probes: PLAN.probes, masters: PLAN.masters, slow: false });
trees.add(fastTree);
try {
  const t0 = performance.now();
  for (const name of NAMES) {
    if (interrupted) break;
    try {
      results.scenarios.push(await runScenario(name, SCENARIOS[name], fastTree));
      const r = results.scenarios.at(-1);
      process.stderr.write(
        `${name}: delay p50 ${f2(r.delay.p50Ms)} p99 ${f2(r.delay.p99Ms)} max ${f2(r.delay.maxMs)} ms; ${r.blocking ? `${f1(r.blocking.filesPerSecond)} blocking reads/s` : `${f1(r.kv.perSecond)} readings/s, read p50 ${f0(r.reads.latencyP50Ms)} ms`}\n`,
      );
    } catch (err) {
      console.error(`${name}:`, err);
      results.scenarios.push({ name, label: SCENARIOS[name].label, error: err?.stack ?? String(err) });
      exitCode = 1;
    }
  }
  results.meta.durationS = (performance.now() - t0) / 1000;
  results.meta.notes = notes;
  if (flags.profile) {
    results.profiles = {};
    for (const r of results.scenarios) {
      const file = join(profDir, `${r.name}.cpuprofile`);
      if (existsSync(file)) results.profiles[r.name] = summarizeProfile(file, 15);
    }
  }
  console.log(report(results));
  for (const [name, summary] of Object.entries(results.profiles ?? {})) {
    console.log(`\nCPU profile ${relative(root, join(profDir, `${name}.cpuprofile`))}: top functions by self time (${summary.totalMs.toFixed(0)} ms sampled)`);
    console.log(summary.text);
  }
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `onewire-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults: ${relative(root, file)} (${results.meta.durationS.toFixed(0)} s)`);
  // Bad readings are errors (the tree only holds good ones), unless FIFO sessions shared by two
  // readers explain them; timeouts and a missed target are figures.
  const unexplained = (r) => Math.max(0, r.reads.errors + sumOf(r.reads.bad) + (r.blocking?.failures ?? 0) - (r.writer?.sharedSessions ?? 0));
  if (results.scenarios.some((r) => !r.error && unexplained(r) > 0)) exitCode = 1;
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  for (const child of [...children]) {
    const note = await endChild(child, { signal: true });
    if (note !== null) console.error(note);
  }
  for (const tree of [...trees]) removeTree(tree);
}
process.exitCode = exitCode;
