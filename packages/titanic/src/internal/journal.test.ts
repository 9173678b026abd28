import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from './journal.js';
import { crc32 } from './crc32.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'raspy-journal-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

type R = { n: number };
const isR = (v: unknown): v is R => typeof (v as R)?.n === 'number';

test('crc32 is the standard CRC-32', () => {
  expect(crc32('123456789').toString(16)).toBe('cbf43926');
  expect(crc32('')).toBe(0);
});

test('appends in the same moment share one fsync (group commit), and all are read back', async () => {
  const { journal } = await Journal.open<R>(dir, 'j', isR);
  await Promise.all(Array.from({ length: 200 }, (_, n) => journal.append({ n })));
  expect(journal.written).toBe(200);
  expect(journal.syncs).toBeLessThanOrEqual(2);
  await journal.close();
  const again = await Journal.open<R>(dir, 'j', isR);
  expect(again.records.map((r) => r.n)).toEqual(Array.from({ length: 200 }, (_, n) => n));
  expect(again.problems).toEqual([]);
  await again.journal.close();
});

test('a torn last line, a damaged line and a record of the wrong shape are skipped and reported', async () => {
  const { journal } = await Journal.open<R>(dir, 'j', isR);
  for (let n = 0; n < 3; n++) await journal.append({ n });
  await journal.close();
  const file = join(dir, 'j.journal');
  const lines = readFileSync(file, 'utf8').split('\n');
  lines[1] = (lines[1] as string).replace('"n":1', '"n":7'); // checksum no longer matches
  const wrongShape = JSON.stringify({ x: 1 });
  writeFileSync(file, lines.join('') === '' ? '' : lines.join('\n'));
  appendFileSync(file, `${crc32(wrongShape).toString(16).padStart(8, '0')} ${wrongShape}\n0badc0de {"n":`);
  const again = await Journal.open<R>(dir, 'j', isR);
  expect(again.records.map((r) => r.n)).toEqual([0, 2]);
  expect(again.problems).toEqual([
    'j.journal line 2: checksum mismatch, record skipped',
    'j.journal line 4: malformed record skipped',
    'j.journal line 5: torn last line ignored (an interrupted write)',
  ]);
  // Appending after a torn tail starts on a fresh line.
  await again.journal.append({ n: 9 });
  await again.journal.close();
  const third = await Journal.open<R>(dir, 'j', isR);
  expect(third.records.map((r) => r.n)).toEqual([0, 2, 9]);
  await third.journal.close();
});

test('rewrite keeps what the owner gives, and appends made meanwhile land in the new file', async () => {
  const { journal } = await Journal.open<R>(dir, 'j', isR);
  for (let n = 0; n < 50; n++) await journal.append({ n });
  const rewriting = journal.rewrite(() => [{ n: 100 }]);
  const during = journal.append({ n: 101 });
  await Promise.all([rewriting, during]);
  expect(journal.size).toBe(2);
  await journal.close();
  const again = await Journal.open<R>(dir, 'j', isR);
  expect(again.records.map((r) => r.n)).toEqual([100, 101]);
  await again.journal.close();
});
