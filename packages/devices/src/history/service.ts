/**
 * The history service, `<host>.core.history`: answers queries over the
 * recorded values of the house (MDP, status-first JSON replies), and the
 * client that asks it.
 *
 * Actions: `query {key, from, to, points?}` → `{key, points: [[ts, value], ...]}`,
 * `keys {prefix?}` → `{keys: [...]}`.
 *
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { MdpClient, MdpWorker, silentLogger, type Logger } from '@raspy/mdp';
import { DeviceError, isDeviceError } from '../errors.js';
import type { HistoryStore } from './history.js';

/** Options of {@link HistoryService}. */
export interface HistoryServiceOptions {
  /** Broker endpoint. */
  broker: string;
  /** Service name, e.g. `pi1.core.history`. */
  service: string;
  store: HistoryStore;
  heartbeatInterval?: number;
  logger?: Logger;
}

type Reply = [string, string];
const fail = (status: string, message: string): Reply => [status, JSON.stringify({ error: message })];
const MAX_KEY = 1024;

/** Serves a {@link HistoryStore} over MDP. */
export class HistoryService {
  private readonly worker: MdpWorker;
  private readonly logger: Logger;

  constructor(private readonly options: HistoryServiceOptions) {
    this.logger = options.logger ?? silentLogger;
    this.worker = new MdpWorker({
      endpoint: options.broker,
      service: options.service,
      heartbeatInterval: options.heartbeatInterval,
      logger: this.logger,
      handler: (frames) => this.handle(frames),
    });
  }

  /** Registers with the broker. */
  async start(): Promise<void> {
    await this.worker.start();
  }

  /** Finishes the request in hand and disconnects. */
  async stop(): Promise<void> {
    await this.worker.stop();
  }

  private async handle(frames: Buffer[]): Promise<Reply> {
    const action = frames[0]?.toString('utf8') ?? '';
    let arg: Record<string, unknown> = {};
    const raw = frames[1];
    if (raw !== undefined && raw.length > 0) {
      if (!isUtf8(raw)) return fail('400', 'the argument is not valid UTF-8');
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('400', 'the argument must be a JSON object');
        arg = parsed as Record<string, unknown>;
      } catch (err) {
        return fail('400', `the argument is not JSON: ${(err as Error).message}`);
      }
    }
    try {
      switch (action) {
        case 'query': {
          const key = arg.key;
          if (typeof key !== 'string' || !key.startsWith('/') || key.length > MAX_KEY) return fail('400', `the request needs "key", a tree key such as /device/pi1/sim/living-temp/temperature (at most ${MAX_KEY} characters)`);
          const from = arg.from ?? Date.now() - 86_400_000;
          const to = arg.to ?? Date.now();
          const points = arg.points ?? 500;
          if (typeof from !== 'number' || typeof to !== 'number' || typeof points !== 'number') return fail('400', '"from", "to" (ms since the epoch) and "points" must be numbers');
          return ['200', JSON.stringify({ key, points: await this.options.store.query(key, from, to, points) })];
        }
        case 'keys': {
          const prefix = arg.prefix ?? '';
          if (typeof prefix !== 'string') return fail('400', '"prefix" must be a string');
          return ['200', JSON.stringify({ keys: (await this.options.store.keys()).filter((k) => k.startsWith(prefix)) })];
        }
        default:
          return fail('501', `unknown action "${action}"; actions: query, keys`);
      }
    } catch (err) {
      if (isDeviceError(err) && err.code === 'ERR_DEVICE_INVALID') return fail('400', err.message);
      this.logger.error('history service failure', { action, error: err as Error });
      return fail('500', 'the history could not be read');
    }
  }
}

/** Asks a {@link HistoryService}. */
export class HistoryClient {
  /**
   * @param mdp - a client of the house's broker
   * @param service - e.g. `pi1.core.history`
   */
  constructor(
    private readonly mdp: MdpClient,
    private readonly service: string,
  ) {}

  /**
   * The recorded points of a key between two instants, averaged into at
   * most `points` buckets.
   *
   * @throws DeviceError `ERR_DEVICE_INVALID` for a bad query, `ERR_DEVICE_REPLY` when the service failed
   */
  async query(key: string, from: number, to: number, points = 500): Promise<[number, number][]> {
    const reply = await this.call('query', { key, from, to, points });
    return (reply as { points: [number, number][] }).points;
  }

  /** The recorded keys that start with `prefix`. */
  async keys(prefix = ''): Promise<string[]> {
    return ((await this.call('keys', { prefix })) as { keys: string[] }).keys;
  }

  private async call(action: string, arg: Record<string, unknown>): Promise<unknown> {
    const [status, body] = await this.mdp.requestWith(this.service, [action, JSON.stringify(arg)]);
    const code = String(status);
    let payload: { error?: string };
    try {
      payload = JSON.parse(body?.toString('utf8') ?? '{}') as { error?: string };
    } catch {
      throw new DeviceError('ERR_DEVICE_REPLY', `${this.service} replied ${code} with a body that is not JSON`);
    }
    if (code === '200') return payload;
    const codeOf = code === '400' ? 'ERR_DEVICE_INVALID' : code === '503' ? 'ERR_DEVICE_UNAVAILABLE' : 'ERR_DEVICE_REPLY';
    throw new DeviceError(codeOf, payload.error ?? `${this.service} replied ${code}`);
  }
}
