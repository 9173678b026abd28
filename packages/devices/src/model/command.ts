/**
 * Commands: what a device can report or be told. A command has a value type
 * and everything a user interface needs to draw a control for it without
 * knowing the device: label, unit, range and step, allowed values, whether
 * it can be read, written, or is configuration.
 *
 * @module
 */
import { DeviceError } from '../errors.js';

/** The value types of commands. `bytes` travel as raw MDP frames (a camera snapshot). */
export type ValueType = 'bool' | 'int' | 'real' | 'string' | 'enum' | 'json' | 'bytes';

/** All value types, for validation and UIs. */
export const VALUE_TYPES: readonly ValueType[] = ['bool', 'int', 'real', 'string', 'enum', 'json', 'bytes'];

/** The schema of one command. */
export interface CommandSpec {
  /** Value type. */
  readonly type: ValueType;
  /** Short human label ("Temperature"); the command name is used when absent. */
  readonly label?: string;
  /** Unit of the value ("°C", "%", "km/h"). */
  readonly unit?: string;
  /** Lowest value (int, real). */
  readonly min?: number;
  /** Highest value (int, real). */
  readonly max?: number;
  /** Step of a slider (int, real). */
  readonly step?: number;
  /** Allowed values (enum). */
  readonly values?: readonly string[];
  /** Longest text (string) or largest payload in bytes (bytes). */
  readonly maxLength?: number;
  /** A reading: can be read, not set (a sensor). */
  readonly readonly?: boolean;
  /** An action: can be set, not read (e.g. "next channel"). */
  readonly writeonly?: boolean;
  /** A configuration command (name, poll interval, recording), kept across restarts. */
  readonly config?: boolean;
  /** What it is, for people. */
  readonly description?: string;
  /** MIME type of a bytes value ("image/png"). */
  readonly mime?: string;
}

/** Names of commands: lower case letters, digits, `-` and `_`, starting with a letter. */
export const COMMAND_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

const KNOWN_FIELDS = new Set(['type', 'label', 'unit', 'min', 'max', 'step', 'values', 'maxLength', 'readonly', 'writeonly', 'config', 'description', 'mime']);

/**
 * Validates a command schema.
 *
 * @param spec - a parsed JSON value
 * @param path - where it is, for the message (`commands.temperature`)
 * @returns the schema
 * @throws DeviceError `ERR_DEVICE_INVALID` naming the field and what is wrong
 */
export function validateCommandSpec(spec: unknown, path: string): CommandSpec {
  const bad = (what: string): DeviceError => new DeviceError('ERR_DEVICE_INVALID', `${path}: ${what}`);
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw bad('must be an object');
  const s = spec as Record<string, unknown>;
  for (const key of Object.keys(s)) if (!KNOWN_FIELDS.has(key)) throw bad(`unknown field "${key}"`);
  if (!VALUE_TYPES.includes(s.type as ValueType)) throw bad(`type must be one of ${VALUE_TYPES.join(', ')}, got ${JSON.stringify(s.type)}`);
  const type = s.type as ValueType;
  for (const key of ['label', 'unit', 'description', 'mime'] as const) {
    if (s[key] !== undefined && (typeof s[key] !== 'string' || (s[key] as string).length > 500)) throw bad(`${key} must be a string of at most 500 characters`);
  }
  for (const key of ['readonly', 'writeonly', 'config'] as const) {
    if (s[key] !== undefined && typeof s[key] !== 'boolean') throw bad(`${key} must be true or false`);
  }
  if (s.readonly === true && s.writeonly === true) throw bad('cannot be both readonly and writeonly');
  for (const key of ['min', 'max', 'step'] as const) {
    if (s[key] === undefined) continue;
    if (type !== 'int' && type !== 'real') throw bad(`${key} is only for int and real commands`);
    if (typeof s[key] !== 'number' || !Number.isFinite(s[key])) throw bad(`${key} must be a finite number`);
    if (type === 'int' && !Number.isInteger(s[key])) throw bad(`${key} of an int command must be an integer`);
  }
  if (typeof s.min === 'number' && typeof s.max === 'number' && s.min > s.max) throw bad(`min (${s.min}) is above max (${s.max})`);
  if (s.step !== undefined && (s.step as number) <= 0) throw bad('step must be positive');
  if (type === 'enum') {
    const values = s.values;
    if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'string' && v !== '')) {
      throw bad('an enum command needs "values": a non-empty list of non-empty strings');
    }
    if (new Set(values).size !== values.length) throw bad('values has duplicates');
  } else if (s.values !== undefined) {
    throw bad('values is only for enum commands');
  }
  if (s.maxLength !== undefined) {
    if (type !== 'string' && type !== 'bytes') throw bad('maxLength is only for string and bytes commands');
    if (!Number.isInteger(s.maxLength) || (s.maxLength as number) < 1) throw bad('maxLength must be a positive integer');
  }
  return s as unknown as CommandSpec;
}

/**
 * Checks a value against a command schema (type, range, allowed values,
 * length) and returns it normalised.
 *
 * @param spec - the command's schema
 * @param value - a JSON value (bytes: a Buffer)
 * @param name - the command's name, for the message
 * @returns the value
 * @throws DeviceError `ERR_DEVICE_INVALID` saying what was expected and what came
 */
export function validateValue(spec: CommandSpec, value: unknown, name = 'value'): unknown {
  const bad = (expected: string): DeviceError =>
    new DeviceError('ERR_DEVICE_INVALID', `${name} must be ${expected}, got ${describeValue(value)}`);
  switch (spec.type) {
    case 'bool':
      if (typeof value !== 'boolean') throw bad('true or false');
      return value;
    case 'int':
    case 'real': {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(`a ${spec.type === 'int' ? 'whole ' : ''}number`);
      if (spec.type === 'int' && !Number.isInteger(value)) throw bad('a whole number');
      if (spec.min !== undefined && value < spec.min) throw bad(`at least ${spec.min}${spec.unit ? ` ${spec.unit}` : ''}`);
      if (spec.max !== undefined && value > spec.max) throw bad(`at most ${spec.max}${spec.unit ? ` ${spec.unit}` : ''}`);
      return value;
    }
    case 'string':
      if (typeof value !== 'string') throw bad('a string');
      if (spec.maxLength !== undefined && value.length > spec.maxLength) throw bad(`at most ${spec.maxLength} characters`);
      return value;
    case 'enum':
      if (typeof value !== 'string' || !(spec.values ?? []).includes(value)) throw bad(`one of ${(spec.values ?? []).join(', ')}`);
      return value;
    case 'json':
      if (value === undefined) throw bad('a JSON value');
      return value;
    case 'bytes':
      if (!Buffer.isBuffer(value)) throw bad('bytes');
      if (spec.maxLength !== undefined && value.length > spec.maxLength) throw bad(`at most ${spec.maxLength} bytes`);
      return value;
  }
}

/**
 * Parses a value typed by a person (command line, form field) for a
 * command: `on`/`off`/`true`/`false` for bool, numbers, JSON for json.
 *
 * @returns the validated value
 * @throws DeviceError `ERR_DEVICE_INVALID`
 */
export function parseValueText(spec: CommandSpec, text: string, name = 'value'): unknown {
  let value: unknown = text;
  switch (spec.type) {
    case 'bool': {
      const t = text.trim().toLowerCase();
      if (['true', 'on', '1', 'yes'].includes(t)) value = true;
      else if (['false', 'off', '0', 'no'].includes(t)) value = false;
      break;
    }
    case 'int':
    case 'real':
      value = text.trim() === '' ? text : Number(text);
      break;
    case 'json':
      try {
        value = JSON.parse(text);
      } catch {
        throw new DeviceError('ERR_DEVICE_INVALID', `${name} must be JSON, got ${JSON.stringify(text)}`);
      }
      break;
    case 'bytes':
      value = Buffer.from(text, 'utf8');
      break;
    default:
      break;
  }
  return validateValue(spec, value, name);
}

function describeValue(value: unknown): string {
  if (Buffer.isBuffer(value)) return `${value.length} bytes`;
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The configuration commands every device has. */
export const CONFIG_COMMANDS: Readonly<Record<'name' | 'poll' | 'record', CommandSpec>> = {
  name: { type: 'string', label: 'Name', config: true, maxLength: 64, description: 'The name people see.' },
  poll: {
    type: 'int',
    label: 'Poll interval',
    unit: 's',
    min: 0,
    max: 86_400,
    config: true,
    description: 'Seconds between two readings; 0 reads only on request.',
  },
  record: { type: 'bool', label: 'Record values', config: true, description: 'Whether the house keeps a history of its values.' },
};
