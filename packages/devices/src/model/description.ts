/**
 * Device ids and descriptions. A description is plain JSON: what a device
 * is, its commands and subdevices; it is validated on the way in and out.
 *
 * Ids: a host is `[a-z0-9-]+` (no dots), a server and a device the same; a
 * device's full id is `<host>/<server>/<device>` and a subdevice's
 * `<host>/<server>/<device>/<sub>` (PROTOCOLS.md). A device's values live in
 * the key/value tree under `/device/<full id>/<command>`.
 *
 * @module
 */
import { DeviceError } from '../errors.js';
import { COMMAND_NAME, validateCommandSpec, type CommandSpec } from './command.js';

/** One segment of an id: host, server, device or subdevice name. */
export const ID_SEGMENT = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A device type (oid): dotted lower-case words, e.g. `sensor.temperature`. */
export const DEVICE_TYPE = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;

/** What a device is, as every client sees it. */
export interface DeviceDescription {
  /** Full id, `<host>/<server>/<device>[/<sub>]`. */
  readonly id: string;
  /** Device type (oid), e.g. `sensor.temperature`, `media.tv`. */
  readonly type: string;
  /** The name people see. */
  readonly name: string;
  /** Commands by name, configuration commands included. */
  readonly commands: Readonly<Record<string, CommandSpec>>;
  /** Parts of the device, by name (a TV: power, volume, channel). */
  readonly subdevices?: Readonly<Record<string, DeviceDescription>>;
}

/**
 * Splits and checks a device id.
 *
 * @param id - `<host>/<server>/<device>[/<sub>...]`
 * @returns its parts
 * @throws DeviceError `ERR_DEVICE_INVALID`
 */
export function parseDeviceId(id: string): { host: string; server: string; path: string[] } {
  const parts = typeof id === 'string' ? id.split('/') : [];
  if (parts.length < 3 || !parts.every((p) => ID_SEGMENT.test(p))) {
    throw new DeviceError(
      'ERR_DEVICE_INVALID',
      `a device id is <host>/<server>/<device> (lower-case letters, digits and "-"), got ${JSON.stringify(id)}`,
    );
  }
  return { host: parts[0] as string, server: parts[1] as string, path: parts.slice(2) };
}

/** The MDP service of a device server: `<host>.<server>.devices`. */
export function deviceService(host: string, server: string): string {
  return `${host}.${server}.devices`;
}

/** The key of a device's command value in the tree: `/device/<id>/<command>`. */
export function valueKey(deviceId: string, command: string): string {
  return `/device/${deviceId}/${command}`;
}

/**
 * Validates a description (and its subdevices) from JSON.
 *
 * @param value - parsed JSON
 * @param path - where it is, for messages
 * @returns the description
 * @throws DeviceError `ERR_DEVICE_INVALID` naming the field
 */
export function validateDescription(value: unknown, path = 'description'): DeviceDescription {
  const bad = (what: string): DeviceError => new DeviceError('ERR_DEVICE_INVALID', `${path}: ${what}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('must be an object');
  const d = value as Record<string, unknown>;
  for (const key of Object.keys(d)) if (!['id', 'type', 'name', 'commands', 'subdevices'].includes(key)) throw bad(`unknown field "${key}"`);
  if (typeof d.id !== 'string') throw bad('id must be a string');
  parseDeviceId(d.id);
  if (typeof d.type !== 'string' || !DEVICE_TYPE.test(d.type)) throw bad(`type must be dotted lower-case words such as "sensor.temperature", got ${JSON.stringify(d.type)}`);
  if (typeof d.name !== 'string' || d.name === '' || d.name.length > 64) throw bad('name must be a non-empty string of at most 64 characters');
  if (typeof d.commands !== 'object' || d.commands === null || Array.isArray(d.commands)) throw bad('commands must be an object');
  const commands = d.commands as Record<string, unknown>;
  for (const [name, spec] of Object.entries(commands)) {
    if (!COMMAND_NAME.test(name)) throw bad(`command name ${JSON.stringify(name)} must be lower-case letters, digits, "-" or "_", starting with a letter`);
    validateCommandSpec(spec, `${path}.commands.${name}`);
  }
  if (d.subdevices !== undefined) {
    if (typeof d.subdevices !== 'object' || d.subdevices === null || Array.isArray(d.subdevices)) throw bad('subdevices must be an object');
    for (const [name, sub] of Object.entries(d.subdevices as Record<string, unknown>)) {
      if (!ID_SEGMENT.test(name)) throw bad(`subdevice name ${JSON.stringify(name)} must be lower-case letters, digits and "-"`);
      if (name in commands) throw bad(`"${name}" is both a command and a subdevice`);
      const s = validateDescription(sub, `${path}.subdevices.${name}`);
      if (s.id !== `${d.id}/${name}`) throw bad(`subdevice ${name} must have id ${d.id}/${name}, got ${s.id}`);
    }
  }
  return d as unknown as DeviceDescription;
}
