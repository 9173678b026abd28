/**
 * Pure encoders and validating decoders for every command of MDP v0.1
 * (MDPC01/MDPW01, 7/MDP) and v0.2 (MDPC02/MDPW02, 18/MDP).
 *
 * Frames are given as the application sees them, without the identity frame a
 * ROUTER socket prepends. Decoders never throw on bad input: they return a
 * {@link DecodeResult} whose error says what was expected and what came, so a
 * broker can drop a bad message with a log line and go on.
 *
 * @see https://rfc.zeromq.org/spec/7/
 * @see https://rfc.zeromq.org/spec/18/
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { MdpError } from '../errors.js';
import {
  C02_COMMAND,
  MAX_ADDRESS_BYTES,
  MAX_SERVICE_NAME_BYTES,
  MDP,
  W01_COMMAND,
  W02_COMMAND,
  type MdpVersion,
} from './constants.js';

/** A client REQUEST, as the broker receives it. */
export interface ClientRequest {
  readonly version: MdpVersion;
  /** Service name (printable UTF-8, 1 to 255 bytes). */
  readonly service: string;
  /** Request body: one or more opaque frames. */
  readonly body: Buffer[];
}

/** A reply to a client: v0.1 REPLY, or v0.2 PARTIAL / FINAL. */
export interface ClientReply {
  readonly version: MdpVersion;
  readonly service: string;
  readonly body: Buffer[];
  /** False for a v0.2 PARTIAL; true for a v0.2 FINAL and every v0.1 REPLY. */
  readonly final: boolean;
}

/** A command of MDP/Worker, either direction. v0.1 REPLY is decoded as `final`. */
export type WorkerMessage =
  | { readonly command: 'ready'; readonly version: MdpVersion; readonly service: string }
  | { readonly command: 'request'; readonly version: MdpVersion; readonly client: Buffer; readonly body: Buffer[] }
  | { readonly command: 'partial'; readonly version: 2; readonly client: Buffer; readonly body: Buffer[] }
  | { readonly command: 'final'; readonly version: MdpVersion; readonly client: Buffer; readonly body: Buffer[] }
  | { readonly command: 'heartbeat'; readonly version: MdpVersion }
  | { readonly command: 'disconnect'; readonly version: MdpVersion };

/** The names of the MDP/Worker commands. */
export type WorkerCommand = WorkerMessage['command'];

/** What a broker receives from a peer on its ROUTER socket. */
export type PeerMessage = ({ readonly peer: 'client' } & ClientRequest) | ({ readonly peer: 'worker' } & WorkerMessage);

/** Outcome of a decoder: the typed message, or a protocol error. */
export type DecodeResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: MdpError };

const EMPTY = Buffer.alloc(0);
const H_C01 = Buffer.from(MDP.C01);
const H_W01 = Buffer.from(MDP.W01);
const H_C02 = Buffer.from(MDP.C02);
const H_W02 = Buffer.from(MDP.W02);
const BYTE: Buffer[] = Array.from({ length: 8 }, (_, i) => Buffer.from([i]));

const fail = (message: string, details: Record<string, unknown> = {}): { ok: false; error: MdpError } => ({
  ok: false,
  error: new MdpError('ERR_MDP_PROTOCOL', message, { details }),
});

function describe(frame: Buffer | undefined): string {
  if (frame === undefined) return 'nothing';
  if (frame.length === 0) return 'an empty frame';
  const printable = frame.length <= 32 && /^[\x20-\x7e]*$/.test(frame.toString('latin1'));
  return printable ? `"${frame.toString('latin1')}"` : `${frame.length} bytes 0x${frame.subarray(0, 16).toString('hex')}`;
}

/**
 * Checks a service name: 1 to 255 bytes of UTF-8 without control characters.
 *
 * @param name - the service name frame
 * @returns null when valid, else the reason
 */
export function checkServiceName(name: Buffer): string | null {
  if (name.length === 0) return 'the service name is empty';
  if (name.length > MAX_SERVICE_NAME_BYTES) return `the service name is ${name.length} bytes, more than ${MAX_SERVICE_NAME_BYTES}`;
  for (let i = 0; i < name.length; i++) {
    const b = name[i] as number;
    if (b < 0x20 || b === 0x7f) return `the service name contains control byte 0x${b.toString(16).padStart(2, '0')}`;
  }
  if (!isUtf8(name)) return 'the service name is not valid UTF-8';
  return null;
}

function checkAddress(address: Buffer | undefined): string | null {
  if (address === undefined) return 'the client address frame is missing';
  if (address.length === 0) return 'the client address frame is empty';
  if (address.length > MAX_ADDRESS_BYTES) return `the client address is ${address.length} bytes, more than ${MAX_ADDRESS_BYTES}`;
  return null;
}

function commandByte(frame: Buffer | undefined): number {
  return frame !== undefined && frame.length === 1 ? (frame[0] as number) : -1;
}

// ---------------------------------------------------------------- client side

/**
 * Encodes a client REQUEST as a DEALER sends it. A v0.1 request starts with
 * the empty delimiter frame (a REQ socket would add it itself).
 *
 * @param version - 1 for MDPC01, 2 for MDPC02
 * @param service - service name
 * @param body - request body; at least one frame (7/MDP and 18/MDP require it)
 * @returns the frames to send
 * @throws MdpError `ERR_MDP_INVALID_ARGUMENT` for a bad service name or an empty body
 */
export function encodeClientRequest(version: MdpVersion, service: string, body: readonly Buffer[]): Buffer[] {
  const name = Buffer.from(service, 'utf8');
  const reason = checkServiceName(name);
  if (reason !== null) throw new MdpError('ERR_MDP_INVALID_ARGUMENT', `cannot send a request: ${reason}`);
  if (body.length === 0) throw new MdpError('ERR_MDP_INVALID_ARGUMENT', 'a request body needs at least one frame');
  return version === 1 ? [EMPTY, H_C01, name, ...body] : [H_C02, BYTE[C02_COMMAND.REQUEST] as Buffer, name, ...body];
}

/**
 * Encodes a reply to a client: REPLY (v0.1), or PARTIAL / FINAL (v0.2).
 *
 * @param version - the version the client spoke
 * @param service - the service that was asked (or its name as a Buffer)
 * @param body - reply body
 * @param final - false for a v0.2 PARTIAL; must be true for v0.1
 * @returns the frames to send after the client's identity
 */
export function encodeClientReply(
  version: MdpVersion,
  service: string | Buffer,
  body: readonly Buffer[],
  final = true,
): Buffer[] {
  const name = typeof service === 'string' ? Buffer.from(service, 'utf8') : service;
  if (version === 1) {
    if (!final) throw new MdpError('ERR_MDP_INVALID_ARGUMENT', 'MDP v0.1 has no partial replies');
    return [EMPTY, H_C01, name, ...body];
  }
  return [H_C02, BYTE[final ? C02_COMMAND.FINAL : C02_COMMAND.PARTIAL] as Buffer, name, ...body];
}

/**
 * Decodes a client REQUEST as a broker receives it (identity removed).
 *
 * @param frames - the frames after the identity
 * @returns the request or a protocol error
 */
export function decodeClientRequest(frames: readonly Buffer[]): DecodeResult<ClientRequest> {
  let version: MdpVersion;
  let at: number;
  const first = frames[0];
  if (first !== undefined && first.length === 0) {
    if (!(frames[1] !== undefined && frames[1].equals(H_C01))) {
      return fail(`expected header "MDPC01" after the empty frame, got ${describe(frames[1])}`);
    }
    version = 1;
    at = 2;
  } else if (first !== undefined && first.equals(H_C02)) {
    const cmd = commandByte(frames[1]);
    if (cmd !== C02_COMMAND.REQUEST) return fail(`expected MDPC02 command REQUEST (0x01) from a client, got ${describe(frames[1])}`);
    version = 2;
    at = 2;
  } else {
    return fail(`expected a client header "MDPC01" or "MDPC02", got ${describe(first)}`);
  }
  const name = frames[at];
  if (name === undefined) return fail('the request has no service name frame');
  const reason = checkServiceName(name);
  if (reason !== null) return fail(`bad request: ${reason}`);
  if (frames.length < at + 2) return fail('the request has no body frame (7/MDP and 18/MDP require at least one)');
  return { ok: true, value: { version, service: name.toString('utf8'), body: frames.slice(at + 1) } };
}

/**
 * Decodes a reply as a client receives it from the broker.
 *
 * @param frames - frames received by the client's DEALER socket
 * @returns the reply or a protocol error
 */
export function decodeClientReply(frames: readonly Buffer[]): DecodeResult<ClientReply> {
  const first = frames[0];
  let version: MdpVersion;
  let final = true;
  if (first !== undefined && first.length === 0) {
    if (!(frames[1] !== undefined && frames[1].equals(H_C01))) {
      return fail(`expected header "MDPC01" after the empty frame, got ${describe(frames[1])}`);
    }
    version = 1;
  } else if (first !== undefined && first.equals(H_C02)) {
    const cmd = commandByte(frames[1]);
    if (cmd === C02_COMMAND.PARTIAL) final = false;
    else if (cmd !== C02_COMMAND.FINAL) return fail(`expected MDPC02 PARTIAL (0x02) or FINAL (0x03), got ${describe(frames[1])}`);
    version = 2;
  } else {
    return fail(`expected a reply header "MDPC01" or "MDPC02", got ${describe(first)}`);
  }
  const name = frames[2];
  if (name === undefined) return fail('the reply has no service name frame');
  const reason = checkServiceName(name);
  if (reason !== null) return fail(`bad reply: ${reason}`);
  return { ok: true, value: { version, service: name.toString('utf8'), body: frames.slice(3), final } };
}

// ---------------------------------------------------------------- worker side

/**
 * Encodes an MDP/Worker command in its version. A v0.1 `final` is a REPLY;
 * a v0.1 `partial` does not exist and is refused.
 *
 * @param message - the command to encode
 * @returns the frames to send (for a broker: after the worker's identity)
 * @throws MdpError `ERR_MDP_INVALID_ARGUMENT` for a command the version lacks or a bad service name
 */
export function encodeWorkerMessage(message: WorkerMessage): Buffer[] {
  const v1 = message.version === 1;
  const head: Buffer[] = v1 ? [EMPTY, H_W01] : [H_W02];
  const codes = v1 ? W01_COMMAND : W02_COMMAND;
  switch (message.command) {
    case 'ready': {
      const name = Buffer.from(message.service, 'utf8');
      const reason = checkServiceName(name);
      if (reason !== null) throw new MdpError('ERR_MDP_INVALID_ARGUMENT', `cannot register: ${reason}`);
      return [...head, BYTE[codes.READY] as Buffer, name];
    }
    case 'request':
      return [...head, BYTE[codes.REQUEST] as Buffer, message.client, EMPTY, ...message.body];
    case 'partial':
      if (v1) throw new MdpError('ERR_MDP_INVALID_ARGUMENT', 'MDP v0.1 has no partial replies');
      return [...head, BYTE[W02_COMMAND.PARTIAL] as Buffer, message.client, EMPTY, ...message.body];
    case 'final':
      return [...head, BYTE[v1 ? W01_COMMAND.REPLY : W02_COMMAND.FINAL] as Buffer, message.client, EMPTY, ...message.body];
    case 'heartbeat':
      return [...head, BYTE[codes.HEARTBEAT] as Buffer];
    case 'disconnect':
      return [...head, BYTE[codes.DISCONNECT] as Buffer];
  }
}

/** Who sent a worker command: a worker (the broker decodes) or the broker (a worker decodes). */
export type WorkerDirection = 'from-worker' | 'from-broker';

function decodeWorkerBody(
  frames: readonly Buffer[],
  at: number,
  version: MdpVersion,
  direction: WorkerDirection,
): DecodeResult<WorkerMessage> {
  const raw = commandByte(frames[at]);
  const codes = version === 1 ? W01_COMMAND : W02_COMMAND;
  const label = version === 1 ? 'MDPW01' : 'MDPW02';
  const exact = (n: number, what: string): { ok: false; error: MdpError } | null =>
    frames.length === at + n ? null : fail(`${label} ${what} has ${frames.length - at + (version === 1 ? 2 : 1)} frames, expected ${n + (version === 1 ? 2 : 1)}`);
  const withAddress = (command: 'request' | 'partial' | 'final', what: string): DecodeResult<WorkerMessage> => {
    const client = frames[at + 1];
    const reason = checkAddress(client);
    if (reason !== null) return fail(`${label} ${what}: ${reason}`);
    const delimiter = frames[at + 2];
    if (delimiter === undefined || delimiter.length !== 0) {
      return fail(`${label} ${what}: expected an empty delimiter after the client address, got ${describe(delimiter)}`);
    }
    if (frames.length < at + 4) return fail(`${label} ${what} has no body frame`);
    const body = frames.slice(at + 3);
    if (command === 'partial') return { ok: true, value: { command, version: 2, client: client as Buffer, body } };
    return { ok: true, value: { command, version, client: client as Buffer, body } };
  };
  const wrongWay = (what: string): { ok: false; error: MdpError } =>
    fail(`${label} ${what} is not sent ${direction === 'from-worker' ? 'by a worker' : 'by a broker'}`);

  switch (raw) {
    case codes.READY: {
      if (direction !== 'from-worker') return wrongWay('READY');
      const bad = exact(2, 'READY');
      if (bad) return bad;
      const name = frames[at + 1] as Buffer;
      const reason = checkServiceName(name);
      if (reason !== null) return fail(`${label} READY: ${reason}`);
      return { ok: true, value: { command: 'ready', version, service: name.toString('utf8') } };
    }
    case codes.REQUEST:
      return direction === 'from-broker' ? withAddress('request', 'REQUEST') : wrongWay('REQUEST');
    case codes.HEARTBEAT: {
      const bad = exact(1, 'HEARTBEAT');
      return bad ?? { ok: true, value: { command: 'heartbeat', version } };
    }
    case codes.DISCONNECT: {
      const bad = exact(1, 'DISCONNECT');
      return bad ?? { ok: true, value: { command: 'disconnect', version } };
    }
    default:
      break;
  }
  if (version === 1 && raw === W01_COMMAND.REPLY) {
    return direction === 'from-worker' ? withAddress('final', 'REPLY') : wrongWay('REPLY');
  }
  if (version === 2 && raw === W02_COMMAND.PARTIAL) {
    return direction === 'from-worker' ? withAddress('partial', 'PARTIAL') : wrongWay('PARTIAL');
  }
  if (version === 2 && raw === W02_COMMAND.FINAL) {
    return direction === 'from-worker' ? withAddress('final', 'FINAL') : wrongWay('FINAL');
  }
  return fail(`unknown ${label} command ${describe(frames[at])}`);
}

/**
 * Decodes an MDP/Worker command.
 *
 * @param frames - frames as received (for a broker: after the identity)
 * @param direction - `from-worker` when a broker decodes, `from-broker` when a worker does
 * @returns the command or a protocol error
 */
export function decodeWorkerMessage(frames: readonly Buffer[], direction: WorkerDirection): DecodeResult<WorkerMessage> {
  const first = frames[0];
  if (first !== undefined && first.length === 0) {
    if (!(frames[1] !== undefined && frames[1].equals(H_W01))) {
      return fail(`expected header "MDPW01" after the empty frame, got ${describe(frames[1])}`);
    }
    return decodeWorkerBody(frames, 2, 1, direction);
  }
  if (first !== undefined && first.equals(H_W02)) return decodeWorkerBody(frames, 1, 2, direction);
  return fail(`expected a worker header "MDPW01" or "MDPW02", got ${describe(first)}`);
}

/**
 * Decodes anything a broker's ROUTER socket receives: a client REQUEST or a
 * worker command, of either version.
 *
 * @param frames - the frames after the identity
 * @returns the message, tagged with `peer`, or a protocol error
 */
export function decodePeerMessage(frames: readonly Buffer[]): DecodeResult<PeerMessage> {
  const first = frames[0];
  const header = first !== undefined && first.length === 0 ? frames[1] : first;
  if (header !== undefined && header.length === 6) {
    if (header.equals(H_W02) || header.equals(H_W01)) {
      if (header === first && header.equals(H_W01)) return fail('header "MDPW01" must follow an empty frame');
      const r = decodeWorkerMessage(frames, 'from-worker');
      return r.ok ? { ok: true, value: { peer: 'worker', ...r.value } } : r;
    }
    if (header.equals(H_C02) || header.equals(H_C01)) {
      if (header === first && header.equals(H_C01)) return fail('header "MDPC01" must follow an empty frame');
      if (header !== first && header.equals(H_C02)) return fail('header "MDPC02" must not follow an empty frame');
      const r = decodeClientRequest(frames);
      return r.ok ? { ok: true, value: { peer: 'client', ...r.value } } : r;
    }
  }
  return fail(`expected an MDP header (MDPC01, MDPW01, MDPC02, MDPW02), got ${describe(header)}`);
}
