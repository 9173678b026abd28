import { Prng, seedFromText } from './prng.js';

describe('Prng', () => {
  it('gives the same sequence for the same seed and another for another seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const first = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(first);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(first);
  });

  it('stays in [0, 1) and spreads evenly', () => {
    const prng = new Prng(1);
    const buckets = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = prng.next();
      if (x < 0 || x >= 1) outside++;
      else buckets[Math.floor(x * 10)]! += 1;
    }
    expect(outside).toBe(0);
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });

  it('uses the low 32 bits of a seed', () => {
    expect(new Prng(2 ** 32 + 5).nextUint32()).toBe(new Prng(5).nextUint32());
    expect(new Prng(-1).nextUint32()).toBe(new Prng(0xffffffff).nextUint32());
  });
});

describe('seedFromText', () => {
  it('is stable and tells texts apart', () => {
    expect(seedFromText('kitchen')).toBe(seedFromText('kitchen'));
    expect(seedFromText('kitchen')).not.toBe(seedFromText('bathroom'));
    expect(seedFromText('')).toBe(0x811c9dc5);
  });
});
