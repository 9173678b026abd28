/**
 * The configuration file of a device server: which host and server it is,
 * and its devices. Plain JSON, validated with precise messages.
 *
 * ```json
 * {
 *   "host": "pi1",
 *   "server": "sim",
 *   "devices": [
 *     { "id": "kitchen-temp", "kind": "sim.cyclic", "name": "Kitchen", "poll": 5,
 *       "options": { "period": 600, "min": 18, "max": 23, "unit": "°C" } }
 *   ]
 * }
 * ```
 *
 * @module
 */
import { DeviceError } from '../errors.js';
import { CONFIG_COMMANDS, validateValue } from './command.js';
import { DEVICE_TYPE, ID_SEGMENT } from './description.js';
import type { DeviceConfig } from './device.js';

/** A device server's configuration. */
export interface ServerConfig {
  readonly host: string;
  readonly server: string;
  readonly devices: readonly DeviceConfig[];
}

/**
 * Validates a server configuration (parsed JSON).
 *
 * @throws DeviceError `ERR_DEVICE_INVALID` naming the field
 */
export function validateServerConfig(value: unknown, source = 'configuration'): ServerConfig {
  const bad = (what: string): DeviceError => new DeviceError('ERR_DEVICE_INVALID', `${source}: ${what}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('must be a JSON object');
  const c = value as Record<string, unknown>;
  for (const key of Object.keys(c)) if (!['host', 'server', 'devices', '$schema', 'description'].includes(key)) throw bad(`unknown field "${key}"`);
  for (const key of ['host', 'server'] as const) {
    if (typeof c[key] !== 'string' || !ID_SEGMENT.test(c[key] as string)) throw bad(`${key} must be lower-case letters, digits and "-", got ${JSON.stringify(c[key])}`);
  }
  if (!Array.isArray(c.devices)) throw bad('devices must be a list');
  const seen = new Set<string>();
  const devices = c.devices.map((d: unknown, i: number): DeviceConfig => {
    const at = `devices[${i}]`;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw bad(`${at} must be an object`);
    const dev = d as Record<string, unknown>;
    for (const key of Object.keys(dev)) if (!['id', 'kind', 'name', 'poll', 'record', 'options'].includes(key)) throw bad(`${at}: unknown field "${key}"`);
    if (typeof dev.id !== 'string' || !ID_SEGMENT.test(dev.id)) throw bad(`${at}.id must be lower-case letters, digits and "-", got ${JSON.stringify(dev.id)}`);
    if (seen.has(dev.id)) throw bad(`${at}: two devices are called ${dev.id}`);
    seen.add(dev.id);
    if (typeof dev.kind !== 'string' || !DEVICE_TYPE.test(dev.kind)) throw bad(`${at}.kind must name a registered device kind such as "sim.cyclic"`);
    try {
      if (dev.name !== undefined) validateValue(CONFIG_COMMANDS.name, dev.name, `${at}.name`);
      if (dev.poll !== undefined) validateValue(CONFIG_COMMANDS.poll, dev.poll, `${at}.poll`);
      if (dev.record !== undefined) validateValue(CONFIG_COMMANDS.record, dev.record, `${at}.record`);
    } catch (err) {
      throw bad((err as Error).message);
    }
    if (dev.options !== undefined && (typeof dev.options !== 'object' || dev.options === null || Array.isArray(dev.options))) throw bad(`${at}.options must be an object`);
    return dev as unknown as DeviceConfig;
  });
  return { host: c.host as string, server: c.server as string, devices };
}
