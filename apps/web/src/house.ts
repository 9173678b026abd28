/**
 * The house as the web app sees it, only through the libraries: the
 * key/value tree (live values, descriptions, availability), the device
 * servers (commands, camera snapshots), the core's services (scenarios,
 * cron jobs, history) and the broker (MMI).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { MdpClient, isMdpError, silentLogger, type Logger } from '@raspy/mdp';
import { KvClient, type KvChange } from '@raspy/kv';
import { DevicesClient, HistoryClient, isDeviceError, type DeviceDescription } from '@raspy/devices';

/** The prefixes of the tree that the browser sees. */
export const STREAMED_PREFIXES = ['/device/', '/scenario/', '/server/', '/event/', '/system/'] as const;

/** An error with the HTTP status it should be answered with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A device as the API shows it. */
export interface WebDevice {
  id: string;
  service: string;
  state: 'online' | 'offline' | 'lost';
  description: DeviceDescription;
  values: Record<string, unknown>;
}

/** Options of {@link House}. */
export interface HouseOptions {
  broker: string;
  kv: string | string[];
  /** The core's host id; found through the broker when not given. */
  coreHost?: string;
  /** Timeout of requests to services, ms. Default 5000. */
  timeout?: number;
  logger?: Logger;
}

const isStreamed = (key: string): boolean => STREAMED_PREFIXES.some((p) => key.startsWith(p));

/** The connection of the web app to the house. */
export class House extends EventEmitter<{ change: [key: string, value: unknown] }> {
  readonly mdp: MdpClient;
  readonly kv: KvClient;
  readonly devices: DevicesClient;
  private readonly logger: Logger;
  /** The streamed part of the tree, parsed. */
  private readonly tree = new Map<string, unknown>();
  private core: { host: string; at: number } | null = null;

  constructor(private readonly options: HouseOptions) {
    super();
    this.setMaxListeners(0);
    this.logger = options.logger ?? silentLogger;
    this.mdp = new MdpClient({ endpoint: options.broker, timeout: options.timeout ?? 5000, retries: 0, logger: this.logger.child('mdp') });
    this.kv = new KvClient({ servers: options.kv, subtree: '', logger: this.logger.child('kv') });
    this.devices = new DevicesClient(this.mdp);
    this.kv.on('change', (change: KvChange) => this.onChange(change));
  }

  /** Connects to the tree (and keeps trying in the background when it is not there yet). */
  async start(): Promise<void> {
    await this.kv.start({ timeout: 5000 }).catch((err: unknown) => this.logger.warn('key/value server not reachable yet', { error: err as Error }));
  }

  async close(): Promise<void> {
    await this.kv.close();
    await this.mdp.close();
  }

  /** The streamed part of the tree, as JSON values. */
  snapshot(): Record<string, unknown> {
    return Object.fromEntries(this.tree);
  }

  private onChange(change: KvChange): void {
    if (!isStreamed(change.key)) return;
    let value: unknown = null;
    if (change.value !== undefined) {
      const text = change.value.toString('utf8');
      try {
        value = JSON.parse(text);
      } catch {
        value = text;
      }
      this.tree.set(change.key, value);
    } else this.tree.delete(change.key);
    this.emit('change', change.key, value);
  }

  /** Every device in the tree, by id. */
  listDevices(): WebDevice[] {
    const out: WebDevice[] = [];
    for (const [key, value] of this.tree) {
      if (!key.endsWith('/$description') || !key.startsWith('/device/')) continue;
      const id = key.slice('/device/'.length, -'/$description'.length);
      const device = this.device(id, value as DeviceDescription);
      if (device !== null) out.push(device);
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** One device, or null. */
  findDevice(id: string): WebDevice | null {
    const description = this.tree.get(`/device/${id}/$description`);
    return description === undefined ? null : this.device(id, description as DeviceDescription);
  }

  private device(id: string, description: DeviceDescription): WebDevice | null {
    const parts = id.split('/');
    if (parts.length !== 3 || typeof description !== 'object' || description === null) return null;
    const prefix = `/device/${id}/`;
    const values: Record<string, unknown> = {};
    let state: WebDevice['state'] = 'lost';
    for (const [key, value] of this.tree) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      if (rest === '$state') state = (value as { online?: unknown } | null)?.online === true ? 'online' : 'offline';
      else if (!rest.split('/').some((s) => s.startsWith('$'))) values[rest] = value;
    }
    return { id, service: `${parts[0]}.${parts[1]}.devices`, state, description, values };
  }

  /** The core's host id: configured, or the first `<host>.core.scenarios` the broker knows (cached 30 s). */
  async coreHost(): Promise<string> {
    if (this.options.coreHost !== undefined) return this.options.coreHost;
    if (this.core !== null && Date.now() - this.core.at < 30_000) return this.core.host;
    const [status, ...names] = (await this.guard(this.mdp.request('mmi.discovery', '^[a-z0-9-]+\\.core\\.scenarios$'), 'the broker')).map(String);
    const name = status === '200' ? names.sort()[0] : undefined;
    if (name === undefined) throw new HttpError(503, 'the core (raspy-core) is not running: no scenario service is registered with the broker');
    this.core = { host: name.slice(0, name.indexOf('.')), at: Date.now() };
    return this.core.host;
  }

  /**
   * Calls a RasPy service (`[action, json]` → `[status, json]`) and maps its
   * status to HTTP: 200 gives the payload, others throw {@link HttpError}
   * with the service's message.
   */
  async call(service: string, action: string, arg: Record<string, unknown> = {}): Promise<unknown> {
    const frames = await this.guard(this.mdp.requestWith(service, [action, JSON.stringify(arg)]), service);
    const status = String(frames[0] ?? '');
    let payload: unknown;
    try {
      payload = JSON.parse(String(frames[1] ?? '{}'));
    } catch {
      throw new HttpError(502, `${service} answered with a body that is not JSON`);
    }
    if (status === '200') return payload;
    const message = String((payload as { error?: unknown } | null)?.error ?? `${service} answered ${status}`);
    const http = status === '400' || status === '404' || status === '409' ? Number(status) : status === '501' ? 400 : status === '503' ? 503 : 502;
    throw new HttpError(http, message);
  }

  /** Calls a core service (`scenarios`, `cron`). */
  async callCore(name: 'scenarios' | 'cron', action: string, arg: Record<string, unknown> = {}): Promise<unknown> {
    return this.call(`${await this.coreHost()}.core.${name}`, action, arg);
  }

  /** Recorded points of a tree key. */
  async history(key: string, from: number, to: number, points: number): Promise<[number, number][]> {
    const service = `${await this.coreHost()}.core.history`;
    return this.guard(new HistoryClient(this.mdp, service).query(key, from, to, points), service);
  }

  /**
   * Turns the libraries' errors into {@link HttpError}s: a refused value is
   * a 400 with the device's message, an absent service a 503.
   */
  async guard<T>(p: Promise<T>, what: string): Promise<T> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof HttpError) throw err;
      if (isDeviceError(err)) {
        const status = err.code === 'ERR_DEVICE_NOT_FOUND' ? 404 : err.code === 'ERR_DEVICE_UNAVAILABLE' ? 503 : err.code === 'ERR_DEVICE_REPLY' ? 502 : 400;
        throw new HttpError(status, err.message);
      }
      if (isMdpError(err)) {
        if (err.code === 'ERR_MDP_SERVICE_UNAVAILABLE') throw new HttpError(503, `${what} is not running (no worker registered with the broker)`);
        if (err.code === 'ERR_MDP_BROKER_UNREACHABLE') throw new HttpError(503, 'the broker is not reachable');
        if (err.code === 'ERR_MDP_TIMEOUT') throw new HttpError(504, `${what} did not answer in time`);
        if (err.code === 'ERR_MDP_QUEUE_FULL') throw new HttpError(503, `${what} is busy; try again`);
        throw new HttpError(502, `${what} failed: ${err.message}`);
      }
      this.logger.error('unexpected failure', { what, error: err as Error });
      throw new HttpError(500, 'internal error');
    }
  }
}
