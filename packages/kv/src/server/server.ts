/**
 * The Clone (12/CHP) key/value server: a snapshot ROUTER at port P, a
 * publisher at P+1, a collector SUB at P+2.
 *
 * @module
 */
import { Router, Subscriber, XPublisher } from 'zeromq';
import { KvError } from '../errors.js';
import { silentKvLogger, type KvLogger } from '../logger.js';
import { LogLimiter } from '../internal/log-limiter.js';
import {
  DEFAULT_LIMITS,
  checkKey,
  decodeIcanhaz,
  decodeKvMessage,
  encodeHugz,
  encodeKthxbai,
  encodeKvMessage,
  type KvLimits,
  type KvMessage,
} from '../protocol/codec.js';
import { KvTree, ttlOf, type TreeEntry } from './tree.js';
import { KvStore } from './store.js';

/** The three endpoints of a server. */
export interface KvEndpoints {
  /** ROUTER for ICANHAZ snapshots (port P). */
  snapshot: string;
  /** PUB for KVPUB and HUGZ (port P+1). */
  publisher: string;
  /** SUB collecting KVSET (port P+2). */
  collector: string;
}

/** Options of {@link KvServer}. Durations in milliseconds. */
export interface KvServerOptions {
  /** Transport and interface to bind, without port. Default `tcp://*`. */
  host?: string;
  /** Snapshot port P; the publisher is P+1, the collector P+2. Default 5515. 0 picks three consecutive free ports. */
  port?: number;
  /** Explicit endpoints instead of host and port (each may use an ephemeral port `:*`). */
  endpoints?: KvEndpoints;
  /** Keep the tree (non-ephemeral keys) and the sequence across restarts in this directory. */
  dataDir?: string;
  /** Interval of HUGZ heartbeats. Default 1000. */
  hugzInterval?: number;
  /** Longest key in bytes. Default 1024. */
  maxKeyBytes?: number;
  /** Largest value in bytes. Default 1 MiB. */
  maxValueBytes?: number;
  /** Most keys in the tree; sets of new keys beyond it are dropped. Default 1000000. */
  maxKeys?: number;
  /** How often the journal is fsynced. Default 1000. */
  syncInterval?: number;
  /** Logger; default silent. */
  logger?: KvLogger;
}

/** Figures about a running server. */
export interface KvServerStats {
  keys: number;
  ephemeralKeys: number;
  sequence: number;
  /** Updates applied since start. */
  updates: number;
  /** Malformed or refused messages dropped since start. */
  dropped: number;
  /** Snapshots served since start. */
  snapshots: number;
}

/** How many recent KVSET UUIDs the server remembers. */
const RECENT_UUIDS = 10_000;

interface Outgoing {
  identity: Buffer;
  frames: Buffer[];
}

/**
 * The key/value server of a RasPy house (12/CHP).
 *
 * @example
 * ```ts
 * import { KvServer } from '@raspy/kv';
 *
 * const server = new KvServer({ port: 5515, dataDir: '/var/lib/raspy/kv' });
 * await server.start();
 * ```
 */
export class KvServer {
  private readonly limits: KvLimits;
  private readonly opts: {
    host: string;
    port: number;
    endpoints: KvEndpoints | null;
    dataDir: string | null;
    hugzInterval: number;
    maxKeys: number;
    syncInterval: number;
  };
  private readonly logger: KvLogger;
  private readonly invalid: LogLimiter;
  private tree = new KvTree();
  private store: KvStore | null = null;
  private snapshotSocket: Router | null = null;
  private publisher: XPublisher | null = null;
  private collector: Subscriber | null = null;
  private bound: KvEndpoints | null = null;
  private timers: NodeJS.Timeout[] = [];
  private loops: Promise<void>[] = [];
  private outbox: Outgoing[] = [];
  private outHead = 0;
  private writing = false;
  private counters = { updates: 0, dropped: 0, snapshots: 0 };
  private state: 'new' | 'running' | 'stopped' = 'new';
  private stopping: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  /** UUIDs of the last KVSETs applied, to recognise one sent again. */
  private readonly recentUuids = new Set<string>();

  /**
   * @param options - ports, data directory, limits; see {@link KvServerOptions}
   * @throws KvError `ERR_KV_INVALID_ARGUMENT` for an invalid option
   */
  constructor(options: KvServerOptions = {}) {
    this.limits = {
      maxKeyBytes: options.maxKeyBytes ?? DEFAULT_LIMITS.maxKeyBytes,
      maxValueBytes: options.maxValueBytes ?? DEFAULT_LIMITS.maxValueBytes,
    };
    this.opts = {
      host: options.host ?? 'tcp://*',
      port: options.port ?? 5515,
      endpoints: options.endpoints ?? null,
      dataDir: options.dataDir ?? null,
      hugzInterval: options.hugzInterval ?? 1000,
      maxKeys: options.maxKeys ?? 1_000_000,
      syncInterval: options.syncInterval ?? 1000,
    };
    for (const [name, v] of Object.entries({ ...this.limits, hugzInterval: this.opts.hugzInterval, maxKeys: this.opts.maxKeys, syncInterval: this.opts.syncInterval })) {
      if (!Number.isFinite(v) || v <= 0) throw new KvError('ERR_KV_INVALID_ARGUMENT', `option ${name} must be a positive number, got ${v}`);
    }
    if (!Number.isInteger(this.opts.port) || this.opts.port < 0 || this.opts.port > 65533) {
      throw new KvError('ERR_KV_INVALID_ARGUMENT', `port must be 0 or a port number up to 65533 (P+2 must fit), got ${this.opts.port}`);
    }
    this.logger = options.logger ?? silentKvLogger;
    this.invalid = new LogLimiter(this.logger);
  }

  /** The bound endpoints (ephemeral ports resolved), once started. */
  get endpoints(): KvEndpoints {
    if (this.bound === null) throw new KvError('ERR_KV_CLOSED', 'the server is not started');
    return this.bound;
  }

  /** Current figures. */
  stats(): KvServerStats {
    return {
      keys: this.tree.size,
      ephemeralKeys: this.tree.ephemeralCount,
      sequence: this.tree.sequence,
      ...this.counters,
    };
  }

  /** The value of a key, or undefined. */
  get(key: string): Buffer | undefined {
    return this.tree.get(key)?.value;
  }

  /** The keys under a prefix with their values, at this instant. */
  entries(prefix = ''): [string, Buffer][] {
    return this.tree.snapshot('').entries.filter((e) => e.key.startsWith(prefix)).map((e) => [e.key, e.value]);
  }

  /**
   * Loads the data directory (if any), binds the three sockets and starts serving.
   *
   * @throws KvError `ERR_KV_STORAGE` for an unusable data directory; the bind error for a busy port
   */
  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new KvError('ERR_KV_INVALID_ARGUMENT', `the server is ${this.state}`));
    this.state = 'running';
    const starting = this.doStart();
    this.starting = starting;
    starting.catch(() => {
      if (this.starting === starting) this.starting = null;
    });
    return starting;
  }

  private async doStart(): Promise<void> {
    try {
      if (this.opts.dataDir !== null) await this.load(this.opts.dataDir);
      await this.bind();
    } catch (err) {
      this.closeSockets();
      await this.store?.close().catch(() => {});
      this.store = null;
      this.bound = null;
      this.state = 'new'; // may be started again (e.g. once the port is free)
      throw err;
    }
    this.loops.push(this.collectLoop(this.collector as Subscriber));
    this.loops.push(this.snapshotLoop(this.snapshotSocket as Router));
    this.loops.push(this.subscriptionLoop(this.publisher as XPublisher));
    this.timers.push(setInterval(() => this.publish(encodeHugz()), this.opts.hugzInterval));
    this.timers.push(setInterval(() => this.expire(), Math.min(250, this.opts.hugzInterval)));
    this.logger.info('key/value server listening', { ...this.bound, keys: this.tree.size, sequence: this.tree.sequence, dataDir: this.opts.dataDir });
  }

  /**
   * Sets a key from inside the server's process, exactly as a client's KVSET would.
   *
   * @param key - the key
   * @param value - the value; empty deletes
   * @param options - `ttl` in seconds makes the key ephemeral
   */
  set(key: string, value: Buffer | string, options: { ttl?: number } = {}): void {
    const keyBuf = Buffer.from(key, 'utf8');
    const reason = checkKey(keyBuf, this.limits);
    if (reason !== null) throw new KvError('ERR_KV_INVALID_ARGUMENT', reason);
    const properties: Record<string, string> = options.ttl === undefined ? {} : { ttl: String(options.ttl) };
    const refused = this.update({ key, sequence: 0, uuid: Buffer.alloc(0), properties, value: typeof value === 'string' ? Buffer.from(value) : value });
    if (refused !== null) throw new KvError('ERR_KV_INVALID_ARGUMENT', refused);
  }

  /**
   * Stops serving, writes what is pending to the data directory and closes
   * every socket. Safe to call twice, and while {@link start} is under way.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    // Stopped while starting: let the start finish, then undo it.
    await this.starting?.catch(() => {});
    if (this.state !== 'running') return;
    this.state = 'stopped';
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.closeSockets();
    await Promise.all(this.loops);
    await this.store?.close();
    this.store = null;
    this.logger.info('key/value server stopped', { keys: this.tree.size, sequence: this.tree.sequence });
  }

  private async load(dir: string): Promise<void> {
    const { store, state } = await KvStore.open(dir, { logger: this.logger, syncInterval: this.opts.syncInterval });
    this.store = store;
    this.tree = new KvTree(state.sequence);
    for (const e of state.entries) this.tree.restore(e.key, e.value, e.sequence);
    for (const problem of state.problems) this.logger.warn('data directory', { problem });
    this.logger.info('key/value tree loaded', { dir, keys: state.entries.length, sequence: state.sequence });
  }

  private async bind(): Promise<void> {
    const make = (): void => {
      this.snapshotSocket = new Router({ mandatory: true, sendHighWaterMark: 10_000, sendTimeout: 5000, linger: 0 });
      this.publisher = new XPublisher({ sendHighWaterMark: 100_000, sendTimeout: 0, linger: 0 });
      this.publisher.verbosity = 'allSubs';
      this.collector = new Subscriber({ receiveHighWaterMark: 100_000, maxMessageSize: this.limits.maxValueBytes + this.limits.maxKeyBytes + 4096, linger: 0 });
      this.collector.subscribe();
    };
    if (this.opts.endpoints !== null) {
      make();
      const e = this.opts.endpoints;
      await (this.snapshotSocket as unknown as Router).bind(e.snapshot);
      await (this.publisher as unknown as XPublisher).bind(e.publisher);
      await (this.collector as unknown as Subscriber).bind(e.collector);
      this.bound = {
        snapshot: (this.snapshotSocket as unknown as Router).lastEndpoint ?? e.snapshot,
        publisher: (this.publisher as unknown as XPublisher).lastEndpoint ?? e.publisher,
        collector: (this.collector as unknown as Subscriber).lastEndpoint ?? e.collector,
      };
      return;
    }
    const host = this.opts.host;
    // Port 0: find P with P+1 and P+2 free too (a few tries; ports come and go).
    for (let attempt = 0; ; attempt++) {
      make();
      const router = this.snapshotSocket as unknown as Router;
      try {
        if (this.opts.port === 0) {
          await router.bind(`${host}:*`);
        } else {
          await router.bind(`${host}:${this.opts.port}`);
        }
        const p = Number(/:(\d+)$/.exec(router.lastEndpoint ?? '')?.[1]);
        await (this.publisher as unknown as XPublisher).bind(`${host}:${p + 1}`);
        await (this.collector as unknown as Subscriber).bind(`${host}:${p + 2}`);
        const base = (router.lastEndpoint ?? '').replace(/:\d+$/, '');
        this.bound = { snapshot: `${base}:${p}`, publisher: `${base}:${p + 1}`, collector: `${base}:${p + 2}` };
        return;
      } catch (err) {
        this.closeSockets();
        if (this.opts.port !== 0 || attempt >= 20) throw err;
      }
    }
  }

  private closeSockets(): void {
    for (const s of [this.snapshotSocket, this.publisher, this.collector]) if (s !== null && !s.closed) s.close();
  }

  private publish(frames: Buffer[]): void {
    const pub = this.publisher;
    if (pub === null || pub.closed) return;
    pub.send(frames).catch((err: unknown) => this.logger.warn('publish failed', { error: err as Error }));
  }

  /** Validates and applies an update; returns why it was refused, or null. */
  private update(msg: KvMessage): string | null {
    const ttl = ttlOf(msg.properties);
    if (typeof ttl === 'string') return ttl;
    // A client sends a KVSET again when its session ended before the echo
    // came. Applying it twice could undo a later update by someone else;
    // instead the key is published as it is now, with that UUID: that
    // confirms the update to its sender and changes no value (an ephemeral
    // key's time to live starts again, as for any set of it).
    const id = msg.uuid.length === 16 ? msg.uuid.toString('latin1') : null;
    if (id !== null && this.recentUuids.has(id)) {
      this.echo(msg);
      return null;
    }
    if (msg.value.length > 0 && !this.tree.has(msg.key) && this.tree.size >= this.opts.maxKeys) {
      return `the tree holds ${this.opts.maxKeys} keys, its limit`;
    }
    if (id !== null) {
      // Only applied updates are remembered: a refused one may be sent again.
      this.recentUuids.add(id);
      if (this.recentUuids.size > RECENT_UUIDS) this.recentUuids.delete(this.recentUuids.values().next().value as string);
    }
    const pub = this.tree.apply(msg, performance.now(), ttl);
    this.counters.updates++;
    this.publish(encodeKvMessage(pub));
    this.persist(pub, ttl !== null);
    return null;
  }

  private echo(msg: KvMessage): void {
    const current = this.tree.get(msg.key);
    const ttl = current === undefined ? null : ttlOf(current.properties);
    const pub = this.tree.apply(
      { key: msg.key, value: current?.value ?? Buffer.alloc(0), uuid: msg.uuid, properties: current?.properties ?? {} },
      performance.now(),
      typeof ttl === 'number' ? ttl : null,
    );
    this.counters.updates++;
    this.publish(encodeKvMessage(pub));
    this.persist(pub, typeof ttl === 'number');
  }

  private persist(pub: KvMessage, ephemeral: boolean): void {
    if (this.store === null) return;
    this.store.record(pub.sequence, pub.key, pub.value.length === 0 || ephemeral ? null : pub.value);
    this.store.maybeCompact(this.tree);
  }

  private expire(): void {
    for (const pub of this.tree.expire(performance.now())) {
      this.counters.updates++;
      this.logger.debug('ephemeral key expired', { key: pub.key });
      this.publish(encodeKvMessage(pub));
      this.persist(pub, false);
    }
  }

  private drop(reason: string, fields: Record<string, unknown> = {}): void {
    this.counters.dropped++;
    this.invalid.warn(performance.now(), reason, fields);
  }

  private async collectLoop(collector: Subscriber): Promise<void> {
    try {
      for (;;) {
        const frames = await collector.receive();
        const decoded = decodeKvMessage(frames, this.limits);
        if (!decoded.ok) {
          this.drop('invalid KVSET dropped', { reason: decoded.error.message });
          continue;
        }
        const refused = this.update(decoded.value);
        if (refused !== null) this.drop('KVSET refused', { key: decoded.value.key, reason: refused });
      }
    } catch (err) {
      if (!collector.closed) this.logger.error('collector socket failed', { error: err as Error });
    }
  }

  private async snapshotLoop(router: Router): Promise<void> {
    try {
      for (;;) {
        const [identity, ...frames] = await router.receive();
        if (identity === undefined) continue;
        const decoded = decodeIcanhaz(frames);
        if (!decoded.ok) {
          this.drop('invalid snapshot request dropped', { reason: decoded.error.message });
          continue;
        }
        // The snapshot is cut now, in one step, so it is consistent with its sequence.
        const { entries, sequence } = this.tree.snapshot(decoded.value);
        this.counters.snapshots++;
        this.logger.debug('snapshot', { subtree: decoded.value, keys: entries.length, sequence });
        for (const e of entries) this.outbox.push({ identity, frames: kvsync(e) });
        this.outbox.push({ identity, frames: encodeKthxbai(sequence, decoded.value) });
        if (!this.writing) void this.drain(router);
      }
    } catch (err) {
      if (!router.closed) this.logger.error('snapshot socket failed', { error: err as Error });
    }
  }

  /** Sends queued snapshot messages one at a time (a ROUTER allows one pending send). */
  private async drain(router: Router): Promise<void> {
    this.writing = true;
    try {
      while (this.outHead < this.outbox.length) {
        const out = this.outbox[this.outHead++] as Outgoing;
        try {
          await router.send([out.identity, ...out.frames]);
        } catch (err) {
          if (router.closed) return;
          // The client is gone or stopped reading: drop the rest of its snapshot.
          this.logger.warn('snapshot client unreachable, snapshot dropped', { error: err as Error });
          this.outbox = this.outbox.slice(this.outHead).filter((o) => !o.identity.equals(out.identity));
          this.outHead = 0;
        }
      }
      this.outbox = [];
      this.outHead = 0;
    } finally {
      this.writing = false;
    }
  }

  /** Each new subscription gets a HUGZ at once, so a client knows its subscription is live. */
  private async subscriptionLoop(pub: XPublisher): Promise<void> {
    try {
      for (;;) {
        const [msg] = await pub.receive();
        if (msg !== undefined && msg[0] === 1) this.publish(encodeHugz());
      }
    } catch (err) {
      if (!pub.closed) this.logger.error('publisher socket failed', { error: err as Error });
    }
  }
}

const EMPTY = Buffer.alloc(0);

function kvsync(e: TreeEntry): Buffer[] {
  return encodeKvMessage({ key: e.key, sequence: e.sequence, uuid: EMPTY, properties: {}, value: e.value });
}
