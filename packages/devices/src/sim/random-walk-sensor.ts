/**
 * `sim.random-walk`: a reading that wanders, like humidity or a wind speed,
 * but the same way on every run: a seeded generator draws one step per
 * second of simulated time, so the value depends on the seed and the time
 * only, never on when or how often it was read.
 *
 * @module
 */
import type { DeviceConfig } from '../model/device.js';
import { OptionReader, type SimDeviceConfig } from './options.js';
import { Prng, seedFromText } from './prng.js';
import { SENSOR_OPTIONS, SimulatedSensor, type SensorOptions } from './sensor.js';

/** Options of `sim.random-walk`. */
export interface RandomWalkSensorOptions extends SensorOptions {
  /** The value at the start, within `[min, max]`. */
  readonly start: number;
  /** The largest change in one second; > 0. */
  readonly step: number;
  /** Lowest value, below `max`. */
  readonly min: number;
  /** Highest value. */
  readonly max: number;
  /** Seed of the generator (an integer). Default: a hash of the device id, so two devices differ. */
  readonly seed?: number;
}

/**
 * A bounded random walk. At every whole second after the start the value
 * moves by a uniform random amount in `[-step, step]`, bouncing off `min`
 * and `max`; between two whole seconds it is interpolated linearly, so a
 * reading at a fractional time is deterministic too and never changes faster
 * than `step` per second. Readings are rounded to 2 decimals.
 *
 * Reading after a long pause replays the seconds in between (about 10
 * million per second of CPU); a clock that goes back replays from the start.
 *
 * @example
 * ```ts
 * const humidity = new RandomWalkSensor({ id: 'bathroom', options: { type: 'sensor.humidity', start: 50, step: 0.5, min: 30, max: 90, unit: '%', seed: 7 } });
 * ```
 */
export class RandomWalkSensor extends SimulatedSensor {
  /** The kind it is registered as. */
  static readonly kind = 'sim.random-walk';
  private readonly start0: number;
  private readonly step: number;
  private readonly min: number;
  private readonly max: number;
  private readonly seed: number;
  /** The walk so far: the value at whole second `second`, and at the next one. */
  private walk!: { prng: Prng; second: number; value: number; next: number };

  /**
   * @param config - id, name, poll, record and the options
   * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
   */
  constructor(config: SimDeviceConfig<RandomWalkSensorOptions>) {
    const reader = new OptionReader(config, RandomWalkSensor.kind, ['start', 'step', 'min', 'max', 'seed', ...SENSOR_OPTIONS]);
    const start = reader.number('start', 'a number');
    const step = reader.number('step', 'a positive number (the largest change per second)', (n) => n > 0);
    const min = reader.number('min', 'a number');
    const max = reader.number('max', 'a number');
    if (min >= max) reader.fail(`min (${min}) must be below max (${max})`);
    if (start < min || start > max) reader.fail(`start (${start}) must be within min and max [${min}, ${max}]`);
    const seed = reader.optionalNumber('seed', 'an integer', seedFromText(config.id), (n) => Number.isSafeInteger(n));
    super(config, reader, { min, max }, `Simulated: a random walk from ${start} within [${min}, ${max}], at most ${step} per second.`);
    this.start0 = start;
    this.step = step;
    this.min = min;
    this.max = max;
    this.seed = seed;
    this.rewind();
  }

  protected valueAt(seconds: number): number {
    const t = Math.max(0, seconds);
    const whole = Math.floor(t);
    if (whole < this.walk.second) this.rewind();
    const walk = this.walk;
    while (walk.second < whole) {
      walk.value = walk.next;
      walk.next = this.stepFrom(walk.value, walk.prng);
      walk.second += 1;
    }
    const fraction = t - whole;
    return fraction === 0 ? walk.value : walk.value + (walk.next - walk.value) * fraction;
  }

  private rewind(): void {
    const prng = new Prng(this.seed);
    this.walk = { prng, second: 0, value: this.start0, next: this.stepFrom(this.start0, prng) };
  }

  /** One second of the walk: a uniform step, reflected at the bounds. */
  private stepFrom(value: number, prng: Prng): number {
    let next = value + this.step * (prng.next() * 2 - 1);
    if (next > this.max) next = 2 * this.max - next;
    if (next < this.min) next = 2 * this.min - next;
    // A step wider than the range can still be out after one reflection.
    return Math.min(this.max, Math.max(this.min, next));
  }
}

/**
 * Makes a `sim.random-walk` device from its configuration (for `DeviceRegistry.register`).
 *
 * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
 */
export function createRandomWalkSensor(config: DeviceConfig): RandomWalkSensor {
  return new RandomWalkSensor(config as SimDeviceConfig<RandomWalkSensorOptions>);
}
