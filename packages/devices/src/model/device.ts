/**
 * The base class of every device, and the registry of device kinds that
 * makes them available to device servers by name.
 *
 * A third party writes a device as a subclass of {@link Device} (or with
 * {@link defineDevice}), registers its kind at start-up, and lists instances
 * in a server's configuration.
 *
 * @module
 */
import type { Logger } from '@raspy/mdp';
import { DeviceError } from '../errors.js';
import { CONFIG_COMMANDS, type CommandSpec } from './command.js';
import { DEVICE_TYPE, ID_SEGMENT, validateDescription, type DeviceDescription } from './description.js';

/** What a device gets from its server while it runs. */
export interface DeviceContext {
  /** The current time in ms (injectable, so tests can use a fake clock). */
  now(): number;
  /** The server's logger, with the device's id on every line. */
  readonly logger: Logger;
  /** Publishes readings the device learnt by itself (an event, a push notification). */
  publish(values: Readonly<Record<string, unknown>>): void;
}

/** How a device is declared in a server's configuration. */
export interface DeviceConfig {
  /** The device's id within its server (`kitchen-temp`). */
  readonly id: string;
  /** The registered kind that implements it (`sim.cyclic`, `onewire.ds18b20`). */
  readonly kind: string;
  /** The name people see; default: the id. */
  readonly name?: string;
  /** Seconds between readings (0: only on request). Default: the kind's. */
  readonly poll?: number;
  /** Whether the house keeps a history of its values. Default true. */
  readonly record?: boolean;
  /** Options of the kind (ranges, periods, addresses...). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** A large bytes value may come as a stream of chunks (sent as MDP v0.2 partial replies). */
export type BytesValue = Buffer | AsyncIterable<Buffer>;

/**
 * A device: subclass it, declare `type` and `commands`, implement `read`
 * (and `write` for what can be set, `fetch` for bytes such as a snapshot).
 *
 * @example
 * ```ts
 * class Thermometer extends Device {
 *   readonly type = 'sensor.temperature';
 *   readonly commands = { temperature: { type: 'real', unit: '°C', readonly: true } } as const;
 *   read() { return { temperature: readTheProbe() }; }
 * }
 * registry.register('my.thermometer', (config) => new Thermometer(config));
 * ```
 */
export abstract class Device {
  /** Device type (oid), e.g. `sensor.temperature`. */
  abstract readonly type: string;
  /** The device's own commands (the configuration commands are added for it). */
  abstract readonly commands: Readonly<Record<string, CommandSpec>>;
  /** Parts of the device, by name (a TV: power, volume, channel). */
  readonly subdevices: Record<string, Device> = {};
  /** Id within the server. */
  readonly id: string;
  /** The name people see (a configuration command). */
  name: string;
  /** Seconds between readings, 0 for none (a configuration command). */
  poll: number;
  /** Whether values are recorded (a configuration command). */
  record: boolean;

  /**
   * @param config - id, name, poll, record from the server's configuration
   * @param defaultPoll - the kind's poll interval when the configuration has none
   */
  constructor(config: Pick<DeviceConfig, 'id' | 'name' | 'poll' | 'record'>, defaultPoll = 60) {
    if (!ID_SEGMENT.test(config.id)) {
      throw new DeviceError('ERR_DEVICE_INVALID', `device id ${JSON.stringify(config.id)} must be lower-case letters, digits and "-"`);
    }
    this.id = config.id;
    this.name = config.name ?? config.id;
    this.poll = config.poll ?? defaultPoll;
    this.record = config.record ?? true;
  }

  /**
   * Reads every readable command now (bytes commands excepted). Called at
   * each poll and on request.
   *
   * @returns values by command name
   */
  abstract read(ctx: DeviceContext): Promise<Record<string, unknown>> | Record<string, unknown>;

  /**
   * Applies a value to a writable command. The value is already validated
   * against the command's schema. After it, the server reads the device
   * again and publishes what changed with it (a dimmer's power with its
   * level), so there is no need to publish side effects here.
   *
   * @returns the value now in effect (default: the one given)
   * @throws DeviceError when the device refuses or fails
   */
  write(command: string, _value: unknown, _ctx: DeviceContext): Promise<unknown> | unknown {
    throw new DeviceError('ERR_DEVICE_NOT_SUPPORTED', `${this.id}: ${command} cannot be set`);
  }

  /** Gets a bytes command's value (a camera snapshot). */
  fetch(command: string, _ctx: DeviceContext): Promise<BytesValue> | BytesValue {
    throw new DeviceError('ERR_DEVICE_NOT_SUPPORTED', `${this.id}: ${command} cannot be fetched`);
  }

  /** Called when the server starts the device (open a bus, a connection). */
  start(_ctx: DeviceContext): Promise<void> | void {}

  /** Called when the server stops; release what `start` took. */
  stop(): Promise<void> | void {}

  /**
   * The description clients see, with the configuration commands.
   *
   * @param prefix - `<host>/<server>` (or the parent's id for a subdevice)
   * @throws DeviceError `ERR_DEVICE_INVALID` when the device declares something invalid
   */
  describe(prefix: string): DeviceDescription {
    const id = `${prefix}/${this.id}`;
    const subdevices: Record<string, DeviceDescription> = {};
    for (const [name, sub] of Object.entries(this.subdevices)) {
      if (sub.id !== name) throw new DeviceError('ERR_DEVICE_INVALID', `${id}: subdevice ${name} has id ${sub.id}`);
      subdevices[name] = sub.describe(id);
    }
    for (const name of Object.keys(this.commands)) {
      if (name in CONFIG_COMMANDS) throw new DeviceError('ERR_DEVICE_INVALID', `${id}: command "${name}" is a configuration command every device has; choose another name`);
    }
    const description: DeviceDescription = {
      id,
      type: this.type,
      name: this.name,
      commands: { ...this.commands, ...CONFIG_COMMANDS },
      ...(Object.keys(subdevices).length > 0 ? { subdevices } : {}),
    };
    return validateDescription(JSON.parse(JSON.stringify(description)), id);
  }
}

/** A device defined by plain functions: what {@link defineDevice} takes. */
export interface DeviceDefinition<O = Record<string, unknown>> {
  /** Device type (oid). */
  type: string;
  /** Commands of the device. */
  commands: Record<string, CommandSpec>;
  /** Default poll interval in seconds. Default 60. */
  poll?: number;
  /** Makes the per-instance state from the configuration's options (validate them here). */
  setup?: (options: O, config: DeviceConfig) => unknown;
  /** Reads the readable commands. */
  read: (state: unknown, ctx: DeviceContext) => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Applies a value to a writable command. */
  write?: (state: unknown, command: string, value: unknown, ctx: DeviceContext) => Promise<unknown> | unknown;
}

/**
 * Turns a plain definition into a factory for {@link DeviceRegistry.register},
 * for devices that need no class of their own.
 *
 * @example
 * ```ts
 * registry.register('my.counter', defineDevice({
 *   type: 'sensor.count',
 *   commands: { count: { type: 'int', readonly: true } },
 *   setup: () => ({ n: 0 }),
 *   read: (state) => ({ count: ++(state as { n: number }).n }),
 * }));
 * ```
 */
export function defineDevice<O = Record<string, unknown>>(definition: DeviceDefinition<O>): (config: DeviceConfig) => Device {
  if (!DEVICE_TYPE.test(definition.type)) throw new DeviceError('ERR_DEVICE_INVALID', `type ${JSON.stringify(definition.type)} must be dotted lower-case words`);
  return (config) => {
    const state = definition.setup?.((config.options ?? {}) as O, config);
    class Defined extends Device {
      readonly type = definition.type;
      readonly commands = definition.commands;
      read(ctx: DeviceContext) {
        return definition.read(state, ctx);
      }
      override write(command: string, value: unknown, ctx: DeviceContext) {
        if (definition.write === undefined) return super.write(command, value, ctx);
        return definition.write(state, command, value, ctx);
      }
    }
    return new Defined(config, definition.poll);
  };
}

/** Makes a device from its configuration. */
export type DeviceFactory = (config: DeviceConfig) => Device;

/**
 * The device kinds a server can instantiate, open to third parties: register
 * yours at start-up; unknown kinds are refused with a clear error.
 */
export class DeviceRegistry {
  private readonly factories = new Map<string, DeviceFactory>();

  /**
   * Registers a kind.
   *
   * @param kind - dotted lower-case name, e.g. `sim.cyclic`
   * @param factory - makes a device from its configuration
   * @throws DeviceError `ERR_DEVICE_INVALID` for a bad or already registered kind
   */
  register(kind: string, factory: DeviceFactory): this {
    if (!DEVICE_TYPE.test(kind)) throw new DeviceError('ERR_DEVICE_INVALID', `kind ${JSON.stringify(kind)} must be dotted lower-case words`);
    if (this.factories.has(kind)) throw new DeviceError('ERR_DEVICE_INVALID', `kind ${kind} is already registered`);
    this.factories.set(kind, factory);
    return this;
  }

  /** The registered kinds, sorted. */
  kinds(): string[] {
    return [...this.factories.keys()].sort();
  }

  /**
   * Makes a device from its configuration.
   *
   * @throws DeviceError `ERR_DEVICE_UNKNOWN_TYPE` for an unregistered kind, `ERR_DEVICE_INVALID` for bad options
   */
  create(config: DeviceConfig): Device {
    const factory = this.factories.get(config.kind);
    if (factory === undefined) {
      throw new DeviceError(
        'ERR_DEVICE_UNKNOWN_TYPE',
        `device ${config.id}: unknown kind ${JSON.stringify(config.kind)}; registered kinds: ${this.kinds().join(', ') || 'none'}`,
      );
    }
    try {
      return factory(config);
    } catch (err) {
      if ((err as { name?: string }).name === 'DeviceError') throw err;
      throw new DeviceError('ERR_DEVICE_INVALID', `device ${config.id} (${config.kind}): ${(err as Error).message}`, { cause: err });
    }
  }
}
