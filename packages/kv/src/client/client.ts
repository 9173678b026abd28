/**
 * The Clone (12/CHP) client: a live replica of one subtree of the server's
 * tree, with change notifications, writes confirmed by the server, and
 * failover across servers.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Dealer, Subscriber, XPublisher } from 'zeromq';
import { KvError } from '../errors.js';
import { silentKvLogger, type KvLogger } from '../logger.js';
import {
  DEFAULT_LIMITS,
  HUGZ,
  KTHXBAI,
  checkKey,
  checkSubtree,
  decodeKvMessage,
  encodeIcanhaz,
  encodeKvMessage,
  type KvLimits,
  type KvMessage,
} from '../protocol/codec.js';
import type { KvEndpoints } from '../server/server.js';
import { Replica, type KvChange } from './replica.js';

/** A server to connect to: its snapshot endpoint `tcp://host:P` (P+1 and P+2 are derived), or all three. */
export type KvServerAddress = string | KvEndpoints;

/** Options of {@link KvClient}. Durations in milliseconds. */
export interface KvClientOptions {
  /** One server, or several to fail over between (tried in order). Default `tcp://127.0.0.1:5515`. */
  servers?: KvServerAddress | readonly KvServerAddress[];
  /** The subtree to replicate: "" (everything) or "/seg/.../". Default "". */
  subtree?: string;
  /** Silence after which the server is considered gone (it sends HUGZ every second). Default 3000. */
  serverTimeout?: number;
  /** How long {@link KvClient.set} waits for the server to publish the update. Default 5000. */
  setTimeout?: number;
  /** Delay before trying the next server after a failure. Default 250 (doubling up to 5000). */
  retryDelay?: number;
  /** Size limits checked before sending. Default 1 KiB keys, 1 MiB values. */
  limits?: Partial<KvLimits>;
  /** Logger; default silent. */
  logger?: KvLogger;
}

/** Options of {@link KvClient.set}. */
export interface KvSetOptions {
  /** Seconds after which the server deletes the key unless it is set again. */
  ttl?: number;
  /** Overrides the client's `setTimeout` for this call. */
  timeout?: number;
}

/** Events of {@link KvClient}. */
export interface KvClientEvents {
  /** A key of the subtree changed (set, replaced, deleted, or changed by a resync). */
  change: [KvChange];
  /** The replica is in sync with a server (first time, and after every resync). */
  ready: [];
  /** The replica lost its server or found it restarted and is synchronising again. */
  resync: [reason: string];
}

interface PendingSet {
  resolve: () => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
  /** The KVSET, kept to send again if its session ends before the echo. */
  frames: Buffer[];
  /** The session it was last sent on (null: not sent yet). */
  session: Session | null;
}

interface Session {
  readonly endpoints: KvEndpoints;
  readonly sub: Subscriber;
  readonly snapshot: Dealer;
  readonly pub: XPublisher;
  /** Resolves when the server's collector has subscribed to our publisher. */
  readonly pubReady: Promise<void>;
  ended: boolean;
  /** True once the snapshot is applied. */
  synced: boolean;
  reason: string | null;
  end: (reason: string) => void;
  done: Promise<void>;
}

/** A subtree that holds no keys, asked for to check that a silent server is alive. */
const PROBE_SUBTREE = '/raspy-liveness-probe/';

function resolveAddress(address: KvServerAddress): KvEndpoints {
  if (typeof address !== 'string') return address;
  const m = /^(.*):(\d+)$/.exec(address);
  if (m === null) throw new KvError('ERR_KV_INVALID_ARGUMENT', `a server address is tcp://host:port (the snapshot port), got ${JSON.stringify(address)}`);
  const base = m[1] as string;
  const port = Number(m[2]);
  return { snapshot: address, publisher: `${base}:${port + 1}`, collector: `${base}:${port + 2}` };
}

/**
 * A live replica of a subtree of a RasPy key/value server.
 *
 * @example
 * ```ts
 * import { KvClient } from '@raspy/kv';
 *
 * const kv = new KvClient({ servers: 'tcp://127.0.0.1:5515', subtree: '/device/' });
 * await kv.start(); // resolves once the snapshot is applied
 * kv.on('change', ({ key, value }) => console.log(key, value?.toString()));
 * await kv.setJson('/device/pi1/sim/lamp/power', { value: true, ts: Date.now() });
 * console.log(kv.getJson('/device/pi1/sim/lamp/power'));
 * await kv.close();
 * ```
 */
export class KvClient extends EventEmitter<KvClientEvents> {
  private readonly servers: KvEndpoints[];
  private readonly subtree: string;
  private readonly serverTimeout: number;
  private readonly setTimeoutMs: number;
  private readonly retryDelay: number;
  private readonly limits: KvLimits;
  private readonly logger: KvLogger;
  private readonly replica = new Replica();
  private readonly pendingSets = new Map<string, PendingSet>();
  private session: Session | null = null;
  private serverIndex = 0;
  private state: 'new' | 'running' | 'closed' = 'new';
  private runLoop: Promise<void> | null = null;
  private retryTimer: { timer: NodeJS.Timeout; resolve: () => void } | null = null;
  private readyWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private resyncs = 0;
  private everReady = false;
  private readonly iterators = new Set<() => void>();

  /**
   * @param options - servers, subtree and timeouts; see {@link KvClientOptions}
   * @throws KvError `ERR_KV_INVALID_ARGUMENT` for a bad subtree or address
   */
  constructor(options: KvClientOptions = {}) {
    super();
    const servers = options.servers ?? 'tcp://127.0.0.1:5515';
    this.servers = (Array.isArray(servers) ? servers : [servers]).map((s) => resolveAddress(s as KvServerAddress));
    if (this.servers.length === 0) throw new KvError('ERR_KV_INVALID_ARGUMENT', 'at least one server is needed');
    this.subtree = options.subtree ?? '';
    const reason = checkSubtree(this.subtree);
    if (reason !== null) throw new KvError('ERR_KV_INVALID_ARGUMENT', reason);
    this.serverTimeout = options.serverTimeout ?? 3000;
    this.setTimeoutMs = options.setTimeout ?? 5000;
    this.retryDelay = options.retryDelay ?? 250;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.logger = options.logger ?? silentKvLogger;
  }

  /** True while the replica is in sync with a server. */
  get ready(): boolean {
    return this.replica.live;
  }

  /** Sequence of the last update applied. */
  get sequence(): number {
    return this.replica.sequence;
  }

  /** Number of keys in the replica. */
  get size(): number {
    return this.replica.size;
  }

  /** Times the replica synchronised again after the first time. */
  get resyncCount(): number {
    return this.resyncs;
  }

  /**
   * Connects and resolves once the first snapshot is applied. It keeps
   * trying the servers in turn until one answers or `timeout` runs out.
   *
   * @param options - `timeout` for the first snapshot (default 10000)
   * @throws KvError `ERR_KV_TIMEOUT` when no server gave a snapshot in time
   */
  async start(options: { timeout?: number } = {}): Promise<void> {
    if (this.state !== 'new') throw new KvError('ERR_KV_INVALID_ARGUMENT', `the client is ${this.state}`);
    this.state = 'running';
    this.runLoop = this.run();
    await this.waitReady(options.timeout ?? 10_000);
  }

  /**
   * Waits until the replica is in sync (at once if it is).
   *
   * @param timeout - how long to wait, ms
   * @throws KvError `ERR_KV_TIMEOUT`, `ERR_KV_CLOSED`
   */
  waitReady(timeout = 10_000): Promise<void> {
    if (this.replica.live) return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new KvError('ERR_KV_CLOSED', 'the client is closed'));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        reject(new KvError('ERR_KV_TIMEOUT', `no key/value server gave a snapshot within ${timeout} ms (tried ${this.servers.map((s) => s.snapshot).join(', ')})`));
      }, timeout);
      this.readyWaiters.push(waiter);
    });
  }

  /** The value of a key of the subtree, or undefined. */
  get(key: string): Buffer | undefined {
    return this.replica.get(key);
  }

  /**
   * A key's value parsed as JSON, or undefined when the key is absent.
   *
   * @throws KvError `ERR_KV_PROTOCOL` when the value is not JSON
   */
  getJson<T = unknown>(key: string): T | undefined {
    const value = this.replica.get(key);
    return value === undefined ? undefined : decodeJsonValue<T>(value, key);
  }

  /**
   * The keys under a prefix (within the subtree) with their values.
   *
   * @param prefix - key prefix; default the whole subtree
   */
  entries(prefix = ''): [string, Buffer][] {
    const out: [string, Buffer][] = [];
    for (const [key, value] of this.replica.entries()) if (key.startsWith(prefix)) out.push([key, value]);
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /**
   * Sets a key (an empty value deletes it). Resolves when the server has
   * published the update, which is then in the replica if the key is in the
   * subtree; for a key outside the subtree it resolves once sent.
   *
   * @param key - the key
   * @param value - bytes or text; empty deletes
   * @param options - `ttl` seconds for an ephemeral key; `timeout`
   * @throws KvError `ERR_KV_INVALID_ARGUMENT`, `ERR_KV_TIMEOUT`, `ERR_KV_CLOSED`
   */
  async set(key: string, value: Buffer | string, options: KvSetOptions = {}): Promise<void> {
    const keyBuf = Buffer.from(key, 'utf8');
    const reason = checkKey(keyBuf, this.limits);
    if (reason !== null) throw new KvError('ERR_KV_INVALID_ARGUMENT', `cannot set ${JSON.stringify(key)}: ${reason}`);
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    if (bytes.length > this.limits.maxValueBytes) {
      throw new KvError('ERR_KV_INVALID_ARGUMENT', `the value of ${key} is ${bytes.length} bytes, more than ${this.limits.maxValueBytes}`);
    }
    const properties: Record<string, string> = {};
    if (options.ttl !== undefined) {
      if (!Number.isFinite(options.ttl) || options.ttl <= 0) throw new KvError('ERR_KV_INVALID_ARGUMENT', `ttl must be a positive number of seconds, got ${options.ttl}`);
      properties.ttl = String(options.ttl);
    }
    if (this.state !== 'running') throw new KvError('ERR_KV_CLOSED', `the client is ${this.state === 'new' ? 'not started' : 'closed'}`);
    const uuid = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
    const frames = encodeKvMessage({ key, sequence: 0, uuid, properties, value: bytes });
    const timeout = options.timeout ?? this.setTimeoutMs;
    const deadline = performance.now() + timeout;
    const id = uuid.toString('hex');
    // A key of our subtree comes back to us: the set is done when it does.
    // If the session ends first, the KVSET is sent again in the next one
    // (same UUID: the server does not apply it twice).
    const confirmed = key.startsWith(this.subtree) ? this.expectEcho(id, key, timeout, frames) : null;
    try {
      const session = await this.liveSession(deadline);
      await withDeadline(session.pubReady, deadline, () => new KvError('ERR_KV_TIMEOUT', `no key/value server took the update of ${key} within ${timeout} ms`));
      await session.pub.send(frames);
      const pending = this.pendingSets.get(id);
      if (pending !== undefined) pending.session = session;
    } catch (err) {
      this.dropEcho(id);
      throw err;
    }
    if (confirmed !== null) await confirmed;
  }

  /** Sets a key to JSON text. Same as {@link set}. */
  setJson(key: string, value: unknown, options: KvSetOptions = {}): Promise<void> {
    return this.set(key, encodeJsonValue(value), options);
  }

  /** Deletes a key (sends an empty value). Same as {@link set}. */
  delete(key: string, options: { timeout?: number } = {}): Promise<void> {
    return this.set(key, Buffer.alloc(0), options);
  }

  /**
   * An async iterator of the changes under a prefix, from now on. It holds
   * at most `maxBuffered` changes that were not consumed yet; beyond that it
   * ends with `ERR_KV_OVERFLOW` rather than grow without bound.
   *
   * @param prefix - key prefix (within the subtree); default everything
   * @param options - `maxBuffered` (default 10000), `signal` to stop
   */
  changes(prefix = '', options: { maxBuffered?: number; signal?: AbortSignal } = {}): AsyncIterableIterator<KvChange> {
    const max = options.maxBuffered ?? 10_000;
    const queue: KvChange[] = [];
    let wake: (() => void) | null = null;
    let failure: unknown = null;
    let done = false;
    const listener = (change: KvChange): void => {
      if (!change.key.startsWith(prefix) || done) return;
      if (queue.length >= max) {
        failure = new KvError('ERR_KV_OVERFLOW', `the change iterator for "${prefix}" fell ${max} changes behind and was ended`);
        finish();
      } else queue.push(change);
      wake?.();
    };
    const finish = (): void => {
      done = true;
      this.off('change', listener);
      this.iterators.delete(finish);
      options.signal?.removeEventListener('abort', finish);
      wake?.();
    };
    this.on('change', listener);
    this.iterators.add(finish);
    options.signal?.addEventListener('abort', finish, { once: true });
    const iterator: AsyncIterableIterator<KvChange> = {
      next: async () => {
        for (;;) {
          const change = queue.shift();
          if (change !== undefined) return { value: change, done: false };
          if (failure !== null) {
            const err = failure;
            failure = null;
            throw err;
          }
          if (done || this.state === 'closed') {
            finish();
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      },
      return: async () => {
        finish();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Closes every socket; pending sets reject with `ERR_KV_CLOSED`. Safe to call twice. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasRunning = this.state === 'running';
    this.state = 'closed';
    this.session?.end('closed');
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer.timer);
      this.retryTimer.resolve();
    }
    if (wasRunning) await this.runLoop;
    for (const [id, p] of this.pendingSets) {
      clearTimeout(p.timer);
      p.reject(new KvError('ERR_KV_CLOSED', 'the client was closed before the server confirmed the update'));
      this.pendingSets.delete(id);
    }
    for (const w of this.readyWaiters.splice(0)) w.reject(new KvError('ERR_KV_CLOSED', 'the client was closed'));
    for (const finish of [...this.iterators]) finish();
  }

  // ---------------------------------------------------------------- sessions

  private async run(): Promise<void> {
    let failures = 0;
    while (this.state === 'running') {
      const endpoints = this.servers[this.serverIndex] as KvEndpoints;
      const session = this.openSession(endpoints);
      this.session = session;
      let synced = false;
      try {
        synced = await this.sync(session);
        if (synced) {
          failures = 0;
          await session.done;
        }
      } catch (err) {
        if (!session.ended) this.logger.warn('key/value session failed', { server: endpoints.snapshot, error: err as Error });
      }
      const reason = session.reason ?? 'ended';
      this.closeSession(session);
      this.session = null;
      if (this.state !== 'running') break;
      // A server that restarted is still the right one; anything else: try the next.
      if (reason !== 'server restarted') this.serverIndex = (this.serverIndex + 1) % this.servers.length;
      this.logger.warn('resynchronising', { reason, next: (this.servers[this.serverIndex] as KvEndpoints).snapshot });
      this.emit('resync', reason);
      const delay = Math.min(5000, this.retryDelay * 2 ** Math.min(failures, 5));
      failures = synced ? 0 : failures + 1;
      if (failures > 0) await this.pause(delay);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.retryTimer = {
        timer: setTimeout(() => {
          this.retryTimer = null;
          resolve();
        }, ms),
        resolve,
      };
    });
  }

  private openSession(endpoints: KvEndpoints): Session {
    // No automatic reconnection: a server that went away may come back
    // (restarted) and publish before we would have reconnected; those
    // updates would be missed. Instead the silence ends the session and a
    // new one takes a fresh snapshot.
    const sub = new Subscriber({ receiveHighWaterMark: 100_000, linger: 0, reconnectInterval: -1 });
    // Like the subscriber, the snapshot socket does not reconnect: a liveness
    // probe on it must reach this run of the server or fail.
    const snapshot = new Dealer({ linger: 0, reconnectInterval: -1, sendTimeout: this.serverTimeout });
    const pub = new XPublisher({ linger: 1000, sendTimeout: 0 });
    let end!: (reason: string) => void;
    const done = new Promise<void>((resolve) => {
      end = (reason: string) => {
        if (session.ended) return;
        session.ended = true;
        session.reason = reason;
        resolve();
      };
    });
    const session: Session = {
      endpoints,
      sub,
      snapshot,
      pub,
      pubReady: (async () => {
        // The collector's subscription arrives over the new connection: until
        // then a PUB would drop what we send.
        const [msg] = await pub.receive();
        if (msg === undefined || msg[0] !== 1) throw new KvError('ERR_KV_PROTOCOL', 'unexpected message on the publisher socket');
      })(),
      ended: false,
      synced: false,
      reason: null,
      end: (reason) => end(reason),
      done,
    };
    session.pubReady.catch(() => {});
    // Subscribe to the subtree first, HUGZ second: when a HUGZ arrives, both
    // subscriptions are active at the server.
    sub.subscribe(this.subtree === '' ? '' : this.subtree);
    if (this.subtree !== '') sub.subscribe(HUGZ);
    sub.connect(endpoints.publisher);
    snapshot.connect(endpoints.snapshot);
    pub.connect(endpoints.collector);
    return session;
  }

  private closeSession(session: Session): void {
    session.end(session.reason ?? 'closed');
    for (const s of [session.sub, session.snapshot, session.pub]) if (!s.closed) s.close();
  }

  /** The current session once it is in sync, waiting (until `deadline`) if need be. */
  private async liveSession(deadline: number): Promise<Session> {
    for (;;) {
      if (this.state !== 'running') throw new KvError('ERR_KV_CLOSED', 'the client is closed');
      const s = this.session;
      if (s !== null && !s.ended && s.synced) return s;
      const left = deadline - performance.now();
      if (left <= 0) throw new KvError('ERR_KV_TIMEOUT', 'no key/value server is connected');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.off('ready', onReady);
          resolve();
        }, left);
        const onReady = (): void => {
          clearTimeout(timer);
          resolve();
        };
        this.once('ready', onReady);
      });
    }
  }

  /** Sends again the sets whose session ended before their echo came. */
  private async resend(session: Session): Promise<void> {
    const stale = [...this.pendingSets.values()].filter((p) => p.session !== null && p.session !== session);
    if (stale.length === 0) return;
    try {
      await session.pubReady;
      for (const p of stale) {
        if (session.ended) return;
        p.session = session;
        await session.pub.send(p.frames);
      }
      this.logger.debug('unconfirmed updates sent again', { count: stale.length });
    } catch {
      // the session ended; the next one tries again
    }
  }

  /**
   * One session: wait for the subscription to be live, take the snapshot,
   * then follow updates until the server goes silent, restarts, or we close.
   *
   * @returns true once the snapshot was applied
   */
  private async sync(session: Session): Promise<boolean> {
    this.replica.beginSnapshot();
    const subscribed = this.follow(session);
    // Wait for the first message on the subscriber (the server publishes a
    // HUGZ when a subscription arrives, and every second anyway).
    // (Ended early, e.g. by close(), the session stops waiting at once.)
    await withDeadline(Promise.race([subscribed.first, session.done]), performance.now() + this.serverTimeout, () => new KvError('ERR_KV_TIMEOUT', `no HUGZ from ${session.endpoints.publisher}`));
    if (session.ended) return false;
    await session.snapshot.send(encodeIcanhaz(this.subtree));
    session.snapshot.receiveTimeout = this.serverTimeout;
    let count = 0;
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await session.snapshot.receive();
      } catch (err) {
        if (session.ended) return false;
        throw new KvError('ERR_KV_TIMEOUT', `the snapshot from ${session.endpoints.snapshot} stopped coming`, { cause: err });
      }
      const decoded = decodeKvMessage(frames, this.limits, { commands: true });
      if (!decoded.ok) {
        this.logger.warn('invalid snapshot message ignored', { reason: decoded.error.message });
        continue;
      }
      const msg = decoded.value;
      if (msg.key === KTHXBAI) {
        const changes = this.replica.endSnapshot(msg.sequence);
        session.synced = true;
        void this.resend(session);
        const first = this.resyncs === 0 && !this.everReady;
        if (!first) this.resyncs++;
        this.everReady = true;
        this.logger.info('key/value replica in sync', { server: session.endpoints.snapshot, subtree: this.subtree, keys: count, sequence: msg.sequence });
        for (const w of this.readyWaiters.splice(0)) w.resolve();
        this.emit('ready');
        for (const change of changes) this.announce(change);
        return true;
      }
      if (msg.key === HUGZ) continue;
      count++;
      this.replica.snapshotEntry(msg.key, msg.value);
    }
  }

  /** Reads the subscriber for the whole session. */
  private follow(session: Session): { first: Promise<void> } {
    let markFirst!: () => void;
    const first = new Promise<void>((resolve) => (markFirst = resolve));
    const sub = session.sub;
    sub.receiveTimeout = this.serverTimeout;
    void (async () => {
      try {
        for (;;) {
          let frames: Buffer[];
          try {
            frames = await sub.receive();
          } catch (err) {
            // Silence. Our server publishes HUGZ every second, but a server
            // that follows the RFC to the letter sends HUGZ only when idle,
            // and may be busy with other subtrees: ask it directly.
            if ((err as { code?: string }).code === 'EAGAIN' && session.synced && !session.ended && (await this.probe(session))) continue;
            throw err;
          }
          markFirst();
          if (session.ended) return;
          const decoded = decodeKvMessage(frames, this.limits, { commands: true });
          if (!decoded.ok) {
            this.logger.warn('invalid update ignored', { reason: decoded.error.message });
            continue;
          }
          const msg = decoded.value;
          if (msg.key === HUGZ || msg.key === KTHXBAI) continue;
          this.confirm(msg);
          const outcome = this.replica.update(msg);
          if (outcome.kind === 'applied' && outcome.change !== null) this.announce(outcome.change);
          else if (outcome.kind === 'restarted') {
            this.logger.warn('sequence went backwards: the server restarted', { sequence: msg.sequence, last: this.replica.sequence });
            session.end('server restarted');
            return;
          }
        }
      } catch (err) {
        if (session.ended || sub.closed) return;
        const silent = (err as { code?: string }).code === 'EAGAIN';
        session.end(silent ? `no message from ${session.endpoints.publisher} for ${this.serverTimeout} ms` : `subscriber failed: ${(err as Error).message}`);
      }
    })();
    return { first };
  }

  /**
   * Asks the server for the snapshot of a subtree that holds nothing: a
   * KTHXBAI back proves the server (this run of it) is alive.
   */
  private async probe(session: Session): Promise<boolean> {
    try {
      await session.snapshot.send(encodeIcanhaz(PROBE_SUBTREE));
      session.snapshot.receiveTimeout = this.serverTimeout;
      for (;;) {
        const decoded = decodeKvMessage(await session.snapshot.receive(), this.limits, { commands: true });
        if (decoded.ok && decoded.value.key === KTHXBAI && decoded.value.value.toString('utf8') === PROBE_SUBTREE) {
          this.logger.debug('server alive (probe answered)', { server: session.endpoints.snapshot });
          return true;
        }
      }
    } catch {
      return false;
    }
  }

  private announce(change: KvChange): void {
    try {
      this.emit('change', change);
    } catch (err) {
      this.logger.error('a change listener threw', { key: change.key, error: err as Error });
    }
  }

  private expectEcho(id: string, key: string, timeout: number, frames: Buffer[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingSets.delete(id);
        reject(new KvError('ERR_KV_TIMEOUT', `the server did not publish the update of ${key} within ${timeout} ms`));
      }, timeout);
      this.pendingSets.set(id, { resolve, reject, timer, frames, session: null });
    });
  }

  private dropEcho(id: string): void {
    const p = this.pendingSets.get(id);
    if (p === undefined) return;
    clearTimeout(p.timer);
    this.pendingSets.delete(id);
    p.resolve();
  }

  private confirm(msg: KvMessage): void {
    if (msg.uuid.length !== 16 || this.pendingSets.size === 0) return;
    const id = msg.uuid.toString('hex');
    const p = this.pendingSets.get(id);
    if (p === undefined) return;
    clearTimeout(p.timer);
    this.pendingSets.delete(id);
    p.resolve();
  }
}

async function withDeadline<T>(promise: Promise<T>, deadline: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(error()), Math.max(0, deadline - performance.now()));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Encodes a JSON value for the tree (UTF-8 JSON text).
 *
 * @param value - anything JSON can represent
 * @returns the bytes
 * @throws KvError `ERR_KV_INVALID_ARGUMENT` when the value cannot be written as JSON
 */
export function encodeJsonValue(value: unknown): Buffer {
  const text = JSON.stringify(value);
  if (text === undefined) throw new KvError('ERR_KV_INVALID_ARGUMENT', `${typeof value} cannot be stored as JSON`);
  return Buffer.from(text, 'utf8');
}

/**
 * Decodes a JSON value of the tree.
 *
 * @param value - the bytes
 * @param key - for the error message
 * @returns the parsed value
 * @throws KvError `ERR_KV_PROTOCOL` when the bytes are not JSON
 */
export function decodeJsonValue<T = unknown>(value: Buffer, key = 'the value'): T {
  try {
    return JSON.parse(value.toString('utf8')) as T;
  } catch (err) {
    throw new KvError('ERR_KV_PROTOCOL', `${key} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}
