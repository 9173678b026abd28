#!/usr/bin/env node
// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with
// the most self time, with their inclusive ("total") time, idle excluded.
//
//   node tools/bench/profile-summary.mjs file.cpuprofile [top=20]
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { basename, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const maps = new Map();

/** The source map next to a built file (e.g. packages/mdp/dist/index.js.map), or null. */
function sourceMapOf(path) {
  if (!maps.has(path)) {
    let map = null;
    try {
      if (existsSync(`${path}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(path, map);
  }
  return maps.get(path);
}

function shortPath(path) {
  const i = path.lastIndexOf('/node_modules/');
  if (i >= 0) return path.slice(i + 14);
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? basename(path) : rel;
}

function keyOf(frame) {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const path = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  let where = `${shortPath(path)}:${frame.lineNumber + 1}`;
  // Built code of the library: point at the TypeScript source.
  const entry = path.startsWith('/') && !path.includes('/node_modules/') ? sourceMapOf(path)?.findEntry(frame.lineNumber, frame.columnNumber) : null;
  if (entry?.originalSource) {
    const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : resolve(dirname(path), entry.originalSource);
    where = `${shortPath(source)}:${entry.originalLine + 1}`;
  }
  return `${name}  ${where}`;
}

/**
 * @param {string} file - a .cpuprofile
 * @param {number} top - how many functions
 * @returns {{ totalMs: number, busyMs: number, idleMs: number, top: object[], text: string }}
 */
export function summarizeProfile(file, top = 20) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map();
  const parent = new Map();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map();
  const total = new Map();
  let totalUs = 0;
  let idleUs = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // A sample's duration is the time until the next one.
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    if (dt <= 0) continue;
    totalUs += dt;
    const leaf = byId.get(samples[i]);
    const leafKey = keyOf(leaf.callFrame);
    if (leaf.callFrame.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    self.set(leafKey, (self.get(leafKey) ?? 0) + dt);
    const seen = new Set();
    for (let id = samples[i]; id !== undefined; id = parent.get(id)) {
      const key = keyOf(byId.get(id).callFrame);
      if (seen.has(key) || key === '(root)') continue;
      seen.add(key);
      total.set(key, (total.get(key) ?? 0) + dt);
    }
  }
  const busyUs = totalUs - idleUs;
  const rows = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, us]) => ({ fn, selfMs: us / 1000, selfPct: (100 * us) / busyUs, totalPct: (100 * (total.get(fn) ?? us)) / busyUs }));
  const text = [
    `  busy ${(busyUs / 1000).toFixed(0)} ms, idle ${(idleUs / 1000).toFixed(0)} ms; percentages of busy time`,
    '   self ms  self %  total %  function',
    ...rows.map((r) => `  ${r.selfMs.toFixed(0).padStart(8)}  ${r.selfPct.toFixed(1).padStart(6)}  ${r.totalPct.toFixed(1).padStart(7)}  ${r.fn}`),
  ].join('\n');
  return { totalMs: totalUs / 1000, busyMs: busyUs / 1000, idleMs: idleUs / 1000, top: rows, text };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node tools/bench/profile-summary.mjs file.cpuprofile [top]');
    process.exit(2);
  }
  const s = summarizeProfile(file, Number(top ?? 20));
  console.log(s.text);
}
