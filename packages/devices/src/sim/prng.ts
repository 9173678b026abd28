/**
 * A small seeded pseudo-random generator for the simulated devices, so that
 * a simulation is the same on every run: tests can assert on exact values
 * and a demo shows the same curve twice. Not for anything secret.
 *
 * The algorithm is Mulberry32 (Tommy Ettinger, public domain): 32 bits of
 * state, a period of 2^32, fast and good enough for noise and random walks.
 *
 * @module
 */

/** A seeded pseudo-random generator (Mulberry32). */
export class Prng {
  private state: number;

  /**
   * @param seed - any integer; only its low 32 bits are used
   */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /**
   * The next value as an unsigned 32-bit integer.
   *
   * @returns an integer in [0, 2^32)
   */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * The next value as a fraction.
   *
   * @returns a number in [0, 1)
   */
  next(): number {
    return this.nextUint32() / 4_294_967_296;
  }
}

/**
 * Hashes a text to a 32-bit seed (FNV-1a), so that a device without an
 * explicit seed still gets its own, stable sequence from its id.
 *
 * @param text - e.g. the device id
 * @returns an unsigned 32-bit integer
 */
export function seedFromText(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
