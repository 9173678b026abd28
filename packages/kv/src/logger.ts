/**
 * The logger shape `@raspy/kv` logs through. It is the same shape as
 * `@raspy/mdp`'s `Logger`, so one process logger serves both libraries; this
 * package only declares it, to stay free of other dependencies.
 *
 * @module
 */

/** Structured fields attached to a log line. */
export type KvLogFields = Record<string, unknown>;

/** Anything with these methods can be passed as `logger`. */
export interface KvLogger {
  debug(message: string, fields?: KvLogFields): void;
  info(message: string, fields?: KvLogFields): void;
  warn(message: string, fields?: KvLogFields): void;
  error(message: string, fields?: KvLogFields): void;
  child(component: string, fields?: KvLogFields): KvLogger;
}

const noop = (): void => {};

/** The default logger: drops everything. */
export const silentKvLogger: KvLogger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentKvLogger };
