/**
 * Errors of `@raspy/onewire`: one class, a stable `code`.
 *
 * @module
 */

/** Stable codes carried by {@link OneWireError}. */
export type OneWireErrorCode =
  /** An option or argument is not valid (a bad sensor id, a hostile path). */
  | 'ERR_ONEWIRE_INVALID'
  /** The bus or a sensor could not be read (file missing or unreadable, owserver error). */
  | 'ERR_ONEWIRE_IO'
  /** No answer in time (owserver). */
  | 'ERR_ONEWIRE_TIMEOUT'
  /** The owserver connection failed or was closed. */
  | 'ERR_ONEWIRE_CONNECTION'
  /** owserver answered with a negative return code. */
  | 'ERR_ONEWIRE_SERVER'
  /** The source was closed. */
  | 'ERR_ONEWIRE_CLOSED';

/** The one error class of `@raspy/onewire`. */
export class OneWireError extends Error {
  override readonly name = 'OneWireError' as const;
  /** Stable machine-readable code. */
  readonly code: OneWireErrorCode;
  /** For `ERR_ONEWIRE_SERVER`: the owserver return code (negative errno). */
  readonly returnCode: number | undefined;

  /**
   * @param code - stable code
   * @param message - what was expected, what came, what to do
   * @param options - `cause`; `returnCode` of owserver
   */
  constructor(code: OneWireErrorCode, message: string, options: { cause?: unknown; returnCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.returnCode = options.returnCode;
  }
}

/** Tells whether a value is a {@link OneWireError}, optionally with a given code. */
export function isOneWireError(value: unknown, code?: OneWireErrorCode): value is OneWireError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; code?: unknown };
  return v.name === 'OneWireError' && typeof v.code === 'string' && (code === undefined || v.code === code);
}
