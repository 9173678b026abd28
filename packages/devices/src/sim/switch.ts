/**
 * `sim.switch`: an on/off switch (a plug, a relay) that remembers what it
 * was told, for demos of controls and scenario actions without hardware.
 *
 * @module
 */
import type { CommandSpec } from '../model/command.js';
import { Device, type DeviceConfig, type DeviceContext } from '../model/device.js';
import { OptionReader, type SimDeviceConfig } from './options.js';

/** Options of `sim.switch`. */
export interface SimulatedSwitchOptions {
  /** Whether it is on at the start. Default false. */
  readonly initial?: boolean;
}

/**
 * A binary switch: type `switch.binary`, one writable `power` command.
 *
 * @example
 * ```ts
 * const plug = new SimulatedSwitch({ id: 'lamp', options: { initial: true } });
 * plug.write('power', false, ctx); // false
 * ```
 */
export class SimulatedSwitch extends Device {
  /** The kind it is registered as. */
  static readonly kind = 'sim.switch';
  readonly type = 'switch.binary';
  readonly commands: Readonly<Record<string, CommandSpec>> = {
    power: { type: 'bool', label: 'Power', description: 'On or off.' },
  };
  /** Whether it is on. */
  power: boolean;

  /**
   * @param config - id, name, poll, record and the options
   * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
   */
  constructor(config: SimDeviceConfig<SimulatedSwitchOptions>) {
    super(config);
    const reader = new OptionReader(config, SimulatedSwitch.kind, ['initial']);
    this.power = reader.boolean('initial', false);
  }

  read(): Record<string, unknown> {
    return { power: this.power };
  }

  override write(command: string, value: unknown, ctx: DeviceContext): unknown {
    if (command !== 'power') return super.write(command, value, ctx);
    this.power = value === true;
    return this.power;
  }
}

/**
 * Makes a `sim.switch` device from its configuration (for `DeviceRegistry.register`).
 *
 * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
 */
export function createSimulatedSwitch(config: DeviceConfig): SimulatedSwitch {
  return new SimulatedSwitch(config as SimDeviceConfig<SimulatedSwitchOptions>);
}
