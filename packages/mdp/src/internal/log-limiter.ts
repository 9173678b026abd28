/**
 * Limits how many lines a flood of bad input can write to the log: the first
 * `burst` lines of each window pass, the rest are counted and summarised in
 * one line when the next window opens.
 *
 * @module
 * @internal
 */
import type { LogFields, Logger } from '../logger.js';

export class LogLimiter {
  private windowStart = -Infinity;
  private passed = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly burst = 20,
    private readonly windowMs = 10_000,
  ) {}

  /** Logs a warning unless this window's budget is spent. */
  warn(now: number, message: string, fields?: LogFields): void {
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) {
        this.logger.warn('suppressed similar log lines', { count: this.suppressed, windowMs: this.windowMs });
      }
      this.windowStart = now;
      this.passed = 0;
      this.suppressed = 0;
    }
    if (this.passed < this.burst) {
      this.passed++;
      this.logger.warn(message, fields);
    } else {
      this.suppressed++;
    }
  }
}
