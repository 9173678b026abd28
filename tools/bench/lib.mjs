// Helpers shared by the benchmark scripts: process statistics from /proc,
// CPU pinning, child processes, percentiles.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ), 100 on Linux. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** VmRSS and VmHWM (peak RSS) of a process, in KiB, or null when it is gone. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
  } catch {
    return null;
  }
}

/** User + system CPU time of a whole process (all threads), in milliseconds. */
export function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) ": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * Which cores to pin the broker and the load to: `split` puts the broker on
 * core 0 and the load on core 1, `same` both on core 0, `none` no pinning.
 * Null when not pinning, or when `taskset` is missing or fails, or (split)
 * there is a single core.
 */
export function pinningPlan(mode) {
  if (mode === 'none') return null;
  try {
    const cores = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
    if (mode === 'split' && !(cores >= 2)) return null;
    execFileSync('taskset', ['-c', '0', 'true']);
    if (mode === 'same') return { broker: 0, load: 0 };
    execFileSync('taskset', ['-c', '1', 'true']);
    return { broker: 0, load: 1 };
  } catch {
    return null;
  }
}

/**
 * Starts `node [nodeArgs] script [args]`, pinned to `core` with taskset when
 * core is a number. `ipc` adds a message channel (process.send in the child);
 * `env` replaces the environment (default: this process's).
 * Returns the ChildProcess with `lines` (an async line iterator over stdout)
 * and `exited` (a promise of the exit code).
 */
export function startNode(script, args, { core = null, nodeArgs = [], ipc = false, cwd, env } = {}) {
  const nodeArgv = [...nodeArgs, script, ...args];
  const [cmd, argv] = core === null ? [process.execPath, nodeArgv] : ['taskset', ['-c', String(core), process.execPath, ...nodeArgv]];
  const child = spawn(cmd, argv, { cwd, env, stdio: ipc ? ['pipe', 'pipe', 'inherit', 'ipc'] : ['pipe', 'pipe', 'inherit'] });
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  child.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  if (ipc) {
    // Messages are queued until someone asks for them.
    const inbox = [];
    const waiting = [];
    child.on('message', (m) => {
      const w = waiting.shift();
      if (w) w.resolve(m);
      else inbox.push(m);
    });
    child.once('exit', (code, signal) => {
      for (const w of waiting.splice(0)) w.reject(new Error(`${script} exited (${code ?? signal}) while a reply was awaited`));
    });
    child.nextMessage = () =>
      inbox.length > 0
        ? Promise.resolve(inbox.shift())
        : child.exitCode !== null || child.signalCode !== null
          ? Promise.reject(new Error(`${script} has exited`))
          : new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    /** Sends a command and resolves with the child's answer (errors become exceptions). */
    child.ask = async (message) => {
      child.send(message);
      const answer = await child.nextMessage();
      if (answer?.type === 'error') throw new Error(`${script}: ${answer.message}`);
      return answer;
    };
  }
  return child;
}

/** The first stdout line of a child, parsed as JSON (brokers print their endpoints so). */
export async function firstJsonLine(child, what) {
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  try {
    const { value, done } = await child.lines.next();
    if (done) throw new Error(`${what} exited before printing its endpoint`);
    return JSON.parse(value);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ends a child: sends `message` over IPC if given, else SIGTERM (unless
 * `signal` is false: the child is expected to exit by itself), then kills it
 * if it lingers. Resolves with a note when it had to be killed.
 */
export async function endChild(child, { message = null, signal = true, graceMs = 10_000 } = {}) {
  if (child.exitCode !== null || child.signalCode !== null) return null;
  if (message !== null && child.connected) child.send(message);
  else if (signal) child.kill('SIGTERM');
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  const outcome = await Promise.race([child.exited, late]);
  clearTimeout(timer);
  if (outcome !== 'late') return null;
  child.kill('SIGKILL');
  await child.exited;
  return `pid ${child.pid} did not exit within ${graceMs} ms and was killed`;
}

/** Established TCP connections whose local end is 127.0.0.1:port (the accepting side of a listener), from /proc/net/tcp. */
export function establishedOn(port) {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const local = `0100007F:${hexPort}`;
    let n = 0;
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[1] === local && f[3] === '01') n++;
    }
    return n;
  } catch {
    return NaN;
  }
}

export const portOf = (endpoint) => Number(/:(\d+)$/.exec(endpoint)?.[1]);

/** The q-quantile (0..1) of an ascending array (nearest rank). */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/**
 * Combines measurement slices of one broker (from load.mjs) into one result:
 * counts, times and CPU summed, latencies pooled.
 */
export function combineSlices(slices) {
  let count = 0;
  let errors = 0;
  let elapsedMs = 0;
  let brokerCpuMs = 0;
  let loadCpuMs = 0;
  const latencies = [];
  for (const s of slices) {
    count += s.count;
    errors += s.errors;
    elapsedMs += s.elapsedMs;
    brokerCpuMs += s.brokerCpuMs;
    loadCpuMs += s.loadCpuMs;
    for (const x of s.latenciesUs) latencies.push(x);
  }
  latencies.sort((a, b) => a - b);
  return {
    slices: slices.length,
    count,
    errors,
    elapsedMs,
    rps: (count * 1000) / elapsedMs,
    p50us: quantile(latencies, 0.5),
    p99us: quantile(latencies, 0.99),
    maxUs: latencies[latencies.length - 1],
    brokerCpuPct: (100 * brokerCpuMs) / elapsedMs,
    brokerCpuUsPerReq: (brokerCpuMs * 1000) / count,
    loadCpuPct: (100 * loadCpuMs) / elapsedMs,
  };
}

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
