/**
 * `sim.tv`: a television made of subdevices (power, volume, channel) that
 * share one state, the model for devices with parts: each part is a
 * {@link Device} of its own type, so a user interface draws a switch, a
 * volume control and a channel selector without knowing what a TV is.
 *
 * @module
 */
import type { CommandSpec } from '../model/command.js';
import { Device, type DeviceConfig, type DeviceContext } from '../model/device.js';
import { OptionReader, type SimDeviceConfig } from './options.js';

/** Options of `sim.tv`. */
export interface SimulatedTvOptions {
  /** Whether it is on at the start. Default false. */
  readonly power?: boolean;
  /** Volume at the start, 0..100 %. Default 20. */
  readonly volume?: number;
  /** Channel at the start, 1..999. Default 1. */
  readonly channel?: number;
  /** The inputs it has. Default hdmi1, hdmi2, hdmi3, tuner. */
  readonly inputs?: readonly string[];
  /** Input at the start, one of `inputs`. Default `tuner` if there is one, else the first. */
  readonly input?: string;
}

/** The state a TV and its subdevices share. */
export interface TvState {
  /** On, or in standby. */
  power: boolean;
  /** Volume, 0..100 %. */
  volume: number;
  /** Sound off; the volume is kept. */
  mute: boolean;
  /** Channel number, 1..999. */
  channel: number;
  /** The source on screen, one of the TV's inputs. */
  input: string;
}

/** The lowest and highest channel numbers; `up` and `down` wrap around them. */
export const TV_CHANNELS = { min: 1, max: 999 } as const;

const DEFAULT_INPUTS = ['hdmi1', 'hdmi2', 'hdmi3', 'tuner'] as const;

type PartConfig = Pick<DeviceConfig, 'poll' | 'record'>;

/** The TV's `power` subdevice: type `switch.binary`, a writable `power`. */
export class TvPower extends Device {
  readonly type = 'switch.binary';
  readonly commands: Readonly<Record<string, CommandSpec>> = {
    power: { type: 'bool', label: 'Power', description: 'The TV on or off (standby).' },
  };

  /**
   * @param state - the TV's state, shared with its other parts
   * @param config - poll and record, the TV's
   */
  constructor(private readonly state: TvState, config: PartConfig = {}) {
    super({ id: 'power', name: 'Power', ...config });
  }

  read(): Record<string, unknown> {
    return { power: this.state.power };
  }

  override write(command: string, value: unknown, ctx: DeviceContext): unknown {
    if (command !== 'power') return super.write(command, value, ctx);
    this.state.power = value === true;
    return this.state.power;
  }
}

/** The TV's `volume` subdevice: type `media.volume`, `level` (0..100 %) and `mute`. */
export class TvVolume extends Device {
  readonly type = 'media.volume';
  readonly commands: Readonly<Record<string, CommandSpec>> = {
    level: { type: 'int', label: 'Volume', unit: '%', min: 0, max: 100, step: 1 },
    mute: { type: 'bool', label: 'Mute', description: 'Sound off; the level is kept.' },
  };

  /**
   * @param state - the TV's state, shared with its other parts
   * @param config - poll and record, the TV's
   */
  constructor(private readonly state: TvState, config: PartConfig = {}) {
    super({ id: 'volume', name: 'Volume', ...config });
  }

  read(): Record<string, unknown> {
    return { level: this.state.volume, mute: this.state.mute };
  }

  override write(command: string, value: unknown, ctx: DeviceContext): unknown {
    switch (command) {
      case 'level':
        this.state.volume = value as number;
        return this.state.volume;
      case 'mute':
        this.state.mute = value === true;
        return this.state.mute;
      default:
        return super.write(command, value, ctx);
    }
  }
}

/**
 * The TV's `channel` subdevice: type `media.channel`, a writable `number`
 * (1..999) and the actions `up` and `down`, which move by one and wrap from
 * 999 to 1 and back. Writing `false` to an action does nothing. (The
 * device server reads the device again after a write, so the new `number`
 * reaches clients.)
 */
export class TvChannel extends Device {
  readonly type = 'media.channel';
  readonly commands: Readonly<Record<string, CommandSpec>> = {
    number: { type: 'int', label: 'Channel', min: TV_CHANNELS.min, max: TV_CHANNELS.max, step: 1 },
    up: { type: 'bool', label: 'Next channel', writeonly: true, description: 'Set to true to go to the next channel.' },
    down: { type: 'bool', label: 'Previous channel', writeonly: true, description: 'Set to true to go to the previous channel.' },
  };

  /**
   * @param state - the TV's state, shared with its other parts
   * @param config - poll and record, the TV's
   */
  constructor(private readonly state: TvState, config: PartConfig = {}) {
    super({ id: 'channel', name: 'Channel', ...config });
  }

  read(): Record<string, unknown> {
    return { number: this.state.channel };
  }

  override write(command: string, value: unknown, ctx: DeviceContext): unknown {
    switch (command) {
      case 'number':
        this.state.channel = value as number;
        return this.state.channel;
      case 'up':
      case 'down': {
        if (value !== true) return value;
        const { min, max } = TV_CHANNELS;
        const span = max - min + 1;
        const offset = this.state.channel - min + (command === 'up' ? 1 : -1);
        this.state.channel = min + (((offset % span) + span) % span);
        return true;
      }
      default:
        return super.write(command, value, ctx);
    }
  }
}

/**
 * A TV: type `media.tv`, an `input` selector of its own and the subdevices
 * `power`, `volume` and `channel`, which read and change one shared
 * {@link TvState}. Parts accept writes while the TV is off (as a remote
 * control's memory would); nothing is refused beyond the schema.
 *
 * @example
 * ```ts
 * const tv = new SimulatedTv({ id: 'living-room', options: { inputs: ['hdmi1', 'tuner'] } });
 * tv.subdevices.power?.write('power', true, ctx);
 * tv.subdevices.channel?.write('up', true, ctx);
 * tv.describe('pi1/sim').subdevices?.volume?.type; // 'media.volume'
 * ```
 */
export class SimulatedTv extends Device {
  /** The kind it is registered as. */
  static readonly kind = 'sim.tv';
  readonly type = 'media.tv';
  readonly commands: Readonly<Record<string, CommandSpec>>;
  /** The state the TV and its subdevices share. */
  readonly state: TvState;

  /**
   * @param config - id, name, poll, record and the options
   * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
   */
  constructor(config: SimDeviceConfig<SimulatedTvOptions>) {
    super(config);
    const reader = new OptionReader(config, SimulatedTv.kind, ['power', 'volume', 'channel', 'inputs', 'input']);
    const inputs = reader.stringList('inputs', 'a list of distinct input names such as ["hdmi1", "tuner"]', DEFAULT_INPUTS);
    const input = reader.string('input', `one of the inputs (${inputs.join(', ')})`, inputs.includes('tuner') ? 'tuner' : (inputs[0] as string), (s) =>
      inputs.includes(s),
    );
    this.state = {
      power: reader.boolean('power', false),
      volume: reader.optionalNumber('volume', 'a whole number from 0 to 100', 20, (n) => Number.isInteger(n) && n >= 0 && n <= 100),
      mute: false,
      channel: reader.optionalNumber(
        'channel',
        `a whole number from ${TV_CHANNELS.min} to ${TV_CHANNELS.max}`,
        TV_CHANNELS.min,
        (n) => Number.isInteger(n) && n >= TV_CHANNELS.min && n <= TV_CHANNELS.max,
      ),
      input,
    };
    this.commands = {
      input: { type: 'enum', label: 'Input', values: [...inputs], description: 'The source on screen.' },
    };
    const parts: PartConfig = { poll: this.poll, record: this.record };
    this.subdevices.power = new TvPower(this.state, parts);
    this.subdevices.volume = new TvVolume(this.state, parts);
    this.subdevices.channel = new TvChannel(this.state, parts);
  }

  read(): Record<string, unknown> {
    return { input: this.state.input };
  }

  override write(command: string, value: unknown, ctx: DeviceContext): unknown {
    if (command !== 'input') return super.write(command, value, ctx);
    this.state.input = value as string;
    return this.state.input;
  }
}

/**
 * Makes a `sim.tv` device from its configuration (for `DeviceRegistry.register`).
 *
 * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
 */
export function createSimulatedTv(config: DeviceConfig): SimulatedTv {
  return new SimulatedTv(config as SimDeviceConfig<SimulatedTvOptions>);
}
