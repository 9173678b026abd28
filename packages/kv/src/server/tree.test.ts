import { KvTree, ttlOf } from './tree.js';

const b = (s: string): Buffer => Buffer.from(s);
const upd = (key: string, value: string, properties: Record<string, string> = {}) => ({ key, value: b(value), uuid: Buffer.alloc(0), properties });

test('every update takes the next sequence; an empty value deletes', () => {
  const t = new KvTree();
  expect(t.apply(upd('/a', '1'), 0, null).sequence).toBe(1);
  expect(t.apply(upd('/b', '2'), 0, null).sequence).toBe(2);
  const del = t.apply(upd('/a', ''), 0, null);
  expect(del).toMatchObject({ key: '/a', sequence: 3 });
  expect(del.value.length).toBe(0);
  expect(t.has('/a')).toBe(false);
  expect(t.size).toBe(1);
});

test('a restored tree continues from its sequence', () => {
  const t = new KvTree(1000);
  t.restore('/x', b('v'), 900);
  expect(t.apply(upd('/y', 'w'), 0, null).sequence).toBe(1001);
  expect(t.get('/x')?.sequence).toBe(900);
});

test('ttl: parsed in seconds, refused when malformed', () => {
  expect(ttlOf({})).toBeNull();
  expect(ttlOf({ ttl: '2.5' })).toBe(2500);
  expect(ttlOf({ ttl: 'soon' })).toMatch(/number of seconds/);
  expect(ttlOf({ ttl: '0' })).toBeNull(); // the Guide's clone class sends ttl=0 for permanent keys
  expect(ttlOf({ ttl: '31536001' })).toMatch(/at most/);
  expect(ttlOf({ ttl: '1e9' })).toMatch(/number of seconds/);
});

test('ephemeral keys expire with a published delete; a new set refreshes; a plain set makes them permanent', () => {
  const t = new KvTree();
  t.apply(upd('/e', 'x', { ttl: '1' }), 0, 1000);
  t.apply(upd('/p', 'y', { ttl: '1' }), 0, 1000);
  t.apply(upd('/p', 'y'), 500, null); // now permanent
  expect(t.expire(999)).toEqual([]);
  t.apply(upd('/e', 'x2', { ttl: '1' }), 900, 1000); // refreshed until 1900
  expect(t.expire(1500)).toEqual([]);
  const gone = t.expire(1900);
  expect(gone.map((m) => [m.key, m.value.length])).toEqual([['/e', 0]]);
  expect(t.has('/e')).toBe(false);
  expect(t.has('/p')).toBe(true);
  expect(t.ephemeralCount).toBe(0);
});

test('snapshots are filtered by subtree and carry the current sequence', () => {
  const t = new KvTree();
  t.apply(upd('/a/1', 'x'), 0, null);
  t.apply(upd('/b/1', 'y'), 0, null);
  t.apply(upd('/a/2', 'z'), 0, null);
  t.apply(upd('/b/1', ''), 0, null);
  const s = t.snapshot('/a/');
  expect(s.entries.map((e) => e.key)).toEqual(['/a/1', '/a/2']);
  expect(s.sequence).toBe(4);
  expect(t.snapshot('').entries).toHaveLength(2);
});
