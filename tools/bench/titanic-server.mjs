#!/usr/bin/env node
// A TitanicServer (@raspy/titanic) in its own process, for titanic.mjs.
// Started with an IPC channel; it never runs on its own.
//
//   node tools/bench/titanic-server.mjs '<json config>'
//
// config: { broker, dataDir, heartbeat, requestWorkers?, replyWorkers?, dispatcher? }
// Sends {type: "ready", pid} once started, then answers
//   {cmd: "stats"}  -> {type: "stats", stats: TitanicServer.stats()}
//   {cmd: "stop"}   -> stops Titanic (journal closed), {type: "stopped"}, exits
// It also stops and exits on SIGTERM / SIGINT and when the IPC channel
// closes (the parent went away). It exits normally, so that
// `node --cpu-prof` writes its profile.
import { TitanicServer } from '@raspy/titanic';

const config = JSON.parse(process.argv[2]);
const reply = (m) => {
  if (process.connected) process.send(m);
};

const titanic = new TitanicServer({
  broker: config.broker,
  dataDir: config.dataDir,
  // Must match the broker's (60 s in the benchmarks: no heartbeats while measuring).
  heartbeatInterval: config.heartbeat ?? 60_000,
  ...(config.requestWorkers !== undefined ? { requestWorkers: config.requestWorkers } : {}),
  ...(config.replyWorkers !== undefined ? { replyWorkers: config.replyWorkers } : {}),
  ...(config.dispatcher !== undefined ? { dispatcher: config.dispatcher } : {}),
});

let stopping = null;
function stop() {
  stopping ??= (async () => {
    try {
      await titanic.stop();
    } finally {
      reply({ type: 'stopped' });
      if (process.connected) process.disconnect();
      process.exit(0);
    }
  })();
  return stopping;
}

process.on('message', (m) => {
  if (m?.cmd === 'stats') reply({ type: 'stats', stats: titanic.stats() });
  else if (m?.cmd === 'stop') void stop();
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

try {
  await titanic.start();
  reply({ type: 'ready', pid: process.pid });
} catch (err) {
  reply({ type: 'error', message: err?.stack ?? String(err) });
  process.exit(1);
}
