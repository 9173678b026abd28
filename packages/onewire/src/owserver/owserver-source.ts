/**
 * An OWFS owserver as a {@link TemperatureSource}: the probes of every bus
 * the server drives, read over the network with {@link OwserverClient}.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { silentLogger, type Logger } from '@raspy/mdp';
import { OneWireError, isOneWireError } from '../errors.js';
import { PROBE_ID, TEMPERATURE_FAMILIES, type ProbeInfo, type TemperatureReading, type TemperatureSource } from '../source.js';
import { OwserverClient, type OwserverClientOptions } from './client.js';
import { describeReturnCode, isNotFound } from './protocol.js';

/** Options of {@link OwserverSource}. */
export interface OwserverSourceOptions extends OwserverClientOptions {
  /**
   * A client to use instead of making one from `host`, `port`, `timeout`…;
   * the source then leaves it open on {@link OwserverSource.close}.
   */
  client?: OwserverClient;
  /**
   * How long to wait, ms, before reading again a probe that answered exactly
   * 85 °C, the power-on value. Default 750, a DS18B20's 12-bit conversion time.
   */
  rereadDelay?: number;
  /** Waits `ms` or rejects when `signal` aborts (the source was closed). For tests. Default: a timer. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** owserver's name of a device: family and serial in upper-case hex, joined by a dot. */
const OW_DEVICE = /^([0-9A-Fa-f]{2})\.([0-9A-Fa-f]{12})$/;
/** A bus directory: `bus.0`. */
const OW_BUS = /^bus\.\d+$/;
/** A temperature as owserver formats it (`%G`-like, right-aligned): `21.5`, `-0.0625`, `4`. */
const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
/** The range each family can measure, °C, from the data sheets (DS28EA00: −40..+85, others −55..+125). */
const FAMILY_RANGE: Readonly<Record<string, readonly [number, number]>> = { '42': [-40, 85] };
/** The temperature register's value at power-on. */
const POWER_ON_CELSIUS = 85;

type Sample = { readonly ok: true; readonly celsius: number } | { readonly ok: false; readonly reading: TemperatureReading };

function lastSegment(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  return parts[parts.length - 1] ?? '';
}

function busNumber(bus: string): number {
  const m = /^\/bus\.(\d+)$/.exec(bus);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

function showId(id: unknown): string {
  return typeof id === 'string' ? JSON.stringify(id) : `a ${typeof id}`;
}

/**
 * Reads DS18B20 and other 1-Wire temperature probes from an owserver (OWFS),
 * on every bus it drives, as RasPy ids (`28-0000052fd3c1`).
 *
 * A read asks owserver for `/28.0000052FD3C1/temperature` (12-bit, in °C
 * whatever the server's default scale). 85 °C exactly, the power-on value,
 * is read again after `rereadDelay`, bypassing owserver's cache, and
 * reported as `power-on` if it stays. A probe the server cannot find is
 * `missing`; a server error or a timeout is `unreadable`; text that is not a
 * number in the chip's range is `truncated`.
 *
 * @example
 * ```ts
 * import { OwserverSource } from '@raspy/onewire';
 *
 * const ow = new OwserverSource({ host: 'localhost', port: 4304 });
 * for (const probe of await ow.list()) {
 *   const reading = await ow.read(probe.id);
 *   console.log(probe.id, probe.bus, reading.ok ? `${reading.celsius} °C` : reading.reason);
 * }
 * await ow.close();
 * ```
 */
export class OwserverSource implements TemperatureSource {
  readonly kind = 'owserver' as const;
  /** `host:port` of the owserver. */
  readonly location: string;
  /** The client underneath, for other owserver paths. */
  readonly client: OwserverClient;
  private readonly ownsClient: boolean;
  private readonly logger: Logger;
  private readonly rereadDelay: number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly closing = new AbortController();
  /** false once the server refused `/unaliased` (older OWFS): list `/` itself. */
  private unaliased = true;

  /**
   * @param options - host, port, timeout (or a client), 85 °C re-read delay; see {@link OwserverSourceOptions}
   * @throws OneWireError `ERR_ONEWIRE_INVALID` for a bad port, timeout or delay
   */
  constructor(options: OwserverSourceOptions = {}) {
    const rereadDelay = options.rereadDelay ?? 750;
    if (!Number.isFinite(rereadDelay) || rereadDelay < 0) {
      throw new OneWireError('ERR_ONEWIRE_INVALID', `rereadDelay must be a number of ms >= 0, got ${String(rereadDelay)}; the default is 750`);
    }
    this.rereadDelay = rereadDelay;
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new OwserverClient(options);
    this.location = this.client.address;
    this.logger = (options.logger ?? silentLogger).child('onewire-owserver-source', { server: this.location });
    this.sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
  }

  /**
   * The temperature probes on every bus of the server now, each once, with
   * the bus it hangs on (`/bus.0`; `/` when the server shows no bus
   * directories). Other chips and the system directories (`/settings`,
   * `/uncached`…) are left out. Aliases do not hide probes: the listing is
   * taken under `/unaliased` where the server has it.
   *
   * @returns the probes, by bus then id
   * @throws OneWireError `ERR_ONEWIRE_CONNECTION` (no server at the
   *   address), `ERR_ONEWIRE_TIMEOUT`, `ERR_ONEWIRE_SERVER`, `ERR_ONEWIRE_CLOSED`
   */
  async list(): Promise<ProbeInfo[]> {
    this.checkOpen();
    const root = await this.listDir('/');
    const found = new Map<string, ProbeInfo>();
    const add = (entry: string, bus: string): void => {
      const m = OW_DEVICE.exec(lastSegment(entry));
      if (!m) return;
      const family = (m[1] as string).toLowerCase();
      const chip = TEMPERATURE_FAMILIES[family];
      const id = `${family}-${(m[2] as string).toLowerCase()}`;
      if (chip === undefined || found.has(id)) return;
      found.set(id, { id, family, chip, bus });
    };
    // With several adapters each probe shows at the root and under its bus:
    // the bus directories say where it hangs, the root catches the rest.
    // By number, so that a probe two adapters see (one wire, two masters) is always given the same bus.
    const buses = root
      .map(lastSegment)
      .filter((name) => OW_BUS.test(name))
      .sort((a, b) => busNumber(`/${a}`) - busNumber(`/${b}`));
    for (const bus of buses) {
      for (const entry of await this.listDir(`/${bus}`)) add(entry, `/${bus}`);
    }
    for (const entry of root) add(entry, '/');
    const probes = [...found.values()].sort((a, b) => busNumber(a.bus) - busNumber(b.bus) || a.id.localeCompare(b.id));
    this.logger.debug('listed probes', { buses: buses.length, probes: probes.length });
    return probes;
  }

  /**
   * Reads one probe now. A bad reading says why instead of throwing:
   * `power-on` (85 °C twice), `missing` (the server does not find it),
   * `unreadable` (server error, timeout, connection failure), `truncated`
   * (not a number, or outside the chip's range).
   *
   * @param id - `28-0000052fd3c1` (upper case and owserver's `28.0000052FD3C1` are accepted)
   * @returns the temperature in °C (3 decimals), or the reason there is none
   * @throws OneWireError `ERR_ONEWIRE_INVALID` for a string that is not a
   *   probe id (checked before any path is built); `ERR_ONEWIRE_CLOSED` after
   *   {@link OwserverSource.close}, also when it comes during the 85 °C re-read
   */
  async read(id: string): Promise<TemperatureReading> {
    const probe = this.checkId(id);
    this.checkOpen();
    let sample = await this.sample(probe, false);
    if (sample.ok && sample.celsius === POWER_ON_CELSIUS) {
      this.logger.debug('85 °C, the power-on value: reading again', { probe, delay: this.rereadDelay });
      await this.pause();
      // Uncached: owserver would otherwise hand back the 85 it just cached.
      sample = await this.sample(probe, true);
      if (sample.ok && sample.celsius === POWER_ON_CELSIUS) {
        const reading: TemperatureReading = {
          ok: false,
          reason: 'power-on',
          message: `85 °C twice, ${this.rereadDelay} ms apart: the power-on value, the probe is not converting (it lost power, or is parasite-powered without a strong pull-up)`,
        };
        this.logger.debug('bad reading', { probe, reason: reading.reason });
        return reading;
      }
    }
    if (!sample.ok) {
      const reading = sample.reading;
      if (!reading.ok) this.logger.debug('bad reading', { probe, reason: reading.reason, message: reading.message });
      return reading;
    }
    return { ok: true, celsius: sample.celsius };
  }

  /**
   * Always null: owserver does not tell a probe's resolution. It sets the
   * resolution itself for each conversion (`temperature` reads at 12 bits,
   * `temperature9`…`temperature12` choose), and the `tempres` property of
   * newer OWFS shows only the scratchpad byte (its simulated probes answer
   * 40), so no answer would be reliable.
   *
   * @param id - the probe's id (validated)
   * @returns null
   * @throws OneWireError `ERR_ONEWIRE_INVALID` for a string that is not a probe id; `ERR_ONEWIRE_CLOSED` after close
   */
  async resolution(id: string): Promise<number | null> {
    this.checkId(id);
    this.checkOpen();
    return null;
  }

  /** Closes the connection (of a client the source made) and cuts short an 85 °C re-read wait. Idempotent. */
  async close(): Promise<void> {
    if (!this.closing.signal.aborted) this.closing.abort();
    if (this.ownsClient) await this.client.close();
  }

  private checkOpen(): void {
    if (this.closing.signal.aborted) {
      throw new OneWireError('ERR_ONEWIRE_CLOSED', `the owserver source of ${this.location} was closed; create a new OwserverSource`);
    }
  }

  /** The probe's id as RasPy writes it, or ERR_ONEWIRE_INVALID. */
  private checkId(id: unknown): string {
    const probe = typeof id === 'string' ? id.toLowerCase().replace('.', '-') : '';
    if (!PROBE_ID.test(probe)) {
      throw new OneWireError('ERR_ONEWIRE_INVALID', `not a probe id: ${showId(id)}; expected family-serial in hex, like 28-0000052fd3c1`);
    }
    return probe;
  }

  /** `/28.0000052FD3C1`: owserver's path of a validated probe id. */
  private devicePath(probe: string, uncached: boolean): string {
    const [family, serial] = probe.toUpperCase().split('-') as [string, string];
    return `${uncached ? '/uncached' : ''}/${family}.${serial}`;
  }

  private async pause(): Promise<void> {
    try {
      await this.sleep(this.rereadDelay, this.closing.signal);
    } catch (error) {
      if (this.closing.signal.aborted) {
        throw new OneWireError('ERR_ONEWIRE_CLOSED', `the owserver source of ${this.location} was closed during a read`, { cause: error });
      }
      throw error;
    }
    this.checkOpen();
  }

  /** Lists a directory by ids rather than aliases where the server can. */
  private async listDir(path: string): Promise<string[]> {
    if (this.unaliased) {
      try {
        // owserver puts aliases in place of ids in every listing, whatever
        // the request's flags; under /unaliased it shows the ids.
        return await this.client.dir(`/unaliased${path === '/' ? '' : path}`, { bus: true });
      } catch (err) {
        if (!isOneWireError(err, 'ERR_ONEWIRE_SERVER')) throw err;
        this.unaliased = false;
        this.logger.info('owserver has no /unaliased directory: listing by name (aliased probes will not be found)', {
          error: err.message,
        });
      }
    }
    return this.client.dir(path, { bus: true });
  }

  /** One read of the probe's temperature, judged; 85 °C is returned as a value. */
  private async sample(probe: string, uncached: boolean): Promise<Sample> {
    const path = `${this.devicePath(probe, uncached)}/temperature`;
    let text: string;
    try {
      text = await this.client.readText(path);
    } catch (err) {
      if (!isOneWireError(err) || err.code === 'ERR_ONEWIRE_CLOSED' || err.code === 'ERR_ONEWIRE_INVALID') throw err;
      if (err.code === 'ERR_ONEWIRE_SERVER' && err.returnCode !== undefined && isNotFound(err.returnCode)) {
        return bad('missing', `${probe} is not on the buses of owserver ${this.location} (${path}: ${describeReturnCode(err.returnCode)}); check its wiring`);
      }
      return bad('unreadable', `${probe}: ${err.message}`);
    }
    if (!NUMBER.test(text)) {
      return bad('truncated', `${probe}: owserver answered ${JSON.stringify(text)} for ${path}, not a number`);
    }
    const celsius = Math.round(Number(text) * 1000) / 1000;
    const family = probe.slice(0, 2);
    const [min, max] = FAMILY_RANGE[family] ?? [-55, 125];
    if (!Number.isFinite(celsius) || celsius < min || celsius > max) {
      const chip = TEMPERATURE_FAMILIES[family] ?? family;
      return bad('truncated', `${probe}: ${celsius} °C is outside the ${chip}'s range ${min}..${max} °C: corrupt data or a faulty probe, not a temperature`);
    }
    return { ok: true, celsius };
  }
}

function bad(reason: 'missing' | 'unreadable' | 'truncated', message: string): Sample {
  return { ok: false, reading: { ok: false, reason, message } };
}
