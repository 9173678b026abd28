/**
 * The history: files on disk in a temp dir, a real key/value server feeding
 * the recorder, and the MDP service through a real broker.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdpBroker, MdpClient } from '@raspy/mdp';
import { KvClient, KvServer } from '@raspy/kv';
import { Cleanup, memoryLogger, waitFor } from '@raspy/test-support';
import { HistoryClient, HistoryService, HistoryStore, isDeviceError, recordDevices } from '../index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-history-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function store(options: Partial<ConstructorParameters<typeof HistoryStore>[0]> = {}): Promise<HistoryStore> {
  const s = new HistoryStore({ dir: tempDir(), flushInterval: 50, ...options });
  await s.start();
  cleanup.defer(() => s.stop());
  return s;
}

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 20, 12);
const KEY = '/device/pi1/sim/living-temp/temperature';

test('points are kept on disk per day, across midnight, and read back in order within the range', async () => {
  const s = await store();
  for (let i = 0; i < 48; i++) s.record(KEY, T0 + i * 3_600_000, 20 + (i % 5));
  s.record(KEY, T0, Number.NaN); // ignored
  await s.flush();
  const all = await s.query(KEY, T0, T0 + 47 * 3_600_000, 5000);
  expect(all).toHaveLength(48);
  expect(all[0]).toEqual([T0, 20]);
  expect(all[47]).toEqual([T0 + 47 * 3_600_000, 22]);
  const some = await s.query(KEY, T0 + 10 * 3_600_000, T0 + 12 * 3_600_000);
  expect(some.map((p) => p[1])).toEqual([20, 21, 22]);
  // A new store over the same directory reads the same (it is on disk).
  const again = new HistoryStore({ dir: (s as unknown as { options: { dir: string } }).options.dir });
  expect(await again.query(KEY, T0, T0 + 2 * DAY, 5000)).toEqual(all);
  expect(await again.keys()).toEqual([KEY]);
  expect(await s.query('/device/pi1/sim/none/x', T0, T0 + DAY)).toEqual([]);
});

test('more points than asked are averaged into buckets of equal time', async () => {
  const s = await store();
  for (let i = 0; i < 1000; i++) s.record(KEY, T0 + i * 1000, i % 2 === 0 ? 10 : 20);
  const points = await s.query(KEY, T0, T0 + 999_999, 10);
  expect(points).toHaveLength(10);
  for (const [ts, v] of points) {
    expect(v).toBe(15);
    expect(ts).toBeGreaterThanOrEqual(T0);
  }
  expect(points.map((p) => p[0])).toEqual([...points.map((p) => p[0])].sort((a, b) => a - b));
});

test('bad ranges and point counts are refused with a message', async () => {
  const s = await store();
  for (const [from, to, points] of [
    [T0, T0 - 1, 10],
    [Number.NaN, T0, 10],
    [T0, T0 + 1, 1],
    [T0, T0 + 1, 1.5],
    [T0, T0 + 1, 100_000],
  ] as const) {
    const err = await s.query(KEY, from, to, points).then(() => null, (e: unknown) => e);
    expect(isDeviceError(err) && err.code === 'ERR_DEVICE_INVALID').toBe(true);
  }
});

test('retention deletes old days, maxBytes deletes the oldest days first, and empty keys disappear', async () => {
  const s = await store({ retentionDays: 2, maxBytes: 10_000 });
  const now = T0 + 10 * DAY;
  s.record('/device/a/b/old/x', T0, 1); // 10 days old: past retention
  for (let i = 0; i < 300; i++) s.record(KEY, now - DAY - i * 1000, 21.5); // yesterday
  await s.flush(); // (the first flush also prunes, against the real clock and under maxBytes)
  expect(await s.keys()).toEqual(['/device/a/b/old/x', KEY]);
  for (let i = 0; i < 300; i++) s.record(KEY, now - i * 1000, 22.5); // today
  await s.flush();
  await s.prune(now);
  expect(await s.keys()).toEqual([KEY]);
  // 600 lines of ~17 bytes are over 10,000 bytes: yesterday goes.
  const left = await s.query(KEY, now - 3 * DAY, now, 5000);
  expect(left).toHaveLength(300);
  expect(left.every((p) => p[1] === 22.5)).toBe(true);
});

test('an unwritable directory is logged, not thrown', async () => {
  const dir = tempDir();
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  const logger = memoryLogger();
  const s = new HistoryStore({ dir: file, logger });
  s.record(KEY, T0, 1);
  await expect(s.flush()).resolves.toBeUndefined();
  expect(logger.lines.map((l) => l.message)).toContain('cannot write history');
});

async function kvHouse(): Promise<{ kv: KvServer; writer: KvClient; reader: KvClient }> {
  const kv = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0 }));
  await kv.start();
  const writer = cleanup.add(new KvClient({ servers: kv.endpoints, subtree: '/device/' }));
  await writer.start();
  const reader = cleanup.add(new KvClient({ servers: kv.endpoints, subtree: '/device/' }));
  await reader.start();
  return { kv, writer, reader };
}

test('the recorder keeps numbers and on/off readings, skips devices whose record setting is off, and ignores the rest', async () => {
  const { writer, reader } = await kvHouse();
  const s = await store();
  const stop = recordDevices(reader, s);
  cleanup.defer(stop);
  const now = Date.now();
  await writer.setJson('/device/pi1/sim/quiet/record', { value: false, ts: now });
  await writer.setJson('/device/pi1/sim/lamp/record', { value: true, ts: now });
  await waitFor(() => reader.get('/device/pi1/sim/lamp/record') !== undefined, 'settings to arrive');
  await writer.setJson(KEY, { value: 21.5, unit: '°C', ts: now - 2 });
  await writer.setJson(KEY, { value: 21.5, unit: '°C', ts: now - 2 }); // the same reading again
  await writer.setJson(KEY, { value: 21.7, unit: '°C', ts: now - 1 });
  await writer.setJson('/device/pi1/sim/lamp/power', { value: true, ts: now });
  await writer.setJson('/device/pi1/sim/lamp/poll', { value: 30, unit: 's', ts: now });
  await writer.setJson('/device/pi1/sim/lamp/name', { value: 'Lamp', ts: now });
  await writer.setJson('/device/pi1/sim/lamp/$state', { online: true, ts: now });
  await writer.setJson('/device/pi1/sim/tv/channel', { value: 'BBC', ts: now });
  await writer.setJson('/device/pi1/sim/quiet/temperature', { value: 5, ts: now });
  await writer.set('/device/pi1/sim/lamp/level', Buffer.from('not json'));
  await writer.setJson('/device/pi1/sim/lamp/marker', { value: 1, ts: now });
  await waitFor(() => reader.get('/device/pi1/sim/lamp/marker') !== undefined, 'the last update');
  await s.flush();
  expect(await s.keys()).toEqual(['/device/pi1/sim/lamp/marker', '/device/pi1/sim/lamp/power', KEY]);
  expect(await s.query(KEY, now - 10, now + 10)).toEqual([
    [now - 2, 21.5],
    [now - 1, 21.7],
  ]);
  expect(await s.query('/device/pi1/sim/lamp/power', now - 10, now + 10)).toEqual([[now, 1]]);
  stop();
  await writer.setJson(KEY, { value: 30, ts: now + 5 });
  await writer.setJson('/device/pi1/sim/lamp/marker', { value: 2, ts: now + 5 });
  await waitFor(() => reader.getJson('/device/pi1/sim/lamp/marker') !== undefined && (reader.getJson('/device/pi1/sim/lamp/marker') as { value: number }).value === 2, 'the marker');
  expect(await s.query(KEY, now - 10, now + 10)).toHaveLength(2);
});

test('the history service answers queries through the broker and refuses bad ones', async () => {
  const broker = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100 }));
  await broker.start();
  const s = await store();
  for (let i = 0; i < 10; i++) s.record(KEY, T0 + i * 1000, i);
  const service = new HistoryService({ broker: broker.endpoints[0] as string, service: 'pi1.core.history', store: s, heartbeatInterval: 100 });
  cleanup.defer(() => service.stop());
  await service.start();
  const mdp = cleanup.add(new MdpClient({ endpoint: broker.endpoints[0] as string, timeout: 5000 }));
  const client = new HistoryClient(mdp, 'pi1.core.history');
  expect(await client.query(KEY, T0, T0 + 9000)).toHaveLength(10);
  expect(await client.query(KEY, T0, T0 + 9000, 5)).toEqual([
    [T0 + 500, 0.5],
    [T0 + 2500, 2.5],
    [T0 + 4500, 4.5],
    [T0 + 6500, 6.5],
    [T0 + 8500, 8.5],
  ]);
  expect(await client.keys('/device/pi1/')).toEqual([KEY]);
  expect(await client.keys('/device/pi2/')).toEqual([]);
  const refused = async (p: Promise<unknown>, message: RegExp): Promise<void> => {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(isDeviceError(err) && err.code === 'ERR_DEVICE_INVALID').toBe(true);
    expect((err as Error).message).toMatch(message);
  };
  await refused(client.query(KEY, T0, T0 - 1), /from <= to/);
  await refused(client.query('relative', T0, T0 + 1), /needs "key"/);
  await refused(client.query(KEY, T0, T0 + 1, 0), /points/);
  const raw = async (...frames: (string | Buffer)[]): Promise<[string, string]> => {
    const [status, body] = await mdp.requestWith('pi1.core.history', frames);
    return [String(status), String(body)];
  };
  expect(await raw('query', Buffer.from([0xff, 0xfe]))).toEqual(['400', JSON.stringify({ error: 'the argument is not valid UTF-8' })]);
  expect((await raw('query', '{nope'))[0]).toBe('400');
  expect((await raw('query', '[]'))[0]).toBe('400');
  expect((await raw('query', JSON.stringify({ key: KEY, from: 'yesterday' })))[0]).toBe('400');
  expect((await raw('keys', JSON.stringify({ prefix: 3 })))[0]).toBe('400');
  expect(await raw('drop')).toEqual(['501', JSON.stringify({ error: 'unknown action "drop"; actions: query, keys' })]);
  // Hostile keys never touch a path: they are hashed.
  expect(await client.query('/../../etc/passwd', T0, T0 + 1)).toEqual([]);
  expect(readdirSync((s as unknown as { options: { dir: string } }).options.dir)).toHaveLength(1);
});
