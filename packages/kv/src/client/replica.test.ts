import { Replica } from './replica.js';
import type { KvMessage } from '../protocol/codec.js';

const b = (s: string): Buffer => Buffer.from(s);
const pub = (key: string, sequence: number, value: string): KvMessage => ({ key, sequence, uuid: Buffer.alloc(0), properties: {}, value: b(value) });
const text = (changes: { key: string; value: Buffer | undefined; previous: Buffer | undefined }[]) =>
  changes.map((c) => [c.key, c.value?.toString(), c.previous?.toString()]);

test('updates that raced the snapshot: at or below its sequence dropped, above applied once, in order', () => {
  const r = new Replica();
  r.beginSnapshot();
  // Published while the snapshot was being cut and sent:
  expect(r.update(pub('/a', 5, 'old')).kind).toBe('buffered');
  expect(r.update(pub('/b', 6, 'in-snapshot')).kind).toBe('buffered');
  expect(r.update(pub('/a', 7, 'new')).kind).toBe('buffered');
  r.snapshotEntry('/a', b('old'));
  r.snapshotEntry('/b', b('in-snapshot'));
  const changes = r.endSnapshot(6);
  expect(text(changes)).toEqual([
    ['/a', 'old', undefined],
    ['/b', 'in-snapshot', undefined],
    ['/a', 'new', 'old'],
  ]);
  expect(r.sequence).toBe(7);
  expect(r.update(pub('/a', 7, 'new')).kind).toBe('stale');
  expect(r.update(pub('/c', 8, 'x'))).toEqual({ kind: 'applied', change: expect.objectContaining({ key: '/c' }) });
});

test('updates trailing the snapshot are discarded; a sequence below the first received means another server run', () => {
  const r = new Replica();
  r.beginSnapshot();
  r.update(pub('/a', 90, 'x'));
  r.endSnapshot(100);
  // Published before the snapshot was cut, arriving after it (another connection).
  expect(r.update(pub('/a', 95, 'x')).kind).toBe('stale');
  expect(r.update(pub('/a', 101, 'y')).kind).toBe('applied');
  expect(r.update(pub('/a', 3, 'z')).kind).toBe('restarted');
});

test('a resync announces only what differs from the replica', () => {
  const r = new Replica();
  r.beginSnapshot();
  r.snapshotEntry('/same', b('1'));
  r.snapshotEntry('/changed', b('1'));
  r.snapshotEntry('/gone', b('1'));
  r.endSnapshot(10);
  r.beginSnapshot();
  r.snapshotEntry('/same', b('1'));
  r.snapshotEntry('/changed', b('2'));
  r.snapshotEntry('/new', b('1'));
  expect(text(r.endSnapshot(3))).toEqual([
    ['/gone', undefined, '1'],
    ['/changed', '2', '1'],
    ['/new', '1', undefined],
  ]);
  expect(r.sequence).toBe(3); // a restarted server's lower sequence is taken
});

test('a delete of an absent key and a set to the same value announce nothing', () => {
  const r = new Replica();
  r.beginSnapshot();
  r.snapshotEntry('/a', b('1'));
  r.endSnapshot(1);
  expect(r.update(pub('/zzz', 2, ''))).toEqual({ kind: 'applied', change: null });
  expect(r.update(pub('/a', 3, '1'))).toEqual({ kind: 'applied', change: null });
  expect(r.update(pub('/a', 4, ''))).toEqual({ kind: 'applied', change: expect.objectContaining({ key: '/a', value: undefined }) });
});

test('the buffer used while syncing is bounded', () => {
  const r = new Replica(3);
  r.beginSnapshot();
  for (let i = 1; i <= 10; i++) r.update(pub(`/k${i}`, i, 'v'));
  const changes = r.endSnapshot(0);
  expect(changes.map((c) => c.key)).toEqual(['/k8', '/k9', '/k10']);
});
