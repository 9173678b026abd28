import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger, waitFor } from '@raspy/test-support';
import { KvStore } from './store.js';
import { KvTree } from './tree.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'raspy-kv-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const b = (s: string): Buffer => Buffer.from(s);
const open = (extra = {}) => KvStore.open(dir, { logger: memoryLogger(), ...extra });
const text = (entries: { key: string; value: Buffer }[]) => entries.map((e) => [e.key, e.value.toString()]).sort();

test('records survive a close and reopen; deletes and ephemeral keys do not come back', async () => {
  const { store, state } = await open();
  expect(state).toEqual({ entries: [], sequence: 0, problems: [] });
  store.record(1, '/a', b('1'));
  store.record(2, '/b', b('2'));
  store.record(3, '/a', null);
  store.record(4, '/c', b('binary \u0000 ok'));
  await store.close();
  const again = await open();
  expect(text(again.state.entries)).toEqual([
    ['/b', '2'],
    ['/c', 'binary \u0000 ok'],
  ]);
  await again.store.close();
});

test('the start sequence is above every reservation, so it never goes backwards after a crash', async () => {
  const first = await open({ reserveBlock: 100 });
  first.store.record(1, '/a', b('x'));
  await first.store.flush();
  // Simulate a crash: the lock file stays, the process (ours) is "gone" for the next open.
  const crashed = first.store as unknown as { journal: { close(): Promise<void> }; syncTimer: NodeJS.Timeout };
  clearInterval(crashed.syncTimer);
  await crashed.journal.close();
  rmSync(join(dir, 'lock'));
  const second = await open({ reserveBlock: 100 });
  expect(second.state.sequence).toBe(100); // the reservation made at the first open
  await second.store.close();
  const third = await open({ reserveBlock: 100 });
  expect(third.state.sequence).toBe(200);
  await third.store.close();
});

test('a torn last line is ignored and a corrupt inner line skipped, both reported', async () => {
  const { store } = await open();
  store.record(1, '/a', b('1'));
  store.record(2, '/b', b('2'));
  await store.close();
  const journal = readdirSync(dir).find((f) => f.startsWith('journal-')) as string;
  appendFileSync(join(dir, journal), 'this is not json\n{"s":3,"k":"/c","v":"Mw=="}\n{"s":4,"k":"/d","v":"NA');
  const again = await open();
  expect(text(again.state.entries)).toEqual([
    ['/a', '1'],
    ['/b', '2'],
    ['/c', '3'],
  ]);
  expect(again.state.problems).toEqual([`${journal}: corrupt line 4 skipped`, `${journal}: torn last line ignored`]);
  await again.store.close();
});

test('the journal is compacted into a snapshot once it outgrows it, and loads the same', async () => {
  const log = memoryLogger();
  const { store } = await KvStore.open(dir, { logger: log, compactBytes: 2000 });
  const tree = new KvTree();
  for (let round = 0; round < 30; round++) {
    for (let k = 0; k < 5; k++) {
      const pub = tree.apply({ key: `/k${k}`, value: b(`round ${round}`), uuid: Buffer.alloc(0), properties: {} }, 0, null);
      store.record(pub.sequence, pub.key, pub.value);
    }
    await store.flush();
    store.maybeCompact(tree);
  }
  await waitFor(() => log.lines.some((l) => l.message === 'key/value journal compacted'), 'a compaction');
  await store.close();
  const files = readdirSync(dir).sort();
  expect(files.filter((f) => f.startsWith('journal-')).length).toBe(1);
  expect(files).toContain('snapshot.jsonl');
  const again = await open();
  expect(text(again.state.entries)).toEqual([0, 1, 2, 3, 4].map((k) => [`/k${k}`, 'round 29']));
  expect(again.state.sequence).toBeGreaterThanOrEqual(150);
  await again.store.close();
});

test('a file that is not a snapshot, or a directory in use, is refused with ERR_KV_STORAGE', async () => {
  writeFileSync(join(dir, 'snapshot.jsonl'), '{"hello":"world"}\n');
  await expect(open()).rejects.toMatchObject({ code: 'ERR_KV_STORAGE', message: expect.stringMatching(/not a RasPy key\/value snapshot/) });
  rmSync(join(dir, 'snapshot.jsonl'));
  const { store } = await open();
  await expect(open()).rejects.toMatchObject({ code: 'ERR_KV_STORAGE', message: expect.stringMatching(/already open in this process/) });
  await store.close();
});

test('a stale lock left by a dead process is taken over', async () => {
  writeFileSync(join(dir, 'lock'), '999999');
  const { store } = await open();
  await store.close();
});
