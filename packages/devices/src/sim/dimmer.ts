/**
 * `sim.dimmer`: a dimmable light that behaves like a real one: it keeps its
 * level while off and comes back at it when switched on.
 *
 * @module
 */
import type { CommandSpec } from '../model/command.js';
import { Device, type DeviceConfig, type DeviceContext } from '../model/device.js';
import { OptionReader, type SimDeviceConfig } from './options.js';

/** Options of `sim.dimmer`. */
export interface SimulatedDimmerOptions {
  /** Whether it is on at the start. Default false. */
  readonly initial?: boolean;
  /** Brightness at the start, 0..100 %. Default 100; cannot be 0 with `initial: true`. */
  readonly level?: number;
}

/** The level a dimmer that is off at 0 % comes back at. */
const FULL = 100;

/**
 * A dimmer: type `switch.dimmer`, writable `level` (0..100 %) and `power`.
 *
 * - Setting a level above 0 switches it on; setting 0 switches it off.
 * - Switching it off keeps the level; switching it on again restores it
 *   (100 % if the level was 0).
 *
 * A write may change the other command too; the device server reads the
 * device again after every write, so clients see both.
 *
 * @example
 * ```ts
 * const light = new SimulatedDimmer({ id: 'hall' });
 * light.write('level', 40, ctx); // 40, and power is now true
 * light.write('power', false, ctx); // false; level stays 40
 * ```
 */
export class SimulatedDimmer extends Device {
  /** The kind it is registered as. */
  static readonly kind = 'sim.dimmer';
  readonly type = 'switch.dimmer';
  readonly commands: Readonly<Record<string, CommandSpec>> = {
    level: { type: 'int', label: 'Level', unit: '%', min: 0, max: 100, step: 1, description: 'Brightness; above 0 switches the light on.' },
    power: { type: 'bool', label: 'Power', description: 'On or off; off keeps the level for the next time it is on.' },
  };
  /** Whether it is on. */
  power: boolean;
  /** Brightness in %, kept while off. */
  level: number;

  /**
   * @param config - id, name, poll, record and the options
   * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
   */
  constructor(config: SimDeviceConfig<SimulatedDimmerOptions>) {
    super(config);
    const reader = new OptionReader(config, SimulatedDimmer.kind, ['initial', 'level']);
    this.power = reader.boolean('initial', false);
    this.level = reader.optionalNumber('level', 'a whole number from 0 to 100', FULL, (n) => Number.isInteger(n) && n >= 0 && n <= 100);
    if (this.power && this.level === 0) reader.fail('a dimmer that is on at the start (initial: true) needs a level above 0');
  }

  read(): Record<string, unknown> {
    return { level: this.level, power: this.power };
  }

  override write(command: string, value: unknown, ctx: DeviceContext): unknown {
    switch (command) {
      case 'level':
        this.level = value as number;
        this.power = this.level > 0;
        return this.level;
      case 'power':
        this.power = value === true;
        if (this.power && this.level === 0) this.level = FULL;
        return this.power;
      default:
        return super.write(command, value, ctx);
    }
  }
}

/**
 * Makes a `sim.dimmer` device from its configuration (for `DeviceRegistry.register`).
 *
 * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
 */
export function createSimulatedDimmer(config: DeviceConfig): SimulatedDimmer {
  return new SimulatedDimmer(config as SimDeviceConfig<SimulatedDimmerOptions>);
}
