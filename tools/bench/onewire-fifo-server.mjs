#!/usr/bin/env node
// Serves the named pipes of a slow w1 tree (onewire-fixture.mjs, slow: true)
// like DS18B20s on a real bus: every read of a probe's `w1_slave` gets its
// content `delayMs` (750) late, then end of file. Runs in its own process
// (started by onewire.mjs with an IPC channel, pinned away from the measured
// process), so that the writers do not disturb the event loop being measured.
//
//   node tools/bench/onewire-fifo-server.mjs '<json config>'
//
// config: { probes: [{ file, index }], spareDir, delayMs, from: "read" | "open" }
//
// Sessions. Every probe has one blocking open(O_WRONLY) pending on its FIFO
// (a libuv threadpool thread of this process each: start it with
// UV_THREADPOOL_SIZE above the number of probes). When a reader opens the
// FIFO, that open returns; at once a fresh FIFO (made ahead in `spareDir`, on
// the same file system) is renamed over `w1_slave`, so that the next reader
// (the next poll, or an overlapping read) gets a session of its own, and a
// new open is put on it. The session waits `delayMs`, writes the content (a
// new temperature each time) and closes: its reader sees end of file. The
// replaced FIFO has no name left and is gone when closed. (A reader that
// opens the old FIFO in the microseconds before the rename shares the
// session and one of the two reads an empty file; only overlapping reads of
// one probe can do that.)
//
// When does the delay start?
//   from "open": when the reader opened the FIFO. The reader's thread then
//     blocks in read() only for what is left of the delay when its read()
//     runs. fs.readFile runs open, fstat and read as separate threadpool
//     jobs, so with a busy threadpool the read() runs late and blocks less:
//     this hides the threadpool's queue (16 reads with 4 threads all end
//     after 750 ms).
//   from "read" (default): when the reader's thread is blocked in read() on
//     the session's FIFO, as in the kernel (w1_slave_show converts when it
//     is read, holding the reading thread for the conversion). Seen by
//     polling /proc/<pid>/task/*/syscall of the reader process (its pid
//     comes with the "watch" command) every `pollMs` (2) while a session
//     waits for its read(): a thread in read(fd) whose fd is the session's
//     FIFO (same inode). Needs ptrace access to the reader (same user
//     without Yama restrictions, or root); if /proc cannot be read, the
//     session falls back to "open" and `fallbacks` counts it.
//
// Commands (IPC):
//   {cmd: "watch", pid}  -> the reader process, {type: "watching"}
//   {cmd: "delay", ms}   -> sessions that have not started waiting wait `ms` (0: let readers drain), {type: "delay"}
//   {cmd: "stats"}       -> {type: "stats", stats}
//   {cmd: "stop"}        -> unblocks its pending opens, finishes the sessions, {type: "stopped", stats}, exits
// It also stops on SIGTERM and when the IPC channel closes.
import { execFile } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, readSync, readdirSync, renameSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { celsiusOf, mkfifos, w1Slave } from './onewire-fixture.mjs';

const config = JSON.parse(process.argv[2]);
let delayMs = config.delayMs ?? 750;
const from = config.from ?? 'read';
const pollMs = config.pollMs ?? 2;
let stopping = false;
const reply = (m) => {
  if (process.connected) process.send(m);
};

const stats = {
  from,
  sessions: 0,
  written: 0,
  writeErrors: 0,
  openErrors: 0,
  firstError: null,
  inFlight: 0,
  maxInFlight: 0,
  spareBatches: 0,
  /** Sessions whose read() was seen, and how long after the open (ms). */
  readsSeen: 0,
  openToReadMsMax: 0,
  openToReadMsSum: 0,
  fallbacks: 0,
  polls: 0,
  procError: null,
  /** Sessions that more than one reader had open when the content was written (see above): one of them reads an empty file. */
  sharedSessions: 0,
};

// ------------------------------------------------------------ spare FIFOs

const spares = [];
let spareCount = 0;
const spareNames = (n) => Array.from({ length: n }, () => join(config.spareDir, `fifo-${spareCount++}`));
let refilling = false;
function takeSpare() {
  if (spares.length === 0) {
    // Should not happen (refilled ahead); made here synchronously.
    const names = spareNames(16);
    mkfifos(names);
    spares.push(...names);
    stats.spareBatches++;
  }
  const name = spares.pop();
  if (spares.length < 48 && !refilling && !stopping) {
    // Ahead of need, without blocking this event loop.
    refilling = true;
    const names = spareNames(64);
    execFile('mkfifo', ['-m', '0644', ...names], (err) => {
      refilling = false;
      if (err) {
        stats.firstError ??= `mkfifo: ${err.message}`;
        return;
      }
      spares.push(...names);
      stats.spareBatches++;
    });
  }
  return name;
}

// ------------------------------------------------------------ read() detection

/** Sessions waiting for their reader's read(): inode -> {opened, start()}. */
const awaitingRead = new Map();
let watchedPid = null;
let threadFds = [];
let threadsListedAt = -Infinity;
let pollTimer = null;
const syscallBuf = Buffer.alloc(256);
// read, pread64, readv, preadv, preadv2 (x86_64 and the generic table of arm64).
const READ_SYSCALLS = process.arch === 'x64' ? new Set([0, 17, 19, 295, 327]) : new Set([63, 65, 67, 69, 286]);

function listThreads() {
  for (const fd of threadFds) closeSync(fd);
  threadFds = [];
  for (const tid of readdirSync(`/proc/${watchedPid}/task`)) {
    try {
      threadFds.push(openSync(`/proc/${watchedPid}/task/${tid}/syscall`, 'r'));
    } catch {
      // thread gone
    }
  }
  threadsListedAt = performance.now();
}

function fallBack(error) {
  stats.procError ??= String(error?.code ?? error?.message ?? error);
  for (const s of awaitingRead.values()) {
    stats.fallbacks++;
    s.start();
  }
  awaitingRead.clear();
}

function poll() {
  if (awaitingRead.size === 0 || stopping) {
    clearInterval(pollTimer);
    pollTimer = null;
    return;
  }
  if (watchedPid === null) return;
  stats.polls++;
  try {
    if (performance.now() - threadsListedAt > 1000) listThreads();
    for (const fd of threadFds) {
      let n;
      try {
        n = readSync(fd, syscallBuf, 0, syscallBuf.length, 0);
      } catch (err) {
        if (err?.code === 'ESRCH') continue; // thread ended
        throw err;
      }
      const text = syscallBuf.latin1Slice(0, n);
      const space = text.indexOf(' ');
      if (space < 0) continue; // "running"
      if (!READ_SYSCALLS.has(Number(text.slice(0, space)))) continue;
      const readerFd = Number.parseInt(text.slice(space + 1, text.indexOf(' ', space + 1)), 16);
      let ino;
      try {
        ino = statSync(`/proc/${watchedPid}/fd/${readerFd}`).ino;
      } catch {
        continue; // closed meanwhile
      }
      const s = awaitingRead.get(ino);
      if (s === undefined) continue;
      awaitingRead.delete(ino);
      const ms = performance.now() - s.opened;
      stats.readsSeen++;
      stats.openToReadMsSum += ms;
      stats.openToReadMsMax = Math.max(stats.openToReadMsMax, ms);
      s.start();
    }
  } catch (err) {
    if (err?.code === 'ENOENT' || err?.code === 'ESRCH') {
      // The reader process is gone: nobody will read.
      watchedPid = null;
      for (const s of awaitingRead.values()) s.start();
      awaitingRead.clear();
      return;
    }
    fallBack(err);
  }
}

/** How many of the reader process's descriptors are open on this inode (null when it cannot be told). */
function readersOf(ino) {
  if (watchedPid === null || stats.procError !== null) return null;
  try {
    let n = 0;
    for (const fd of readdirSync(`/proc/${watchedPid}/fd`)) {
      try {
        if (statSync(`/proc/${watchedPid}/fd/${fd}`).ino === ino) n++;
      } catch {
        // closed meanwhile
      }
    }
    return n;
  } catch {
    return null;
  }
}

/** Resolves when the session's reader is blocked in read() (or at once with from "open"). */
function readerReading(handle, opened) {
  if (from === 'open' || stopping) return Promise.resolve();
  if (stats.procError !== null) {
    stats.fallbacks++;
    return Promise.resolve();
  }
  const ino = fstatSync(handle.fd).ino;
  return new Promise((resolve) => {
    awaitingRead.set(ino, { opened, start: resolve });
    pollTimer ??= setInterval(poll, pollMs);
    if (watchedPid !== null) poll();
  });
}

// ------------------------------------------------------------ sessions

const sessions = new Set();

async function session(handle, probe, k, opened) {
  stats.inFlight++;
  stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
  try {
    await readerReading(handle, opened);
    if (delayMs > 0 && !stopping) await sleep(from === 'open' ? delayMs - (performance.now() - opened) : delayMs);
    if (from === 'read' && !stopping && (readersOf(fstatSync(handle.fd).ino) ?? 0) > 1) stats.sharedSessions++;
    await handle.write(w1Slave(celsiusOf(probe.index, k)));
    stats.written++;
  } catch (err) {
    // EPIPE: the reader went away before the content came.
    stats.writeErrors++;
    stats.firstError ??= String(err?.code ?? err);
  } finally {
    await handle.close().catch(() => {});
    stats.inFlight--;
  }
}

async function serve(probe) {
  let k = 0;
  while (!stopping) {
    let handle;
    try {
      handle = await open(probe.file, constants.O_WRONLY);
    } catch (err) {
      if (stopping) break;
      stats.openErrors++;
      stats.firstError ??= String(err?.code ?? err);
      await sleep(10);
      continue;
    }
    const opened = performance.now();
    if (stopping) {
      await handle.close().catch(() => {});
      break;
    }
    // A reader is there: the next one gets a new FIFO.
    renameSync(takeSpare(), probe.file);
    stats.sessions++;
    const s = session(handle, probe, k++, opened);
    sessions.add(s);
    void s.finally(() => sessions.delete(s));
  }
}

{
  const names = spareNames(Math.max(64, config.probes.length * 4));
  mkfifos(names);
  spares.push(...names);
  stats.spareBatches++;
}
const loops = config.probes.map((p) => serve(p));

// ------------------------------------------------------------ stop

let stopped = null;
function stop() {
  stopped ??= (async () => {
    stopping = true;
    delayMs = 0;
    for (const s of awaitingRead.values()) s.start();
    awaitingRead.clear();
    // Our own pending opens for writing wait for a reader: be that reader
    // (a non-blocking open for reading always succeeds), until every loop ended.
    const fds = [];
    let done = false;
    const ended = Promise.all(loops).then(() => (done = true));
    while (!done) {
      for (const p of config.probes) {
        try {
          fds.push(openSync(p.file, constants.O_RDONLY | constants.O_NONBLOCK));
        } catch {
          // gone
        }
      }
      await Promise.race([ended, sleep(20)]);
    }
    await Promise.all([...sessions]);
    for (const fd of [...fds, ...threadFds]) closeSync(fd);
    reply({ type: 'stopped', stats });
    if (process.connected) process.disconnect();
    process.exit(0);
  })();
  return stopped;
}

process.on('message', (m) => {
  if (m?.cmd === 'watch') {
    watchedPid = m.pid;
    threadsListedAt = -Infinity;
    reply({ type: 'watching' });
  } else if (m?.cmd === 'delay') {
    delayMs = m.ms;
    if (delayMs === 0) {
      for (const s of awaitingRead.values()) s.start();
      awaitingRead.clear();
    }
    reply({ type: 'delay', ms: delayMs });
  } else if (m?.cmd === 'stats') reply({ type: 'stats', stats });
  else if (m?.cmd === 'stop') void stop();
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

reply({ type: 'ready', pid: process.pid });
