#!/usr/bin/env node
// Benchmark of the web app's live updates: from a value published by a
// device server to the new value on the dashboard in a real Chromium, over
// 1,000 changes, next to the same changes seen by a key/value client (the
// tree alone, the baseline) and by a WebSocket client of the web app (the
// tree plus the web server), all measured in the same run.
//
//   node tools/bench/web.mjs [--changes n] [--chromium /usr/bin/chromium]
//
// The device server, the broker and the key/value server run in this process;
// raspy-web (apps/web/dist, built) runs as a child process; Chromium is driven
// by playwright-core. A change is published only once the page showed the
// previous one, so each latency is that of one change on a quiet system.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { MdpBroker } from '@raspy/mdp';
import { KvClient, KvServer } from '@raspy/kv';
import { Device, DeviceServer } from '@raspy/devices';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { quantile } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const { values: flags } = parseArgs({
  options: {
    changes: { type: 'string', default: '1000' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    quick: { type: 'boolean', default: false },
  },
});
const CHANGES = flags.quick ? 100 : Number(flags.changes);
const KEY = '/device/pi1/bench/probe/value';
const PASSWORD = 'benchmark password';

const closers = [];
const finish = async () => {
  for (const c of closers.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
};

try {
  const data = mkdtempSync(join(tmpdir(), 'raspy-bench-web-'));
  closers.push(() => rmSync(data, { recursive: true, force: true }));
  const broker = new MdpBroker({ endpoint: 'tcp://127.0.0.1:*' });
  await broker.start();
  closers.push(() => broker.stop());
  const kvServer = new KvServer({ host: 'tcp://127.0.0.1', port: 0 });
  await kvServer.start();
  closers.push(() => kvServer.stop());

  let ctx = null;
  class Probe extends Device {
    type = 'sensor.temperature';
    commands = { value: { type: 'real', unit: '°C', readonly: true } };
    start(c) {
      ctx = c;
    }
    read() {
      return { value: 0 };
    }
  }
  const devices = new DeviceServer({ host: 'pi1', server: 'bench', broker: broker.endpoints[0], kv: kvServer.endpoints, devices: [new Probe({ id: 'probe', name: 'Probe', poll: 0 })] });
  await devices.start();
  closers.push(() => devices.stop());

  // The web app, as a child process.
  const web = spawn(process.execPath, [join(root, 'apps/web/dist/main.js'), '--bind', '127.0.0.1', '--port', '0', '--broker', broker.endpoints[0], '--kv', kvServer.endpoints.snapshot, '--data', data, '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RASPY_ADMIN_PASSWORD: PASSWORD, RASPY_LOG_LEVEL: 'info' },
  });
  closers.push(() => web.kill('SIGTERM'));
  const url = await new Promise((res, rej) => {
    createInterface({ input: web.stderr }).on('line', (line) => {
      try {
        const e = JSON.parse(line);
        if (e.msg === 'raspy-web running') res(e.url.replace('localhost', '127.0.0.1').replace(/\/$/, ''));
      } catch {
        // not ours
      }
    });
    web.on('exit', (code) => rej(new Error(`raspy-web exited with ${code}`)));
  });
  const login = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  const cookie = login.headers.get('set-cookie').split(';')[0];

  // Observers: the tree (baseline), the web app's WebSocket, the page.
  const tree = new KvClient({ servers: kvServer.endpoints, subtree: '/device/pi1/bench/' });
  await tree.start();
  closers.push(() => tree.close());
  const waiters = { tree: new Map(), ws: new Map(), page: new Map() };
  const seen = (kind, value) => {
    const w = waiters[kind].get(value);
    if (w !== undefined) {
      waiters[kind].delete(value);
      w(performance.now());
    }
  };
  tree.on('change', ({ key, value }) => {
    if (key === KEY && value !== undefined) seen('tree', JSON.parse(String(value)).value);
  });
  const ws = new WebSocket(`${url.replace('http', 'ws')}/api/stream`, { headers: { cookie, origin: url } });
  closers.push(() => ws.terminate());
  await new Promise((res, rej) => ws.on('open', res).on('error', rej));
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw));
    if (m.type === 'change' && m.key === KEY && m.value !== null) seen('ws', m.value.value);
  });

  const browser = await chromium.launch({
    executablePath: flags.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  closers.push(() => browser.close());
  const context = await browser.newContext();
  const { hostname, port } = new URL(url);
  await context.addCookies([{ name: 'raspy_session', value: cookie.split('=')[1], domain: hostname, path: '/', httpOnly: true, sameSite: 'Strict' }]);
  const page = await context.newPage();
  await page.exposeFunction('__raspySeen', (text) => {
    const n = Number.parseFloat(String(text));
    if (Number.isFinite(n)) seen('page', n);
  });
  await page.goto(`${url}/#/`);
  const selector = `[data-testid="value"][data-key="${KEY}"]`;
  await page.waitForSelector(selector, { timeout: 15_000 });
  await page.evaluate((sel) => {
    const el = document.querySelector(sel);
    new MutationObserver(() => window.__raspySeen(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  }, selector);

  const lat = { tree: [], ws: [], page: [] };
  let lost = 0;
  for (let i = 0; i < CHANGES + 20; i++) {
    const value = 100 + (i % 800);
    const arrived = Object.fromEntries(Object.keys(waiters).map((k) => [k, new Promise((res) => waiters[k].set(value, res))]));
    const t0 = performance.now();
    ctx.publish({ value });
    const timeout = new Promise((res) => setTimeout(() => res(null), 5000).unref());
    const [tTree, tWs, tPage] = await Promise.all(Object.values(arrived).map((p) => Promise.race([p, timeout])));
    for (const k of Object.keys(waiters)) waiters[k].clear();
    if (i < 20) continue; // warm-up
    if (tTree === null || tWs === null || tPage === null) {
      lost++;
      continue;
    }
    lat.tree.push(tTree - t0);
    lat.ws.push(tWs - t0);
    lat.page.push(tPage - t0);
  }
  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] };
  };
  const t = stats(lat.tree);
  const w = stats(lat.ws);
  const p = stats(lat.page);
  const f = (x) => x.toFixed(2).padStart(8);
  console.log(`web live updates: ${lat.page.length} changes (${lost} not seen within 5 s), device server → ...   [port ${port}]`);
  console.log('                                   p50 ms   p99 ms   max ms');
  console.log(`  key/value client (baseline)   ${f(t.p50)} ${f(t.p99)} ${f(t.max)}`);
  console.log(`  web app WebSocket client      ${f(w.p50)} ${f(w.p99)} ${f(w.max)}   ratio p50 ${(w.p50 / t.p50).toFixed(2)}x`);
  console.log(`  Chromium page (dashboard DOM) ${f(p.p50)} ${f(p.p99)} ${f(p.max)}   ratio p50 ${(p.p50 / t.p50).toFixed(2)}x`);
  if (lost > 0) process.exitCode = 1;
} finally {
  await finish();
}
