/**
 * The device server: an MDP worker serving `<host>.<server>.devices`, which
 * publishes every value of its devices into the key/value tree, polls them,
 * publishes their availability, and keeps their configuration in the
 * settings store.
 *
 * Requests are `[action, json?]`, replies `[status, json]` (PROTOCOLS.md):
 *
 * | action | argument | reply |
 * |---|---|---|
 * | `list` | — | `200 {devices: [{id, type, name}]}` |
 * | `describe` | `{device}` | `200 <description>` |
 * | `get` | `{device, command?}` | `200 {value, unit?, ts}`, or `{values: {...}}` for every command; a bytes command: `["200", {mime, size}, bytes...]`, streamed as partials when large |
 * | `set` | `{device, command, value}` | `200 {value, unit?, ts}` |
 * | `poll` | `{device?}` | `200 {values: {...}}` (read now) |
 *
 * Errors: `400` bad request or value, `404` no such device or command,
 * `501` no such action, `503` the device did not answer; the payload is
 * `{"error": "..."}`.
 *
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { MdpClient, MdpWorker, silentLogger, type Logger, type RequestContext } from '@raspy/mdp';
import { KvClient, type KvServerAddress } from '@raspy/kv';
import { StoreClient } from '@raspy/titanic';
import { DeviceError, isDeviceError } from '../errors.js';
import { CONFIG_COMMANDS, validateValue, type CommandSpec } from '../model/command.js';
import { ID_SEGMENT, deviceService, type DeviceDescription } from '../model/description.js';
import type { Device, DeviceContext } from '../model/device.js';

/** Options of {@link DeviceServer}. Durations in milliseconds. */
export interface DeviceServerOptions {
  /** Host id, `[a-z0-9-]+` (the board's name). */
  host: string;
  /** Server id within the host, e.g. `sim`, `onewire`. */
  server: string;
  /** The devices to serve. */
  devices: readonly Device[];
  /** Broker endpoint. Default `tcp://127.0.0.1:5514`. */
  broker?: string;
  /** Key/value server(s) to publish into; `false` publishes nothing. Default `tcp://127.0.0.1:5515`. */
  kv?: KvServerAddress | readonly KvServerAddress[] | false;
  /** Keep device configuration in `titanic.store`. Default true. */
  store?: boolean;
  /** How often availability is refreshed; devices are lost after 3 missed refreshes. Default 2000. */
  availabilityInterval?: number;
  /** How long a device may take to read or write. Default 10000. */
  deviceTimeout?: number;
  /** Heartbeat interval towards the broker (must match it). Default 2500. */
  heartbeatInterval?: number;
  /** Concurrent requests served. Default 2. */
  workers?: number;
  /** Bytes values larger than this are streamed in chunks of this size. Default 65536. */
  chunkSize?: number;
  /** Clock (ms). Default `Date.now`. */
  now?: () => number;
  /** Logger; default silent. */
  logger?: Logger;
}

/** A published reading. */
export interface Reading {
  readonly value: unknown;
  readonly unit?: string;
  /** When it was read (ms since the epoch). */
  readonly ts: number;
}

interface Entry {
  /** Path within the server: `tv` or `tv/power`. */
  readonly path: string;
  readonly device: Device;
  /** The top-level device it belongs to. */
  readonly root: Device;
  readonly ctx: DeviceContext;
  readonly readings: Map<string, Reading>;
}

type Reply = (string | Buffer)[];
/** A device's read that has not finished yet (its deadline may have passed). */
type ReadUnderWay = { device: Device; operation: Promise<Record<string, unknown>>; since: number; skipped: number };

type StoredConfig = { name?: unknown; poll?: unknown; record?: unknown };

const ok = (payload: unknown): Reply => ['200', JSON.stringify(payload)];
const fail = (err: DeviceError): Reply => [err.status, JSON.stringify({ error: err.message })];

/**
 * Serves devices over MDP and publishes them into the key/value tree.
 *
 * @example
 * ```ts
 * import { DeviceRegistry, DeviceServer, registerSimulatedDevices } from '@raspy/devices';
 *
 * const registry = registerSimulatedDevices(new DeviceRegistry());
 * const server = new DeviceServer({
 *   host: 'pi1',
 *   server: 'sim',
 *   devices: [registry.create({ id: 'kitchen-temp', kind: 'sim.cyclic', options: { period: 600, min: 18, max: 23, unit: '°C' } })],
 * });
 * await server.start();
 * ```
 */
export class DeviceServer {
  private readonly opts: Required<Omit<DeviceServerOptions, 'kv' | 'logger' | 'devices'>> & { kv: DeviceServerOptions['kv'] };
  private readonly logger: Logger;
  private readonly entries = new Map<string, Entry>();
  private readonly byDevice = new Map<Device, Entry>();
  private readonly roots: Device[];
  private kv: KvClient | null = null;
  private mdp: MdpClient | null = null;
  private settings: StoreClient | null = null;
  private workers: MdpWorker[] = [];
  private readonly pollTimers = new Map<Device, NodeJS.Timeout>();
  /** Reads under way, by device: one at a time per device, even after their deadline passed. */
  private readonly readsUnderWay = new Map<Device, ReadUnderWay>();
  private availabilityTimer: NodeJS.Timeout | null = null;
  private state: 'new' | 'running' | 'stopped' = 'new';
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private readonly startedAt: number;
  /** The configuration kept in the store, as read at start (updated as it is saved). */
  private stored: Record<string, StoredConfig> = {};

  /**
   * @param options - host, server, devices; see {@link DeviceServerOptions}
   * @throws DeviceError `ERR_DEVICE_INVALID` for bad ids, duplicate devices or invalid descriptions
   */
  constructor(options: DeviceServerOptions) {
    for (const [what, id] of [['host', options.host], ['server', options.server]] as const) {
      if (typeof id !== 'string' || !ID_SEGMENT.test(id)) {
        throw new DeviceError('ERR_DEVICE_INVALID', `${what} must be lower-case letters, digits and "-", got ${JSON.stringify(id)}`);
      }
    }
    this.opts = {
      host: options.host,
      server: options.server,
      broker: options.broker ?? 'tcp://127.0.0.1:5514',
      kv: options.kv ?? 'tcp://127.0.0.1:5515',
      store: options.store ?? true,
      availabilityInterval: options.availabilityInterval ?? 2000,
      deviceTimeout: options.deviceTimeout ?? 10_000,
      heartbeatInterval: options.heartbeatInterval ?? 2500,
      workers: options.workers ?? 2,
      chunkSize: options.chunkSize ?? 64 * 1024,
      now: options.now ?? Date.now,
    };
    this.logger = (options.logger ?? silentLogger).child('devices', { server: this.service });
    this.roots = [];
    for (const device of options.devices) this.register(device);
    this.startedAt = this.opts.now();
  }

  /** Validates a top-level device and makes entries for it and its subdevices. */
  private register(device: Device): void {
    device.describe(this.prefix); // validates the whole tree of the device
    if (this.entries.has(device.id)) throw new DeviceError('ERR_DEVICE_INVALID', `two devices are called ${device.id}`);
    const add = (path: string, d: Device): void => {
      const id = `${this.prefix}/${path}`;
      const ctx: DeviceContext = {
        now: this.opts.now,
        logger: this.logger.child('device', { device: id }),
        publish: (values) => this.publishValues(entry, values),
      };
      const entry: Entry = { path, device: d, root: device, ctx, readings: new Map() };
      this.entries.set(path, entry);
      this.byDevice.set(d, entry);
      for (const [name, sub] of Object.entries(d.subdevices)) add(`${path}/${name}`, sub);
    };
    add(device.id, device);
    this.roots.push(device);
  }

  /**
   * Adds a device while the server runs (a probe plugged in): it is started,
   * its stored configuration applied, and it is published and polled like
   * the others.
   *
   * @throws DeviceError `ERR_DEVICE_INVALID` for an invalid device or a taken id
   */
  async addDevice(device: Device): Promise<void> {
    this.register(device);
    if (this.state !== 'running') return;
    const entry = this.entries.get(device.id) as Entry;
    this.applyStoredConfig([device.id]);
    for (const e of this.entries.values()) if (e.root === device) await e.device.start(e.ctx);
    this.publishDescription(device);
    this.publishConfig(device);
    this.schedule(device);
    this.set(`/device/${this.prefix}/${device.id}/$state`, { online: true, ts: this.opts.now() }, (3 * this.opts.availabilityInterval) / 1000).catch(() => {});
    await this.readDevice(entry.device).catch(() => {});
    this.logger.info('device added', { device: `${this.prefix}/${device.id}` });
  }

  /**
   * Removes a device while the server runs (a probe unplugged): it is no
   * longer served or polled, and its availability runs out, so clients see
   * it as lost.
   *
   * @returns false when there was no such device
   */
  async removeDevice(id: string): Promise<boolean> {
    const root = this.roots.find((d) => d.id === id);
    if (root === undefined) return false;
    const timer = this.pollTimers.get(root);
    if (timer !== undefined) clearInterval(timer);
    this.pollTimers.delete(root);
    this.roots.splice(this.roots.indexOf(root), 1);
    for (const [path, e] of [...this.entries]) {
      if (e.root !== root) continue;
      this.entries.delete(path);
      this.byDevice.delete(e.device);
      this.readsUnderWay.delete(e.device);
      try {
        await e.device.stop();
      } catch (err) {
        this.logger.warn('device did not stop cleanly', { device: path, error: err as Error });
      }
    }
    this.publishServer(true).catch(() => {});
    this.logger.info('device removed', { device: `${this.prefix}/${id}` });
    return true;
  }

  /** The MDP service: `<host>.<server>.devices`. */
  get service(): string {
    return deviceService(this.opts.host, this.opts.server);
  }

  /** `<host>/<server>`, the prefix of every device id. */
  get prefix(): string {
    return `${this.opts.host}/${this.opts.server}`;
  }

  /** Descriptions of the top-level devices. */
  describe(): DeviceDescription[] {
    return this.roots.map((d) => d.describe(this.prefix));
  }

  /** The last reading of a command, if any. */
  reading(device: string, command: string): Reading | undefined {
    return this.entries.get(device)?.readings.get(command);
  }

  /**
   * Loads the configuration kept in the store, starts the devices, registers
   * the service, publishes descriptions and first readings, and starts
   * polling. A key/value server or store that is not there yet is waited for
   * in the background.
   */
  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new DeviceError('ERR_DEVICE_INVALID', `the device server is ${this.state}`));
    this.state = 'running';
    this.starting = this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.mdp = new MdpClient({ endpoint: this.opts.broker, timeout: 3000, retries: 0, logger: this.logger });
    if (this.opts.store) {
      this.settings = new StoreClient(this.mdp);
      await this.loadConfig();
    }
    if (this.opts.kv !== false) {
      this.kv = new KvClient({ servers: this.opts.kv as KvServerAddress | KvServerAddress[], subtree: `/device/${this.prefix}/`, logger: this.logger });
      // Not waiting for ever: the client keeps trying in the background.
      await this.kv.start({ timeout: 5000 }).catch((err: unknown) => this.logger.warn('key/value server not reachable yet', { error: err as Error }));
    }
    for (const entry of this.entries.values()) await entry.device.start(entry.ctx);
    for (let i = 0; i < this.opts.workers; i++) {
      this.workers.push(
        new MdpWorker({
          endpoint: this.opts.broker,
          service: this.service,
          heartbeatInterval: this.opts.heartbeatInterval,
          handler: (frames, ctx) => this.handle(frames, ctx),
          logger: this.logger,
        }),
      );
    }
    await Promise.all(this.workers.map((w) => w.start()));
    this.publishServer(true);
    for (const root of this.roots) {
      this.publishDescription(root);
      this.publishConfig(root);
      this.schedule(root);
    }
    this.refreshAvailability();
    this.availabilityTimer = setInterval(() => this.refreshAvailability(), this.opts.availabilityInterval);
    await Promise.all(this.roots.map((root) => this.readDevice(root).catch(() => {})));
    this.logger.info('device server started', { devices: this.roots.length, service: this.service });
  }

  /**
   * Stops polling and serving, marks the devices offline, stops them and
   * closes the connections. Safe to call twice, and during start.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.starting?.catch(() => {});
    if (this.state !== 'running') return;
    this.state = 'stopped';
    for (const t of this.pollTimers.values()) clearInterval(t);
    this.pollTimers.clear();
    if (this.availabilityTimer !== null) clearInterval(this.availabilityTimer);
    await Promise.all(this.workers.map((w) => w.stop()));
    // A clean stop says "offline" at once (a crash shows as "lost" when the TTL runs out).
    const last: Promise<unknown>[] = this.roots.map((root) => this.set(`/device/${this.prefix}/${root.id}/$state`, { online: false, ts: this.opts.now() }));
    last.push(this.publishServer(false));
    await Promise.allSettled(last);
    for (const entry of this.entries.values()) {
      try {
        await entry.device.stop();
      } catch (err) {
        this.logger.warn('device did not stop cleanly', { device: entry.path, error: err as Error });
      }
    }
    await this.kv?.close();
    await this.mdp?.close();
    this.logger.info('device server stopped');
  }

  // ------------------------------------------------------------- requests

  private async handle(frames: Buffer[], ctx: RequestContext): Promise<Reply> {
    const action = frames[0]?.toString('utf8') ?? '';
    let arg: Record<string, unknown> = {};
    const raw = frames[1];
    if (raw !== undefined && raw.length > 0) {
      if (!isUtf8(raw)) return fail(new DeviceError('ERR_DEVICE_INVALID', 'the argument is not valid UTF-8'));
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          return fail(new DeviceError('ERR_DEVICE_INVALID', 'the argument must be a JSON object'));
        }
        arg = parsed as Record<string, unknown>;
      } catch (err) {
        return fail(new DeviceError('ERR_DEVICE_INVALID', `the argument is not JSON: ${(err as Error).message}`));
      }
    }
    try {
      switch (action) {
        case 'list':
          return ok({ devices: this.roots.map((d) => ({ id: `${this.prefix}/${d.id}`, type: d.type, name: d.name })) });
        case 'describe':
          return ok(this.entry(arg.device).device.describe(this.parentId(this.entry(arg.device))));
        case 'get':
          return await this.get(this.entry(arg.device), arg.command, ctx);
        case 'set':
          return ok(await this.setCommand(this.entry(arg.device), arg.command, arg.value));
        case 'poll': {
          const entries = arg.device === undefined ? this.roots.map((r) => this.entries.get(r.id) as Entry) : [this.entry(arg.device)];
          const out: Record<string, unknown> = {};
          for (const e of entries) out[`${this.prefix}/${e.path}`] = Object.fromEntries(await this.readDevice(e.device));
          return ok(arg.device === undefined ? { devices: out } : { values: Object.values(out)[0] });
        }
        default:
          return fail(new DeviceError('ERR_DEVICE_INVALID', `unknown action "${action}"; actions: list, describe, get, set, poll`, { status: '501' }));
      }
    } catch (err) {
      if (isDeviceError(err)) {
        if (err.status.startsWith('5')) this.logger.warn('device request failed', { action, error: err });
        return fail(err);
      }
      this.logger.error('device request failed', { action, error: err as Error });
      return fail(new DeviceError('ERR_DEVICE_REPLY', `internal error: ${(err as Error).message}`));
    }
  }

  /** Finds a device from a request: its path (`tv/power`) or full id (`pi1/sim/tv/power`). */
  private entry(device: unknown): Entry {
    if (typeof device !== 'string' || device === '') throw new DeviceError('ERR_DEVICE_INVALID', 'the request needs "device": a device id');
    const path = device.startsWith(`${this.prefix}/`) ? device.slice(this.prefix.length + 1) : device;
    const entry = this.entries.get(path);
    if (entry === undefined) throw new DeviceError('ERR_DEVICE_NOT_FOUND', `no device ${this.prefix}/${path} on ${this.service}`);
    return entry;
  }

  private parentId(entry: Entry): string {
    const slash = entry.path.lastIndexOf('/');
    return slash < 0 ? this.prefix : `${this.prefix}/${entry.path.slice(0, slash)}`;
  }

  private spec(entry: Entry, command: unknown): CommandSpec {
    if (typeof command !== 'string' || command === '') throw new DeviceError('ERR_DEVICE_INVALID', 'the request needs "command": a command name');
    const spec = (CONFIG_COMMANDS as Record<string, CommandSpec>)[command] ?? entry.device.commands[command];
    if (spec === undefined) {
      throw new DeviceError('ERR_DEVICE_NOT_FOUND', `device ${this.prefix}/${entry.path} has no command ${command}; commands: ${Object.keys(entry.device.commands).concat(Object.keys(CONFIG_COMMANDS)).join(', ')}`);
    }
    return spec;
  }

  private async get(entry: Entry, command: unknown, ctx: RequestContext): Promise<Reply> {
    if (command === undefined) {
      if (entry.readings.size === 0) await this.readDevice(entry.device);
      return ok({ values: Object.fromEntries(entry.readings) });
    }
    const spec = this.spec(entry, command);
    const name = command as string;
    if (spec.writeonly) throw new DeviceError('ERR_DEVICE_NOT_SUPPORTED', `${name} of ${this.prefix}/${entry.path} is an action: it can be set, not read`);
    if (spec.config) return ok(this.configReading(entry.device, name));
    if (spec.type === 'bytes') return this.fetchBytes(entry, name, spec, ctx);
    if (!entry.readings.has(name)) await this.readDevice(entry.device);
    const reading = entry.readings.get(name);
    if (reading === undefined) throw new DeviceError('ERR_DEVICE_UNAVAILABLE', `${this.prefix}/${entry.path} gave no value for ${name}`);
    return ok(reading);
  }

  private async fetchBytes(entry: Entry, name: string, spec: CommandSpec, ctx: RequestContext): Promise<Reply> {
    const value = await this.deadline(() => entry.device.fetch(name, entry.ctx), `${this.prefix}/${entry.path} ${name}`);
    const meta = { mime: spec.mime ?? 'application/octet-stream', ts: this.opts.now() };
    const size = this.opts.chunkSize;
    if (Buffer.isBuffer(value)) {
      if (value.length <= size) return ['200', JSON.stringify({ ...meta, size: value.length }), value];
      // Large: a header, then the bytes in chunks, each a partial reply (MDP v0.2).
      ctx.partial(['200', JSON.stringify({ ...meta, size: value.length })]);
      const chunks: Buffer[] = [];
      for (let at = 0; at < value.length; at += size) chunks.push(value.subarray(at, at + size));
      for (const chunk of chunks.slice(0, -1)) ctx.partial([chunk]);
      return [chunks[chunks.length - 1] as Buffer];
    }
    // A stream: each chunk as a partial, the last one as the final reply.
    ctx.partial(['200', JSON.stringify({ ...meta, size: null })]);
    let previous: Buffer | null = null;
    for await (const chunk of value) {
      if (previous !== null) ctx.partial([previous]);
      previous = chunk;
    }
    return [previous ?? Buffer.alloc(0)];
  }

  private async setCommand(entry: Entry, command: unknown, raw: unknown): Promise<Reading> {
    const spec = this.spec(entry, command);
    const name = command as string;
    if (spec.readonly) throw new DeviceError('ERR_DEVICE_NOT_SUPPORTED', `${name} of ${this.prefix}/${entry.path} is a reading: it can be read, not set`);
    if (spec.type === 'bytes') throw new DeviceError('ERR_DEVICE_NOT_SUPPORTED', `${name} of ${this.prefix}/${entry.path} takes bytes, which cannot be set through JSON`);
    if (raw === undefined) throw new DeviceError('ERR_DEVICE_INVALID', 'the request needs "value"');
    const value = validateValue(spec, raw, name);
    if (spec.config) return this.setConfig(entry, name, value);
    const effective = await this.deadline(() => entry.device.write(name, value, entry.ctx), `${this.prefix}/${entry.path} ${name}`);
    const now = effective === undefined ? value : effective;
    const reading: Reading = { value: now, ...(spec.unit !== undefined ? { unit: spec.unit } : {}), ts: this.opts.now() };
    if (!spec.writeonly) this.remember(entry, name, reading);
    // Other readings may have changed with it (a dimmer's power with its level).
    void this.readDevice(entry.device, true).catch(() => {});
    return reading;
  }

  // ------------------------------------------------------------- configuration

  private configReading(device: Device, name: string): Reading {
    const value = name === 'name' ? device.name : name === 'poll' ? device.poll : device.record;
    return { value, ...(name === 'poll' ? { unit: 's' } : {}), ts: this.opts.now() };
  }

  private async setConfig(entry: Entry, name: string, value: unknown): Promise<Reading> {
    const device = entry.device;
    if (name === 'name') device.name = value as string;
    else if (name === 'poll') device.poll = value as number;
    else device.record = value as boolean;
    if (name === 'poll') this.schedule(entry.root);
    if (name === 'name') this.publishDescription(entry.root);
    const reading = this.configReading(device, name);
    this.remember(entry, name, reading);
    await this.saveConfig(entry);
    return reading;
  }

  private configKey(): string {
    return `${this.opts.host}.${this.opts.server}/devices`;
  }

  private async loadConfig(): Promise<void> {
    if (this.settings === null || this.mdp === null) return;
    try {
      // Ask the broker first: without a store, don't wait for a request to time out.
      const [status] = await this.mdp.requestWith('mmi.service', ['titanic.store'], { timeout: 2000, retries: 0 });
      if (String(status) !== '200') {
        this.logger.warn('no settings store (is raspy-core running?); devices use their defaults and changes are not kept');
        this.stored = {};
        return;
      }
      this.stored = await this.settings.list<StoredConfig>(this.configKey());
    } catch (err) {
      this.logger.warn('cannot read the stored configuration; devices use their defaults', { error: err as Error });
      this.stored = {};
      return;
    }
    this.applyStoredConfig(null);
    this.logger.info('configuration loaded', { devices: Object.keys(this.stored).length });
  }

  /** Applies the configuration read from the store at start (to these devices, or all). */
  private applyStoredConfig(only: string[] | null): void {
    for (const [path, config] of Object.entries(this.stored)) {
      if (only !== null && !only.includes(path.split('/')[0] as string)) continue;
      const entry = this.entries.get(path);
      if (entry === undefined || typeof config !== 'object' || config === null) continue;
      const d = entry.device;
      try {
        if (config.name !== undefined) d.name = validateValue(CONFIG_COMMANDS.name, config.name, 'name') as string;
        if (config.poll !== undefined) d.poll = validateValue(CONFIG_COMMANDS.poll, config.poll, 'poll') as number;
        if (config.record !== undefined) d.record = validateValue(CONFIG_COMMANDS.record, config.record, 'record') as boolean;
      } catch (err) {
        this.logger.warn('stored configuration ignored', { device: path, error: err as Error });
      }
    }
  }

  private async saveConfig(entry: Entry): Promise<void> {
    if (this.settings === null) return;
    const d = entry.device;
    const config = { name: d.name, poll: d.poll, record: d.record };
    this.stored[entry.path] = config;
    try {
      await this.settings.set(this.configKey(), entry.path, config);
    } catch (err) {
      this.logger.warn('configuration not saved (is raspy-core running?)', { device: entry.path, error: err as Error });
      throw new DeviceError('ERR_DEVICE_UNAVAILABLE', `the configuration of ${entry.path} is in effect but could not be saved: ${(err as Error).message}`);
    }
  }

  // ------------------------------------------------------------- readings

  private schedule(root: Device): void {
    const existing = this.pollTimers.get(root);
    if (existing !== undefined) clearInterval(existing);
    this.pollTimers.delete(root);
    if (root.poll > 0 && this.state === 'running') {
      this.pollTimers.set(
        root,
        setInterval(() => {
          const busy = this.readUnderWay(root);
          if (busy !== undefined) {
            // A slow or hung device: piling reads up would only tie up more threads or sockets.
            if (busy.skipped++ === 0) {
              this.logger.warn('poll skipped: the previous reading has not finished', {
                device: (this.byDevice.get(busy.device) as Entry).path,
                runningMs: Date.now() - busy.since,
                poll: root.poll,
              });
            }
            return;
          }
          this.readDevice(root).catch(() => {});
        }, root.poll * 1000),
      );
    }
  }

  /** The read under way of a device or one of its subdevices, if any. */
  private readUnderWay(device: Device): ReadUnderWay | undefined {
    const own = this.readsUnderWay.get(device);
    if (own !== undefined) return own;
    for (const sub of Object.values(device.subdevices)) {
      const found = this.readUnderWay(sub);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * Reads a device (and its subdevices) now, publishes, and returns the top
   * device's readings. A read of a device whose previous read has not
   * finished (even one past its deadline) waits for that one instead of
   * starting another; with `fresh` (after a write) it starts a new one once
   * that one is over, since it may have read the device before the write.
   */
  private async readDevice(device: Device, fresh = false): Promise<Map<string, Reading>> {
    const entry = this.byDevice.get(device) as Entry;
    for (const sub of Object.values(device.subdevices)) await this.readDevice(sub, fresh);
    let values: Record<string, unknown>;
    let current = this.readsUnderWay.get(device);
    if (current !== undefined && fresh) {
      const stale = current;
      await stale.operation.catch(() => {});
      current = this.readsUnderWay.get(device);
      if (current === stale) current = undefined;
    }
    if (current === undefined) {
      const operation = Promise.resolve().then(() => device.read(entry.ctx));
      const started: ReadUnderWay = { device, operation, since: Date.now(), skipped: 0 };
      current = started;
      this.readsUnderWay.set(device, started);
      const done = (): void => {
        if (this.readsUnderWay.get(device) !== started) return;
        this.readsUnderWay.delete(device);
        if (started.skipped > 0) {
          this.logger.info('slow reading finished', { device: entry.path, tookMs: Date.now() - started.since, skippedPolls: started.skipped });
        }
      };
      operation.then(done, done);
    }
    const { operation } = current;
    try {
      values = await this.deadline(() => operation, `${this.prefix}/${entry.path} read`);
    } catch (err) {
      this.logger.warn('reading failed', { device: entry.path, error: err as Error });
      this.set(`/device/${this.prefix}/${entry.path}/$error`, { error: (err as Error).message, ts: this.opts.now() }, 60).catch(() => {});
      throw err;
    }
    this.publishValues(entry, values);
    return entry.readings;
  }

  private publishValues(entry: Entry, values: Readonly<Record<string, unknown>>): void {
    const ts = this.opts.now();
    for (const [name, value] of Object.entries(values)) {
      const spec = entry.device.commands[name];
      if (spec === undefined || spec.type === 'bytes' || spec.writeonly) {
        this.logger.warn('device reported a value for no readable command, ignored', { device: entry.path, command: name });
        continue;
      }
      try {
        validateValue(spec, value, name);
      } catch (err) {
        this.logger.warn('device reported an invalid value, not published', { device: entry.path, error: err as Error });
        continue;
      }
      this.remember(entry, name, { value, ...(spec.unit !== undefined ? { unit: spec.unit } : {}), ts });
    }
  }

  /** Keeps a reading for `get` and publishes it. */
  private remember(entry: Entry, command: string, reading: Reading): void {
    entry.readings.set(command, reading);
    this.set(`/device/${this.prefix}/${entry.path}/${command}`, reading).catch(() => {});
  }

  /** Publishes the configuration (name, poll, record) of a device and its subdevices, so readers such as the history recorder see it. */
  private publishConfig(root: Device): void {
    for (const entry of this.entries.values()) {
      if (entry.root !== root) continue;
      for (const name of Object.keys(CONFIG_COMMANDS)) this.remember(entry, name, this.configReading(entry.device, name));
    }
  }

  private publishDescription(root: Device): void {
    this.set(`/device/${this.prefix}/${root.id}/$description`, root.describe(this.prefix)).catch(() => {});
  }

  private publishServer(online: boolean): Promise<void> {
    const ttl = online ? (3 * this.opts.availabilityInterval) / 1000 : undefined;
    return this.set(
      `/server/${this.prefix}`,
      { online, service: this.service, devices: this.roots.map((d) => d.id), startedAt: this.startedAt, pid: process.pid, ts: this.opts.now() },
      ttl,
    );
  }

  /** Every device's `$state` with a TTL: if this server dies, the keys run out and its devices show as lost. */
  private refreshAvailability(): void {
    if (this.state !== 'running') return;
    const ttl = (3 * this.opts.availabilityInterval) / 1000;
    for (const root of this.roots) this.set(`/device/${this.prefix}/${root.id}/$state`, { online: true, ts: this.opts.now() }, ttl).catch(() => {});
    this.publishServer(true).catch(() => {});
  }

  private async set(key: string, value: unknown, ttl?: number): Promise<void> {
    if (this.kv === null) return;
    try {
      await this.kv.setJson(key, value, ttl === undefined ? {} : { ttl });
    } catch (err) {
      this.logger.debug('publish failed', { key, error: err as Error });
      throw err;
    }
  }

  /** Runs a device operation (sync or async, throwing or not) with the device timeout. */
  private async deadline<T>(operation: () => T | Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        Promise.resolve().then(operation),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new DeviceError('ERR_DEVICE_UNAVAILABLE', `${what}: no answer within ${this.opts.deviceTimeout} ms`)), this.opts.deviceTimeout);
        }),
      ]);
    } catch (err) {
      if (isDeviceError(err)) throw err;
      throw new DeviceError('ERR_DEVICE_UNAVAILABLE', `${what}: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}
