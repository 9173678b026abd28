#!/usr/bin/env node
// `npm test`: builds what the tests need, runs every project's tests through
// Nx, and ends with one line "N passed, N failed[, N skipped]" summed over all
// projects. Exits non-zero when anything failed or when no test ran.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Each Jest project writes its totals here (see jest-summary-reporter.cjs).
const results = mkdtempSync(join(tmpdir(), 'raspy-test-results-'));

const env = {
  ...process.env,
  NX_NO_CLOUD: 'true',
  NX_DAEMON: 'false',
  NX_TUI: 'false',
  RASPY_TEST_RESULTS: results,
};
const args = ['nx', 'run-many', '-t', 'test', '--output-style=static', ...process.argv.slice(2)];
const run = spawnSync('npx', args, { cwd: root, env, stdio: 'inherit' });

let passed = 0;
let failed = 0;
let skipped = 0;
const broken = [];
if (existsSync(results)) {
  for (const file of readdirSync(results)) {
    const r = JSON.parse(readFileSync(join(results, file), 'utf8'));
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
    if (r.failedSuites > 0 && r.failed === 0) broken.push(r.project);
  }
}
rmSync(results, { recursive: true, force: true });
// A suite that could not even load counts as one failure.
failed += broken.length;
if (run.status !== 0 && failed === 0) failed = 1; // a build or Nx failure
if (broken.length > 0) console.error(`test suites that failed to run: ${broken.join(', ')}`);
const total = passed + failed;
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || total === 0 ? 1 : 0);
