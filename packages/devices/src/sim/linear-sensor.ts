/**
 * `sim.linear`: a reading that changes at a constant rate and stops at its
 * bounds, like a tank filling or a battery draining; handy to test
 * thresholds that are crossed once.
 *
 * @module
 */
import type { DeviceConfig } from '../model/device.js';
import { OptionReader, type SimDeviceConfig } from './options.js';
import { SENSOR_OPTIONS, SimulatedSensor, type SensorOptions } from './sensor.js';

/** Options of `sim.linear`. */
export interface LinearSensorOptions extends SensorOptions {
  /** The value at the start. */
  readonly start: number;
  /** Change per second (negative to fall). */
  readonly rate: number;
  /** The value never goes below this. */
  readonly min?: number;
  /** The value never goes above this. */
  readonly max?: number;
}

/**
 * `start + rate × seconds since the start`, kept within `[min, max]` and
 * rounded to 2 decimals. The time is counted from the first `start(ctx)` (or
 * the first read); a clock that goes back reads as the start.
 *
 * @example
 * ```ts
 * const battery = new LinearSensor({ id: 'battery', options: { type: 'sensor.battery', start: 100, rate: -0.01, min: 0, unit: '%' } });
 * ```
 */
export class LinearSensor extends SimulatedSensor {
  /** The kind it is registered as. */
  static readonly kind = 'sim.linear';
  private readonly start0: number;
  private readonly rate: number;
  private readonly min: number | undefined;
  private readonly max: number | undefined;

  /**
   * @param config - id, name, poll, record and the options
   * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
   */
  constructor(config: SimDeviceConfig<LinearSensorOptions>) {
    const reader = new OptionReader(config, LinearSensor.kind, ['start', 'rate', 'min', 'max', ...SENSOR_OPTIONS]);
    const start = reader.number('start', 'a number');
    const rate = reader.number('rate', 'a number (change per second)');
    const min = reader.optionalNumber('min', 'a number', undefined);
    const max = reader.optionalNumber('max', 'a number', undefined);
    if (min !== undefined && max !== undefined && min >= max) reader.fail(`min (${min}) must be below max (${max})`);
    const bounds = min === undefined && max === undefined ? '' : ` within [${min ?? '-∞'}, ${max ?? '∞'}]`;
    super(config, reader, { min, max }, `Simulated: starts at ${start} and changes by ${rate} per second${bounds}.`);
    this.start0 = start;
    this.rate = rate;
    this.min = min;
    this.max = max;
  }

  protected valueAt(seconds: number): number {
    let value = this.start0 + this.rate * Math.max(0, seconds);
    if (this.min !== undefined) value = Math.max(this.min, value);
    if (this.max !== undefined) value = Math.min(this.max, value);
    return value;
  }
}

/**
 * Makes a `sim.linear` device from its configuration (for `DeviceRegistry.register`).
 *
 * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
 */
export function createLinearSensor(config: DeviceConfig): LinearSensor {
  return new LinearSensor(config as SimDeviceConfig<LinearSensorOptions>);
}
