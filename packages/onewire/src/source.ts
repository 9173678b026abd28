/**
 * What every 1-Wire temperature source offers (the kernel's sysfs bus, an
 * owserver): the probes present, and a reading that is either a temperature
 * or a reason it is not one. A bad reading is never a temperature.
 *
 * @module
 */

/** The 1-Wire families of temperature probes. */
export const TEMPERATURE_FAMILIES: Readonly<Record<string, string>> = {
  '10': 'DS18S20',
  '22': 'DS1822',
  '28': 'DS18B20',
  '3b': 'DS1825',
  '42': 'DS28EA00',
};

/**
 * A probe id as RasPy writes it: family and serial in lower-case hex, joined
 * by `-`, as the kernel names it (`28-0000052fd3c1`). owserver's
 * `28.0000052FD3C1` is the same probe.
 */
export const PROBE_ID = /^[0-9a-f]{2}-[0-9a-f]{12}$/;

/** A probe present on a bus. */
export interface ProbeInfo {
  /** `28-0000052fd3c1`. */
  readonly id: string;
  /** Family code in lower-case hex (`28`). */
  readonly family: string;
  /** Chip name (`DS18B20`). */
  readonly chip: string;
  /** Where it was found: a bus master (`w1_bus_master2`) or an owserver path (`/bus.0`). */
  readonly bus: string;
}

/** Why a reading is not a temperature. */
export type BadReadingReason =
  /** The scratchpad's CRC did not match (noise, a long or bad cable). */
  | 'crc'
  /** An all-zero scratchpad: a shorted data line reads as 0 °C with a valid CRC. */
  | 'zero'
  /** 85 °C, the power-on value, again after a re-read: the probe did not convert. */
  | 'power-on'
  /** The probe's file or path is gone: it dropped off the bus. */
  | 'missing'
  /** The file or path could not be read (permissions, I/O error, server error). */
  | 'unreadable'
  /** The content is cut short or not in the expected format. */
  | 'truncated';

/** A reading: a temperature, or the reason there is none. */
export type TemperatureReading =
  | { readonly ok: true; readonly celsius: number }
  | { readonly ok: false; readonly reason: BadReadingReason; readonly message: string };

/** A source of 1-Wire temperature probes. */
export interface TemperatureSource {
  /** `sysfs` or `owserver`, for logs and descriptions. */
  readonly kind: 'sysfs' | 'owserver';
  /** Where it reads from (a directory, `host:port`). */
  readonly location: string;
  /** The temperature probes present now (families 10, 22, 28, 3B, 42). */
  list(): Promise<ProbeInfo[]>;
  /** Reads one probe now; never throws for a bad reading (it says why instead). */
  read(id: string): Promise<TemperatureReading>;
  /** The probe's resolution in bits (9 to 12), where the source can tell; else null. */
  resolution(id: string): Promise<number | null>;
  /** Sets the resolution, where the source supports it. */
  setResolution?(id: string, bits: 9 | 10 | 11 | 12): Promise<void>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
