/**
 * Errors of `@raspy/scenarios`: one class, a stable `code`.
 *
 * @module
 */

/** Stable codes carried by {@link ScenarioError}. */
export type ScenarioErrorCode =
  /** A scenario, cron job, expression or bundle does not follow the model. */
  | 'ERR_SCENARIO_INVALID'
  /** No such scenario or job. */
  | 'ERR_SCENARIO_NOT_FOUND'
  /** A script went past its deadline or memory cap, or threw. */
  | 'ERR_SCENARIO_SCRIPT'
  /** An action failed (a device refused, a service was absent). */
  | 'ERR_SCENARIO_ACTION'
  /** A run was stopped. */
  | 'ERR_SCENARIO_STOPPED'
  /** The engine or service was closed. */
  | 'ERR_SCENARIO_CLOSED';

/** The one error class of `@raspy/scenarios`. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError' as const;
  /** Stable machine-readable code. */
  readonly code: ScenarioErrorCode;

  /**
   * @param code - stable code
   * @param message - what was expected, what came, what to do
   * @param options - `cause` to chain
   */
  constructor(code: ScenarioErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Tells whether a value is a {@link ScenarioError}, optionally with a given code. */
export function isScenarioError(value: unknown, code?: ScenarioErrorCode): value is ScenarioError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; code?: unknown };
  return v.name === 'ScenarioError' && typeof v.code === 'string' && (code === undefined || v.code === code);
}
