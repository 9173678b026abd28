/**
 * A client of OWFS's owserver over TCP: directory listings, reads, writes and
 * presence checks, with a deadline per request, clear errors, and a
 * connection that is kept between requests when the server grants it.
 *
 * The simple protocol is one TCP connection per request: the server closes
 * after its reply. A client may ask to keep the connection (the PERSISTENCE
 * flag); owserver says in each reply whether it granted that. We ask, and
 * keep one idle connection when granted, for `idleTimeout` only (a second by
 * default: owserver does not stop on SIGTERM while a client holds one).
 * An idle connection the server dropped is noticed (its `end`) and
 * forgotten; if the drop races with our next request, that request is sent
 * again once on a new connection, except a WRITE, which never reuses an idle
 * connection so that it is never sent twice.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';
import { silentLogger, type Logger } from '@raspy/mdp';
import { OneWireError, isOneWireError } from '../errors.js';
import {
  ControlFlag,
  DEFAULT_MAX_PAYLOAD,
  MessageType,
  OWSERVER_DEFAULT_PORT,
  ReplyParser,
  describeReturnCode,
  encodeRequest,
  messageTypeName,
  parseDirAll,
  trimNul,
  validatePath,
  type Reply,
  type ReplyFrame,
} from './protocol.js';

/** Options of {@link OwserverClient}. */
export interface OwserverClientOptions {
  /** Host name or address of the owserver. Default `127.0.0.1`. */
  host?: string;
  /** TCP port. Default 4304. */
  port?: number;
  /**
   * Milliseconds a request may take, from connecting to the last byte of the
   * reply. Keep-alive pings from a busy server do not extend it. Default 5000.
   */
  timeout?: number;
  /**
   * Ask owserver to keep the connection open between requests (its
   * PERSISTENCE flag), and reuse it when granted. Default true.
   */
  persistent?: boolean;
  /**
   * Milliseconds a kept connection may stay unused before the client closes
   * it. Short by default (1000): it serves bursts (a listing, a round of
   * reads) without holding the server; owserver does not exit on SIGTERM
   * while a persistent connection is open.
   */
  idleTimeout?: number;
  /** Largest reply payload accepted, in bytes. Default 1 MiB. */
  maxPayload?: number;
  /** Where to log connections and retries (debug). Default: silent. */
  logger?: Logger;
}

/** Options of {@link OwserverClient.dir}. */
export interface DirOptions {
  /**
   * Include the bus and system directories (`/bus.0`, `/settings`,
   * `/uncached`…), as `owdir` does: owserver's BUS_RET flag. Default true.
   */
  bus?: boolean;
}

/** The reply of one request: its frames without the pings. */
interface Outcome {
  readonly replies: Reply[];
}

/** A failed attempt, and whether it failed on a stale reused connection before any byte came back. */
class AttemptFailure {
  constructor(
    readonly error: OneWireError,
    readonly stale: boolean,
  ) {}
}

/** ENOMSG: the return code of a server that does not know a message type (DIRALL on old servers, or with --no_dirall). */
const UNKNOWN_MESSAGE = -42;

/**
 * A client of one owserver. Requests may run concurrently (each uses its own
 * connection while it runs). Close it with {@link OwserverClient.close}.
 *
 * @example
 * ```ts
 * const ow = new OwserverClient({ host: 'pi.local' });
 * for (const entry of await ow.dir('/')) console.log(entry);
 * console.log(await ow.readText('/28.0000052FD3C1/temperature')); // '21.5'
 * await ow.close();
 * ```
 */
export class OwserverClient {
  /** Host of the owserver. */
  readonly host: string;
  /** Port of the owserver. */
  readonly port: number;
  /** `host:port`, for messages. */
  readonly address: string;
  /** Milliseconds per request. */
  readonly timeout: number;
  private readonly persistent: boolean;
  private readonly idleTimeout: number;
  private readonly maxPayload: number;
  private readonly logger: Logger;
  /** Every open socket, with a promise of its `close`. */
  private readonly sockets = new Map<Socket, Promise<void>>();
  /** Requests under way: how to abort each one when closing. */
  private readonly inflight = new Set<(error: OneWireError) => void>();
  private idle: { socket: Socket; release: () => void } | undefined;
  /** false once the server refused DIRALL: use DIR from then on. */
  private dirAll = true;
  private closed = false;

  /** @param options - host, port, timeout, persistence, logger */
  constructor(options: OwserverClientOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? OWSERVER_DEFAULT_PORT;
    this.timeout = options.timeout ?? 5000;
    this.persistent = options.persistent ?? true;
    this.idleTimeout = options.idleTimeout ?? 1000;
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(this.port) || this.port <= 0 || this.port > 65535) {
      throw new OneWireError('ERR_ONEWIRE_INVALID', `owserver port must be an integer from 1 to 65535, got ${this.port}`);
    }
    if (!(this.idleTimeout >= 0)) {
      throw new OneWireError('ERR_ONEWIRE_INVALID', `owserver idleTimeout must be a number of ms >= 0, got ${this.idleTimeout}`);
    }
    if (!(this.timeout > 0)) {
      throw new OneWireError('ERR_ONEWIRE_INVALID', `owserver timeout must be a positive number of ms, got ${this.timeout}`);
    }
    this.address = this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
    this.logger = (options.logger ?? silentLogger).child('onewire-owserver', { server: this.address });
  }

  /**
   * Lists a directory: the devices at `/`, the properties of a device, the
   * devices of a bus. Uses DIRALL (one reply) and falls back to DIR (one reply
   * per entry) on servers that refuse DIRALL.
   *
   * @param path - an owserver path; default `/`
   * @param options - `bus`: include `/bus.N` and system directories (default true)
   * @returns full paths as the server writes them (`/28.000028D70000`, `/bus.0`)
   * @throws OneWireError `ERR_ONEWIRE_SERVER` (with `returnCode`) for a path
   *   that does not exist, `ERR_ONEWIRE_TIMEOUT`, `ERR_ONEWIRE_CONNECTION`,
   *   `ERR_ONEWIRE_INVALID` for a bad path, `ERR_ONEWIRE_CLOSED`
   */
  async dir(path = '/', options: DirOptions = {}): Promise<string[]> {
    validatePath(path);
    const flags = options.bus === false ? 0 : ControlFlag.BUS_RET;
    if (this.dirAll) {
      const { replies } = await this.request(MessageType.DIRALL, path, { flags });
      const reply = onlyReply(replies);
      if (reply.header.returnCode !== UNKNOWN_MESSAGE) {
        this.check(reply, MessageType.DIRALL, path);
        return parseDirAll(reply.data);
      }
      this.dirAll = false;
      this.logger.info('owserver refuses DIRALL; listing directories with DIR from now on');
    }
    const { replies } = await this.request(MessageType.DIR, path, { flags, multi: true });
    const last = replies[replies.length - 1];
    if (last) this.check(last, MessageType.DIR, path);
    return replies.filter((r) => r.data.length > 0).map((r) => trimNul(r.data).toString('latin1'));
  }

  /**
   * Reads a property (`/28.0000052FD3C1/temperature`) as bytes.
   *
   * @param path - an owserver path
   * @returns the value's bytes (numbers come right-aligned in spaces: `'       21.5'`)
   * @throws OneWireError `ERR_ONEWIRE_SERVER` (with `returnCode`), `ERR_ONEWIRE_TIMEOUT`,
   *   `ERR_ONEWIRE_CONNECTION`, `ERR_ONEWIRE_INVALID`, `ERR_ONEWIRE_CLOSED`
   */
  async read(path: string): Promise<Buffer> {
    validatePath(path);
    const { replies } = await this.request(MessageType.READ, path);
    const reply = onlyReply(replies);
    this.check(reply, MessageType.READ, path);
    return reply.data;
  }

  /**
   * Reads a property as text, without the padding: use it for numbers and
   * names (`readText('/28.0000052FD3C1/temperature')` → `'21.5'`).
   *
   * @param path - an owserver path
   * @returns the trimmed text
   * @throws OneWireError as {@link OwserverClient.read}
   */
  async readText(path: string): Promise<string> {
    return (await this.read(path)).toString('utf8').trim();
  }

  /**
   * Writes a property (`/28.0000052FD3C1/temphigh`, `'50'`). A write is never
   * sent twice: it always opens its own connection.
   *
   * @param path - an owserver path
   * @param data - the value, as owserver expects it (text for numbers)
   * @throws OneWireError `ERR_ONEWIRE_SERVER` (e.g. -95 EOPNOTSUPP for a
   *   read-only property, -22 EINVAL for a bad value), `ERR_ONEWIRE_TIMEOUT`,
   *   `ERR_ONEWIRE_CONNECTION`, `ERR_ONEWIRE_INVALID`, `ERR_ONEWIRE_CLOSED`
   */
  async write(path: string, data: Buffer | string): Promise<void> {
    validatePath(path);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const { replies } = await this.request(MessageType.WRITE, path, { data: bytes });
    this.check(onlyReply(replies), MessageType.WRITE, path);
  }

  /**
   * Tells whether something exists at a path (a device, a property, a bus).
   *
   * @param path - an owserver path
   * @returns true when the server resolves the path, false when it does not
   * @throws OneWireError `ERR_ONEWIRE_TIMEOUT`, `ERR_ONEWIRE_CONNECTION`,
   *   `ERR_ONEWIRE_INVALID`, `ERR_ONEWIRE_CLOSED` (never `ERR_ONEWIRE_SERVER`)
   */
  async presence(path: string): Promise<boolean> {
    validatePath(path);
    const { replies } = await this.request(MessageType.PRESENCE, path);
    return onlyReply(replies).header.returnCode >= 0;
  }

  /**
   * A round trip that touches nothing (NOP): to check that an owserver
   * answers at this address.
   *
   * @throws OneWireError `ERR_ONEWIRE_TIMEOUT`, `ERR_ONEWIRE_CONNECTION`, `ERR_ONEWIRE_SERVER`, `ERR_ONEWIRE_CLOSED`
   */
  async ping(): Promise<void> {
    const { replies } = await this.request(MessageType.NOP, '');
    this.check(onlyReply(replies), MessageType.NOP, '');
  }

  /**
   * Closes the connections; requests under way fail with
   * `ERR_ONEWIRE_CLOSED`, later ones too. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      const closing = new OneWireError('ERR_ONEWIRE_CLOSED', `the owserver client of ${this.address} was closed`);
      for (const abort of [...this.inflight]) abort(closing);
      this.idle?.release();
      this.idle = undefined;
      for (const socket of this.sockets.keys()) socket.destroy();
    }
    await Promise.all(this.sockets.values());
  }

  /** Throws the server's error for a negative return code. */
  private check(reply: Reply, type: number, path: string): void {
    const rc = reply.header.returnCode;
    if (rc >= 0) return;
    const target = type === MessageType.NOP ? '' : ` ${path}`;
    throw new OneWireError(
      'ERR_ONEWIRE_SERVER',
      `owserver at ${this.address} answered ${messageTypeName(type)}${target} with ${rc}: ${describeReturnCode(rc)}`,
      { returnCode: rc },
    );
  }

  /**
   * Sends one request and waits for its reply (for DIR, all its replies), on
   * the idle connection or a new one, within the timeout.
   */
  private async request(
    type: MessageType,
    path: string,
    options: { flags?: number; data?: Buffer; multi?: boolean } = {},
  ): Promise<Outcome> {
    if (this.closed) throw new OneWireError('ERR_ONEWIRE_CLOSED', `the owserver client of ${this.address} is closed`);
    const flags =
      ControlFlag.OWNET |
      ControlFlag.TEMP_C |
      ControlFlag.FORMAT_FDI |
      (options.flags ?? 0) |
      (this.persistent ? ControlFlag.PERSISTENCE : 0);
    const message = encodeRequest(type, path, { flags, data: options.data });
    const what = type === MessageType.NOP ? 'NOP' : `${messageTypeName(type)} ${path}`;
    const deadline = performance.now() + this.timeout;
    // A WRITE might have been carried out even if the connection drops before
    // the reply: it never takes a connection that may be stale.
    const reused = type === MessageType.WRITE ? undefined : this.takeIdle();
    try {
      return await this.attempt(reused ?? this.open(), reused !== undefined, message, options.multi ?? false, deadline, what);
    } catch (err) {
      if (!(err instanceof AttemptFailure)) throw err;
      if (!err.stale || this.closed) throw err.error;
      this.logger.debug('the kept connection was dropped by the server; sending again on a new one', { request: what });
      try {
        return await this.attempt(this.open(), false, message, options.multi ?? false, deadline, what);
      } catch (again) {
        throw again instanceof AttemptFailure ? again.error : again;
      }
    }
  }

  /** Opens a new connection (it connects in the background; writes wait for it). */
  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    this.sockets.set(
      socket,
      new Promise<void>((resolve) =>
        socket.once('close', () => {
          this.sockets.delete(socket);
          resolve();
        }),
      ),
    );
    this.logger.debug('connecting');
    return socket;
  }

  /** The idle kept connection, if any, now owned by the caller. */
  private takeIdle(): Socket | undefined {
    const idle = this.idle;
    if (!idle) return undefined;
    this.idle = undefined;
    idle.release();
    if (idle.socket.destroyed || !idle.socket.writable) {
      idle.socket.destroy();
      return undefined;
    }
    idle.socket.ref();
    return idle.socket;
  }

  /** Keeps a connection the server granted persistence on, or closes it. */
  private park(socket: Socket): void {
    if (this.closed || this.idle || socket.destroyed || this.idleTimeout === 0) {
      socket.destroy();
      return;
    }
    const drop = (why: string): void => {
      if (this.idle?.socket === socket) {
        this.idle.release();
        this.idle = undefined;
        this.logger.debug(why);
      }
      socket.destroy();
    };
    const onEnd = (): void => drop('the server closed the kept connection');
    // Nothing may come on an idle connection.
    const onData = (): void => drop('unexpected bytes on the kept connection; closed it');
    const timer = setTimeout(() => drop('closed the kept connection after its idle timeout'), this.idleTimeout);
    timer.unref();
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
    socket.on('close', onEnd);
    socket.unref();
    this.idle = {
      socket,
      release: () => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('error', onEnd);
        socket.off('close', onEnd);
      },
    };
  }

  /** One try on one connection. Rejects with an {@link AttemptFailure}. */
  private attempt(socket: Socket, reused: boolean, message: Buffer, multi: boolean, deadline: number, what: string): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const parser = new ReplyParser({ maxPayload: this.maxPayload });
      const replies: Reply[] = [];
      let received = false;
      let pings = 0;
      let settled = false;

      const cleanup = (): void => {
        settled = true;
        clearTimeout(timer);
        this.inflight.delete(abort);
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
        socket.off('error', onError);
      };
      const fail = (error: OneWireError, stale = false): void => {
        if (settled) return;
        cleanup();
        socket.destroy();
        reject(new AttemptFailure(error, stale));
      };
      /** `clean`: nothing came after the reply; only then may the connection serve again. */
      const succeed = (clean: boolean): void => {
        if (settled) return;
        cleanup();
        const last = replies[replies.length - 1];
        const granted = last !== undefined && (last.header.flags & ControlFlag.PERSISTENCE) !== 0;
        if (this.persistent && granted && clean && parser.pending === 0) this.park(socket);
        else socket.destroy();
        resolve({ replies });
      };
      const onData = (chunk: Buffer): void => {
        received = true;
        let frames: ReplyFrame[];
        try {
          frames = parser.push(chunk);
        } catch (err) {
          fail(isOneWireError(err) ? err : new OneWireError('ERR_ONEWIRE_CONNECTION', String(err), { cause: err }));
          return;
        }
        for (const [i, frame] of frames.entries()) {
          if (frame.kind === 'ping') {
            pings++;
            this.logger.debug('keep-alive ping: the server is still working', { request: what });
            continue;
          }
          replies.push(frame);
          // DIR sends one reply per entry and ends with an empty one (or an error).
          if (!multi || frame.header.payloadLength === 0 || frame.header.returnCode < 0) {
            succeed(i === frames.length - 1);
            return;
          }
        }
      };
      const onEnd = (): void => {
        fail(
          new OneWireError(
            'ERR_ONEWIRE_CONNECTION',
            `owserver at ${this.address} closed the connection before replying to ${what}` +
              (received ? ' (the reply was cut short)' : ''),
          ),
          reused && !received,
        );
      };
      const onError = (err: NodeJS.ErrnoException): void => {
        fail(connectionError(err, this.address, this.host, what), reused && !received);
      };
      const abort = (error: OneWireError): void => fail(error);
      const timer = setTimeout(() => {
        fail(
          new OneWireError(
            'ERR_ONEWIRE_TIMEOUT',
            `owserver at ${this.address} did not answer ${what} within ${this.timeout} ms` +
              (pings > 0 ? ` (it sent ${pings} keep-alive ping${pings === 1 ? '' : 's'}: it is busy, e.g. a slow bus)` : '') +
              '; check that owserver is running and its bus responds, or raise the timeout',
          ),
        );
      }, Math.max(0, deadline - performance.now()));

      this.inflight.add(abort);
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('close', onEnd);
      socket.on('error', onError);
      socket.write(message);
    });
  }
}

/** The single reply of a non-DIR request. */
function onlyReply(replies: Reply[]): Reply {
  const reply = replies[0];
  if (!reply) throw new OneWireError('ERR_ONEWIRE_CONNECTION', 'owserver sent no reply');
  return reply;
}

/** A socket error as a OneWireError whose message names the server and says what to do. */
function connectionError(err: NodeJS.ErrnoException, address: string, host: string, what: string): OneWireError {
  const code = err.code ?? 'error';
  let message: string;
  switch (code) {
    case 'ECONNREFUSED':
      message = `cannot connect to owserver at ${address}: connection refused (ECONNREFUSED); is owserver running and listening there (owserver -p ${address})?`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      message = `cannot resolve the owserver host ${host} (${code}); check the host name`;
      break;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      message = `cannot reach owserver at ${address} (${code}); check the network and the address`;
      break;
    case 'ECONNRESET':
    case 'EPIPE':
      message = `the connection to owserver at ${address} was reset (${code}) during ${what}; did the server stop?`;
      break;
    default:
      message = `the connection to owserver at ${address} failed during ${what}: ${err.message}`;
  }
  return new OneWireError('ERR_ONEWIRE_CONNECTION', message, { cause: err });
}
