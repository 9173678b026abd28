/**
 * Errors of `@raspy/devices`: one class, a stable `code`, and the status a
 * device server answers with for it.
 *
 * @module
 */

/** Stable codes carried by {@link DeviceError}. */
export type DeviceErrorCode =
  /** A description, value, id or option does not follow the model. */
  | 'ERR_DEVICE_INVALID'
  /** No such device or command. */
  | 'ERR_DEVICE_NOT_FOUND'
  /** A device type (kind) nobody registered. */
  | 'ERR_DEVICE_UNKNOWN_TYPE'
  /** The command cannot do that (set a read-only value, get a write-only one). */
  | 'ERR_DEVICE_NOT_SUPPORTED'
  /** The device did not answer in time, or failed. */
  | 'ERR_DEVICE_UNAVAILABLE'
  /** A device server answered with an error status. */
  | 'ERR_DEVICE_REPLY';

const STATUS: Record<DeviceErrorCode, string> = {
  ERR_DEVICE_INVALID: '400',
  ERR_DEVICE_NOT_FOUND: '404',
  ERR_DEVICE_UNKNOWN_TYPE: '400',
  ERR_DEVICE_NOT_SUPPORTED: '400',
  ERR_DEVICE_UNAVAILABLE: '503',
  ERR_DEVICE_REPLY: '500',
};

/** The one error class of `@raspy/devices`. */
export class DeviceError extends Error {
  override readonly name = 'DeviceError' as const;
  /** Stable machine-readable code. */
  readonly code: DeviceErrorCode;
  /** The reply status this error maps to (PROTOCOLS.md), or the one a server answered. */
  readonly status: string;

  /**
   * @param code - stable code
   * @param message - what was expected, what came, what to do
   * @param options - `cause`; `status` to override the default of the code
   */
  constructor(code: DeviceErrorCode, message: string, options: { cause?: unknown; status?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? STATUS[code];
  }
}

/**
 * Tells whether a value is a {@link DeviceError}, optionally with a given code.
 *
 * @param value - anything caught
 * @param code - the code to match
 */
export function isDeviceError(value: unknown, code?: DeviceErrorCode): value is DeviceError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; code?: unknown };
  return v.name === 'DeviceError' && typeof v.code === 'string' && (code === undefined || v.code === code);
}
