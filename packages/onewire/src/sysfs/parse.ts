/**
 * Pure parsing of the files the Linux w1 kernel drivers (w1-gpio, w1_therm)
 * put under `/sys/bus/w1/devices`: bus master slave lists, the two-line
 * `w1_slave` scratchpad dump, the newer `temperature` and `resolution`
 * attributes. No I/O here: `SysfsSource` (sysfs-source.ts) reads the files and these
 * functions decide what the text means, so every odd case the kernel
 * produces is tested on plain strings.
 *
 * Kernel source for the formats: drivers/w1/slaves/w1_therm.c
 * (`w1_slave_show`, `temperature_show`, `resolution_show`) and
 * drivers/w1/w1.c (`w1_master_attribute_show_slaves`, slave names
 * `"%02x-%012llx"`).
 *
 * @module
 */
import type { BadReadingReason, TemperatureReading } from '../source.js';
import { PROBE_ID, TEMPERATURE_FAMILIES } from '../source.js';

/** A bus master entry of the sysfs directory (`w1_bus_master1`). */
export const BUS_MASTER = /^w1_bus_master(\d+)$/;

/** A slave entry as the kernel names it; the case is tolerated on input. */
const SLAVE_NAME = /^([0-9a-f]{2})-([0-9a-f]{12})$/i;

/**
 * The power-on value of the temperature register, 85 °C in millidegrees:
 * what a probe answers when it lost power (or never converted) since the
 * last Convert T.
 */
export const POWER_ON_MILLIDEGREES = 85_000;

/**
 * The range each family can measure, °C, from the data sheets: DS18S20,
 * DS1822, DS18B20 and DS1825 −55..+125, DS28EA00 −40..+85. A value outside
 * it passed the CRC but is not a temperature the chip can report.
 */
export const FAMILY_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  '10': [-55, 125],
  '22': [-55, 125],
  '28': [-55, 125],
  '3b': [-55, 125],
  '42': [-40, 85],
};

/**
 * What one read of a probe's file gave before it is judged as a
 * temperature: the millidegrees the kernel printed (with the scratchpad when
 * the file showed it), or why the file holds no value.
 */
export type SysfsSample =
  | { readonly ok: true; readonly millidegrees: number; readonly scratchpad: readonly number[] | null }
  | { readonly ok: false; readonly reason: BadReadingReason; readonly message: string };

/** A slave entry name split into the normalised id and its family. */
export interface SlaveName {
  /** `28-0000052fd3c1`, lower-case. */
  readonly id: string;
  /** `28`, lower-case. */
  readonly family: string;
}

/**
 * Reads a slave entry name (`28-0000052fd3c1`, `3B-...`) as an id.
 *
 * @param name - a directory entry or a line of `w1_master_slaves`
 * @returns the lower-case id and family, or null when it is not a slave name
 */
export function parseSlaveName(name: string): SlaveName | null {
  const m = SLAVE_NAME.exec(name);
  if (!m) return null;
  const id = name.toLowerCase();
  return { id, family: id.slice(0, 2) };
}

/**
 * Tells whether a family code (any case) is a temperature probe's.
 *
 * @param family - two hex digits
 * @returns true for 10, 22, 28, 3b, 42
 */
export function isTemperatureFamily(family: string): boolean {
  return Object.hasOwn(TEMPERATURE_FAMILIES, family.toLowerCase());
}

/**
 * Checks a probe id given by a caller and returns it in RasPy's form. Upper
 * case and owserver's `.` separator (`28.0000052FD3C1`) are accepted; the
 * result always matches {@link PROBE_ID}, so it is safe to join to a path.
 *
 * @param id - the id a caller passed
 * @returns the id as `ff-ssssssssssss`, or null when it is not an id
 */
export function normaliseProbeId(id: unknown): string | null {
  if (typeof id !== 'string' || id.length !== 15) return null;
  const normal = `${id.slice(0, 2)}-${id.slice(3)}`.toLowerCase();
  if (id[2] !== '-' && id[2] !== '.') return null;
  return PROBE_ID.test(normal) ? normal : null;
}

/**
 * Parses a bus master's `w1_master_slaves`: one slave name per line, or
 * `not found.` when the bus has none.
 *
 * @param text - the file's content
 * @returns the slave names as written (case kept), in file order
 */
export function parseMasterSlaves(text: string): string[] {
  const names: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line === 'not found.') continue;
    names.push(line);
  }
  return names;
}

/**
 * Dallas/Maxim CRC-8 (polynomial x^8 + x^5 + x^4 + 1, reflected 0x8c), the
 * CRC of the scratchpad's byte 8 (Maxim application note 27).
 *
 * @param bytes - the bytes covered by the CRC
 * @returns the CRC, 0..255
 */
export function crc8(bytes: readonly number[]): number {
  let crc = 0;
  for (const byte of bytes) {
    let b = byte;
    for (let i = 0; i < 8; i++) {
      const mix = (crc ^ b) & 1;
      crc >>= 1;
      if (mix) crc ^= 0x8c;
      b >>= 1;
    }
  }
  return crc;
}

const HEX_BYTE = /^[0-9a-f]{2}$/i;
const INTEGER = /^-?\d{1,7}$/;

function bad(reason: BadReadingReason, message: string): SysfsSample {
  return { ok: false, reason, message };
}

function hexBytes(tokens: readonly string[]): number[] | null {
  if (tokens.length !== 9 || !tokens.every((t) => HEX_BYTE.test(t))) return null;
  return tokens.map((t) => parseInt(t, 16));
}

function show(text: string): string {
  const flat = text.replace(/\n/g, '\\n');
  return JSON.stringify(flat.length > 80 ? `${flat.slice(0, 80)}…` : flat);
}

/**
 * Parses the two-line `w1_slave` file:
 *
 * ```text
 * 72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
 * 72 01 4b 46 7f ff 0e 10 57 t=23125
 * ```
 *
 * A failed CRC (`NO`, or a YES that the bytes do not bear out) gives
 * `crc`; an all-zero scratchpad (a shorted data line reads 0 °C with a valid
 * CRC) gives `zero`; empty content (what the kernel returns when the probe
 * did not answer or kept failing its CRC) gives `unreadable`; anything else
 * not in this shape gives `truncated`. 85 °C is returned as a value: whether
 * it is the power-on value takes a second read, which `SysfsSource` makes.
 *
 * @param text - the file's content
 * @returns the sample
 */
export function parseW1Slave(text: string): SysfsSample {
  if (text.trim() === '') {
    return bad('unreadable', 'w1_slave is empty: the kernel could not read the probe (no answer or repeated CRC errors); check the wiring and dmesg');
  }
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length !== 2) {
    return bad('truncated', `w1_slave should have 2 lines (scratchpad with crc, scratchpad with t=), got ${lines.length}: ${show(text)}`);
  }
  const first = (lines[0] ?? '').split(/\s+/);
  const second = (lines[1] ?? '').split(/\s+/);
  const bytes = hexBytes(first.slice(0, 9));
  const crcToken = first[10] ?? '';
  const verdict = first[11];
  if (!bytes || first.length !== 12 || first[9] !== ':' || !/^crc=[0-9a-f]{2}$/i.test(crcToken) || (verdict !== 'YES' && verdict !== 'NO')) {
    return bad('truncated', `w1_slave line 1 should be "<9 bytes> : crc=xx YES|NO", got ${show(lines[0] ?? '')}`);
  }
  const tToken = second[9] ?? '';
  if (second.length !== 10 || !hexBytes(second.slice(0, 9)) || !tToken.startsWith('t=') || !INTEGER.test(tToken.slice(2))) {
    return bad('truncated', `w1_slave line 2 should be "<9 bytes> t=<millidegrees>", got ${show(lines[1] ?? '')}`);
  }
  const shown = first.slice(0, 9).join(' ');
  if (verdict === 'NO') {
    return bad('crc', `CRC check failed (${shown} : ${crcToken} NO): noise on the line; check the cable, its length and the pull-up resistor`);
  }
  // The kernel printed YES; the bytes must agree (a garbled file could say YES over other bytes).
  const computed = crc8(bytes.slice(0, 8));
  if (computed !== bytes[8] || parseInt(crcToken.slice(4), 16) !== computed) {
    return bad('crc', `CRC does not match the scratchpad (${shown} : ${crcToken} YES, computed ${computed.toString(16).padStart(2, '0')})`);
  }
  if (bytes.every((b) => b === 0)) {
    return bad('zero', `all-zero scratchpad (${shown}): the data line is shorted to ground, or the probe is not answering; check the wiring`);
  }
  return { ok: true, millidegrees: Number(tToken.slice(2)), scratchpad: bytes };
}

/**
 * Parses the newer `temperature` attribute: millidegrees and a newline
 * (`23125\n`). The kernel checks the CRC itself; a failed read is empty.
 *
 * @param text - the file's content
 * @returns the sample, with no scratchpad
 */
export function parseTemperatureFile(text: string): SysfsSample {
  const value = text.trim();
  if (value === '') {
    return bad('unreadable', 'temperature is empty: the kernel could not read the probe (no answer or repeated CRC errors); check the wiring and dmesg');
  }
  if (!/^-?\d{1,7}\n?$/.test(text)) {
    return bad('truncated', `temperature should hold millidegrees ("23125\\n"), got ${show(text)}`);
  }
  return { ok: true, millidegrees: Number(value), scratchpad: null };
}

/**
 * Tells whether a sample shows 85.000 °C exactly, the power-on value, so
 * that it must be read again before it is believed.
 *
 * @param sample - a parsed sample
 * @returns true for exactly 85000 millidegrees
 */
export function isPowerOnValue(sample: SysfsSample): boolean {
  return sample.ok && sample.millidegrees === POWER_ON_MILLIDEGREES;
}

/**
 * Turns a sample into a reading: millidegrees into °C (3 decimals), and a
 * value outside the family's range ({@link FAMILY_RANGE}) into a bad reading
 * with reason `truncated`: it is data that passed the CRC but is not in the
 * form of a temperature the chip can give (a clone's 127.937, a bit flipped
 * in transfer). 85 °C is taken as a temperature here: the caller decides on
 * the power-on value after a second read.
 *
 * @param family - the probe's family, lower-case
 * @param sample - a parsed sample
 * @returns the reading
 */
export function judgeSample(family: string, sample: SysfsSample): TemperatureReading {
  if (!sample.ok) return sample;
  const celsius = sample.millidegrees / 1000;
  const [min, max] = FAMILY_RANGE[family] ?? [-55, 125];
  if (celsius < min || celsius > max) {
    const chip = TEMPERATURE_FAMILIES[family] ?? `family ${family}`;
    return {
      ok: false,
      reason: 'truncated',
      message: `${celsius} °C is outside the ${chip}'s range ${min}..${max} °C: corrupt data or a faulty probe, not a temperature`,
    };
  }
  return { ok: true, celsius };
}

/**
 * Parses the `resolution` attribute (`12\n`). The kernel prints a negative
 * errno (`-5`) when it could not read the probe, and nothing for a chip
 * without a configuration register.
 *
 * @param text - the file's content
 * @returns the bits, 9 to 12, or null when the file does not hold one
 */
export function parseResolutionFile(text: string): number | null {
  const value = text.trim();
  if (!/^\d{1,2}$/.test(value)) return null;
  const bits = Number(value);
  return bits >= 9 && bits <= 12 ? bits : null;
}

/**
 * The resolution in the configuration register, byte 4 of the scratchpad of
 * a DS18B20, DS1822, DS1825 or DS28EA00: bits 6..5 are R1 R0, the other bits
 * are fixed (0 R1 R0 1 1 1 1 1: 0x1f = 9, 0x3f = 10, 0x5f = 11, 0x7f = 12
 * bits). A byte with other fixed bits is not a configuration register
 * (a clone, a garbled read) and gives null. The DS18S20 (family 10) has no
 * configuration register: null.
 *
 * @param family - the probe's family, lower-case
 * @param scratchpad - the 9 scratchpad bytes
 * @returns the bits, or null
 */
export function resolutionFromScratchpad(family: string, scratchpad: readonly number[]): number | null {
  if (family === '10' || !isTemperatureFamily(family)) return null;
  const config = scratchpad[4];
  if (config === undefined || (config & 0x9f) !== 0x1f) return null;
  return ((config >> 5) & 0x03) + 9;
}
