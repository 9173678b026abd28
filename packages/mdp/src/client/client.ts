/**
 * The Majordomo client: promise requests with timeout and retries, many in
 * flight at once, and v0.2 streaming replies.
 *
 * MDP has no request id, so one DEALER socket can carry one request at a
 * time without ambiguity. The client keeps a pool of sockets: each request
 * borrows one, and a request that times out throws its socket away (a late
 * reply must never be taken for the answer to the next request) and retries
 * on a fresh one, as 7/MDP recommends.
 *
 * @module
 */
import { Dealer } from 'zeromq';
import { isMdpError, MdpError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { decodeClientReply, encodeClientRequest } from '../protocol/codec.js';
import type { MdpVersion } from '../protocol/constants.js';
import { toFrames, type FrameLike } from '../protocol/frames.js';
import { decodeBrokerError } from '../broker/broker-errors.js';

/** Options of {@link MdpClient}. Durations in milliseconds. */
export interface ClientOptions {
  /** Broker endpoint. Default `tcp://127.0.0.1:5514`. */
  endpoint?: string;
  /** MDP version to speak: 2 (default, allows streaming) or 1 (for v0.1-only brokers). */
  version?: MdpVersion;
  /** How long one attempt waits for the reply (and, for streams, for each partial). Default 2500. */
  timeout?: number;
  /** Further attempts after a timeout, each on a new socket. Default 2 (three attempts). */
  retries?: number;
  /** Most requests in flight at once (one socket each); more wait their turn. Default 64. */
  maxSockets?: number;
  /** Sockets kept open between requests. Default 8. */
  maxIdleSockets?: number;
  /** Logger; default silent. */
  logger?: Logger;
}

/** Per-call options of {@link MdpClient.requestWith} and {@link MdpClient.streamWith}. */
export interface RequestOptions {
  /** Overrides the client's timeout for this call. */
  timeout?: number;
  /** Overrides the client's retries for this call. */
  retries?: number;
  /** Aborts the call: it rejects with an `AbortError` and its socket is discarded. */
  signal?: AbortSignal;
}

/** One reply of a streamed request: zero or more partials, then exactly one final. */
export interface StreamReply {
  /** The reply frames. */
  body: Buffer[];
  /** True for the last reply of the request. */
  final: boolean;
}

type Waiter = (socket: Dealer) => void;

const EMPTY_BODY = [Buffer.alloc(0)];

/**
 * A Majordomo client for MDP v0.1 or v0.2.
 *
 * @example
 * ```ts
 * import { MdpClient } from '@raspy/mdp';
 *
 * const client = new MdpClient({ endpoint: 'tcp://127.0.0.1:5514' });
 * const [status, json] = await client.request('pi1.sim.devices', 'list');
 * for await (const { body, final } of client.stream('pi1.sim.devices', 'snapshot')) {
 *   console.log(final ? 'last' : 'more', body.length);
 * }
 * await client.close();
 * ```
 */
export class MdpClient {
  private readonly endpoint: string;
  private readonly version: MdpVersion;
  private readonly timeout: number;
  private readonly retries: number;
  private readonly maxSockets: number;
  private readonly maxIdle: number;
  private readonly logger: Logger;
  private readonly idle: Dealer[] = [];
  private readonly busy = new Set<Dealer>();
  private readonly waiters: Waiter[] = [];
  private closed = false;

  /**
   * @param options - endpoint, version, timeout and retries; see {@link ClientOptions}
   * @throws MdpError `ERR_MDP_INVALID_ARGUMENT` for an invalid option
   */
  constructor(options: ClientOptions = {}) {
    this.endpoint = options.endpoint ?? 'tcp://127.0.0.1:5514';
    this.version = options.version ?? 2;
    this.timeout = options.timeout ?? 2500;
    this.retries = options.retries ?? 2;
    this.maxSockets = options.maxSockets ?? 64;
    this.maxIdle = options.maxIdleSockets ?? 8;
    this.logger = options.logger ?? silentLogger;
    if (this.version !== 1 && this.version !== 2) throw invalid(`version must be 1 or 2, got ${String(this.version)}`);
    checkTimeout(this.timeout);
    checkRetries(this.retries);
    if (!Number.isInteger(this.maxSockets) || this.maxSockets < 1) throw invalid(`maxSockets must be a positive integer, got ${this.maxSockets}`);
    if (!Number.isInteger(this.maxIdle) || this.maxIdle < 0) throw invalid(`maxIdleSockets must be an integer >= 0, got ${this.maxIdle}`);
  }

  /**
   * Sends a request and resolves with the final reply's frames. A request
   * without frames is sent with one empty frame (MDP requires a body).
   *
   * @param service - service name, e.g. `pi1.onewire.devices` or `mmi.service`
   * @param body - request frames (strings are sent as UTF-8)
   * @returns the reply frames
   * @throws MdpError `ERR_MDP_TIMEOUT`, `ERR_MDP_BROKER_UNREACHABLE`, `ERR_MDP_SERVICE_UNAVAILABLE`,
   *   `ERR_MDP_QUEUE_FULL`, `ERR_MDP_REQUEST_FAILED`, `ERR_MDP_CLOSED`, `ERR_MDP_INVALID_ARGUMENT`
   */
  request(service: string, ...body: FrameLike[]): Promise<Buffer[]> {
    return this.requestWith(service, body);
  }

  /**
   * Like {@link request}, with per-call options (timeout, retries, abort signal).
   * Partial replies of a v0.2 stream are skipped; use {@link stream} to see them.
   *
   * @param service - service name
   * @param body - request frames
   * @param options - per-call options
   * @returns the final reply's frames
   */
  requestWith(service: string, body: readonly FrameLike[], options: RequestOptions = {}): Promise<Buffer[]> {
    return this.exchange(service, body, options, null);
  }

  /**
   * Sends a request and yields every reply: the v0.2 partials as they come,
   * then the final one. With MDP v0.1 it yields the single reply.
   * Breaking out of the loop abandons the request.
   *
   * @param service - service name
   * @param body - request frames
   * @returns an async iterator of replies
   */
  stream(service: string, ...body: FrameLike[]): AsyncGenerator<StreamReply, void, undefined> {
    return this.streamWith(service, body);
  }

  /**
   * Like {@link stream}, with per-call options. An attempt is retried on a
   * new socket only while nothing has been received yet; once partials have
   * been yielded, a timeout ends the stream with an error.
   *
   * @param service - service name
   * @param body - request frames
   * @param options - per-call options
   * @returns an async iterator of replies
   */
  async *streamWith(
    service: string,
    body: readonly FrameLike[],
    options: RequestOptions = {},
  ): AsyncGenerator<StreamReply, void, undefined> {
    // The exchange pushes partials into a queue; this generator pulls them.
    const stop = new AbortController();
    const outer = options.signal;
    const onOuterAbort = (): void => stop.abort(outer?.reason);
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    if (outer?.aborted) stop.abort(outer.reason);
    const queue: Buffer[][] = [];
    let wake: (() => void) | null = null;
    const notify = (): void => {
      wake?.();
      wake = null;
    };
    const result: { outcome: { ok: true; body: Buffer[] } | { ok: false; error: unknown } | null } = { outcome: null };
    this.exchange(service, body, { ...options, signal: stop.signal }, (partial) => {
      queue.push(partial);
      notify();
    }).then(
      (final) => {
        result.outcome = { ok: true, body: final };
        notify();
      },
      (error: unknown) => {
        result.outcome = { ok: false, error };
        notify();
      },
    );
    try {
      for (;;) {
        const partial = queue.shift();
        if (partial !== undefined) {
          yield { body: partial, final: false };
          continue;
        }
        const settled = result.outcome;
        if (settled !== null) {
          if (!settled.ok) throw settled.error;
          yield { body: settled.body, final: true };
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      outer?.removeEventListener('abort', onOuterAbort);
      // Abandoned early (break): abort the exchange, which discards its socket.
      if (result.outcome === null) stop.abort(new MdpError('ERR_MDP_CLOSED', 'the stream was abandoned'));
    }
  }

  /**
   * One request with its retries. Partials go to `onPartial` (or are
   * skipped); resolves with the final body.
   */
  private async exchange(
    service: string,
    body: readonly FrameLike[],
    options: RequestOptions,
    onPartial: ((body: Buffer[]) => void) | null,
  ): Promise<Buffer[]> {
    const timeout = options.timeout ?? this.timeout;
    const retries = options.retries ?? this.retries;
    checkTimeout(timeout);
    checkRetries(retries);
    const frames = encodeClientRequest(this.version, service, body.length === 0 ? EMPTY_BODY : toFrames(body));
    const signal = options.signal;
    signal?.throwIfAborted();
    let connectedOnce = false;

    for (let attempt = 0; attempt <= retries; attempt++) {
      const socket = await this.acquire(signal);
      let received = 0;
      let owned = true; // until released or discarded
      const drop = (): void => {
        if (owned) this.discard(socket);
        owned = false;
      };
      const onAbort = drop;
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        signal?.throwIfAborted();
        const started = performance.now();
        socket.sendTimeout = timeout;
        try {
          await socket.send(frames);
        } catch (err) {
          if (!isAgain(err)) throw err;
          // ZMQ_IMMEDIATE: the message could not be queued because no
          // connection to the broker came up within the timeout.
          this.logger.debug('broker not connected', { endpoint: this.endpoint, service, attempt });
          drop();
          continue;
        }
        connectedOnce = true;
        for (;;) {
          socket.receiveTimeout =
            received === 0 ? Math.max(1, Math.round(timeout - (performance.now() - started))) : timeout;
          let msg: Buffer[];
          try {
            msg = await socket.receive();
          } catch (err) {
            if (!isAgain(err)) throw err;
            break; // timed out
          }
          const decoded = decodeClientReply(msg);
          if (!decoded.ok || decoded.value.service !== service) {
            this.logger.warn('unexpected message on a client socket, ignored', {
              service,
              reason: decoded.ok ? `reply for service "${decoded.value.service}"` : decoded.error.message,
            });
            continue;
          }
          const reply = decoded.value;
          received++;
          if (!reply.final) {
            onPartial?.(reply.body);
            continue;
          }
          owned = false;
          this.release(socket);
          const brokerError = decodeBrokerError(reply.body);
          if (brokerError !== null) throw brokerError;
          return reply.body;
        }
        // The attempt timed out: this socket may still receive the late reply, so it goes.
        drop();
        if (received > 0) {
          throw new MdpError(
            'ERR_MDP_TIMEOUT',
            `the stream from service "${service}" stopped: no reply for ${timeout} ms after ${received} partial replies`,
            { details: { service, endpoint: this.endpoint, received } },
          );
        }
        this.logger.debug('request timed out', { service, attempt, timeout });
      } catch (err) {
        drop();
        if (signal?.aborted) throw signal.reason;
        if (this.closed && !isMdpError(err)) throw closedError(service);
        throw err;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    }
    if (!connectedOnce) {
      throw new MdpError(
        'ERR_MDP_BROKER_UNREACHABLE',
        `could not connect to the broker at ${this.endpoint} (${retries + 1} attempts of ${timeout} ms); is it running?`,
        { details: { service, endpoint: this.endpoint } },
      );
    }
    throw new MdpError(
      'ERR_MDP_TIMEOUT',
      `no reply from service "${service}" via ${this.endpoint} after ${retries + 1} attempts of ${timeout} ms`,
      { details: { service, endpoint: this.endpoint, attempts: retries + 1 } },
    );
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.busy.size;
  }

  /**
   * Closes every socket. Requests in flight reject with `ERR_MDP_CLOSED`.
   * Safe to call more than once.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.idle.splice(0)) s.close();
    for (const s of [...this.busy]) this.discard(s);
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w(null as unknown as Dealer);
  }

  private async acquire(signal: AbortSignal | undefined): Promise<Dealer> {
    if (this.closed) throw closedError();
    let socket = this.idle.pop();
    if (socket === undefined) {
      if (this.busy.size < this.maxSockets) socket = this.open();
      else {
        socket = await new Promise<Dealer>((resolve, reject) => {
          const waiter: Waiter = (s) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(s);
          };
          const onAbort = (): void => {
            const i = this.waiters.indexOf(waiter);
            if (i >= 0) this.waiters.splice(i, 1);
            reject(signal?.reason);
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          this.waiters.push(waiter);
        });
        if (this.closed || socket === null) throw closedError();
      }
    }
    this.busy.add(socket);
    return socket;
  }

  private open(): Dealer {
    const socket = new Dealer({ linger: 0, immediate: true });
    socket.connect(this.endpoint);
    return socket;
  }

  private release(socket: Dealer): void {
    if (!this.busy.delete(socket)) return;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      this.busy.add(socket);
      waiter(socket);
    } else if (this.idle.length < this.maxIdle && !this.closed) {
      this.idle.push(socket);
    } else {
      socket.close();
    }
  }

  private discard(socket: Dealer): void {
    if (!this.busy.delete(socket)) return;
    socket.close();
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      const fresh = this.open();
      this.busy.add(fresh);
      waiter(fresh);
    }
  }
}

function isAgain(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'EAGAIN';
}

function invalid(message: string): MdpError {
  return new MdpError('ERR_MDP_INVALID_ARGUMENT', message);
}

function closedError(service?: string): MdpError {
  return new MdpError('ERR_MDP_CLOSED', service === undefined ? 'the client is closed' : `the client was closed during a request to "${service}"`);
}

function checkTimeout(timeout: number): void {
  if (!Number.isFinite(timeout) || timeout <= 0) throw invalid(`timeout must be a positive number of milliseconds, got ${timeout}`);
}

function checkRetries(retries: number): void {
  if (!Number.isInteger(retries) || retries < 0) throw invalid(`retries must be an integer >= 0, got ${retries}`);
}
