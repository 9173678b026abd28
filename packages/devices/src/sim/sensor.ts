/**
 * What the three simulated sensors share: one readonly `real` command named
 * after the device type, a value that is a function of the time since the
 * device started, taken only from `ctx.now()` so a fake clock drives it.
 *
 * @module
 */
import type { CommandSpec } from '../model/command.js';
import { Device, type DeviceContext } from '../model/device.js';
import { labelOf, round2, type OptionReader, type SimDeviceConfig } from './options.js';

/** The default poll interval of the simulated sensors, in seconds. */
export const SENSOR_POLL = 10;

/** Options every simulated sensor accepts. */
export interface SensorOptions {
  /** Unit of the reading ("°C"). */
  readonly unit?: string;
  /** Device type (oid). Default `sensor.temperature`. */
  readonly type?: string;
  /** Name of the reading's command. Default: the last segment of `type`. */
  readonly command?: string;
}

/** The option names of {@link SensorOptions}. */
export const SENSOR_OPTIONS = ['unit', 'type', 'command'] as const;

/** A simulated sensor: one readonly real reading over time. */
export abstract class SimulatedSensor extends Device {
  readonly type: string;
  readonly commands: Readonly<Record<string, CommandSpec>>;
  /** The name of the reading's command. */
  readonly command: string;
  /** Bounds of the reading, kept after rounding too. */
  private readonly range: { min?: number | undefined; max?: number | undefined };
  /** When the device started (ms, from `ctx.now()`); set by the first `start` or `read`. */
  private origin: number | undefined;

  /**
   * @param config - id, name, poll, record
   * @param reader - the checked options (unit, type, command)
   * @param range - min and max of the reading, when it has them
   * @param description - what the simulation does, for people
   */
  protected constructor(
    config: SimDeviceConfig<unknown>,
    reader: OptionReader,
    range: { min?: number | undefined; max?: number | undefined },
    description: string,
  ) {
    super(config, SENSOR_POLL);
    this.type = reader.type('sensor.temperature');
    this.command = reader.command(this.type);
    const unit = reader.unit();
    const spec: CommandSpec = {
      type: 'real',
      label: labelOf(this.command),
      ...(unit === undefined ? {} : { unit }),
      ...(range.min === undefined ? {} : { min: range.min }),
      ...(range.max === undefined ? {} : { max: range.max }),
      readonly: true,
      description,
    };
    this.commands = { [this.command]: spec };
    this.range = range;
  }

  override start(ctx: DeviceContext): void {
    this.origin ??= ctx.now();
  }

  read(ctx: DeviceContext): Record<string, unknown> {
    const now = ctx.now();
    this.origin ??= now;
    let value = round2(this.valueAt((now - this.origin) / 1000));
    // Rounding may step over a bound that has more than 2 decimals.
    if (this.range.min !== undefined) value = Math.max(this.range.min, value);
    if (this.range.max !== undefined) value = Math.min(this.range.max, value);
    return { [this.command]: value };
  }

  /**
   * The reading at a time.
   *
   * @param seconds - seconds since the device started (negative if the clock went back)
   */
  protected abstract valueAt(seconds: number): number;
}
