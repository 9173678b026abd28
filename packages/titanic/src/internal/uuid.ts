/**
 * Titanic request ids: 32 hexadecimal characters (9/TSP). Every id that
 * comes from the network is checked before it is used for anything, and
 * stored in lower case.
 *
 * @module
 * @internal
 */
import { randomBytes } from 'node:crypto';

const UUID = /^[0-9a-fA-F]{32}$/;

/** @returns a new random id, 32 lower-case hex characters */
export function newUuid(): string {
  return randomBytes(16).toString('hex');
}

/**
 * @param value - a frame or string from a peer
 * @returns the id in lower case, or null when it is not exactly 32 hex characters
 */
export function parseUuid(value: Buffer | string | undefined): string | null {
  if (value === undefined) return null;
  const text = typeof value === 'string' ? value : value.length === 32 ? value.toString('latin1') : '';
  return UUID.test(text) ? text.toLowerCase() : null;
}
