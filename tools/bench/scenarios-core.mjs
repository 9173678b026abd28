#!/usr/bin/env node
// The side of scenarios.mjs that reacts to the tree, in its own process so
// its CPU can be measured: either the real scenario engine (a ScenarioService
// of @raspy/scenarios, as raspy-core runs it) or the baseline, a bare
// key/value client that does the same work by hand (no engine).
//
//   node tools/bench/scenarios-core.mjs '<json config>'
//
// config: { mode: "engine" | "reactor", broker, kv: {snapshot, publisher, collector}, host, keys }
// Sends {type: "ready", pid} over IPC once started; stops on {cmd: "stop"},
// SIGTERM, or when the IPC channel closes.
import { KvClient } from '@raspy/kv';
import { ScenarioService } from '@raspy/scenarios';

const config = JSON.parse(process.argv[2]);
const reply = (m) => {
  if (process.connected) process.send(m);
};

let stopFn;
if (config.mode === 'engine') {
  const service = new ScenarioService({ host: config.host, broker: config.broker, kv: config.kv, heartbeatInterval: 60_000, maxTraces: 5 });
  await service.start();
  stopFn = () => service.stop();
} else {
  // What each scenario does, written by hand: above 50 → "high", below 50 → "low".
  // Subtree /bench/ (outputs too), so that its sets are confirmed by the server's echo and
  // re-sent if lost, as the engine's are (a client cannot see the echo of a key outside its subtree).
  const kv = new KvClient({ servers: config.kv, subtree: '/bench/' });
  const state = new Map();
  kv.on('change', ({ key, value }) => {
    if (value === undefined || !key.startsWith('/bench/in/')) return;
    const v = JSON.parse(String(value)).value;
    const now = v > 50 ? 'high' : v < 50 ? 'low' : null;
    if (now === null || state.get(key) === now) return;
    state.set(key, now);
    kv.setJson(`/bench/out/${key.slice('/bench/in/'.length)}`, now).catch(() => {});
  });
  await kv.start();
  stopFn = () => kv.close();
}

let stopping = null;
function stop() {
  stopping ??= (async () => {
    try {
      await stopFn();
    } finally {
      reply({ type: 'stopped' });
      if (process.connected) process.disconnect();
      process.exit(0);
    }
  })();
  return stopping;
}
process.on('message', (m) => {
  if (m?.cmd === 'stop') void stop();
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
reply({ type: 'ready', pid: process.pid });
