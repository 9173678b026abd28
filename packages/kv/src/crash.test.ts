/**
 * A durable server killed with SIGKILL: what was synced survives, and the
 * sequence never goes backwards for the clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Cleanup, waitFor, within } from '@raspy/test-support';
import { KvClient, type KvEndpoints } from './index.js';

const fixture = join(__dirname, '..', 'test', 'fixtures', 'server.mjs');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function startChild(dir: string, endpoints?: KvEndpoints): Promise<{ child: ChildProcess; endpoints: KvEndpoints }> {
  const child = spawn(process.execPath, [fixture, dir, ...(endpoints ? [JSON.stringify(endpoints)] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.defer(() => child.kill('SIGKILL'));
  return within(
    new Promise((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.startsWith('listening ')) resolve({ child, endpoints: JSON.parse(line.slice(10)) as KvEndpoints });
      });
      child.on('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    }),
    10_000,
    'the child server to listen',
  );
}

function journalText(dir: string): string {
  return readdirSync(dir)
    .filter((f) => f.startsWith('journal-'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('');
}

test('SIGKILL: synced keys survive, the restarted server continues above every sequence clients saw', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-kv-crash-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startChild(dir);
  const client = cleanup.add(new KvClient({ servers: first.endpoints, subtree: '/c/', serverTimeout: 1000 }));
  await client.start();
  for (let i = 0; i < 50; i++) await client.set(`/c/k${i}`, `v${i}`);
  await client.set('/c/eph', 'gone after restart', { ttl: 600 });
  // Wait for the journal to hold the last key (written in the background).
  await waitFor(() => journalText(dir).includes('"/c/k49"'), 'the journal to be written');
  const seenBefore = client.sequence;
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  const second = await startChild(dir, first.endpoints);
  await client.set('/c/after', 'crash');
  await waitFor(() => client.ready && client.get('/c/eph') === undefined, 'the client to resync with the restarted server', 8000);
  expect(client.sequence).toBeGreaterThan(seenBefore);
  expect(client.size).toBe(51);
  expect(client.get('/c/k49')?.toString()).toBe('v49');
  second.child.kill('SIGTERM');
  expect(await new Promise((r) => second.child.once('exit', r))).toBe(0);
});
