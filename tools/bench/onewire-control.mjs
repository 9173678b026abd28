#!/usr/bin/env node
// The control of onewire.mjs: an idle Node process pinned to the same core as
// the measured one, measuring its own event loop delay over the same window.
// A stall that it sees too at the same moment came from the machine (another
// process on the core, the hypervisor), not from what the measured process
// runs. Started with an IPC channel; it never runs on its own.
//
// Messages: {type: "ready"}; {cmd: "start"} -> {type: "started"};
// {cmd: "stop"} -> {type: "result", delay: {p50Ms, p99Ms, maxMs, stalls}}, and it exits.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const reply = (m, then) => {
  if (process.connected) process.send(m, then);
};
const histogram = monitorEventLoopDelay({ resolution: 1 });
const stalls = [];
let timer = null;

/** The same stall watch as onewire-measure.mjs: ticks of a 2 ms timer 10 ms or more late. */
const STALL_TICK_MS = 2;
const STALL_MIN_MS = 10;
function watchStalls() {
  let last = performance.now();
  timer = setInterval(() => {
    const now = performance.now();
    const lag = now - last - STALL_TICK_MS;
    last = now;
    if (lag >= STALL_MIN_MS && stalls.length < 100) stalls.push({ at: Date.now(), lagMs: Math.round(lag * 10) / 10 });
  }, STALL_TICK_MS);
}

process.on('message', (m) => {
  if (m?.cmd === 'start') {
    histogram.reset();
    histogram.enable();
    watchStalls();
    reply({ type: 'started' });
  } else if (m?.cmd === 'stop') {
    histogram.disable();
    clearInterval(timer);
    reply({
      type: 'result',
      delay: {
        p50Ms: histogram.percentile(50) / 1e6,
        p99Ms: histogram.percentile(99) / 1e6,
        maxMs: histogram.max / 1e6,
        samples: histogram.count,
        stalls,
      },
    }, () => process.disconnect());
  }
});
process.on('disconnect', () => process.exit(0));
reply({ type: 'ready' });
