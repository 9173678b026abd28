/**
 * Builds a fake `/sys` in a temporary directory for the tests of the sysfs
 * reader, laid out as the kernel lays it out: the real directories under
 * `sys/devices/w1_bus_masterN/<slave>/`, each master with its
 * `w1_master_slaves`, and `sys/bus/w1/devices/` holding links to the
 * masters and slaves. Scratchpads carry real Dallas CRCs.
 *
 * It lives under `src/` (not `test/`) because the package's tsconfig only
 * type-checks `src/`; `test-support/` is left out of the build.
 *
 * @module
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc8 } from '../parse.js';

/** Files of a slave directory; absent ones are not created. */
export interface SlaveFiles {
  w1_slave?: string;
  temperature?: string;
  resolution?: string;
}

/** A fake w1 sysfs tree. */
export class W1Fixture {
  /** What to pass as `root`: `<tmp>/sys/bus/w1/devices`. */
  readonly root: string;
  private readonly devices: string;
  private readonly slavesOf = new Map<number, string[]>();

  private constructor(readonly dir: string) {
    this.root = join(dir, 'sys', 'bus', 'w1', 'devices');
    this.devices = join(dir, 'sys', 'devices');
  }

  /** Makes an empty tree (no bus master yet). */
  static async create(): Promise<W1Fixture> {
    const dir = await mkdtemp(join(tmpdir(), 'raspy-w1-'));
    const fixture = new W1Fixture(dir);
    await mkdir(fixture.root, { recursive: true });
    await mkdir(fixture.devices, { recursive: true });
    return fixture;
  }

  /** Adds bus master `n` with no slaves (`not found.`). */
  async master(n: number): Promise<void> {
    const name = `w1_bus_master${n}`;
    await mkdir(join(this.devices, name), { recursive: true });
    await symlink(join('..', '..', '..', 'devices', name), join(this.root, name));
    this.slavesOf.set(n, []);
    await this.writeSlaveList(n);
  }

  /** Adds a slave on master `n` (created if needed) with the given files; returns its real directory. */
  async slave(n: number, name: string, files: SlaveFiles = {}): Promise<string> {
    if (!this.slavesOf.has(n)) await this.master(n);
    const master = `w1_bus_master${n}`;
    const dir = join(this.devices, master, name);
    await mkdir(dir, { recursive: true });
    for (const [file, text] of Object.entries(files)) {
      if (text !== undefined) await writeFile(join(dir, file), text);
    }
    await symlink(join('..', '..', '..', 'devices', master, name), join(this.root, name));
    this.slavesOf.get(n)?.push(name);
    await this.writeSlaveList(n);
    return dir;
  }

  /** The real directory of a slave. */
  slaveDir(name: string): string {
    for (const [n, names] of this.slavesOf) if (names.includes(name)) return join(this.devices, `w1_bus_master${n}`, name);
    throw new Error(`fixture: no slave ${name}`);
  }

  /** Rewrites one file of a slave. */
  async write(name: string, file: keyof SlaveFiles, text: string): Promise<void> {
    await writeFile(join(this.slaveDir(name), file), text);
  }

  /** The slave drops off the bus: its directory, link and master entry go, as the kernel does it. */
  async unplug(name: string): Promise<void> {
    const dir = this.slaveDir(name);
    await rm(join(this.root, name), { force: true });
    await rm(dir, { recursive: true, force: true });
    for (const [n, names] of this.slavesOf) {
      const i = names.indexOf(name);
      if (i >= 0) {
        names.splice(i, 1);
        await this.writeSlaveList(n);
      }
    }
  }

  /** Removes the whole tree. */
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private async writeSlaveList(n: number): Promise<void> {
    const names = this.slavesOf.get(n) ?? [];
    const text = names.length === 0 ? 'not found.\n' : names.map((s) => `${s}\n`).join('');
    await writeFile(join(this.devices, `w1_bus_master${n}`, 'w1_master_slaves'), text);
  }
}

/** Formats bytes as the kernel does (`72 01 ... `). */
function hex(bytes: readonly number[]): string {
  return bytes.map((b) => `${b.toString(16).padStart(2, '0')} `).join('');
}

/**
 * A DS18B20 scratchpad for a temperature (rounded to 1/16 °C): temperature,
 * TH/TL 0x4b/0x46, the configuration register, 0xff, byte 6 as a genuine
 * DS18B20 sets it, 0x10, CRC.
 */
export function ds18b20Scratchpad(celsius: number, config = 0x7f): number[] {
  const raw = Math.round(celsius * 16) & 0xffff;
  const bytes = [raw & 0xff, raw >> 8, 0x4b, 0x46, config, 0xff, 0x10 - (raw & 0x0f), 0x10];
  return [...bytes, crc8(bytes)];
}

/** The millidegrees the kernel computes from a DS18B20 scratchpad (`t*1000/16`, truncated). */
export function kernelMillidegrees(scratchpad: readonly number[]): number {
  const raw = ((scratchpad[1] ?? 0) << 8) | (scratchpad[0] ?? 0);
  const signed = raw >= 0x8000 ? raw - 0x10000 : raw;
  return Math.trunc((signed * 1000) / 16);
}

/** A `w1_slave` file as `w1_slave_show` prints it; `t` defaults to the kernel's computation. */
export function w1Slave(scratchpad: readonly number[], t = kernelMillidegrees(scratchpad)): string {
  const crc = crc8(scratchpad.slice(0, 8));
  const verdict = crc === scratchpad[8] ? 'YES' : 'NO';
  return `${hex(scratchpad)}: crc=${crc.toString(16).padStart(2, '0')} ${verdict}\n${hex(scratchpad)}t=${t}\n`;
}

/** A good DS18B20 `w1_slave` for a temperature. */
export function goodW1Slave(celsius: number, config = 0x7f): string {
  return w1Slave(ds18b20Scratchpad(celsius, config));
}

/** The power-on scratchpad of a DS18B20: 85 °C, byte 6 0x0c. */
export const POWER_ON_SCRATCHPAD = [0x50, 0x05, 0x4b, 0x46, 0x7f, 0xff, 0x0c, 0x10, 0x1c];

/** A shorted data line: nine zero bytes, a valid CRC, t=0. */
export const ZERO_W1_SLAVE = '00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n';

/** A read whose CRC failed: a bit flipped in byte 0 of a 23.125 °C scratchpad; line 2 shows the last good one. */
export function crcFailW1Slave(): string {
  const good = ds18b20Scratchpad(23.125);
  const bad = [(good[0] ?? 0) ^ 0x04, ...good.slice(1)];
  const crc = crc8(bad.slice(0, 8));
  return `${hex(bad)}: crc=${crc.toString(16).padStart(2, '0')} NO\n${hex(good)}t=${kernelMillidegrees(bad)}\n`;
}
