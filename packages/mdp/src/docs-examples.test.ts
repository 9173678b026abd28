/**
 * The examples of docs/mdp.md, run as a reader would run them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Cleanup, startBroker, waitForWorkers } from './test-support/helpers.js';

const examples = join(__dirname, '..', '..', '..', 'docs', 'examples', 'mdp');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Runs ask.mjs without blocking this process (the broker lives here). */
function ask(endpoint: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(examples, 'ask.mjs'), ...args], {
    env: { ...process.env, RASPY_BROKER: endpoint },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

test('thermometer-worker.mjs and ask.mjs work together through a broker', async () => {
  const { broker, endpoint } = await startBroker(cleanup, { heartbeatInterval: 2500, requestTimeout: 300 });
  const worker = spawn(process.execPath, [join(examples, 'thermometer-worker.mjs')], {
    env: { ...process.env, RASPY_BROKER: endpoint },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => worker.on('exit', resolve));
  cleanup.defer(() => worker.kill('SIGKILL'));
  await waitForWorkers(broker, 'pi1.kitchen.thermometer', 1, 10_000);

  const read = await ask(endpoint, 'pi1.kitchen.thermometer', 'read');
  expect(read.status).toBe(0);
  const [status, json] = read.stdout.trim().split('\n');
  expect(status).toBe('200');
  expect(JSON.parse(json ?? '')).toMatchObject({ unit: '°C', value: expect.any(Number) });

  const bad = await ask(endpoint, 'pi1.kitchen.thermometer', 'calibrate', '{"offset": 99}');
  expect(bad.stdout.trim().split('\n')).toEqual(['400', '{"error":"offset must be a number between -5 and 5"}']);
  expect((await ask(endpoint, 'pi1.kitchen.thermometer', 'dance')).stdout).toMatch(/^501\n/);
  expect((await ask(endpoint, 'mmi.discovery', 'kitchen')).stdout).toBe('200\npi1.kitchen.thermometer\n');

  const missing = await ask(endpoint, 'nobody.home', 'x');
  expect(missing.status).toBe(1);
  expect(missing.stderr).toMatch(/^ERR_MDP_SERVICE_UNAVAILABLE: no worker for service "nobody.home"/);

  worker.kill('SIGTERM');
  expect(await exited).toBe(0);
  await waitForWorkers(broker, 'pi1.kitchen.thermometer', 0);
});

test('ask.mjs without arguments prints its usage', () => {
  const out = spawnSync(process.execPath, [join(examples, 'ask.mjs')], { encoding: 'utf8' });
  expect(out.status).toBe(2);
  expect(out.stderr).toMatch(/usage/);
});
