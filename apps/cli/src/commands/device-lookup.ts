/**
 * What `get` and `set` do before they ask a device: check that its server
 * is there (a request to a service nobody serves would only time out), and
 * find the command's schema in the description.
 *
 * @module
 */
import { route, type CommandSpec, type DeviceDescription, type DevicesClient } from '@raspy/devices';
import { CliError } from '../errors.js';

/**
 * Fails with a clear message when the device's server is not registered
 * with the broker.
 *
 * @throws CliError `ERR_CLI_FAILED`
 */
export async function ensureServer(devices: Pick<DevicesClient, 'servers'>, id: string): Promise<void> {
  const { service } = route(id);
  if ((await devices.servers()).includes(service)) return;
  throw new CliError(
    'ERR_CLI_FAILED',
    `no device server serves ${id}: ${service} is not registered with the broker (raspy devices lists the devices there are)`,
  );
}

/**
 * The schema of a command of a device.
 *
 * @throws CliError `ERR_CLI_FAILED` naming the commands (and subdevices) there are
 */
export function findSpec(description: DeviceDescription, name: string): CommandSpec {
  const spec = description.commands[name];
  if (spec !== undefined) return spec;
  if (description.subdevices?.[name] !== undefined) {
    throw new CliError('ERR_CLI_FAILED', `${name} is a subdevice of ${description.id}, with its own id: ${description.id}/${name}`);
  }
  const subs = Object.keys(description.subdevices ?? {});
  const hint = subs.length === 0 ? '' : `; subdevices: ${subs.join(', ')} (e.g. ${description.id}/${subs[0]})`;
  throw new CliError('ERR_CLI_FAILED', `${description.id} has no command "${name}"; commands: ${Object.keys(description.commands).join(', ')}${hint}`);
}
