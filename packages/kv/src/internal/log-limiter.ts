/**
 * Limits how many lines a flood of bad input can write to the log: the first
 * `burst` lines of each window pass, the rest are counted and summarised.
 * (The same small helper lives in @raspy/mdp; this package keeps its own copy
 * to depend on nothing but zeromq.)
 *
 * @module
 * @internal
 */
import type { KvLogFields, KvLogger } from '../logger.js';

export class LogLimiter {
  private windowStart = -Infinity;
  private passed = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: KvLogger,
    private readonly burst = 20,
    private readonly windowMs = 10_000,
  ) {}

  warn(now: number, message: string, fields?: KvLogFields): void {
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) this.logger.warn('suppressed similar log lines', { count: this.suppressed });
      this.windowStart = now;
      this.passed = 0;
      this.suppressed = 0;
    }
    if (this.passed++ < this.burst) this.logger.warn(message, fields);
    else this.suppressed++;
  }
}
