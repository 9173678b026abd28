/**
 * `sim.cyclic`: a sensor whose reading goes up and down between two bounds
 * forever, like a temperature over a day, so graphs and scenario triggers
 * ("above 25 °C") have something to show and to fire on.
 *
 * @module
 */
import type { DeviceConfig } from '../model/device.js';
import { OptionReader, type SimDeviceConfig } from './options.js';
import { SENSOR_OPTIONS, SimulatedSensor, type SensorOptions } from './sensor.js';

/** Options of `sim.cyclic`. */
export interface CyclicSensorOptions extends SensorOptions {
  /** Seconds of one full cycle (min → max → min); > 0. */
  readonly period: number;
  /** Lowest value, below `max`. */
  readonly min: number;
  /** Highest value. */
  readonly max: number;
  /** Seconds the wave is ahead by at the start (default 0: it starts at `min`). */
  readonly phase?: number;
}

/**
 * A triangle wave: from `min` at the start it rises linearly to `max` in
 * half a period and falls back to `min` at the end of it; the time is counted
 * from the first `start(ctx)` (or the first read) plus `phase`. Readings are
 * rounded to 2 decimals.
 *
 * The command is named after the last segment of the type
 * (`sensor.temperature` → `temperature`, `sensor.wind` → `wind`); set
 * `command` for another name (`speed`).
 *
 * @example
 * ```ts
 * const sensor = new CyclicSensor({ id: 'garden', options: { period: 86_400, min: 8, max: 24, unit: '°C' } });
 * sensor.read(ctx); // { temperature: 8 } at the start, 24 twelve hours later
 * ```
 */
export class CyclicSensor extends SimulatedSensor {
  /** The kind it is registered as. */
  static readonly kind = 'sim.cyclic';
  private readonly period: number;
  private readonly min: number;
  private readonly max: number;
  private readonly phase: number;

  /**
   * @param config - id, name, poll, record and the options
   * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
   */
  constructor(config: SimDeviceConfig<CyclicSensorOptions>) {
    const reader = new OptionReader(config, CyclicSensor.kind, ['period', 'min', 'max', 'phase', ...SENSOR_OPTIONS]);
    const period = reader.number('period', 'a positive number of seconds', (n) => n > 0);
    const min = reader.number('min', 'a number');
    const max = reader.number('max', 'a number');
    if (min >= max) reader.fail(`min (${min}) must be below max (${max})`);
    const phase = reader.optionalNumber('phase', 'a number of seconds', 0);
    super(config, reader, { min, max }, `Simulated: rises from ${min} to ${max} and back every ${period} s.`);
    this.period = period;
    this.min = min;
    this.max = max;
    this.phase = phase;
  }

  protected valueAt(seconds: number): number {
    const t = seconds + this.phase;
    // The fraction of the period, in [0, 1) also for a negative time.
    const position = (((t % this.period) + this.period) % this.period) / this.period;
    const rise = position < 0.5 ? position * 2 : 2 - position * 2;
    return this.min + (this.max - this.min) * rise;
  }
}

/**
 * Makes a `sim.cyclic` device from its configuration (for `DeviceRegistry.register`).
 *
 * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
 */
export function createCyclicSensor(config: DeviceConfig): CyclicSensor {
  return new CyclicSensor(config as SimDeviceConfig<CyclicSensorOptions>);
}
