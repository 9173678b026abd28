#!/usr/bin/env node
// Benchmark of the scenario engine: 1,000 enabled scenarios watching the
// tree while values change at 1,000 updates/s; trigger-to-action latency
// (p50/p99) and the CPU of the process that runs them, next to a baseline
// measured in the same run: a bare key/value client doing the same work by
// hand (the floor set by the tree's own round trips).
//
//   node tools/bench/scenarios.mjs [--quick] [--scenarios n] [--rate n] [--seconds n] [--pin split|none] [--profile]
//
//   --profile  runs the reacting process under `node --cpu-prof` (profiles in
//              $TMPDIR/raspy-scenarios-profile-<mode>; summarize them with
//              node tools/bench/profile-summary.mjs <file>)
//
// Each scenario is a two-threshold switch (a thermostat): when /bench/in/<i>
// goes above 50 it sets /bench/out/<i> to "high", below 50 to "low". The
// load writes /bench/in/<i> round robin, alternating 0 and 100, so every
// update fires one scenario; the latency is from the write to the load's
// key/value client seeing the scenario's output. The reacting process (the
// engine, or the baseline) runs on core 0, everything else (broker, tree,
// settings store, load) on core 1.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { MdpBroker, MdpClient } from '@raspy/mdp';
import { KvClient, KvServer } from '@raspy/kv';
import { StoreService } from '@raspy/titanic';
import { cpuMsOf, endChild, quantile, sleep, startNode } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scenarios: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string' },
    pin: { type: 'string', default: 'split' },
    profile: { type: 'boolean', default: false },
  },
});
const N = Number(flags.scenarios);
const RATE = Number(flags.rate);
const SECONDS = Number(flags.seconds ?? (flags.quick ? 3 : 15));
const HOST = 'bench';
const split = flags.pin === 'split' && cpus().length >= 2;
if (split) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });

function bundle() {
  const scenarios = [];
  for (let i = 0; i < N; i++) {
    const key = `/bench/in/${i}`;
    const out = `/bench/out/${i}`;
    scenarios.push({
      name: `switch-${i}`,
      triggers: [
        { type: 'threshold', id: 'high', key, above: 50 },
        { type: 'threshold', id: 'low', key, below: 50 },
      ],
      actions: [{ type: 'choose', when: [{ conditions: [{ type: 'trigger', id: 'high' }], actions: [{ type: 'set', key: out, value: 'high' }] }], otherwise: [{ type: 'set', key: out, value: 'low' }] }],
    });
  }
  return { format: 'raspy-scenarios', version: 1, scenarios, jobs: [] };
}

const closers = [];
try {
  const data = mkdtempSync(join(tmpdir(), 'raspy-bench-scenarios-'));
  closers.push(() => rmSync(data, { recursive: true, force: true }));
  const broker = new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 60_000 });
  await broker.start();
  closers.push(() => broker.stop());
  const kvServer = new KvServer({ host: 'tcp://127.0.0.1', port: 0 });
  await kvServer.start();
  closers.push(() => kvServer.stop());
  const store = new StoreService({ broker: broker.endpoints[0], dataDir: join(data, 'store'), heartbeatInterval: 60_000 });
  await store.start();
  closers.push(() => store.stop());
  const mdp = new MdpClient({ endpoint: broker.endpoints[0], timeout: 60_000, retries: 0 });
  closers.push(() => mdp.close());

  const writer = new KvClient({ servers: kvServer.endpoints, subtree: '/bench/in/' });
  await writer.start();
  closers.push(() => writer.close());
  const observer = new KvClient({ servers: kvServer.endpoints, subtree: '/bench/out/' });
  await observer.start();
  closers.push(() => observer.close());

  const pending = new Map(); // i → {expect, t0}
  let latencies = [];
  observer.on('change', ({ key, value }) => {
    if (value === undefined) return;
    const i = Number(key.slice('/bench/out/'.length));
    const p = pending.get(i);
    if (p !== undefined && JSON.parse(String(value)) === p.expect) {
      latencies.push(performance.now() - p.t0);
      pending.delete(i);
    }
  });
  const current = new Array(N).fill(0);

  async function phase(mode) {
    // Every input low, and the outputs cleared, before the reacting side starts.
    await Promise.all(current.map((_, i) => writer.setJson(`/bench/in/${i}`, { value: 0 })));
    current.fill(0);
    const child = startNode(join(here, 'scenarios-core.mjs'), [JSON.stringify({ mode, broker: broker.endpoints[0], kv: kvServer.endpoints, host: HOST })], { core: split ? 0 : null, ipc: true, nodeArgs: flags.profile ? ['--cpu-prof', '--cpu-prof-dir', join(tmpdir(), `raspy-scenarios-profile-${mode}`)] : [] });
    closers.push(() => endChild(child, { message: { cmd: 'stop' } }));
    const ready = await child.nextMessage();
    if (ready.type !== 'ready') throw new Error(`${mode}: ${JSON.stringify(ready)}`);
    if (mode === 'engine' && !phase.imported) {
      const [status, body] = await mdp.request(`${HOST}.core.scenarios`, 'import', JSON.stringify({ bundle: bundle(), replace: true }));
      if (String(status) !== '200') throw new Error(`import: ${status} ${body}`);
      phase.imported = true;
    }
    // Warm up: one full round of crossings, not measured.
    const run = async (seconds, measure) => {
      latencies = [];
      pending.clear();
      let sent = 0;
      const start = performance.now();
      const cpu0 = cpuMsOf(child.pid);
      let next = 0;
      const total = Math.round(seconds * RATE);
      while (sent < total) {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE) + 1);
        for (; sent < due; sent++) {
          const i = next;
          next = (next + 1) % N;
          const value = current[i] === 0 ? 100 : 0;
          current[i] = value;
          if (pending.has(i)) pending.get(i).lost = true;
          pending.set(i, { expect: value === 100 ? 'high' : 'low', t0: performance.now() });
          writer.setJson(`/bench/in/${i}`, { value }).catch(() => {});
        }
        await sleep(2);
      }
      const elapsed = performance.now() - start;
      // The last ones: up to 5 s to arrive.
      const deadline = performance.now() + 5000;
      while (pending.size > 0 && performance.now() < deadline) await sleep(10);
      const cpu = cpuMsOf(child.pid) - cpu0;
      if (!measure) return null;
      const sorted = [...latencies].sort((a, b) => a - b);
      return { sent, seen: latencies.length, lost: sent - latencies.length, rate: (sent * 1000) / elapsed, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1], cpuPct: (100 * cpu) / (performance.now() - start) };
    };
    await run(Math.max(1, N / RATE), false);
    const result = await run(SECONDS, true);
    await endChild(child, { message: { cmd: 'stop' } });
    return result;
  }

  const results = { reactor: [], engine: [] };
  const order = flags.quick ? ['reactor', 'engine'] : ['reactor', 'engine', 'reactor', 'engine'];
  for (const mode of order) results[mode].push(await phase(mode));
  const pick = (list, f) => list.map(f).sort((a, b) => a - b)[Math.floor((list.length - 1) / 2)];
  const f = (x, d = 2) => x.toFixed(d).padStart(8);
  console.log(`scenarios: ${N} enabled scenarios, ${RATE} updates/s for ${SECONDS} s per run, ${order.length / 2} run(s) each, pinned: ${split ? 'reacting process on core 0, rest on core 1' : 'no'}`);
  console.log('                                       rate/s   p50 ms   p99 ms   max ms  CPU %  lost');
  for (const mode of ['reactor', 'engine']) {
    const list = results[mode];
    const label = mode === 'reactor' ? 'baseline: bare key/value client' : 'scenario engine (ScenarioService)';
    console.log(`  ${label.padEnd(34)} ${f(pick(list, (r) => r.rate), 0)} ${f(pick(list, (r) => r.p50))} ${f(pick(list, (r) => r.p99))} ${f(pick(list, (r) => r.max))} ${f(pick(list, (r) => r.cpuPct), 1).slice(2)} ${String(list.reduce((s, r) => s + r.lost, 0)).padStart(5)}`);
  }
  const ratio = (g) => pick(results.engine, g) / pick(results.reactor, g);
  console.log(`  ratio engine / baseline: p50 ${ratio((r) => r.p50).toFixed(2)}x, p99 ${ratio((r) => r.p99).toFixed(2)}x, CPU ${ratio((r) => r.cpuPct).toFixed(2)}x`);
  if (results.engine.some((r) => r.lost > 0)) process.exitCode = 1;
} finally {
  for (const c of closers.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
}
