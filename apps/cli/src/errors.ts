/**
 * Errors of `raspy` and how any error becomes one readable line and an exit
 * status: 1 when something failed (unreachable, refused, timed out), 2 when
 * the command was used wrongly. People never see a stack trace.
 *
 * @module
 */
import { isDeviceError } from '@raspy/devices';
import { isKvError } from '@raspy/kv';
import { isMdpError } from '@raspy/mdp';

/** Stable codes of {@link CliError}. */
export type CliErrorCode =
  /** The command was used wrongly (missing or bad argument): exit status 2. */
  | 'ERR_CLI_USAGE'
  /** The command could not be done: exit status 1. */
  | 'ERR_CLI_FAILED';

/** The one error class of `raspy`: a message for people and the exit status it leads to. */
export class CliError extends Error {
  override readonly name = 'CliError' as const;
  /** Stable machine-readable code. */
  readonly code: CliErrorCode;

  /**
   * @param code - usage (exit 2) or failure (exit 1)
   * @param message - one line for people: what went wrong and what to do
   * @param options - `cause` to chain
   */
  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /** The exit status this error leads to. */
  get exitCode(): 1 | 2 {
    return this.code === 'ERR_CLI_USAGE' ? 2 : 1;
  }
}

/** Tells whether a value is a {@link CliError}, optionally with a given code. */
export function isCliError(value: unknown, code?: CliErrorCode): value is CliError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; code?: unknown };
  return v.name === 'CliError' && typeof v.code === 'string' && (code === undefined || v.code === code);
}

/** Where the command was talking to, for the messages. */
export interface Endpoints {
  readonly broker: string;
  readonly kv: string;
  readonly timeout: number;
}

/**
 * Turns anything thrown into one line for people and an exit status.
 *
 * @param err - what was caught
 * @param where - the broker and key/value addresses and the timeout in use
 * @returns the line (no newline, no "raspy:" prefix) and the exit status
 */
export function explain(err: unknown, where: Endpoints): { message: string; exitCode: 1 | 2 } {
  if (isCliError(err)) return { message: err.message, exitCode: err.exitCode };
  if (isMdpError(err)) {
    switch (err.code) {
      case 'ERR_MDP_BROKER_UNREACHABLE':
        return failed(`cannot reach the broker at ${where.broker} — is the house running? (npm start)`);
      case 'ERR_MDP_TIMEOUT': {
        const service = typeof err.details.service === 'string' ? ` from ${err.details.service}` : '';
        return failed(`no answer${service} within ${where.timeout} ms (the broker is at ${where.broker}; --timeout to wait longer)`);
      }
      default:
        return failed(oneLine(err.message));
    }
  }
  if (isKvError(err, 'ERR_KV_TIMEOUT')) {
    return failed(`cannot reach the key/value tree at ${where.kv} — is the house running? (npm start)`);
  }
  // A device server's refusal: its own words (a value out of range, no such command...).
  if (isDeviceError(err)) return failed(oneLine(err.message));
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return failed(oneLine(typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message));
  }
  return failed(oneLine(String(err)));
}

function failed(message: string): { message: string; exitCode: 1 } {
  return { message, exitCode: 1 };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim() || 'failed (no message)';
}
