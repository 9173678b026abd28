/**
 * Titanic's dispatcher: executes stored requests through the broker when
 * their service is present, retries with back-off, and stores each reply
 * durably.
 *
 * Per service it keeps a queue of pending requests. While the service is
 * absent (`mmi.service` says 404) or failing, it waits with exponential
 * back-off; when present, up to `concurrency` requests of it are in flight.
 * A worker that dies mid-request is the broker's to handle (it hands the
 * request to another worker); a request that gets no reply in time is
 * simply tried again later: workers are idempotent by 7/MDP.
 *
 * @module
 * @internal
 */
import { isMdpError, type Logger, type MdpClient } from '@raspy/mdp';
import type { RequestStore } from './request-store.js';

/** Options of the dispatcher. Durations in milliseconds. */
export interface DispatcherOptions {
  /** Requests of one service in flight at once. Default 16. */
  concurrency?: number;
  /** How long one execution may take before it is tried again. Default 30000. */
  requestTimeout?: number;
  /** First back-off after a failure or an absent service. Default 250. */
  minBackoff?: number;
  /** Longest back-off (how late an absent service that came back may be noticed). Default 10000. */
  maxBackoff?: number;
}

interface ServiceQueue {
  readonly name: string;
  readonly waiting: string[];
  inFlight: number;
  failures: number;
  timer: NodeJS.Timeout | null;
  /** The service was found present and nothing failed since. */
  present: boolean;
}

/** @internal */
export class Dispatcher {
  private readonly queues = new Map<string, ServiceQueue>();
  private readonly concurrency: number;
  private readonly requestTimeout: number;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Executions done, failed (retried later), for statistics. */
  readonly counters = { executed: 0, retried: 0 };

  constructor(
    private readonly store: RequestStore,
    private readonly client: MdpClient,
    private readonly logger: Logger,
    options: DispatcherOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 16;
    this.requestTimeout = options.requestTimeout ?? 30_000;
    this.minBackoff = options.minBackoff ?? 250;
    this.maxBackoff = options.maxBackoff ?? 10_000;
  }

  /** Queues every stored request that has no reply yet, and starts. */
  start(): void {
    this.running = true;
    for (const r of this.store.pending()) this.enqueue(r.uuid, r.service);
  }

  /** A request was just stored. */
  enqueue(uuid: string, service: string): void {
    let q = this.queues.get(service);
    if (q === undefined) {
      q = { name: service, waiting: [], inFlight: 0, failures: 0, timer: null, present: false };
      this.queues.set(service, q);
    }
    q.waiting.push(uuid);
    this.pump(q);
  }

  /** Requests waiting for their service, all services together. */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.waiting.length + q.inFlight;
    return n;
  }

  /** Stops starting executions and waits for those under way. */
  async stop(): Promise<void> {
    this.running = false;
    for (const q of this.queues.values()) if (q.timer !== null) clearTimeout(q.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  private pump(q: ServiceQueue): void {
    if (!this.running || q.timer !== null) return;
    // The broker answers mmi.* itself: there is no worker to wait for.
    if (q.name.startsWith('mmi.')) q.present = true;
    if (!q.present) {
      // Ask the broker once before sending anything: a request for an
      // absent service would only wait in the broker's queue.
      if (q.inFlight > 0) return;
      this.track(this.probe(q));
      return;
    }
    while (q.inFlight < this.concurrency && q.waiting.length > 0) {
      const uuid = q.waiting.shift() as string;
      this.track(this.execute(q, uuid));
    }
    // Forget idle queues of absent services (names come from clients); keep
    // those known present, so the next request needs no new probe.
    if (q.waiting.length === 0 && q.inFlight === 0 && !q.present) this.queues.delete(q.name);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async probe(q: ServiceQueue): Promise<void> {
    q.inFlight++;
    let present = false;
    try {
      const [status] = await this.client.requestWith('mmi.service', [q.name], { timeout: Math.min(5000, this.requestTimeout), retries: 0 });
      present = String(status) === '200';
    } catch (err) {
      this.logger.warn('cannot ask the broker about a service', { service: q.name, error: err as Error });
    } finally {
      q.inFlight--;
    }
    if (present) {
      q.present = true;
      this.pump(q);
    } else {
      this.backoff(q, 'service absent');
    }
  }

  private async execute(q: ServiceQueue, uuid: string): Promise<void> {
    const request = this.store.get(uuid);
    if (request === undefined || request.reply !== null) {
      this.pump(q); // closed, or executed already
      return;
    }
    q.inFlight++;
    try {
      const reply = await this.client.requestWith(request.service, request.body, { timeout: this.requestTimeout, retries: 0 });
      await this.store.setReply(uuid, reply);
      this.counters.executed++;
      q.failures = 0;
      q.inFlight--;
      this.pump(q);
    } catch (err) {
      q.inFlight--;
      this.counters.retried++;
      q.waiting.unshift(uuid);
      const why = isMdpError(err) ? err.code : (err as Error).message;
      this.logger.info('request not executed, will try again', { service: q.name, uuid, reason: why });
      q.present = false;
      this.backoff(q, why);
    }
  }

  private backoff(q: ServiceQueue, why: string): void {
    if (!this.running || q.timer !== null) return;
    const delay = Math.min(this.maxBackoff, this.minBackoff * 2 ** Math.min(q.failures, 20));
    q.failures++;
    this.logger.debug('dispatcher waiting', { service: q.name, reason: why, delay, waiting: q.waiting.length });
    q.timer = setTimeout(() => {
      q.timer = null;
      this.pump(q);
    }, delay);
  }
}
