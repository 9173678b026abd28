/**
 * A device context with a fake clock for the tests of the simulated
 * devices: the time moves only when the test says so, and what a device
 * publishes is recorded.
 *
 * @module
 */
import { silentLogger } from '@raspy/mdp';
import type { DeviceContext } from '../../model/device.js';

/** A {@link DeviceContext} whose clock the test sets. */
export interface FakeContext extends DeviceContext {
  /** The current fake time in ms. */
  time: number;
  /** Moves the clock forward by `ms`. */
  advance(ms: number): void;
  /** What the device published, in order. */
  readonly published: Record<string, unknown>[];
}

/**
 * Makes a context whose clock starts at `start` ms.
 *
 * @param start - the first time, ms
 */
export function fakeContext(start = 1_700_000_000_000): FakeContext {
  const ctx: FakeContext = {
    time: start,
    now: () => ctx.time,
    logger: silentLogger,
    publish: (values) => {
      ctx.published.push({ ...values });
    },
    advance: (ms) => {
      ctx.time += ms;
    },
    published: [],
  };
  return ctx;
}
