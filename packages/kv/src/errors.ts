/**
 * Errors of `@raspy/kv`.
 *
 * Every error the library throws or rejects with is a {@link KvError} with a
 * stable `code`; match on `code`, not on `instanceof` (the CommonJS and ESM
 * builds each have their own class).
 *
 * @module
 */

/** Stable codes carried by {@link KvError}. */
export type KvErrorCode =
  /** Frames that are not 12/CHP (frame count, sizes, reserved keys, bad properties). */
  | 'ERR_KV_PROTOCOL'
  /** A key, value or option was refused before anything was sent. */
  | 'ERR_KV_INVALID_ARGUMENT'
  /** The server did not confirm an update, or no server answered, in time. */
  | 'ERR_KV_TIMEOUT'
  /** The client or server was closed during the operation. */
  | 'ERR_KV_CLOSED'
  /** A change iterator fell too far behind and was ended. */
  | 'ERR_KV_OVERFLOW'
  /** The data directory could not be read or written. */
  | 'ERR_KV_STORAGE';

/** The one error class of `@raspy/kv`. */
export class KvError extends Error {
  override readonly name = 'KvError' as const;
  /** Stable machine-readable code; see {@link KvErrorCode}. */
  readonly code: KvErrorCode;

  /**
   * @param code - stable code of the failure
   * @param message - what was expected, what came, and what to do
   * @param options - `cause` to chain
   */
  constructor(code: KvErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/**
 * Tells whether a value is a {@link KvError}, optionally with a given code.
 *
 * @param value - anything caught
 * @param code - the code to match, if any
 * @returns true when `value` is a KvError (with that code)
 */
export function isKvError(value: unknown, code?: KvErrorCode): value is KvError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; code?: unknown };
  return v.name === 'KvError' && typeof v.code === 'string' && (code === undefined || v.code === code);
}
