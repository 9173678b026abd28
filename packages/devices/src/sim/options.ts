/**
 * Reading the options of a simulated device from its configuration: every
 * check fails with one `ERR_DEVICE_INVALID` message that names the device,
 * its kind, the option, what was expected and what came, so a typo in a
 * server's configuration file is found from the log line alone.
 *
 * Internal to the simulated devices; not part of the public API.
 *
 * @module
 */
import { DeviceError } from '../errors.js';
import { COMMAND_NAME, CONFIG_COMMANDS } from '../model/command.js';
import { DEVICE_TYPE } from '../model/description.js';
import type { DeviceConfig } from '../model/device.js';

/**
 * The configuration a simulated device is made from: a {@link DeviceConfig}
 * whose `kind` may be left out (when the class is used directly) and whose
 * options are typed.
 */
export type SimDeviceConfig<O> = Pick<DeviceConfig, 'id' | 'name' | 'poll' | 'record'> & {
  /** The kind it was registered as; the class's own kind when absent. */
  readonly kind?: string;
  /** Options of the kind. */
  readonly options?: O;
};

/** Checks the options of one device and throws a message that says where. */
export class OptionReader {
  private readonly where: string;
  private readonly options: Readonly<Record<string, unknown>>;

  /**
   * @param config - the device's configuration
   * @param kind - the class's kind, used when the configuration has none
   * @param known - the option names the kind accepts; others are refused (typos)
   * @throws DeviceError `ERR_DEVICE_INVALID` for options that are not an object or have unknown names
   */
  constructor(config: SimDeviceConfig<unknown>, kind: string, known: readonly string[]) {
    this.where = `device ${config.id} (${config.kind ?? kind})`;
    const options: unknown = config.options ?? {};
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      this.fail(`options must be an object, got ${show(options)}`);
    }
    this.options = options as Record<string, unknown>;
    for (const key of Object.keys(this.options)) {
      if (!known.includes(key)) {
        this.fail(`unknown option ${JSON.stringify(key)}; the options are ${known.join(', ') || 'none'}`);
      }
    }
  }

  /**
   * Throws the error for this device.
   *
   * @throws DeviceError `ERR_DEVICE_INVALID` always
   */
  fail(message: string): never {
    throw new DeviceError('ERR_DEVICE_INVALID', `${this.where}: ${message}`);
  }

  /** A required finite number that passes `accept`. */
  number(key: string, expected: string, accept: (n: number) => boolean = () => true): number {
    const value = this.options[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || !accept(value)) {
      this.fail(`${key} must be ${expected}, got ${show(value)}${value === undefined ? ' (the option is required)' : ''}`);
    }
    return value;
  }

  /** An optional finite number that passes `accept`; `fallback` when absent. */
  optionalNumber<F extends number | undefined>(key: string, expected: string, fallback: F, accept: (n: number) => boolean = () => true): number | F {
    return this.options[key] === undefined ? fallback : this.number(key, expected, accept);
  }

  /** An optional boolean. */
  boolean(key: string, fallback: boolean): boolean {
    const value = this.options[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') this.fail(`${key} must be true or false, got ${show(value)}`);
    return value;
  }

  /** An optional string that passes `accept`; `fallback` when absent. */
  string<F extends string | undefined>(key: string, expected: string, fallback: F, accept: (s: string) => boolean = () => true): string | F {
    const value = this.options[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || !accept(value)) this.fail(`${key} must be ${expected}, got ${show(value)}`);
    return value;
  }

  /** An optional list of distinct non-empty strings. */
  stringList(key: string, expected: string, fallback: readonly string[]): readonly string[] {
    const value = this.options[key];
    if (value === undefined) return fallback;
    if (
      !Array.isArray(value) ||
      value.length === 0 ||
      !value.every((v) => typeof v === 'string' && v !== '' && v.length <= 64) ||
      new Set(value).size !== value.length
    ) {
      this.fail(`${key} must be ${expected}, got ${show(value)}`);
    }
    return value as string[];
  }

  /** The optional `unit` of a reading. */
  unit(): string | undefined {
    return this.string('unit', 'a short text such as "°C" or "%"', undefined, (s) => s.length > 0 && s.length <= 32);
  }

  /** The optional device `type` (oid), checked against the model's rule. */
  type(fallback: string): string {
    return this.string('type', 'dotted lower-case words such as "sensor.temperature"', fallback, (s) => DEVICE_TYPE.test(s));
  }

  /**
   * The optional `command` name of a reading; by default the last segment of
   * the device type (`sensor.humidity` → `humidity`).
   */
  command(type: string): string {
    const fallback = type.slice(type.lastIndexOf('.') + 1);
    const name = this.string('command', 'a command name: lower-case letters, digits, "-" or "_", starting with a letter', undefined, (s) =>
      COMMAND_NAME.test(s),
    );
    const command = name ?? fallback;
    if (name === undefined && !COMMAND_NAME.test(command)) {
      this.fail(`the command name taken from type ${JSON.stringify(type)} would be ${JSON.stringify(command)}, which is not a valid command name; set the option "command"`);
    }
    if (command in CONFIG_COMMANDS) {
      this.fail(
        `the command name ${JSON.stringify(command)}${name === undefined ? ` (taken from type ${JSON.stringify(type)})` : ''} is a configuration command of every device; set the option "command" to another name`,
      );
    }
    return command;
  }
}

/** Shows a value in a message, briefly. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Rounds a reading to 2 decimals, without a negative zero. */
export function round2(value: number): number {
  const rounded = Math.round(value * 100) / 100;
  return rounded === 0 ? 0 : rounded;
}

/** A label from a command name: `temperature` → `Temperature`. */
export function labelOf(command: string): string {
  return command.charAt(0).toUpperCase() + command.slice(1).replace(/[-_]/g, ' ');
}
