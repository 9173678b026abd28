/**
 * Pure encoders and validating decoders for the commands of the Clustered
 * Hashmap Protocol (12/CHP): ICANHAZ, KVSYNC, KTHXBAI, KVPUB, KVSET, HUGZ.
 *
 * Every key/value message has five frames: key, an 8-byte big-endian
 * sequence, a UUID (16 bytes or empty), properties (`name=value\n`*), and
 * the value. Decoders never throw on bad input; they return a result whose
 * error says what was wrong, so a server can drop the message with a log line.
 *
 * @see https://rfc.zeromq.org/spec/12/
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { KvError } from '../errors.js';

/** Frame 0 of a snapshot request. */
export const ICANHAZ = 'ICANHAZ?';
/** Key of the message that ends a snapshot. */
export const KTHXBAI = 'KTHXBAI';
/** Key of the heartbeat the server publishes. */
export const HUGZ = 'HUGZ';

/** Keys a client may not set: they name protocol commands. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([ICANHAZ, KTHXBAI, HUGZ]);

/** One key/value message (KVSYNC, KVPUB, KVSET, KTHXBAI, HUGZ share the shape). */
export interface KvMessage {
  /** The key (for KTHXBAI and HUGZ, the command name). */
  readonly key: string;
  /** Sequence number; 0 where the protocol gives it no meaning. */
  readonly sequence: number;
  /** 16-byte UUID, or an empty buffer. */
  readonly uuid: Buffer;
  /** Properties, e.g. `{ ttl: '30' }`. */
  readonly properties: Readonly<Record<string, string>>;
  /** The value; empty means "delete" in KVPUB and KVSET. */
  readonly value: Buffer;
}

/** Size limits applied when decoding. */
export interface KvLimits {
  /** Longest key, in bytes. */
  maxKeyBytes: number;
  /** Largest value, in bytes. */
  maxValueBytes: number;
}

/** Default limits: 1 KiB keys, 1 MiB values. */
export const DEFAULT_LIMITS: KvLimits = { maxKeyBytes: 1024, maxValueBytes: 1024 * 1024 };

/** Outcome of a decoder. */
export type KvDecodeResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: KvError };

const EMPTY = Buffer.alloc(0);
const fail = (message: string): { ok: false; error: KvError } => ({ ok: false, error: new KvError('ERR_KV_PROTOCOL', message) });

/**
 * Encodes a sequence number as 8 bytes, big-endian.
 *
 * @param sequence - a non-negative safe integer
 * @returns the frame
 */
export function encodeSequence(sequence: number): Buffer {
  const frame = Buffer.allocUnsafe(8);
  frame.writeBigUInt64BE(BigInt(sequence));
  return frame;
}

/**
 * Decodes an 8-byte big-endian sequence number.
 *
 * @param frame - the sequence frame
 * @returns the number, or null if the frame is not 8 bytes or the number is beyond 2^53
 */
export function decodeSequence(frame: Buffer): number | null {
  if (frame.length !== 8) return null;
  const n = frame.readBigUInt64BE();
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(n);
}

/**
 * Formats properties as `name=value\n` pairs.
 *
 * @param properties - names without `=` or newline, values without newline
 * @returns the frame
 * @throws KvError `ERR_KV_INVALID_ARGUMENT` for a name or value that cannot be written
 */
export function formatProperties(properties: Readonly<Record<string, string>>): Buffer {
  let text = '';
  for (const [name, value] of Object.entries(properties)) {
    if (name === '' || /[=\n]/.test(name)) throw new KvError('ERR_KV_INVALID_ARGUMENT', `bad property name ${JSON.stringify(name)}`);
    if (/\n/.test(value)) throw new KvError('ERR_KV_INVALID_ARGUMENT', `property ${name} has a newline in its value`);
    text += `${name}=${value}\n`;
  }
  return text === '' ? EMPTY : Buffer.from(text, 'utf8');
}

/**
 * Parses a properties frame.
 *
 * @param frame - zero or more `name=value\n`
 * @returns the properties or a protocol error
 */
export function parseProperties(frame: Buffer): KvDecodeResult<Record<string, string>> {
  const properties: Record<string, string> = {};
  if (frame.length === 0) return { ok: true, value: properties };
  if (!isUtf8(frame)) return fail('the properties frame is not UTF-8');
  const text = frame.toString('utf8');
  if (!text.endsWith('\n')) return fail('the properties frame must be "name=value\\n" pairs, each ending with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) return fail(`bad property ${JSON.stringify(line)}: expected name=value`);
    const name = line.slice(0, eq);
    if (Object.prototype.hasOwnProperty.call(properties, name) || name === '__proto__') {
      return fail(`property ${JSON.stringify(name)} appears twice or is not allowed`);
    }
    properties[name] = line.slice(eq + 1);
  }
  return { ok: true, value: properties };
}

/**
 * Checks a key: UTF-8 without control characters, 1 to `maxKeyBytes` bytes,
 * and not one of the protocol's command names.
 *
 * @param key - the key frame
 * @param limits - size limits
 * @returns null when valid, else the reason
 */
export function checkKey(key: Buffer, limits: KvLimits = DEFAULT_LIMITS): string | null {
  if (key.length === 0) return 'the key is empty';
  if (key.length > limits.maxKeyBytes) return `the key is ${key.length} bytes, more than ${limits.maxKeyBytes}`;
  for (let i = 0; i < key.length; i++) {
    const b = key[i] as number;
    if (b < 0x20 || b === 0x7f) return `the key contains control byte 0x${b.toString(16).padStart(2, '0')}`;
  }
  if (!isUtf8(key)) return 'the key is not valid UTF-8';
  if (RESERVED_KEYS.has(key.toString('utf8'))) return `"${key.toString('utf8')}" is a protocol command, not a key`;
  return null;
}

/**
 * Checks a subtree: empty (everything), or `/` followed by one or more
 * segments, ending in `/` (12/CHP), e.g. `/device/pi1/`.
 *
 * @param subtree - the subtree text
 * @returns null when valid, else the reason
 */
export function checkSubtree(subtree: string): string | null {
  if (subtree === '') return null;
  if (!/^\/([^/\x00-\x1f\x7f]+\/)+$/.test(subtree)) {
    return `subtree ${JSON.stringify(subtree)} must be empty or "/segment/.../" (a slash, segments, a final slash)`;
  }
  if (Buffer.byteLength(subtree) > DEFAULT_LIMITS.maxKeyBytes) return 'the subtree is too long';
  return null;
}

/**
 * Encodes a key/value message (KVSYNC, KVPUB, KVSET; also KTHXBAI and HUGZ).
 *
 * @param msg - the message
 * @returns five frames
 */
export function encodeKvMessage(msg: KvMessage): Buffer[] {
  if (msg.uuid.length !== 0 && msg.uuid.length !== 16) {
    throw new KvError('ERR_KV_INVALID_ARGUMENT', `a UUID is 16 bytes or empty, got ${msg.uuid.length}`);
  }
  return [Buffer.from(msg.key, 'utf8'), encodeSequence(msg.sequence), msg.uuid, formatProperties(msg.properties), msg.value];
}

/**
 * Decodes a five-frame key/value message and validates its key, sequence,
 * UUID, properties and value size.
 *
 * @param frames - the five frames
 * @param limits - size limits
 * @param options - `commands: true` lets KTHXBAI and HUGZ through (a client reading the server)
 * @returns the message or a protocol error
 */
export function decodeKvMessage(
  frames: readonly Buffer[],
  limits: KvLimits = DEFAULT_LIMITS,
  options: { commands?: boolean } = {},
): KvDecodeResult<KvMessage> {
  if (frames.length !== 5) return fail(`a key/value message has 5 frames, got ${frames.length}`);
  const [keyFrame, seqFrame, uuid, propsFrame, value] = frames as [Buffer, Buffer, Buffer, Buffer, Buffer];
  const key = keyFrame.toString('utf8');
  const isCommand = options.commands === true && (key === KTHXBAI || key === HUGZ);
  if (!isCommand) {
    const reason = checkKey(keyFrame, limits);
    if (reason !== null) return fail(`bad key: ${reason}`);
  }
  const sequence = decodeSequence(seqFrame);
  if (sequence === null) return fail(`the sequence frame must be 8 bytes (a number below 2^53), got ${seqFrame.length} bytes`);
  if (uuid.length !== 0 && uuid.length !== 16) return fail(`the UUID frame must be empty or 16 bytes, got ${uuid.length}`);
  const properties = parseProperties(propsFrame);
  if (!properties.ok) return properties;
  if (value.length > limits.maxValueBytes) return fail(`the value is ${value.length} bytes, more than ${limits.maxValueBytes}`);
  return { ok: true, value: { key, sequence, uuid, properties: properties.value, value } };
}

/**
 * Encodes a snapshot request.
 *
 * @param subtree - "" or "/seg/.../"
 * @returns `["ICANHAZ?", subtree]`
 */
export function encodeIcanhaz(subtree: string): Buffer[] {
  const reason = checkSubtree(subtree);
  if (reason !== null) throw new KvError('ERR_KV_INVALID_ARGUMENT', reason);
  return [Buffer.from(ICANHAZ), Buffer.from(subtree, 'utf8')];
}

/**
 * Decodes a snapshot request, as the server reads it (identity removed).
 *
 * @param frames - frames after the identity
 * @returns the subtree or a protocol error
 */
export function decodeIcanhaz(frames: readonly Buffer[]): KvDecodeResult<string> {
  if (frames.length !== 2) return fail(`ICANHAZ has 2 frames, got ${frames.length}`);
  if (!(frames[0] as Buffer).equals(Buffer.from(ICANHAZ))) return fail(`expected "ICANHAZ?", got ${JSON.stringify((frames[0] as Buffer).toString('latin1').slice(0, 32))}`);
  const raw = frames[1] as Buffer;
  if (!isUtf8(raw)) return fail('the subtree is not UTF-8');
  const subtree = raw.toString('utf8');
  const reason = checkSubtree(subtree);
  return reason === null ? { ok: true, value: subtree } : fail(reason);
}

/** `["KTHXBAI", sequence, "", "", subtree]`: the end of a snapshot. */
export function encodeKthxbai(sequence: number, subtree: string): Buffer[] {
  return [Buffer.from(KTHXBAI), encodeSequence(sequence), EMPTY, EMPTY, Buffer.from(subtree, 'utf8')];
}

/** `["HUGZ", 0, "", "", ""]`: the server's heartbeat. */
export function encodeHugz(): Buffer[] {
  return [Buffer.from(HUGZ), encodeSequence(0), EMPTY, EMPTY, EMPTY];
}
