/**
 * `titanic.store`: the settings store as an MDP service. Requests are
 * `[action, json]` and replies `[status, json]` (PROTOCOLS.md):
 *
 * | action | argument | reply |
 * |---|---|---|
 * | `get` | `{namespace, key}` | `200 {value}`, `404` |
 * | `set` | `{namespace, key, value}` | `200 {}` once on disk |
 * | `delete` | `{namespace, key}` | `200 {}`, `404` |
 * | `list` | `{namespace, prefix?}` | `200 {entries: {key: value}}` |
 * | `list` | `{}` | `200 {namespaces: [...]}` |
 *
 * Bad JSON or arguments get `400`, an unknown action `501`, a storage
 * failure `500`; every error payload is `{"error": "..."}`.
 *
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { MdpWorker, silentLogger, type Logger } from '@raspy/mdp';
import { isTitanicError } from '../errors.js';
import { SettingsStore, checkKey, checkNamespace } from './settings.js';

/** Options of {@link StoreService}. */
export interface StoreServiceOptions {
  /** Broker endpoint. Default `tcp://127.0.0.1:5514`. */
  broker?: string;
  /** Directory of the settings journal (created if missing). */
  dataDir: string;
  /** The service name. Default `titanic.store`. */
  service?: string;
  /** Workers (concurrent requests; writes share fsyncs). Default 4. */
  workers?: number;
  /** Heartbeat interval towards the broker (must match it). Default 2500. */
  heartbeatInterval?: number;
  /** Logger; default silent. */
  logger?: Logger;
}

type Reply = [string, string];
const reply = (status: string, payload: unknown): Reply => [status, JSON.stringify(payload)];
const error = (status: string, message: string): Reply => reply(status, { error: message });

/**
 * The durable settings store served over MDP.
 *
 * @example
 * ```ts
 * import { StoreService } from '@raspy/titanic';
 *
 * const store = new StoreService({ broker: 'tcp://127.0.0.1:5514', dataDir: '/var/lib/raspy/store' });
 * await store.start();
 * ```
 */
export class StoreService {
  private readonly logger: Logger;
  private store: SettingsStore | null = null;
  private workers: MdpWorker[] = [];
  private stopping: Promise<void> | null = null;
  private starting: Promise<void> | null = null;

  /** @param options - broker, data directory; see {@link StoreServiceOptions} */
  constructor(private readonly options: StoreServiceOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  /** Keys stored, all namespaces together. */
  get size(): number {
    return this.store?.size ?? 0;
  }

  /**
   * Loads the settings (reporting records skipped) and registers the workers.
   *
   * @throws TitanicError `ERR_TITANIC_STORAGE` when the data directory cannot be used
   */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const { store, problems } = await SettingsStore.open(this.options.dataDir);
    for (const problem of problems) this.logger.warn('settings journal', { problem });
    this.store = store;
    const service = this.options.service ?? 'titanic.store';
    for (let i = 0; i < (this.options.workers ?? 4); i++) {
      this.workers.push(
        new MdpWorker({
          endpoint: this.options.broker ?? 'tcp://127.0.0.1:5514',
          service,
          heartbeatInterval: this.options.heartbeatInterval,
          handler: (frames) => this.handle(frames),
          logger: this.logger,
        }),
      );
    }
    await Promise.all(this.workers.map((w) => w.start()));
    this.logger.info('settings store started', { service, dataDir: this.options.dataDir, keys: store.size });
  }

  /** Stops the workers and closes the journal once writes are on disk. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.starting?.catch(() => {});
      await Promise.all(this.workers.map((w) => w.stop()));
      await this.store?.shutdown();
    })();
    return this.stopping;
  }

  /** Handles one request; exported for tests through the service only. */
  private async handle(frames: Buffer[]): Promise<Reply> {
    const store = this.store as SettingsStore;
    const action = frames[0]?.toString('utf8') ?? '';
    let arg: Record<string, unknown> = {};
    const raw = frames[1];
    if (raw !== undefined && raw.length > 0) {
      // Decoding invalid UTF-8 would silently replace bytes: refuse it.
      if (!isUtf8(raw)) return error('400', 'the argument is not valid UTF-8');
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return error('400', 'the argument must be a JSON object');
        arg = parsed as Record<string, unknown>;
      } catch (err) {
        return error('400', `the argument is not JSON: ${(err as Error).message}`);
      }
    }
    const needNamespace = (): string | null => checkNamespace(arg.namespace);
    const needKey = (): string | null => needNamespace() ?? checkKey(arg.key);
    const ns = arg.namespace as string;
    const key = arg.key as string;
    try {
      switch (action) {
        case 'get': {
          const bad = needKey();
          if (bad !== null) return error('400', bad);
          const json = store.get(ns, key);
          if (json === undefined) return error('404', `no setting ${ns} ${key}`);
          return ['200', `{"value":${json}}`];
        }
        case 'set': {
          const bad = needKey();
          if (bad !== null) return error('400', bad);
          if (!('value' in arg) || arg.value === undefined) return error('400', 'set needs a "value" (any JSON; use delete to remove a key)');
          await store.set(ns, key, JSON.stringify(arg.value));
          return reply('200', {});
        }
        case 'delete': {
          const bad = needKey();
          if (bad !== null) return error('400', bad);
          return (await store.delete(ns, key)) ? reply('200', {}) : error('404', `no setting ${ns} ${key}`);
        }
        case 'list': {
          if (arg.namespace === undefined) return reply('200', { namespaces: store.namespaces() });
          const bad = needNamespace();
          if (bad !== null) return error('400', bad);
          if (arg.prefix !== undefined && typeof arg.prefix !== 'string') return error('400', 'prefix must be a string');
          const entries = store.list(ns, (arg.prefix as string | undefined) ?? '');
          return ['200', `{"entries":{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}}`];
        }
        default:
          return error('501', `unknown action "${action}"; actions: get, set, delete, list`);
      }
    } catch (err) {
      if (isTitanicError(err, 'ERR_TITANIC_INVALID_ARGUMENT')) return error('400', err.message);
      this.logger.error('settings store failure', { action, error: err as Error });
      return error('500', (err as Error).message);
    }
  }
}
