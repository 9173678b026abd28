/**
 * The Majordomo worker: serves one service, one request at a time, with
 * heartbeats both ways, reconnection with back-off, and a clean stop.
 *
 * @module
 */
import { Dealer } from 'zeromq';
import { MdpError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { checkServiceName, decodeWorkerMessage, encodeWorkerMessage } from '../protocol/codec.js';
import type { MdpVersion } from '../protocol/constants.js';
import { toFrame, toFrames, type FrameLike } from '../protocol/frames.js';

/** What a handler may return: the final reply's frames (one frame or a list), or nothing (one empty frame). */
export type HandlerReply = FrameLike | readonly FrameLike[] | undefined | void;

/**
 * What a handler may return as a stream, typically an async generator: each
 * yielded item is sent at once as a v0.2 PARTIAL, and the value it returns is
 * the FINAL (one empty frame if it returns nothing).
 */
export type HandlerStream = AsyncIterable<FrameLike | readonly FrameLike[], HandlerReply>;

/** Facts and tools a handler gets with each request. */
export interface RequestContext {
  /** The service being served. */
  readonly service: string;
  /** The client's address as the broker gave it (opaque). */
  readonly client: Buffer;
  /** Aborted when the worker is forced to stop, or loses the broker, before the handler is done. */
  readonly signal: AbortSignal;
  /**
   * Sends a partial reply now (MDP v0.2). With MDP v0.1 partials are kept and
   * sent in front of the final reply, as one REPLY.
   */
  partial(body: FrameLike | readonly FrameLike[]): void;
}

/**
 * Handles one request. Return the reply (frames), a stream of replies, or
 * throw: an exception becomes an error reply and the worker goes on.
 */
export type MdpHandler = (
  request: Buffer[],
  context: RequestContext,
) => HandlerReply | HandlerStream | Promise<HandlerReply | HandlerStream>;

/** Options of {@link MdpWorker}. Durations in milliseconds. */
export interface WorkerOptions {
  /** Broker endpoint. Default `tcp://127.0.0.1:5514`. */
  endpoint?: string;
  /** The service to serve (one per worker), e.g. `pi1.onewire.devices`. */
  service: string;
  /** Handles each request. */
  handler: MdpHandler;
  /** MDP version to speak: 2 (default) or 1. */
  version?: MdpVersion;
  /** Heartbeat interval; must match the broker's. Default 2500. */
  heartbeatInterval?: number;
  /** Missed broker heartbeats after which the worker reconnects. Default 3. */
  heartbeatLiveness?: number;
  /** First delay before reconnecting after losing the broker. Default 250. */
  reconnectDelay?: number;
  /** Longest delay between reconnection attempts (the delay doubles each time). Default 30000. */
  maxReconnectDelay?: number;
  /**
   * Turns a handler's exception into the reply sent to the client. Default:
   * `["500", {"error": message}]`, the RasPy status-first convention.
   */
  errorReply?: (error: unknown) => FrameLike[];
  /** Logger; default silent. */
  logger?: Logger;
}

/** Options of {@link MdpWorker.stop}. */
export interface StopOptions {
  /** How long to wait for the request in hand before aborting it. Default 10000. */
  timeout?: number;
}

const EMPTY = Buffer.alloc(0);

function defaultErrorReply(error: unknown): FrameLike[] {
  const message = error instanceof Error ? error.message : String(error);
  return ['500', JSON.stringify({ error: message })];
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value && !Buffer.isBuffer(value);
}

function bodyOf(value: FrameLike | readonly FrameLike[] | undefined | void): Buffer[] {
  if (value === undefined) return [EMPTY];
  if (Array.isArray(value)) return value.length === 0 ? [EMPTY] : toFrames(value as FrameLike[]);
  return [toFrame(value as FrameLike)];
}

interface Job {
  readonly client: Buffer;
  readonly body: Buffer[];
}

/**
 * A Majordomo worker serving one service.
 *
 * @example
 * ```ts
 * import { MdpWorker } from '@raspy/mdp';
 *
 * const worker = new MdpWorker({
 *   endpoint: 'tcp://127.0.0.1:5514',
 *   service: 'echo',
 *   handler: async (frames) => frames,
 * });
 * await worker.start();
 * // ...
 * await worker.stop(); // finishes the request in hand, then DISCONNECT
 * ```
 */
export class MdpWorker {
  private readonly endpoint: string;
  private readonly service: string;
  private readonly handler: MdpHandler;
  private readonly version: MdpVersion;
  private readonly interval: number;
  private readonly liveness: number;
  private readonly reconnectDelay: number;
  private readonly maxReconnectDelay: number;
  private readonly errorReply: (error: unknown) => FrameLike[];
  private readonly logger: Logger;

  private socket: Dealer | null = null;
  private generation = 0;
  private timer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private lastHeard = 0;
  private lastSent = 0;
  private failures = 0;
  private readonly jobs: Job[] = [];
  private working: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  private stopped: Promise<void> | null = null;
  private served = 0;

  /**
   * @param options - endpoint, service, handler, heartbeats; see {@link WorkerOptions}
   * @throws MdpError `ERR_MDP_INVALID_ARGUMENT` for a bad service name or option
   */
  constructor(options: WorkerOptions) {
    this.endpoint = options.endpoint ?? 'tcp://127.0.0.1:5514';
    this.service = options.service;
    this.handler = options.handler;
    this.version = options.version ?? 2;
    this.interval = options.heartbeatInterval ?? 2500;
    this.liveness = options.heartbeatLiveness ?? 3;
    this.reconnectDelay = options.reconnectDelay ?? 250;
    this.maxReconnectDelay = options.maxReconnectDelay ?? 30_000;
    this.errorReply = options.errorReply ?? defaultErrorReply;
    this.logger = (options.logger ?? silentLogger).child('mdp-worker', { service: this.service });
    const reason = checkServiceName(Buffer.from(String(this.service), 'utf8'));
    if (reason !== null) throw new MdpError('ERR_MDP_INVALID_ARGUMENT', `cannot serve "${this.service}": ${reason}`);
    if (this.service.startsWith('mmi.')) {
      throw new MdpError('ERR_MDP_INVALID_ARGUMENT', `"${this.service}" is reserved: mmi.* services are answered by the broker`);
    }
    if (typeof this.handler !== 'function') throw new MdpError('ERR_MDP_INVALID_ARGUMENT', 'a worker needs a handler function');
    if (this.version !== 1 && this.version !== 2) throw new MdpError('ERR_MDP_INVALID_ARGUMENT', `version must be 1 or 2`);
    for (const [name, v] of [
      ['heartbeatInterval', this.interval],
      ['heartbeatLiveness', this.liveness],
      ['reconnectDelay', this.reconnectDelay],
      ['maxReconnectDelay', this.maxReconnectDelay],
    ] as const) {
      if (!Number.isFinite(v) || v <= 0) throw new MdpError('ERR_MDP_INVALID_ARGUMENT', `${name} must be positive, got ${v}`);
    }
  }

  /** Requests answered since start. */
  get requestsServed(): number {
    return this.served;
  }

  /** True while the worker has a socket to the broker (it may not be registered yet). */
  get connected(): boolean {
    return this.socket !== null;
  }

  /**
   * Connects to the broker and registers the service (sends READY). MDP has
   * no acknowledgement of READY: the worker is serving once the broker reads it.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new MdpError('ERR_MDP_INVALID_ARGUMENT', `the worker is ${this.state}`);
    this.state = 'running';
    this.connect();
    this.timer = setInterval(() => this.onTimer(), Math.max(5, this.interval / 2));
  }

  /**
   * Stops serving: finishes the request in hand (aborting it after
   * `timeout`), sends DISCONNECT and closes the socket. Safe to call twice.
   *
   * @param options - how long to wait for the request in hand
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.stopped ??= this.doStop(options.timeout ?? 10_000);
    return this.stopped;
  }

  private async doStop(timeout: number): Promise<void> {
    if (this.state === 'idle') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    if (this.timer !== null) clearInterval(this.timer);
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.timer = this.reconnectTimer = null;
    this.jobs.length = 0;
    if (this.working !== null) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeout)));
      const result = await Promise.race([this.working.then(() => 'done' as const), late]);
      clearTimeout(timer);
      if (result === 'late') {
        // The handler is told to give up; a handler that ignores its signal
        // is left behind: its reply, if it ever comes, goes nowhere.
        this.logger.warn('request still running at stop, aborting it', { timeout });
        this.abort?.abort(new MdpError('ERR_MDP_CLOSED', 'the worker is stopping'));
        this.generation++;
      }
    }
    const socket = this.socket;
    if (socket !== null) {
      this.send(encodeWorkerMessage({ command: 'disconnect', version: this.version }));
      this.closeSocket();
    }
    this.state = 'stopped';
    this.logger.debug('worker stopped', { served: this.served });
  }

  private connect(): void {
    const socket = new Dealer({ linger: 1000, sendTimeout: 0, sendHighWaterMark: 1000, receiveHighWaterMark: 1000 });
    socket.connect(this.endpoint);
    this.socket = socket;
    const generation = ++this.generation;
    this.lastHeard = performance.now();
    this.send(encodeWorkerMessage({ command: 'ready', version: this.version, service: this.service }));
    this.logger.debug('ready sent', { endpoint: this.endpoint, version: this.version });
    void this.receiveLoop(socket, generation);
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = null;
    this.generation++;
    socket?.close();
  }

  private reconnect(why: string): void {
    if (this.state !== 'running') return;
    this.closeSocket();
    // A request in hand was lost with the socket: the broker hands it to another worker.
    this.abort?.abort(new MdpError('ERR_MDP_CLOSED', `lost the broker: ${why}`));
    this.jobs.length = 0;
    const delay = Math.min(this.maxReconnectDelay, this.reconnectDelay * 2 ** Math.min(this.failures, 20));
    const jittered = Math.round(delay * (0.75 + Math.random() * 0.5));
    this.failures++;
    this.logger.warn('reconnecting to the broker', { reason: why, delay: jittered });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state === 'running') this.connect();
    }, jittered);
  }

  private onTimer(): void {
    if (this.socket === null || this.state !== 'running') return;
    const now = performance.now();
    // While a request is in hand the broker may stay silent: the ZeroMQ
    // Guide's brokers heartbeat idle workers only. Broker liveness is judged
    // again, with a fresh window, once the request is done.
    if (this.working === null && now - this.lastHeard > this.interval * this.liveness) {
      this.reconnect(`no heartbeat from the broker for ${Math.round(now - this.lastHeard)} ms`);
      return;
    }
    if (now - this.lastSent >= this.interval / 2) {
      this.send(encodeWorkerMessage({ command: 'heartbeat', version: this.version }));
    }
  }

  private send(frames: Buffer[]): void {
    const socket = this.socket;
    if (socket === null) return;
    this.lastSent = performance.now();
    // sendTimeout 0: a DEALER queues without blocking; a full queue (the
    // broker gone for a long time) drops the message, which heartbeating
    // then notices.
    socket.send(frames).catch((err: unknown) => {
      if (!socket.closed) this.logger.warn('send to broker failed', { error: err as Error });
    });
  }

  private async receiveLoop(socket: Dealer, generation: number): Promise<void> {
    try {
      for (;;) {
        const frames = await socket.receive();
        if (generation !== this.generation) return;
        this.onMessage(frames);
      }
    } catch (err) {
      if (!socket.closed) this.logger.error('worker socket failed', { error: err as Error });
    }
  }

  private onMessage(frames: Buffer[]): void {
    const decoded = decodeWorkerMessage(frames, 'from-broker');
    if (!decoded.ok) {
      this.logger.warn('invalid message from broker dropped', { reason: decoded.error.message });
      return;
    }
    this.lastHeard = performance.now();
    this.failures = 0;
    const msg = decoded.value;
    switch (msg.command) {
      case 'request':
        if (this.state !== 'running') return;
        this.jobs.push({ client: msg.client, body: msg.body });
        if (this.working === null) this.working = this.work();
        return;
      case 'disconnect':
        this.logger.info('broker sent DISCONNECT, registering again');
        this.failures = 0;
        if (this.state === 'running') {
          this.closeSocket();
          this.abort?.abort(new MdpError('ERR_MDP_CLOSED', 'the broker disconnected this worker'));
          this.jobs.length = 0;
          this.connect();
        }
        return;
      default:
        return; // heartbeat: liveness already refreshed
    }
  }

  private async work(): Promise<void> {
    try {
      for (let job = this.jobs.shift(); job !== undefined; job = this.jobs.shift()) {
        await this.serve(job);
      }
    } finally {
      this.working = null;
      this.lastHeard = Math.max(this.lastHeard, performance.now());
    }
  }

  private async serve(job: Job): Promise<void> {
    const generation = this.generation;
    // The abort signal is made only if the handler looks at it (it costs a
    // few microseconds per request, which shows at thousands per second).
    let abort: AbortController | null = null;
    const signal = (): AbortSignal => {
      if (abort === null) {
        abort = new AbortController();
        this.abort = abort;
      }
      return abort.signal;
    };
    const kept: Buffer[] = [];
    const reply = (command: 'partial' | 'final', body: Buffer[]): void => {
      if (generation !== this.generation) return; // the socket this request came on is gone
      this.send(encodeWorkerMessage(command === 'partial'
        ? { command, version: 2, client: job.client, body }
        : { command, version: this.version, client: job.client, body }));
    };
    const partial = (body: FrameLike | readonly FrameLike[]): void => {
      const frames = bodyOf(body);
      if (this.version === 1) kept.push(...frames);
      else reply('partial', frames);
    };
    let final: Buffer[];
    try {
      const context: RequestContext = {
        service: this.service,
        client: job.client,
        partial,
        get signal() {
          return signal();
        },
      };
      const result = await this.handler(job.body, context);
      if (isAsyncIterable(result)) {
        // Each yielded item is a PARTIAL as soon as it comes; the value the
        // generator returns (if any) is the FINAL.
        const iterator = (result as HandlerStream)[Symbol.asyncIterator]();
        let step = await iterator.next();
        while (step.done !== true) {
          partial(step.value);
          step = await iterator.next();
        }
        final = bodyOf(step.value as HandlerReply);
      } else {
        final = bodyOf(result as HandlerReply);
      }
    } catch (err) {
      if ((abort as AbortController | null)?.signal.aborted === true && generation !== this.generation) return;
      this.logger.warn('handler failed, sending an error reply', { error: err as Error });
      try {
        final = bodyOf(this.errorReply(err));
      } catch (inner) {
        final = bodyOf(defaultErrorReply(inner));
      }
    } finally {
      if (abort !== null && this.abort === abort) this.abort = null;
    }
    reply('final', kept.length > 0 ? [...kept, ...final] : final);
    this.served++;
  }
}
