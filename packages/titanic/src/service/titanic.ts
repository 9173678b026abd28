/**
 * The Titanic service (9/TSP): `titanic.request`, `titanic.reply` and
 * `titanic.close` as MDP workers, plus the dispatcher that executes the
 * stored requests.
 *
 * @module
 */
import { MdpClient, MdpWorker, checkServiceName, silentLogger, type Logger, type MdpHandler } from '@raspy/mdp';
import { TitanicError } from '../errors.js';
import { parseUuid } from '../internal/uuid.js';
import { Dispatcher, type DispatcherOptions } from './dispatcher.js';
import { RequestStore } from './request-store.js';

/** Options of {@link TitanicServer}. */
export interface TitanicOptions {
  /** Broker endpoint. Default `tcp://127.0.0.1:5514`. */
  broker?: string;
  /** Directory of the request journal (created if missing). */
  dataDir: string;
  /**
   * Workers of `titanic.request` (each takes one request at a time; the
   * stores of concurrent ones share one fsync). Default 16.
   */
  requestWorkers?: number;
  /** Workers of `titanic.reply` and `titanic.close` each. Default 4. */
  replyWorkers?: number;
  /** Most open requests; more get `500`. Default 100000. */
  maxOpen?: number;
  /** Heartbeat interval towards the broker (must match it). Default 2500. */
  heartbeatInterval?: number;
  /** How the stored requests are executed. */
  dispatcher?: DispatcherOptions;
  /** Logger; default silent. */
  logger?: Logger;
}

/** Figures of a running Titanic. */
export interface TitanicStats {
  /** Requests stored and not closed. */
  open: number;
  /** Of those, without a reply yet. */
  pending: number;
  /** Executions that produced a stored reply, since start. */
  executed: number;
  /** Executions that failed and were tried again, since start. */
  retried: number;
  /** fsyncs of the journal since start. */
  syncs: number;
}

/** Titanic's own TSP services: storing requests to them would loop. */
const SELF = new Set(['titanic.request', 'titanic.reply', 'titanic.close']);

const ok = (...frames: (string | Buffer)[]): (string | Buffer)[] => ['200', ...frames];

/**
 * Titanic: durable requests for any MDP service.
 *
 * @example
 * ```ts
 * import { TitanicServer } from '@raspy/titanic';
 *
 * const titanic = new TitanicServer({ broker: 'tcp://127.0.0.1:5514', dataDir: '/var/lib/raspy/titanic' });
 * await titanic.start();
 * ```
 */
export class TitanicServer {
  private readonly logger: Logger;
  private store: RequestStore | null = null;
  private dispatcher: Dispatcher | null = null;
  private client: MdpClient | null = null;
  private workers: MdpWorker[] = [];
  private state: 'new' | 'running' | 'stopped' = 'new';
  private stopping: Promise<void> | null = null;
  private starting: Promise<void> | null = null;

  /** @param options - broker, data directory, workers; see {@link TitanicOptions} */
  constructor(private readonly options: TitanicOptions) {
    if (typeof options.dataDir !== 'string' || options.dataDir === '') {
      throw new TitanicError('ERR_TITANIC_INVALID_ARGUMENT', 'Titanic needs a dataDir');
    }
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * Loads the journal (reporting corrupt records), registers the workers
   * and starts executing what is pending.
   *
   * @throws TitanicError `ERR_TITANIC_STORAGE` when the data directory cannot be used
   */
  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new TitanicError('ERR_TITANIC_INVALID_ARGUMENT', `Titanic is ${this.state}`));
    this.state = 'running';
    this.starting = this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const { store, problems } = await RequestStore.open(this.options.dataDir, this.options.maxOpen);
    for (const problem of problems) this.logger.warn('request journal', { problem });
    this.store = store;
    const broker = this.options.broker ?? 'tcp://127.0.0.1:5514';
    const dispatcherOptions = this.options.dispatcher ?? {};
    this.client = new MdpClient({
      endpoint: broker,
      maxSockets: (dispatcherOptions.concurrency ?? 16) * 4 + 8,
      logger: this.logger.child('titanic-client'),
    });
    this.dispatcher = new Dispatcher(store, this.client, this.logger.child('titanic-dispatcher'), dispatcherOptions);
    const make = (service: string, handler: MdpHandler, count: number): void => {
      for (let i = 0; i < count; i++) {
        this.workers.push(
          new MdpWorker({
            endpoint: broker,
            service,
            handler,
            heartbeatInterval: this.options.heartbeatInterval,
            logger: this.logger,
          }),
        );
      }
    };
    make('titanic.request', (frames) => this.onRequest(frames), this.options.requestWorkers ?? 16);
    make('titanic.reply', (frames) => this.onReply(frames), this.options.replyWorkers ?? 4);
    make('titanic.close', (frames) => this.onClose(frames), this.options.replyWorkers ?? 4);
    await Promise.all(this.workers.map((w) => w.start()));
    this.dispatcher.start();
    this.logger.info('titanic started', { dataDir: this.options.dataDir, open: store.size, pending: store.pending().length });
  }

  /** Current figures. */
  stats(): TitanicStats {
    const store = this.store;
    return {
      open: store?.size ?? 0,
      pending: store?.pending().length ?? 0,
      executed: this.dispatcher?.counters.executed ?? 0,
      retried: this.dispatcher?.counters.retried ?? 0,
      syncs: store?.syncs ?? 0,
    };
  }

  /**
   * Stops the workers (each finishes its request in hand), the dispatcher,
   * and closes the journal once everything pending is on disk.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    // Stopped while starting: let the start finish (or fail), then undo it.
    await this.starting?.catch(() => {});
    if (this.state !== 'running') return;
    this.state = 'stopped';
    await Promise.all(this.workers.map((w) => w.stop()));
    await this.dispatcher?.stop();
    await this.client?.close();
    await this.store?.shutdown();
    this.logger.info('titanic stopped');
  }

  private async onRequest(frames: Buffer[]): Promise<(string | Buffer)[]> {
    const [serviceFrame, ...body] = frames;
    const reason = serviceFrame === undefined ? 'the request has no service frame' : checkServiceName(serviceFrame);
    if (reason !== null) {
      this.logger.warn('titanic.request refused', { reason });
      return ['400', `bad request: ${reason}`];
    }
    const service = (serviceFrame as Buffer).toString('utf8');
    if (SELF.has(service)) return ['400', `bad request: Titanic does not store requests to ${service}`];
    try {
      const uuid = await (this.store as RequestStore).add(service, body.length === 0 ? [Buffer.alloc(0)] : body);
      this.dispatcher?.enqueue(uuid, service);
      return ok(uuid);
    } catch (err) {
      this.logger.error('cannot store a request', { error: err as Error });
      return ['500', (err as Error).message];
    }
  }

  private onReply(frames: Buffer[]): (string | Buffer)[] {
    const uuid = parseUuid(frames[0]);
    if (uuid === null) return ['400'];
    const request = this.store?.get(uuid);
    if (request === undefined) return ['400'];
    if (request.reply === null || !request.replySynced) return ['300'];
    return ok(...request.reply);
  }

  private onClose(frames: Buffer[]): string[] {
    const uuid = parseUuid(frames[0]);
    // Answered without waiting for the disk: a close lost in a crash only
    // leaves an answered request open, and titanic.close always says 200.
    if (uuid !== null) {
      this.store?.close(uuid).catch((err: unknown) => this.logger.warn('cannot record a close', { uuid, error: err as Error }));
    }
    return ['200'];
  }
}
