/**
 * The Majordomo broker: one ROUTER socket serving clients and workers of MDP
 * v0.1 and v0.2 at once, with MMI.
 *
 * This file is the socket shell; every decision is made by the pure
 * {@link BrokerCore}.
 *
 * @module
 */
import { Router } from 'zeromq';
import { MdpError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { BrokerCore, type BrokerStats, type WorkerInfo } from './broker-core.js';

/** Options of {@link MdpBroker}. Durations in milliseconds. */
export interface BrokerOptions {
  /**
   * Where to bind, one endpoint or several. Default `tcp://*:5514`.
   * Use `tcp://127.0.0.1:*` for an ephemeral port and read {@link MdpBroker.endpoints}.
   */
  endpoint?: string | readonly string[];
  /** Interval between heartbeats to each worker. Default 2500 (as the ZeroMQ Guide). */
  heartbeatInterval?: number;
  /** Missed intervals after which a worker is dead. Default 3. */
  heartbeatLiveness?: number;
  /** How long a request waits for a worker before an error reply. Default 10000. */
  requestTimeout?: number;
  /** Most requests waiting per service. Default 1000. */
  maxQueuePerService?: number;
  /** Most requests waiting in the whole broker. Default 100000. */
  maxPendingRequests?: number;
  /** Most services known at once. Default 10000. */
  maxServices?: number;
  /** Workers a request may go through (when they die holding it) before an error reply. Default 3. */
  maxWorkerAttempts?: number;
  /** Largest message accepted, in bytes (ZMQ_MAXMSGSIZE); a peer sending more is disconnected by ZeroMQ. Default 16 MiB. */
  maxMessageSize?: number;
  /** Most bytes of v0.2 partial replies buffered for a v0.1 client. Default 16 MiB. */
  maxPartialBytes?: number;
  /** Per-peer high-water mark of the ROUTER socket, both directions (ZMQ_SNDHWM / ZMQ_RCVHWM). Default 10000. */
  highWaterMark?: number;
  /**
   * Pending connections the listening socket queues (ZMQ_BACKLOG). Default
   * 1000, so a thousand peers reconnecting at once (after a broker restart)
   * are not turned away and made to retry seconds later.
   */
  backlog?: number;
  /** Logger; default silent. */
  logger?: Logger;
}

const DEFAULTS = {
  heartbeatInterval: 2500,
  heartbeatLiveness: 3,
  requestTimeout: 10_000,
  maxQueuePerService: 1000,
  maxPendingRequests: 100_000,
  maxServices: 10_000,
  maxWorkerAttempts: 3,
  maxMessageSize: 16 * 1024 * 1024,
  maxPartialBytes: 16 * 1024 * 1024,
  highWaterMark: 10_000,
  backlog: 1000,
};

function positive(name: string, value: number, integer = true): number {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new MdpError('ERR_MDP_INVALID_ARGUMENT', `option ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  }
  return value;
}

/**
 * A Majordomo broker (7/MDP and 18/MDP on one socket) with MMI.
 *
 * @example
 * ```ts
 * import { MdpBroker, createLogger } from '@raspy/mdp';
 *
 * const broker = new MdpBroker({ endpoint: 'tcp://*:5514', logger: createLogger() });
 * await broker.start();
 * process.once('SIGINT', () => void broker.stop());
 * ```
 */
export class MdpBroker {
  private readonly opts: Required<Omit<BrokerOptions, 'endpoint' | 'logger'>> & { endpoint: readonly string[] };
  private readonly logger: Logger;
  private router: Router | null = null;
  private core: BrokerCore | null = null;
  private timer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private bound: string[] = [];
  private stopping: Promise<void> | null = null;
  private starting: Promise<void> | null = null;

  /**
   * @param options - endpoints, timings and limits; see {@link BrokerOptions}
   * @throws MdpError `ERR_MDP_INVALID_ARGUMENT` for an invalid option
   */
  constructor(options: BrokerOptions = {}) {
    const endpoint = options.endpoint ?? 'tcp://*:5514';
    const o = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
      const v = options[key];
      if (v !== undefined) o[key] = positive(key, v, key !== 'heartbeatInterval' && key !== 'requestTimeout');
    }
    this.opts = { ...o, endpoint: typeof endpoint === 'string' ? [endpoint] : [...endpoint] };
    if (this.opts.endpoint.length === 0) throw new MdpError('ERR_MDP_INVALID_ARGUMENT', 'the broker needs at least one endpoint');
    this.logger = options.logger ?? silentLogger;
  }

  /** The endpoints actually bound (ephemeral ports resolved), once started. */
  get endpoints(): readonly string[] {
    return this.bound;
  }

  /** True between a successful {@link start} and {@link stop}. */
  get running(): boolean {
    return this.router !== null && this.stopping === null;
  }

  /**
   * Binds the socket and starts serving.
   *
   * @throws the bind error (address in use, bad endpoint) after releasing the socket
   */
  start(): Promise<void> {
    if (this.router !== null || this.starting !== null) {
      return Promise.reject(new MdpError('ERR_MDP_INVALID_ARGUMENT', 'the broker is already started'));
    }
    const starting = this.doStart();
    this.starting = starting;
    // A failed start may be tried again (e.g. once the port is free).
    starting.catch(() => {
      if (this.starting === starting) this.starting = null;
    });
    return starting;
  }

  private async doStart(): Promise<void> {
    const router = new Router({
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: this.opts.highWaterMark,
      receiveHighWaterMark: this.opts.highWaterMark,
      maxMessageSize: this.opts.maxMessageSize,
      backlog: this.opts.backlog,
      linger: 200,
    });
    try {
      for (const ep of this.opts.endpoint) {
        await router.bind(ep);
        this.bound.push(router.lastEndpoint ?? ep);
      }
    } catch (err) {
      router.close();
      this.bound = [];
      throw err;
    }
    const now = performance.now();
    const core = new BrokerCore(
      { ...this.opts, logger: this.logger },
      (identity, frames, undelivered) => {
        router.send([identity, ...frames]).catch((err: unknown) => {
          undelivered?.();
          this.onSendError(identity, err);
        });
      },
      now,
    );
    this.router = router;
    this.core = core;
    const tickEvery = Math.max(10, Math.min(this.opts.heartbeatInterval, this.opts.requestTimeout / 4, 1000));
    this.timer = setInterval(() => this.safely(() => core.tick(performance.now())), tickEvery);
    this.loop = this.receiveLoop(router, core);
    this.logger.info('broker listening', {
      endpoints: this.bound,
      heartbeatInterval: this.opts.heartbeatInterval,
      heartbeatLiveness: this.opts.heartbeatLiveness,
    });
  }

  /** Current figures: workers, queues and counters per service, uptime. */
  stats(): BrokerStats {
    if (this.core === null) throw new MdpError('ERR_MDP_CLOSED', 'the broker is not running');
    return this.core.stats(performance.now());
  }

  /** Every registered worker with its service and state. */
  workers(): WorkerInfo[] {
    if (this.core === null) throw new MdpError('ERR_MDP_CLOSED', 'the broker is not running');
    return this.core.workerList(performance.now());
  }

  /**
   * Tells every worker to disconnect, stops serving and closes the socket.
   * Safe to call more than once, and while {@link start} is under way.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    // Stopped while starting: let the start finish, then undo it.
    await this.starting?.catch(() => {});
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const router = this.router;
    if (router === null) return;
    this.safely(() => this.core?.disconnectAll(performance.now()));
    router.close();
    await this.loop;
    this.router = null;
    this.core = null;
    this.logger.info('broker stopped');
  }

  private async receiveLoop(router: Router, core: BrokerCore): Promise<void> {
    try {
      for (;;) {
        const msg = await router.receive();
        const identity = msg[0];
        if (identity === undefined || msg.length < 2) continue;
        const frames = msg.slice(1);
        try {
          core.handle(identity, frames, performance.now());
        } catch (err) {
          // A bug of ours must not take the broker down with it.
          this.logger.error('error while handling a message', { error: err as Error, stack: (err as Error).stack });
        }
      }
    } catch (err) {
      if (router.closed) return;
      this.logger.error('broker socket failed', { error: err as Error });
    }
  }

  private onSendError(identity: Buffer, err: unknown): void {
    const code = (err as { code?: string }).code;
    // EHOSTUNREACH: the peer is gone. EAGAIN: its queue is full (high-water mark).
    this.logger.debug('send failed', { peer: identity.toString('hex'), code });
    if (this.core !== null && !this.router?.closed) this.safely(() => this.core?.peerUnreachable(identity, performance.now()));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error('internal broker error', { error: err as Error, stack: (err as Error).stack });
    }
  }
}
