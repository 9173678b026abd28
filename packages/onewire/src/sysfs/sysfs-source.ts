/**
 * The Linux kernel 1-Wire bus as a {@link TemperatureSource}: the w1-gpio
 * master (or any other) and the w1_therm driver publish every bus master
 * and every probe under `/sys/bus/w1/devices`; this reads them with
 * `fs/promises` only, so a read (which the kernel holds for the probe's
 * conversion time, 750 ms at 12 bits) never blocks the event loop and reads
 * of different probes overlap. What the text means is decided in
 * `parse.ts`.
 *
 * @module
 */
import { constants } from 'node:fs';
import { open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { silentLogger, type Logger } from '@raspy/mdp';
import { OneWireError } from '../errors.js';
import type { ProbeInfo, TemperatureReading, TemperatureSource } from '../source.js';
import { TEMPERATURE_FAMILIES } from '../source.js';
import {
  BUS_MASTER,
  isPowerOnValue,
  isTemperatureFamily,
  judgeSample,
  normaliseProbeId,
  parseMasterSlaves,
  parseResolutionFile,
  parseSlaveName,
  parseTemperatureFile,
  parseW1Slave,
  resolutionFromScratchpad,
  type SysfsSample,
} from './parse.js';

/** Where the kernel lists 1-Wire bus masters and slaves. */
export const DEFAULT_SYSFS_ROOT = '/sys/bus/w1/devices';

/** Options of {@link SysfsSource}. */
export interface SysfsSourceOptions {
  /** The w1 devices directory. Default `/sys/bus/w1/devices`. */
  root?: string;
  /** Where the source logs (bad readings at debug, unreadable bus masters at warn). Default: silent. */
  logger?: Logger;
  /**
   * How long to wait, ms, before reading again a probe that answered
   * exactly 85 °C, the power-on value. Default 750, a DS18B20's 12-bit
   * conversion time.
   */
  rereadDelay?: number;
  /**
   * Waits `ms` or rejects when `signal` aborts (the source was closed). For
   * tests. Default: a timer.
   */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Returned by a look in a probe's directory when its files are gone. */
const GONE = Symbol('gone');
type Gone = typeof GONE;

type FileText = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly code: string; readonly error: unknown };

async function readText(path: string): Promise<FileText> {
  try {
    return { ok: true, text: await readFile(path, 'utf8') };
  } catch (error) {
    return { ok: false, code: errorCode(error), error };
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

function isGoneCode(code: string): boolean {
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function why(code: string, error: unknown): string {
  switch (code) {
    case 'EIO':
      return 'I/O error on the bus (the kernel rejects a read whose CRC keeps failing this way); check the cable and the pull-up';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied; run as a user that may read the w1 files';
    case 'EISDIR':
      return 'it is a directory, not the kernel attribute';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

function masterNumber(bus: string): number {
  const m = BUS_MASTER.exec(bus);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

function showId(id: unknown): string {
  return typeof id === 'string' ? JSON.stringify(id) : `a ${typeof id}`;
}

/**
 * Reads DS18B20 and other 1-Wire temperature probes through the Linux w1
 * kernel drivers, on every bus master present.
 *
 * A read prefers the `temperature` attribute of newer kernels and falls
 * back to `w1_slave`. It never reports as a temperature: a failed CRC, an
 * all-zero scratchpad (a shorted line), a value outside the chip's range,
 * an empty or malformed file, or 85 °C twice in a row (the power-on value:
 * a first 85 °C is read again after `rereadDelay`; a genuine 85.000 °C
 * cannot be told from it and is lost, a price paid for never reporting a
 * probe that did not convert).
 *
 * @example
 * ```ts
 * import { SysfsSource } from '@raspy/onewire';
 *
 * const bus = new SysfsSource();
 * for (const probe of await bus.list()) {
 *   const reading = await bus.read(probe.id);
 *   console.log(probe.id, probe.bus, reading.ok ? `${reading.celsius} °C` : reading.reason);
 * }
 * await bus.close();
 * ```
 */
export class SysfsSource implements TemperatureSource {
  readonly kind = 'sysfs' as const;
  readonly location: string;
  private readonly root: string;
  private readonly logger: Logger;
  private readonly rereadDelay: number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly closing = new AbortController();
  /** Id → the entry name on disk, where its case differs (`3B-...`). */
  private entries = new Map<string, string>();

  /**
   * @param options - directory, logger, 85 °C re-read delay; see {@link SysfsSourceOptions}
   * @throws OneWireError `ERR_ONEWIRE_INVALID` for an empty root or a negative delay
   */
  constructor(options: SysfsSourceOptions = {}) {
    const root = options.root ?? DEFAULT_SYSFS_ROOT;
    if (typeof root !== 'string' || root === '') {
      throw new OneWireError('ERR_ONEWIRE_INVALID', `root must be a directory path, got ${showId(root)}; omit it for ${DEFAULT_SYSFS_ROOT}`);
    }
    const rereadDelay = options.rereadDelay ?? 750;
    if (!Number.isFinite(rereadDelay) || rereadDelay < 0) {
      throw new OneWireError('ERR_ONEWIRE_INVALID', `rereadDelay must be a number of ms >= 0, got ${String(rereadDelay)}; the default is 750`);
    }
    this.root = root;
    this.location = root;
    this.rereadDelay = rereadDelay;
    this.logger = (options.logger ?? silentLogger).child('onewire-sysfs', { root });
    this.sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
  }

  /**
   * The temperature probes on every bus master now, each once, with the
   * master it hangs on. Other 1-Wire chips (switches, counters, EEPROMs) are
   * left out. Call it again to follow probes coming and going.
   *
   * @returns the probes, by bus master then id
   * @throws OneWireError `ERR_ONEWIRE_IO` when the directory cannot be read (w1 drivers not loaded: add `dtoverlay=w1-gpio` on a Raspberry Pi); `ERR_ONEWIRE_CLOSED` after {@link SysfsSource.close}
   */
  async list(): Promise<ProbeInfo[]> {
    this.checkOpen();
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (error) {
      const code = errorCode(error);
      const hint = code === 'ENOENT' ? 'no 1-Wire bus: load the w1 drivers (dtoverlay=w1-gpio on a Raspberry Pi)' : why(code, error);
      throw new OneWireError('ERR_ONEWIRE_IO', `cannot list ${this.root} (${code}): ${hint}`, { cause: error });
    }
    const masters = names.filter((n) => BUS_MASTER.test(n)).sort((a, b) => masterNumber(a) - masterNumber(b));
    const perMaster = await Promise.all(masters.map(async (master) => ({ master, slaves: await this.masterSlaves(master) })));

    const found = new Map<string, ProbeInfo>();
    const entries = new Map<string, string>();
    const add = (name: string, bus: string): void => {
      const slave = parseSlaveName(name);
      if (!slave || !isTemperatureFamily(slave.family) || found.has(slave.id)) return;
      found.set(slave.id, { id: slave.id, family: slave.family, chip: TEMPERATURE_FAMILIES[slave.family] ?? slave.family, bus });
      if (name !== slave.id) entries.set(slave.id, name);
    };
    for (const { master, slaves } of perMaster) for (const name of slaves) add(name, master);

    // Slaves no master listed (its w1_master_slaves unreadable, or a probe
    // that arrived between the two reads): the entry is a link into its
    // master's directory, which names the bus.
    const orphans = names.filter((n) => {
      const slave = parseSlaveName(n);
      return slave !== null && isTemperatureFamily(slave.family) && !found.has(slave.id);
    });
    const buses = await Promise.all(orphans.map((name) => this.busOf(name)));
    orphans.forEach((name, i) => {
      const bus = buses[i];
      if (bus !== undefined && bus !== null) add(name, bus);
    });

    this.entries = entries;
    const probes = [...found.values()].sort((a, b) => masterNumber(a.bus) - masterNumber(b.bus) || a.id.localeCompare(b.id));
    this.logger.debug('listed probes', { masters: masters.length, probes: probes.length });
    return probes;
  }

  /**
   * Reads one probe now (the kernel runs a conversion: about 750 ms at 12
   * bits). Reads of different probes may run at the same time. A bad
   * reading says why instead of throwing: `crc`, `zero` (shorted line),
   * `power-on` (85 °C twice), `missing` (off the bus), `unreadable` (I/O or
   * permission error, or an empty file), `truncated` (malformed content, or
   * a value outside the chip's range).
   *
   * @param id - `28-0000052fd3c1` (upper case and owserver's `28.0000052FD3C1` are accepted)
   * @returns the temperature in °C, or the reason there is none
   * @throws OneWireError `ERR_ONEWIRE_INVALID` for a string that is not a probe id (checked before any file is touched); `ERR_ONEWIRE_CLOSED` after {@link SysfsSource.close}, also when it comes during the 85 °C re-read
   */
  async read(id: string): Promise<TemperatureReading> {
    const probe = this.checkId(id);
    this.checkOpen();
    const family = probe.slice(0, 2);
    let sample = await this.sample(probe);
    if (isPowerOnValue(sample)) {
      this.logger.debug('85 °C, the power-on value: reading again', { probe, delay: this.rereadDelay });
      await this.pause();
      sample = await this.sample(probe);
      if (isPowerOnValue(sample)) {
        const reading: TemperatureReading = {
          ok: false,
          reason: 'power-on',
          message: `85 °C twice, ${this.rereadDelay} ms apart: the power-on value, the probe is not converting (it lost power, or is parasite-powered without a strong pull-up)`,
        };
        this.logger.debug('bad reading', { probe, reason: reading.reason });
        return reading;
      }
    }
    const reading = judgeSample(family, sample);
    if (!reading.ok) this.logger.debug('bad reading', { probe, reason: reading.reason, message: reading.message });
    return reading;
  }

  /**
   * The probe's resolution in bits: the `resolution` attribute of newer
   * kernels, else the configuration register in the `w1_slave` scratchpad
   * (which costs a conversion). Null for a DS18S20 (fixed 9 bits, no
   * register), a probe not on the bus, or an unreadable one.
   *
   * @param id - the probe's id
   * @returns 9 to 12, or null
   * @throws OneWireError `ERR_ONEWIRE_INVALID` for a string that is not a probe id; `ERR_ONEWIRE_CLOSED` after {@link SysfsSource.close}
   */
  async resolution(id: string): Promise<number | null> {
    const probe = this.checkId(id);
    this.checkOpen();
    const family = probe.slice(0, 2);
    const bits = await this.inProbeDir(probe, async (dir) => {
      const file = await readText(join(dir, 'resolution'));
      if (file.ok) {
        const fromFile = parseResolutionFile(file.text);
        if (fromFile !== null) return fromFile;
        this.logger.debug('resolution attribute holds no resolution', { probe, text: file.text.trim() });
      }
      const slave = await readText(join(dir, 'w1_slave'));
      if (!slave.ok) return !file.ok && isGoneCode(file.code) && isGoneCode(slave.code) ? GONE : null;
      const sample = parseW1Slave(slave.text);
      return sample.ok && sample.scratchpad ? resolutionFromScratchpad(family, sample.scratchpad) : null;
    });
    return bits === GONE ? null : bits;
  }

  /**
   * Sets the probe's resolution through the kernel's `resolution` attribute
   * (Linux 5.9 and later), in the probe's RAM: it is back to the EEPROM's
   * value after a power cycle. Fewer bits convert faster (94 ms at 9 bits).
   * The kernel accepts any write, so the value is read back to confirm.
   *
   * @param id - the probe's id
   * @param bits - 9, 10, 11 or 12
   * @throws OneWireError `ERR_ONEWIRE_INVALID` for a bad id or bits, or a DS18S20 (fixed resolution); `ERR_ONEWIRE_IO` when the probe is gone, the kernel has no `resolution` attribute, the write is refused or does not take; `ERR_ONEWIRE_CLOSED` after {@link SysfsSource.close}
   */
  async setResolution(id: string, bits: 9 | 10 | 11 | 12): Promise<void> {
    const probe = this.checkId(id);
    if (!Number.isInteger(bits) || bits < 9 || bits > 12) {
      throw new OneWireError('ERR_ONEWIRE_INVALID', `resolution must be 9, 10, 11 or 12 bits, got ${String(bits)}`);
    }
    if (probe.startsWith('10-')) {
      throw new OneWireError('ERR_ONEWIRE_INVALID', `${probe} is a DS18S20: its resolution is fixed (9 bits, extended by the kernel); it cannot be set`);
    }
    this.checkOpen();
    const done = await this.inProbeDir(probe, async (dir) => {
      const path = join(dir, 'resolution');
      try {
        // No O_CREAT: a kernel attribute is written, never a new file made.
        const handle = await open(path, constants.O_WRONLY | constants.O_TRUNC);
        try {
          await handle.writeFile(`${bits}\n`);
        } finally {
          await handle.close();
        }
      } catch (error) {
        const code = errorCode(error);
        if (isGoneCode(code)) {
          const present = await stat(dir).then(() => true, () => false);
          if (!present) return GONE;
          throw new OneWireError(
            'ERR_ONEWIRE_IO',
            `${probe}: this kernel has no resolution attribute (${path}); it appeared in Linux 5.9, upgrade to set the resolution`,
            { cause: error },
          );
        }
        throw new OneWireError('ERR_ONEWIRE_IO', `${probe}: cannot write ${path} (${code}): ${why(code, error)}`, { cause: error });
      }
      const back = await readText(path);
      const now = back.ok ? parseResolutionFile(back.text) : null;
      if (now !== bits) {
        const shown = back.ok ? JSON.stringify(back.text.trim()) : `unreadable (${back.code})`;
        throw new OneWireError('ERR_ONEWIRE_IO', `${probe}: wrote ${bits} bits to ${path} but it reads back ${shown}; the probe did not take it (check dmesg)`);
      }
      return true;
    });
    if (done === GONE) {
      throw new OneWireError('ERR_ONEWIRE_IO', `${probe} is not on the bus (${join(this.root, probe)} is gone); check its wiring`);
    }
    this.logger.info('resolution set', { probe, bits });
  }

  /** Marks the source closed (there is nothing else to release) and cuts short an 85 °C re-read wait. Idempotent. */
  async close(): Promise<void> {
    if (!this.closing.signal.aborted) this.closing.abort();
  }

  private checkOpen(): void {
    if (this.closing.signal.aborted) {
      throw new OneWireError('ERR_ONEWIRE_CLOSED', `the sysfs source on ${this.root} was closed; create a new SysfsSource`);
    }
  }

  private checkId(id: unknown): string {
    const probe = normaliseProbeId(id);
    if (probe === null) {
      throw new OneWireError('ERR_ONEWIRE_INVALID', `not a probe id: ${showId(id)}; expected family-serial in hex, like 28-0000052fd3c1`);
    }
    return probe;
  }

  private async pause(): Promise<void> {
    try {
      await this.sleep(this.rereadDelay, this.closing.signal);
    } catch (error) {
      if (this.closing.signal.aborted) {
        throw new OneWireError('ERR_ONEWIRE_CLOSED', `the sysfs source on ${this.root} was closed during a read`, { cause: error });
      }
      throw error;
    }
    this.checkOpen();
  }

  /** Names listed in a master's `w1_master_slaves`; none when it cannot be read. */
  private async masterSlaves(master: string): Promise<string[]> {
    const file = await readText(join(this.root, master, 'w1_master_slaves'));
    if (file.ok) return parseMasterSlaves(file.text);
    if (!isGoneCode(file.code)) {
      this.logger.warn('cannot read a bus master slave list', { master, code: file.code, error: why(file.code, file.error) });
    }
    return [];
  }

  /** The bus master a slave entry links into; null when the entry is dangling. */
  private async busOf(name: string): Promise<string | null> {
    try {
      const parent = basename(dirname(await realpath(join(this.root, name))));
      return BUS_MASTER.test(parent) ? parent : 'unknown';
    } catch {
      return null;
    }
  }

  /** Finds a probe's entry whatever the case of its name on disk. */
  private async findEntry(id: string): Promise<string | null> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return null;
    }
    const name = names.find((n) => n.toLowerCase() === id) ?? null;
    if (name !== null && name !== id) this.entries.set(id, name);
    return name;
  }

  /**
   * Runs `look` in the probe's directory; when its files are gone, looks for
   * the entry under another case once (`3B-...`) before saying it is gone.
   */
  private async inProbeDir<T>(id: string, look: (dir: string) => Promise<T | Gone>): Promise<T | Gone> {
    const first = this.entries.get(id) ?? id;
    const result = await look(join(this.root, first));
    if (result !== GONE) return result;
    const found = await this.findEntry(id);
    if (found === null || found === first) return GONE;
    return look(join(this.root, found));
  }

  /** One read of the probe's files, unjudged. */
  private async sample(probe: string): Promise<SysfsSample> {
    const sample = await this.inProbeDir(probe, async (dir): Promise<SysfsSample | Gone> => {
      const temperature = await readText(join(dir, 'temperature'));
      if (temperature.ok) {
        const sample = parseTemperatureFile(temperature.text);
        if (!sample.ok || sample.millidegrees !== 0) return sample;
        // 0 °C from `temperature` is also what a shorted line gives; the
        // scratchpad in w1_slave (a new conversion) tells them apart.
        const slave = await readText(join(dir, 'w1_slave'));
        return slave.ok ? parseW1Slave(slave.text) : sample;
      }
      if (!isGoneCode(temperature.code)) return this.unreadable(probe, 'temperature', temperature.code, temperature.error);
      const slave = await readText(join(dir, 'w1_slave'));
      if (slave.ok) return parseW1Slave(slave.text);
      if (!isGoneCode(slave.code)) return this.unreadable(probe, 'w1_slave', slave.code, slave.error);
      return GONE;
    });
    if (sample !== GONE) return sample;
    return {
      ok: false,
      reason: 'missing',
      message: `${probe} is not on the bus: ${join(this.root, probe)} has no temperature or w1_slave; it dropped off, check its wiring`,
    };
  }

  private unreadable(probe: string, file: string, code: string, error: unknown): SysfsSample {
    return { ok: false, reason: 'unreadable', message: `${probe}: ${file} could not be read (${code}): ${why(code, error)}` };
  }
}
