/**
 * The error replies a broker sends to clients, and how a client recognises
 * them.
 *
 * MDP has no error frame: a broker that cannot serve a request can only stay
 * silent or answer in the service's name. RasPy answers, with the
 * status-first body every RasPy service uses (PROTOCOLS.md): a status frame
 * and a JSON frame `{"error", "code", "service", "source": "broker"}`. Any
 * MDP client sees a readable reply; a RasPy client turns it into an MdpError.
 *
 * @module
 */
import { MdpError, type MdpErrorCode } from '../errors.js';

/** The codes a broker puts in its error replies. */
export type BrokerErrorCode = Extract<
  MdpErrorCode,
  'ERR_MDP_SERVICE_UNAVAILABLE' | 'ERR_MDP_QUEUE_FULL' | 'ERR_MDP_REQUEST_FAILED'
>;

const STATUS: Record<BrokerErrorCode, string> = {
  ERR_MDP_SERVICE_UNAVAILABLE: '503',
  ERR_MDP_QUEUE_FULL: '503',
  ERR_MDP_REQUEST_FAILED: '500',
};

/**
 * Builds the body of a broker error reply.
 *
 * @param code - what went wrong
 * @param service - the service the request was for
 * @param message - a sentence for people
 * @returns `[status, json]` frames
 */
export function encodeBrokerError(code: BrokerErrorCode, service: string, message: string): Buffer[] {
  return [
    Buffer.from(STATUS[code]),
    Buffer.from(JSON.stringify({ error: message, code, service, source: 'broker' })),
  ];
}

/**
 * Recognises a broker error reply.
 *
 * @param body - a reply body
 * @returns the error it carries, or null for an ordinary reply
 */
export function decodeBrokerError(body: readonly Buffer[]): MdpError | null {
  if (body.length !== 2) return null;
  const status = (body[0] as Buffer).toString('latin1');
  if (status !== '503' && status !== '500') return null;
  const json = body[1] as Buffer;
  if (json.length === 0 || json[0] !== 0x7b /* { */) return null;
  try {
    const parsed = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
    if (parsed.source !== 'broker' || typeof parsed.code !== 'string' || !(parsed.code in STATUS)) return null;
    return new MdpError(parsed.code as BrokerErrorCode, String(parsed.error), {
      details: { service: parsed.service, status },
    });
  } catch {
    return null;
  }
}
