/**
 * The owserver network protocol of OWFS, as pure functions over bytes: message
 * headers, request builders, a streaming parser for the server's replies, and
 * the names of its return codes. No sockets here (see `client.ts`).
 *
 * Every message starts with six 32-bit big-endian signed integers. To the
 * server: version, payload length, message type, control flags, size, offset,
 * then the payload (a NUL-terminated path, for WRITE followed by the data).
 * From the server: version, payload length, return value, control flags,
 * size, offset, then the payload. A reply whose payload length is negative is
 * a keep-alive "ping" the server sends while it is still working; it carries
 * nothing and the real reply follows.
 *
 * @see https://owfs.org/index_php_page_owserver-protocol.html
 * @see https://owfs.org/index_php_page_owserver-flag-word.html
 * @module
 */
import { OneWireError } from '../errors.js';

/** The port owserver listens on by default. */
export const OWSERVER_DEFAULT_PORT = 4304;

/** Bytes in a message header (six 32-bit integers). */
export const HEADER_SIZE = 24;

/**
 * The largest reply payload accepted by default: far above anything a 1-Wire
 * bus answers (a directory of 100 probes is under 2 KiB), far below what a
 * stream of garbage read as a length could ask us to buffer.
 */
export const DEFAULT_MAX_PAYLOAD = 1 << 20;

/** The `size` sent with READ: how many bytes we accept (owserver's own clients ask for 64 KiB). */
export const READ_SIZE = 65536;

/** Message types (field 3 of a request). */
export const MessageType = {
  ERROR: 0,
  NOP: 1,
  READ: 2,
  WRITE: 3,
  /** One reply per entry, then an empty reply. */
  DIR: 4,
  /** Obsolete; owserver answers ENOMSG. */
  SIZE: 5,
  PRESENCE: 6,
  /** The whole directory in one comma-separated reply. */
  DIRALL: 7,
  GET: 8,
  /** DIRALL with a `/` after each directory entry. */
  DIRALLSLASH: 9,
  GETSLASH: 10,
} as const;

/** A message type number. */
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Control flags (field 4 of both headers), as owserver names them. */
export const ControlFlag = {
  /** List the bus and system directories (`/bus.0`, `/settings`, …) too. */
  BUS_RET: 0x00000002,
  /** Request (client) or grant (server) a connection that stays open after the reply. */
  PERSISTENCE: 0x00000004,
  /** Show aliases instead of ids (owserver substitutes known aliases anyway). */
  ALIAS: 0x00000008,
  SAFEMODE: 0x00000010,
  /** Like an `/uncached` path prefix. */
  UNCACHED: 0x00000020,
  /** Set by every ownet client. */
  OWNET: 0x00000100,
  /**
   * Temperature scale: Celsius. It is the value 0 of a 2-bit field
   * (`0x00030000`, F = 0x10000, K = 0x20000, R = 0x30000): owserver formats
   * temperatures in the scale the *request* asks for, whatever its own `-F`.
   */
  TEMP_C: 0x00000000,
  TEMP_F: 0x00010000,
  TEMP_K: 0x00020000,
  TEMP_R: 0x00030000,
  /** Device name format `/10.67C6697351FF` (the value 0 of the field `0xFF000000`). */
  FORMAT_FDI: 0x00000000,
} as const;

/** Message type names, for messages and logs. */
const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MessageType).map(([k, v]) => [v, k]));

/** `READ`, `DIRALL`…, or the number. */
export function messageTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/** The header of a message to the server. */
export interface RequestHeader {
  readonly version: number;
  readonly payloadLength: number;
  readonly type: number;
  readonly flags: number;
  readonly size: number;
  readonly offset: number;
}

/** The header of a message from the server. */
export interface ReplyHeader {
  readonly version: number;
  /** Negative for a keep-alive ping. */
  readonly payloadLength: number;
  /** ≥ 0 on success (for READ, the byte count); a negative errno on failure. */
  readonly returnCode: number;
  /** The request's flags as the server took them (PERSISTENCE if granted). */
  readonly flags: number;
  /** Bytes of the payload that are data (the rest is padding or a NUL). */
  readonly size: number;
  readonly offset: number;
}

/** A reply from the server, with its data (the first `size` bytes of the payload). */
export interface Reply {
  readonly kind: 'reply';
  readonly header: ReplyHeader;
  readonly data: Buffer;
}

/** A frame from the server: a keep-alive ping, or a reply. */
export type ReplyFrame = { readonly kind: 'ping'; readonly header: ReplyHeader } | Reply;

function writeHeader(fields: readonly number[]): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  fields.forEach((v, i) => out.writeInt32BE(v | 0, i * 4));
  return out;
}

/** Encodes a request header (24 bytes). */
export function encodeRequestHeader(h: RequestHeader): Buffer {
  return writeHeader([h.version, h.payloadLength, h.type, h.flags, h.size, h.offset]);
}

/** Encodes a reply header (24 bytes): for fake servers in tests and tools. */
export function encodeReplyHeader(h: ReplyHeader): Buffer {
  return writeHeader([h.version, h.payloadLength, h.returnCode, h.flags, h.size, h.offset]);
}

/** Decodes the first 24 bytes of `buf` as a request header. */
export function decodeRequestHeader(buf: Buffer): RequestHeader {
  checkHeaderBytes(buf);
  return {
    version: buf.readInt32BE(0),
    payloadLength: buf.readInt32BE(4),
    type: buf.readInt32BE(8),
    flags: buf.readUInt32BE(12),
    size: buf.readInt32BE(16),
    offset: buf.readInt32BE(20),
  };
}

/** Decodes the first 24 bytes of `buf` as a reply header. */
export function decodeReplyHeader(buf: Buffer): ReplyHeader {
  checkHeaderBytes(buf);
  return {
    version: buf.readInt32BE(0),
    payloadLength: buf.readInt32BE(4),
    returnCode: buf.readInt32BE(8),
    flags: buf.readUInt32BE(12),
    size: buf.readInt32BE(16),
    offset: buf.readInt32BE(20),
  };
}

function checkHeaderBytes(buf: Buffer): void {
  if (buf.length < HEADER_SIZE) {
    throw new RangeError(`an owserver header is ${HEADER_SIZE} bytes, got ${buf.length}`);
  }
}

/** Encodes a whole reply: for fake servers in tests and tools. `size` defaults to the data length. */
export function encodeReply(
  returnCode: number,
  data: Buffer | string = Buffer.alloc(0),
  options: { flags?: number; size?: number; offset?: number } = {},
): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const header = encodeReplyHeader({
    version: 0,
    payloadLength: payload.length,
    returnCode,
    flags: options.flags ?? ControlFlag.OWNET,
    size: options.size ?? payload.length,
    offset: options.offset ?? 0,
  });
  return Buffer.concat([header, payload]);
}

/** Encodes the keep-alive ping a busy server sends (payload length -1): for fake servers in tests. */
export function encodePing(flags = 0): Buffer {
  return encodeReplyHeader({ version: 0, payloadLength: -1, returnCode: 0, flags, size: 0, offset: 0 });
}

/** What a request carries besides its type. */
export interface RequestOptions {
  /** Control flags; default {@link ControlFlag.OWNET} (Celsius, `/10.67C6697351FF` names). */
  flags?: number;
  /** Bytes wanted (READ) or written (WRITE, set from the data). Default 0, READ: {@link READ_SIZE}. */
  size?: number;
  offset?: number;
  /** WRITE: the value, sent after the path. */
  data?: Buffer;
}

/**
 * Builds a request message: header and payload. The path is validated with
 * {@link validatePath} (NOP takes no path).
 *
 * @param type - the message type
 * @param path - an owserver path (`/28.000028D70000/temperature`)
 * @param options - flags, size, offset, and the data of a WRITE
 * @returns the bytes to send
 * @throws OneWireError `ERR_ONEWIRE_INVALID` for a bad path
 */
export function encodeRequest(type: MessageType, path: string, options: RequestOptions = {}): Buffer {
  const data = options.data ?? Buffer.alloc(0);
  const pathBytes = type === MessageType.NOP ? Buffer.alloc(0) : Buffer.from(`${validatePath(path)}\0`, 'latin1');
  const payload = Buffer.concat([pathBytes, data]);
  const size = type === MessageType.WRITE ? data.length : (options.size ?? (type === MessageType.READ ? READ_SIZE : 0));
  const header = encodeRequestHeader({
    version: 0,
    payloadLength: payload.length,
    type,
    flags: options.flags ?? ControlFlag.OWNET,
    size,
    offset: options.offset ?? 0,
  });
  return Buffer.concat([header, payload]);
}

/** READ of `path`. */
export function readRequest(path: string, flags?: number): Buffer {
  return encodeRequest(MessageType.READ, path, { flags });
}

/** WRITE of `data` to `path`. */
export function writeRequest(path: string, data: Buffer, flags?: number): Buffer {
  return encodeRequest(MessageType.WRITE, path, { flags, data });
}

/** DIRALL of `path` (or DIR, one reply per entry, for servers without DIRALL). */
export function dirRequest(path: string, flags?: number, type: 'DIRALL' | 'DIR' = 'DIRALL'): Buffer {
  return encodeRequest(MessageType[type], path, { flags });
}

/** PRESENCE of `path`. */
export function presenceRequest(path: string, flags?: number): Buffer {
  return encodeRequest(MessageType.PRESENCE, path, { flags });
}

/** NOP: a round trip that touches nothing. */
export function nopRequest(flags?: number): Buffer {
  return encodeRequest(MessageType.NOP, '', { flags });
}

/** The longest path we send (owserver's own limit is PATH_MAX). */
export const MAX_PATH_LENGTH = 1024;

/**
 * Checks an owserver path: it must start with `/`, have no `..` segment, no
 * NUL or other control character, be ASCII and at most {@link MAX_PATH_LENGTH}
 * characters long.
 *
 * @param path - the path to check
 * @returns the path, unchanged
 * @throws OneWireError `ERR_ONEWIRE_INVALID` saying what is wrong
 */
export function validatePath(path: string): string {
  const bad = (why: string): OneWireError =>
    new OneWireError('ERR_ONEWIRE_INVALID', `owserver path ${JSON.stringify(path)} ${why}`);
  if (typeof path !== 'string') throw bad('is not a string');
  if (!path.startsWith('/')) throw bad("must start with '/' (e.g. /28.0000052FD3C1/temperature)");
  if (path.length > MAX_PATH_LENGTH) throw bad(`is longer than ${MAX_PATH_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(path)) throw bad('contains a NUL or control character');
  if (/[^\u0020-\u007e]/.test(path)) throw bad('contains a non-ASCII character');
  if (path.split('/').includes('..')) throw bad("contains a '..' segment");
  return path;
}

/**
 * Splits the payload of a DIRALL reply (`/28.0000052FD3C1,/bus.0`) into entries.
 *
 * @param data - the reply data (a trailing NUL is ignored)
 * @returns the entries, as the server wrote them
 */
export function parseDirAll(data: Buffer): string[] {
  const text = trimNul(data).toString('latin1');
  return text === '' ? [] : text.split(',').filter((e) => e !== '');
}

/** `data` without a trailing NUL terminator. */
export function trimNul(data: Buffer): Buffer {
  const end = data.indexOf(0);
  return end === -1 ? data : data.subarray(0, end);
}

/**
 * Cuts the server's byte stream into frames. Feed it every chunk as it comes
 * ({@link push}); it returns the frames completed so far and keeps the rest.
 * A reply may arrive in many chunks and a chunk may hold many replies.
 *
 * A reply's data is the first `size` bytes of its payload (owserver pads some
 * payloads, e.g. PRESENCE sends 8 bytes with size 0).
 */
export class ReplyParser {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly maxPayload: number;

  /** @param options - `maxPayload`: refuse longer replies (default {@link DEFAULT_MAX_PAYLOAD}) */
  constructor(options: { maxPayload?: number } = {}) {
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  }

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.buffer.length;
  }

  /**
   * Adds received bytes.
   *
   * @param chunk - bytes from the socket
   * @returns the frames completed by this chunk, in order
   * @throws OneWireError `ERR_ONEWIRE_CONNECTION` when the bytes are not
   *   owserver replies (bad version, absurd payload length); the stream
   *   cannot be resynchronised after that, drop the connection
   */
  push(chunk: Buffer): ReplyFrame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: ReplyFrame[] = [];
    while (this.buffer.length >= HEADER_SIZE) {
      const header = decodeReplyHeader(this.buffer);
      if (header.version !== 0) {
        throw new OneWireError(
          'ERR_ONEWIRE_CONNECTION',
          `not an owserver reply: header version ${header.version} (0x${(header.version >>> 0).toString(16)}), expected 0; ` +
            'is the port that of an owserver?',
        );
      }
      if (header.payloadLength < 0) {
        frames.push({ kind: 'ping', header });
        this.buffer = this.buffer.subarray(HEADER_SIZE);
        continue;
      }
      if (header.payloadLength > this.maxPayload) {
        throw new OneWireError(
          'ERR_ONEWIRE_CONNECTION',
          `owserver reply announces ${header.payloadLength} bytes of payload, more than the ${this.maxPayload} accepted; ` +
            'refusing it (not an owserver, or a corrupt stream)',
        );
      }
      const end = HEADER_SIZE + header.payloadLength;
      if (this.buffer.length < end) break;
      const payload = this.buffer.subarray(HEADER_SIZE, end);
      const size = header.size >= 0 && header.size <= payload.length ? header.size : payload.length;
      // Copy: the data outlives the buffer it was cut from.
      frames.push({ kind: 'reply', header, data: Buffer.from(payload.subarray(0, size)) });
      this.buffer = this.buffer.subarray(end);
    }
    return frames;
  }
}

/**
 * Cuts a client's byte stream into requests: for fake servers in tests and
 * tools. Same contract as {@link ReplyParser}.
 */
export class RequestParser {
  private buffer: Buffer = Buffer.alloc(0);

  /** Adds received bytes; returns the requests completed, with their path and (WRITE) data. */
  push(chunk: Buffer): { header: RequestHeader; path: string; data: Buffer }[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const out: { header: RequestHeader; path: string; data: Buffer }[] = [];
    while (this.buffer.length >= HEADER_SIZE) {
      const header = decodeRequestHeader(this.buffer);
      if (header.payloadLength < 0 || header.payloadLength > DEFAULT_MAX_PAYLOAD) {
        throw new RangeError(`request payload length ${header.payloadLength} out of range`);
      }
      const end = HEADER_SIZE + header.payloadLength;
      if (this.buffer.length < end) break;
      const payload = this.buffer.subarray(HEADER_SIZE, end);
      const nul = payload.indexOf(0);
      const path = (nul === -1 ? payload : payload.subarray(0, nul)).toString('latin1');
      const data = Buffer.from(nul === -1 ? Buffer.alloc(0) : payload.subarray(nul + 1));
      out.push({ header, path, data });
      this.buffer = this.buffer.subarray(end);
    }
    return out;
  }
}

/**
 * What owserver's negative return codes mean. They are negated Linux errno
 * values; the texts follow what OWFS means by them. Note that owserver 3.x
 * answers -1 (EPERM), not -2, for a path it cannot resolve: an absent device,
 * an unknown property or a malformed name.
 */
const RETURN_CODES: Record<number, readonly [name: string, text: string]> = {
  1: ['EPERM', 'no such path (owserver could not resolve it: absent device, unknown property or bad name)'],
  2: ['ENOENT', 'no such path'],
  5: ['EIO', 'I/O error on the 1-Wire bus'],
  7: ['E2BIG', 'argument too long'],
  11: ['EAGAIN', 'temporarily unavailable, try again'],
  12: ['ENOMEM', 'owserver is out of memory'],
  13: ['EACCES', 'access denied'],
  14: ['EFAULT', 'bad address'],
  16: ['EBUSY', 'busy'],
  19: ['ENODEV', 'no such device'],
  20: ['ENOTDIR', 'not a directory'],
  21: ['EISDIR', 'is a directory, not a property'],
  22: ['EINVAL', 'invalid value or device error (bad data format, conversion failed)'],
  30: ['EROFS', 'read-only (owserver was started with --readonly)'],
  34: ['ERANGE', 'value out of range'],
  36: ['ENAMETOOLONG', 'path too long'],
  42: ['ENOMSG', 'message type not supported by this owserver'],
  61: ['ENODATA', 'no data'],
  62: ['ETIME', 'timer expired'],
  71: ['EPROTO', 'protocol error'],
  74: ['EBADMSG', 'bad message'],
  75: ['EOVERFLOW', 'value too large'],
  84: ['EILSEQ', 'illegal byte sequence'],
  90: ['EMSGSIZE', 'message size wrong (size field does not match the data)'],
  95: ['EOPNOTSUPP', 'not supported (e.g. the property is not writable)'],
  103: ['ECONNABORTED', 'connection aborted'],
  105: ['ENOBUFS', 'no buffer space'],
  110: ['ETIMEDOUT', 'timed out on the 1-Wire bus'],
  121: ['EREMOTEIO', 'remote I/O error'],
  125: ['ECANCELED', 'cancelled'],
};

/**
 * Names an owserver return code for messages: `-2` → `ENOENT (no such path)`.
 *
 * @param returnCode - a negative return value from owserver
 * @returns the errno name and what it means, or `error N` when unknown
 */
export function describeReturnCode(returnCode: number): string {
  const known = RETURN_CODES[-returnCode];
  return known ? `${known[0]} (${known[1]})` : `error ${-returnCode}`;
}

/**
 * The errno name of an owserver return code: `-2` → `ENOENT`.
 *
 * @returns the name, or undefined when the code is not a known errno
 */
export function returnCodeName(returnCode: number): string | undefined {
  return RETURN_CODES[-returnCode]?.[0];
}

/** Return codes that mean "nothing at that path": ENOENT, ENODEV, and owserver 3.x's -1. */
export function isNotFound(returnCode: number): boolean {
  return returnCode === -1 || returnCode === -2 || returnCode === -19;
}
