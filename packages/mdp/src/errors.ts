/**
 * Errors of `@raspy/mdp`.
 *
 * Every error the library throws or rejects with is an {@link MdpError} with a
 * stable `code`. Match on `code`, not on `instanceof`: an application may load
 * the CommonJS and the ESM build of this package in one process, and a class
 * of one build is not the class of the other.
 *
 * @module
 */

/** Stable codes carried by {@link MdpError}. */
export type MdpErrorCode =
  /** A frame sequence does not follow 7/MDP or 18/MDP (header, command, frame count, sizes). */
  | 'ERR_MDP_PROTOCOL'
  /** No reply came within the timeout after every retry. */
  | 'ERR_MDP_TIMEOUT'
  /** The broker could not be reached at all (no connection was ever established). */
  | 'ERR_MDP_BROKER_UNREACHABLE'
  /** The broker answered that no worker took the request in time. */
  | 'ERR_MDP_SERVICE_UNAVAILABLE'
  /** The broker refused the request because the service queue (or the broker) is full. */
  | 'ERR_MDP_QUEUE_FULL'
  /** The broker gave up on a request after the workers holding it died. */
  | 'ERR_MDP_REQUEST_FAILED'
  /** The object was closed or stopped while the operation was under way. */
  | 'ERR_MDP_CLOSED'
  /** An argument or an option is not valid. */
  | 'ERR_MDP_INVALID_ARGUMENT';

/**
 * The one error class of `@raspy/mdp`.
 *
 * @example
 * ```ts
 * try {
 *   await client.request('pi1.onewire.devices', 'list');
 * } catch (err) {
 *   if ((err as MdpError).code === 'ERR_MDP_SERVICE_UNAVAILABLE') retryLater();
 *   else throw err;
 * }
 * ```
 */
export class MdpError extends Error {
  override readonly name = 'MdpError' as const;
  /** Stable machine-readable code; see {@link MdpErrorCode}. */
  readonly code: MdpErrorCode;
  /** Extra facts about the failure (service, endpoint, attempts...), for logs. */
  readonly details: Readonly<Record<string, unknown>>;

  /**
   * @param code - stable code of the failure
   * @param message - what was expected, what came, and what to do
   * @param options - `cause` to chain, `details` for logs
   */
  constructor(
    code: MdpErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/**
 * Tells whether a value is an {@link MdpError}, optionally with a given code.
 * Works across the CommonJS and ESM builds (it checks `name` and `code`).
 *
 * @param value - anything caught
 * @param code - the code to match, if any
 * @returns true when `value` is an MdpError (with that code)
 */
export function isMdpError(value: unknown, code?: MdpErrorCode): value is MdpError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; code?: unknown };
  if (v.name !== 'MdpError' || typeof v.code !== 'string') return false;
  return code === undefined || v.code === code;
}
