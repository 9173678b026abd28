/**
 * `raspy set`: reads the typed text as a value of the command's type, sets
 * it, and prints the reading now in effect; the device server judges the
 * value and its refusal is shown as it says it.
 *
 * @module
 */
import { parseValueText, type CommandSpec, type DevicesClient } from '@raspy/devices';
import { formatReading } from '../format.js';
import type { Output } from '../output.js';
import { ensureServer, findSpec } from './device-lookup.js';

/** What `raspy set` needs. */
export interface SetDeps {
  readonly devices: Pick<DevicesClient, 'servers' | 'describe' | 'set'>;
  readonly out: Output;
}

/** Arguments of `raspy set`. */
export interface SetArgs {
  readonly id: string;
  readonly name: string;
  /** The value as typed. */
  readonly value: string;
}

/**
 * Sets a command.
 *
 * @throws DeviceError `ERR_DEVICE_INVALID` when the text is not of the command's type (its message says what is expected)
 * @throws what the devices client throws (the device server's refusal, an unreachable broker)
 */
export async function setCommand(deps: SetDeps, args: SetArgs, options: { json: boolean }): Promise<void> {
  const { devices, out } = deps;
  await ensureServer(devices, args.id);
  const spec = findSpec(await devices.describe(args.id), args.name);
  // The text is typed here (a number, a boolean, JSON); whether the value is
  // acceptable (range, length, allowed values, what the device itself
  // refuses) is for the device server to say, in its own words. What cannot
  // be set at all (a reading, bytes) is sent as typed, for the same reason.
  const value = spec.readonly === true || spec.type === 'bytes' ? args.value : parseValueText(typeOnly(spec), args.value, args.name);
  const reading = await devices.set(args.id, args.name, value);
  out.print(options.json ? JSON.stringify({ id: args.id, command: args.name, ...reading }) : `${args.name} = ${formatReading(reading)}`);
}

/**
 * A command's schema without its limits: the type alone, so that parsing
 * turns text into a value without judging it (an enum's value is text).
 */
export function typeOnly(spec: CommandSpec): CommandSpec {
  return { type: spec.type === 'enum' ? 'string' : spec.type };
}
