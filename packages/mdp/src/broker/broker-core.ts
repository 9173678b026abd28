/**
 * The broker's decisions, without sockets or timers: which worker gets which
 * request, when a worker is dead, when a request expires, what MMI answers.
 *
 * The socket shell ({@link MdpBroker}) feeds it every message with the
 * current time and calls {@link BrokerCore.tick} periodically; the core
 * answers through an injected `send`. Tests drive it with a fake clock and a
 * recording `send`, no network needed.
 *
 * @module
 * @internal
 */
import { decodePeerMessage, encodeClientReply, encodeWorkerMessage, type PeerMessage } from '../protocol/codec.js';
import type { MdpVersion } from '../protocol/constants.js';
import type { Logger } from '../logger.js';
import { Deque } from '../internal/deque.js';
import { LogLimiter } from '../internal/log-limiter.js';
import { compileSafeRegex } from '../internal/regex-guard.js';
import { encodeBrokerError, type BrokerErrorCode } from './broker-errors.js';

/** Limits and timings of a broker. All durations in milliseconds. */
export interface BrokerCoreOptions {
  /** Interval between heartbeats sent to each worker. */
  heartbeatInterval: number;
  /** Missed heartbeat intervals after which a worker is dead. */
  heartbeatLiveness: number;
  /** How long a request may wait in a queue for a worker before it gets an error reply. */
  requestTimeout: number;
  /** Most requests waiting in one service's queue; more get an error reply. */
  maxQueuePerService: number;
  /** Most requests waiting in all queues together; more get an error reply. */
  maxPendingRequests: number;
  /** Most services known at once (bounds memory against random names). */
  maxServices: number;
  /** Times a request is handed to a worker before the broker gives up on it (workers died holding it). */
  maxWorkerAttempts: number;
  /** Most bytes of v0.2 PARTIAL bodies kept for a v0.1 client, who can only take one REPLY. */
  maxPartialBytes: number;
  logger: Logger;
}

/** Per-service figures of {@link BrokerStats}. */
export interface ServiceStats {
  /** Workers registered for the service now. */
  workers: number;
  /** Of those, workers waiting for a request. */
  idle: number;
  /** Requests waiting for a worker. */
  queued: number;
  /** Requests received since the broker started. */
  requests: number;
  /** Final replies delivered to clients. */
  replies: number;
  /** Error replies the broker sent instead (expired, queue full, failed). */
  errors: number;
}

/** What `mmi.stats` returns and {@link MdpBroker.stats} gives. */
export interface BrokerStats {
  /** Seconds since the broker started. */
  uptime: number;
  /** When the broker started (ISO 8601). */
  startedAt: string;
  /** Workers registered now, all services together. */
  workers: number;
  /** Requests waiting in all queues. */
  queued: number;
  /** Requests being handled by a worker now. */
  active: number;
  /** Invalid messages dropped since start. */
  dropped: number;
  /** Per service, by name. */
  services: Record<string, ServiceStats>;
}

/** One entry of `mmi.workers`. */
export interface WorkerInfo {
  /** Routing identity, hex. */
  identity: string;
  service: string;
  /** MDP version the worker speaks. */
  version: MdpVersion;
  /** True while it holds a request. */
  busy: boolean;
  /** Milliseconds until it expires unless it is heard from. */
  expiresIn: number;
}

interface PendingRequest {
  readonly client: Buffer;
  readonly version: MdpVersion;
  readonly service: ServiceState;
  readonly body: Buffer[];
  deadline: number;
  attempts: number;
  partials: Buffer[] | null;
  partialBytes: number;
  /** Key of the worker that expired holding this request, while it waits in the queue again. */
  orphanOf: string | null;
}

interface WorkerState {
  readonly identity: Buffer;
  readonly key: string;
  readonly version: MdpVersion;
  readonly service: ServiceState;
  current: PendingRequest | null;
  expiresAt: number;
  lastSentAt: number;
}

class ServiceState {
  readonly nameBuf: Buffer;
  /** Idle workers in least-recently-used order (Map keeps insertion order). */
  readonly idle = new Map<string, WorkerState>();
  readonly queue = new Deque<PendingRequest>();
  workers = 0;
  requests = 0;
  replies = 0;
  errors = 0;
  /** A worker registered for it once: keep its statistics. */
  registered = false;

  constructor(readonly name: string) {
    this.nameBuf = Buffer.from(name, 'utf8');
  }
}

/**
 * Sends frames to the peer with this routing identity. `undelivered` is
 * called if the send fails (the peer is gone), before the shell reports the
 * peer unreachable.
 */
export type BrokerSend = (identity: Buffer, frames: Buffer[], undelivered?: () => void) => void;

/** @internal */
export class BrokerCore {
  private readonly workers = new Map<string, WorkerState>();
  private readonly services = new Map<string, ServiceState>();
  /**
   * Requests whose worker was declared dead, by that worker's key, while they
   * wait in the queue again. A worker that did not heartbeat while busy (the
   * ZeroMQ Guide's worker API blocks in the handler) may still answer: its
   * reply is delivered if no other worker has taken the request yet.
   */
  private readonly orphans = new Map<string, PendingRequest>();
  private readonly invalid: LogLimiter;
  private pending = 0;
  private dropped = 0;
  private readonly startedAt: number;
  private readonly startedWall = Date.now();

  constructor(
    private readonly options: BrokerCoreOptions,
    private readonly send: BrokerSend,
    now: number,
  ) {
    this.invalid = new LogLimiter(options.logger);
    this.startedAt = now;
  }

  /** Handles one message received on the ROUTER socket. */
  handle(identity: Buffer, frames: Buffer[], now: number): void {
    const decoded = decodePeerMessage(frames);
    if (!decoded.ok) {
      this.dropInvalid(identity, decoded.error.message, now);
      return;
    }
    const msg = decoded.value;
    if (msg.peer === 'client') this.onClientRequest(identity, msg.version, msg.service, msg.body, now);
    else this.onWorkerMessage(identity, msg, now);
  }

  /** Sends heartbeats that are due, expires dead workers and stale requests. Call it periodically. */
  tick(now: number): void {
    const { heartbeatInterval } = this.options;
    for (const worker of this.workers.values()) {
      if (worker.expiresAt <= now) {
        this.options.logger.warn('worker expired', {
          service: worker.service.name,
          worker: worker.identity.toString('hex'),
          busy: worker.current !== null,
        });
        this.deleteWorker(worker, false, now);
      } else if (now - worker.lastSentAt >= heartbeatInterval) {
        this.sendToWorker(worker, encodeWorkerMessage({ command: 'heartbeat', version: worker.version }), now);
      }
    }
    for (const service of this.services.values()) {
      if (service.queue.length === 0) continue;
      const expired = service.queue.removeWhere((r) => r.deadline <= now);
      for (const request of expired) {
        this.pending--;
        this.adopt(request);
        const why =
          service.workers === 0
            ? `no worker for service "${service.name}" registered within ${this.options.requestTimeout} ms`
            : `all ${service.workers} workers of service "${service.name}" stayed busy for ${this.options.requestTimeout} ms`;
        this.replyError(request.client, request.version, service, 'ERR_MDP_SERVICE_UNAVAILABLE', why);
      }
      this.forgetIfUnused(service);
    }
  }

  /** A send to this peer failed (it is gone or its queue is full): forget it if it is a worker. */
  peerUnreachable(identity: Buffer, now: number): void {
    const worker = this.workers.get(identity.toString('latin1'));
    if (worker !== undefined) {
      this.options.logger.warn('worker unreachable, removed', {
        service: worker.service.name,
        worker: identity.toString('hex'),
      });
      this.deleteWorker(worker, false, now);
    }
  }

  /** Tells every worker to go (sends DISCONNECT), e.g. before the broker stops. */
  disconnectAll(now: number): void {
    for (const worker of [...this.workers.values()]) this.deleteWorker(worker, true, now);
  }

  /** Current figures, as `mmi.stats` reports them. */
  stats(now: number): BrokerStats {
    const services: Record<string, ServiceStats> = {};
    let queued = 0;
    let active = 0;
    for (const s of this.services.values()) {
      queued += s.queue.length;
      active += s.workers - s.idle.size;
      services[s.name] = {
        workers: s.workers,
        idle: s.idle.size,
        queued: s.queue.length,
        requests: s.requests,
        replies: s.replies,
        errors: s.errors,
      };
    }
    return {
      uptime: Math.round((now - this.startedAt) / 10) / 100,
      startedAt: new Date(this.startedWall).toISOString(),
      workers: this.workers.size,
      queued,
      active,
      dropped: this.dropped,
      services,
    };
  }

  /** Every worker, as `mmi.workers` reports them. */
  workerList(now: number): WorkerInfo[] {
    return [...this.workers.values()].map((w) => ({
      identity: w.identity.toString('hex'),
      service: w.service.name,
      version: w.version,
      busy: w.current !== null,
      expiresIn: Math.max(0, Math.round(w.expiresAt - now)),
    }));
  }

  /** Names of the services that have at least one live worker. */
  liveServices(): string[] {
    const names: string[] = [];
    for (const s of this.services.values()) if (s.workers > 0) names.push(s.name);
    return names.sort();
  }

  // ------------------------------------------------------------ clients

  private onClientRequest(client: Buffer, version: MdpVersion, name: string, body: Buffer[], now: number): void {
    if (name.startsWith('mmi.')) {
      this.send(client, encodeClientReply(version, name, this.mmi(name, body, now)));
      return;
    }
    let service = this.services.get(name);
    if (service === undefined) {
      if (this.services.size >= this.options.maxServices) {
        this.options.logger.warn('too many services, request refused', { service: name, max: this.options.maxServices });
        this.send(
          client,
          encodeClientReply(
            version,
            name,
            encodeBrokerError('ERR_MDP_QUEUE_FULL', name, `the broker already knows ${this.options.maxServices} services`),
          ),
        );
        return;
      }
      service = new ServiceState(name);
      this.services.set(name, service);
    }
    service.requests++;
    if (service.queue.length >= this.options.maxQueuePerService) {
      this.replyError(client, version, service, 'ERR_MDP_QUEUE_FULL', `the queue of service "${name}" is full (${this.options.maxQueuePerService} requests)`);
      return;
    }
    if (this.pending >= this.options.maxPendingRequests) {
      this.replyError(client, version, service, 'ERR_MDP_QUEUE_FULL', `the broker holds ${this.options.maxPendingRequests} waiting requests, its limit`);
      this.forgetIfUnused(service);
      return;
    }
    this.pending++;
    service.queue.push({
      client,
      version,
      service,
      body,
      deadline: now + this.options.requestTimeout,
      attempts: 0,
      partials: null,
      partialBytes: 0,
      orphanOf: null,
    });
    this.dispatch(service, now);
  }

  private replyError(client: Buffer, version: MdpVersion, service: ServiceState, code: BrokerErrorCode, message: string): void {
    service.errors++;
    this.options.logger.debug('error reply', { service: service.name, code, reason: message });
    this.send(client, encodeClientReply(version, service.nameBuf, encodeBrokerError(code, service.name, message)));
  }

  // ------------------------------------------------------------ workers

  private onWorkerMessage(identity: Buffer, msg: PeerMessage & { peer: 'worker' }, now: number): void {
    const key = identity.toString('latin1');
    const worker = this.workers.get(key);
    switch (msg.command) {
      case 'ready':
        this.onReady(identity, key, worker, msg.version, msg.service, now);
        return;
      case 'heartbeat':
        if (worker === undefined) this.refuse(identity, msg.version, 'HEARTBEAT from an unregistered worker', now);
        else worker.expiresAt = now + this.expiry();
        return;
      case 'disconnect':
        if (worker !== undefined) {
          this.options.logger.debug('worker disconnected', { service: worker.service.name, worker: identity.toString('hex') });
          this.deleteWorker(worker, false, now);
        }
        return;
      case 'partial':
      case 'final': {
        if (worker === undefined) {
          if (msg.command === 'final') this.lateReply(key, msg.client, msg.body);
          this.refuse(identity, msg.version, 'reply from an unregistered worker', now);
          return;
        }
        const request = worker.current;
        if (request === null || !request.client.equals(msg.client) || msg.version !== worker.version) {
          this.options.logger.warn('unexpected reply from worker, disconnecting it', {
            service: worker.service.name,
            worker: identity.toString('hex'),
            reason: request === null ? 'it holds no request' : msg.version !== worker.version ? 'version changed' : 'wrong client address',
          });
          this.deleteWorker(worker, true, now);
          return;
        }
        worker.expiresAt = now + this.expiry();
        if (msg.command === 'partial') this.onPartial(worker, request, msg.body);
        else this.onFinal(worker, request, msg.body, now);
        return;
      }
      case 'request':
        // decodePeerMessage never yields a worker REQUEST (it is broker to worker only).
        return;
    }
  }

  private onReady(
    identity: Buffer,
    key: string,
    existing: WorkerState | undefined,
    version: MdpVersion,
    name: string,
    now: number,
  ): void {
    if (existing !== undefined) {
      this.options.logger.warn('second READY from a worker, disconnecting it', {
        service: existing.service.name,
        worker: identity.toString('hex'),
      });
      this.deleteWorker(existing, true, now);
      return;
    }
    if (name.startsWith('mmi.')) {
      this.refuse(identity, version, `worker tried to register reserved service "${name}"`, now);
      return;
    }
    let service = this.services.get(name);
    if (service === undefined) {
      if (this.services.size >= this.options.maxServices) {
        this.refuse(identity, version, `too many services (${this.options.maxServices}) to register "${name}"`, now);
        return;
      }
      service = new ServiceState(name);
      this.services.set(name, service);
    }
    const worker: WorkerState = {
      identity,
      key,
      version,
      service,
      current: null,
      expiresAt: now + this.expiry(),
      lastSentAt: now,
    };
    this.workers.set(key, worker);
    service.workers++;
    service.registered = true;
    service.idle.set(key, worker);
    this.options.logger.debug('worker registered', { service: name, worker: identity.toString('hex'), version });
    if (service.workers === 1) this.options.logger.info('service available', { service: name });
    this.dispatch(service, now);
  }

  private onPartial(worker: WorkerState, request: PendingRequest, body: Buffer[]): void {
    if (request.version === 2) {
      this.send(request.client, encodeClientReply(2, worker.service.nameBuf, body, false));
      return;
    }
    // A v0.1 client takes exactly one REPLY: keep the partials (bounded) and
    // send them together with the final body.
    if (request.partialBytes < 0) return; // already over the limit
    let bytes = 0;
    for (const f of body) bytes += f.length;
    if (request.partialBytes + bytes > this.options.maxPartialBytes) {
      request.partialBytes = -1;
      request.partials = null;
      return;
    }
    request.partialBytes += bytes;
    (request.partials ??= []).push(...body);
  }

  private onFinal(worker: WorkerState, request: PendingRequest, body: Buffer[], now: number): void {
    const service = worker.service;
    worker.current = null;
    if (request.version === 1 && request.partialBytes < 0) {
      this.replyError(request.client, 1, service, 'ERR_MDP_REQUEST_FAILED', `the streamed reply is larger than ${this.options.maxPartialBytes} bytes, which an MDP v0.1 client cannot take in one REPLY`);
    } else {
      const reply = request.partials === null ? body : [...request.partials, ...body];
      service.replies++;
      this.send(request.client, encodeClientReply(request.version, service.nameBuf, reply, true));
    }
    service.idle.set(worker.key, worker);
    this.dispatch(service, now);
  }

  /** A request leaves the queue: it is nobody's orphan any more. */
  private adopt(request: PendingRequest): void {
    if (request.orphanOf === null) return;
    if (this.orphans.get(request.orphanOf) === request) this.orphans.delete(request.orphanOf);
    request.orphanOf = null;
  }

  /**
   * A FINAL from a worker that was declared dead: if the request it held is
   * still waiting in the queue, this is its answer (workers are idempotent,
   * and nobody else has it). Once another worker took it, that worker answers.
   */
  private lateReply(key: string, client: Buffer, body: Buffer[]): void {
    const request = this.orphans.get(key);
    if (request === undefined || !request.client.equals(client)) return;
    const service = request.service;
    const removed = service.queue.removeWhere((r) => r === request);
    if (removed.length === 0) return;
    this.pending--;
    this.adopt(request);
    service.replies++;
    this.options.logger.info('late reply from an expired worker delivered', { service: service.name });
    this.send(request.client, encodeClientReply(request.version, service.nameBuf, body, true));
    this.forgetIfUnused(service);
  }

  /** Hands queued requests to idle workers, least recently used first. */
  private dispatch(service: ServiceState, now: number): void {
    while (service.idle.size > 0 && service.queue.length > 0) {
      const first = service.idle.values().next().value as WorkerState;
      service.idle.delete(first.key);
      const request = service.queue.shift() as PendingRequest;
      this.pending--;
      this.adopt(request);
      request.attempts++;
      first.current = request;
      first.lastSentAt = now;
      // A REQUEST that never left (the worker vanished without DISCONNECT)
      // did not cost the request an attempt: only workers that got it count.
      this.send(
        first.identity,
        encodeWorkerMessage({ command: 'request', version: first.version, client: request.client, body: request.body }),
        () => {
          if (first.current === request) request.attempts--;
        },
      );
    }
  }

  private sendToWorker(worker: WorkerState, frames: Buffer[], now: number): void {
    worker.lastSentAt = now;
    this.send(worker.identity, frames);
  }

  /**
   * Forgets a worker. A request it held goes back to the front of its queue
   * (workers are idempotent by the spec) unless it already went through
   * `maxWorkerAttempts` workers.
   */
  private deleteWorker(worker: WorkerState, sendDisconnect: boolean, now: number): void {
    if (this.workers.get(worker.key) !== worker) return;
    if (sendDisconnect) this.send(worker.identity, encodeWorkerMessage({ command: 'disconnect', version: worker.version }));
    this.workers.delete(worker.key);
    const service = worker.service;
    service.idle.delete(worker.key);
    service.workers--;
    if (service.workers === 0) this.options.logger.info('service gone', { service: service.name });
    const request = worker.current;
    worker.current = null;
    if (request !== null) {
      if (request.attempts >= this.options.maxWorkerAttempts) {
        this.replyError(
          request.client,
          request.version,
          service,
          'ERR_MDP_REQUEST_FAILED',
          `${request.attempts} workers of service "${service.name}" died while handling this request`,
        );
      } else {
        this.options.logger.info('request handed back to the queue', { service: service.name, attempts: request.attempts });
        request.deadline = now + this.options.requestTimeout;
        request.partials = null;
        request.partialBytes = 0;
        if (!sendDisconnect) {
          request.orphanOf = worker.key;
          this.orphans.set(worker.key, request);
        }
        service.queue.unshift(request);
        this.pending++;
        this.dispatch(service, now);
      }
    }
    this.forgetIfUnused(service);
  }

  private refuse(identity: Buffer, version: MdpVersion, reason: string, now: number): void {
    this.invalid.warn(now, 'unexpected worker command, sending DISCONNECT', { peer: identity.toString('hex'), reason });
    this.send(identity, encodeWorkerMessage({ command: 'disconnect', version }));
  }

  private dropInvalid(identity: Buffer, reason: string, now: number): void {
    this.dropped++;
    this.invalid.warn(now, 'invalid message dropped', { peer: identity.toString('hex'), reason });
    // 7/MDP: treat the peer as invalid. A registered worker that sends garbage
    // is told to go, and its request goes to another worker.
    const worker = this.workers.get(identity.toString('latin1'));
    if (worker !== undefined) this.deleteWorker(worker, true, now);
  }

  private forgetIfUnused(service: ServiceState): void {
    if (!service.registered && service.workers === 0 && service.queue.length === 0) {
      this.services.delete(service.name);
    }
  }

  private expiry(): number {
    return this.options.heartbeatInterval * this.options.heartbeatLiveness;
  }

  // ------------------------------------------------------------ MMI

  private mmi(name: string, body: Buffer[], now: number): Buffer[] {
    switch (name) {
      case 'mmi.service': {
        const service = this.services.get((body[0] ?? Buffer.alloc(0)).toString('utf8'));
        return [Buffer.from(service !== undefined && service.workers > 0 ? '200' : '404')];
      }
      case 'mmi.echo':
        return body;
      case 'mmi.discovery': {
        const pattern = (body[0] ?? Buffer.alloc(0)).toString('utf8');
        const compiled = compileSafeRegex(pattern);
        if (!compiled.ok) return [Buffer.from('400'), Buffer.from(`bad pattern: ${compiled.reason}`)];
        const names = this.liveServices().filter((n) => compiled.regex.test(n));
        return [Buffer.from('200'), ...names.map((n) => Buffer.from(n, 'utf8'))];
      }
      case 'mmi.stats':
        return [Buffer.from('200'), Buffer.from(JSON.stringify(this.stats(now)))];
      case 'mmi.workers':
        return [Buffer.from('200'), Buffer.from(JSON.stringify(this.workerList(now)))];
      default:
        return [Buffer.from('501')];
    }
  }
}
