/**
 * Errors of `@raspy/titanic`: one class, a stable `code` to match on.
 *
 * @module
 */

/** Stable codes carried by {@link TitanicError}. */
export type TitanicErrorCode =
  /** An argument, option, namespace, key or value was refused. */
  | 'ERR_TITANIC_INVALID_ARGUMENT'
  /** The data directory could not be read or written. */
  | 'ERR_TITANIC_STORAGE'
  /** The service answered with an error status. */
  | 'ERR_TITANIC_REPLY'
  /** A reply did not come in time. */
  | 'ERR_TITANIC_TIMEOUT'
  /** The request id is not known to Titanic (never stored, or closed). */
  | 'ERR_TITANIC_UNKNOWN'
  /** The object was closed during the operation. */
  | 'ERR_TITANIC_CLOSED';

/** The one error class of `@raspy/titanic`. */
export class TitanicError extends Error {
  override readonly name = 'TitanicError' as const;
  /** Stable machine-readable code. */
  readonly code: TitanicErrorCode;
  /** The status a service answered with, for `ERR_TITANIC_REPLY`. */
  readonly status: string | undefined;

  /**
   * @param code - stable code
   * @param message - what was expected, what came, what to do
   * @param options - `cause` to chain; `status` of a service reply
   */
  constructor(code: TitanicErrorCode, message: string, options: { cause?: unknown; status?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }
}

/**
 * Tells whether a value is a {@link TitanicError}, optionally with a given code.
 *
 * @param value - anything caught
 * @param code - the code to match, if any
 */
export function isTitanicError(value: unknown, code?: TitanicErrorCode): value is TitanicError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; code?: unknown };
  return v.name === 'TitanicError' && typeof v.code === 'string' && (code === undefined || v.code === code);
}
