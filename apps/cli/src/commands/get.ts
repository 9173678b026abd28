/**
 * `raspy get`: one reading of a device, or all of them; a bytes value (a
 * camera's snapshot) goes to a file, or to a pipe, never to a terminal.
 *
 * @module
 */
import type { DeviceDescription, DevicesClient, Reading } from '@raspy/devices';
import { CliError } from '../errors.js';
import { align, formatReading, formatSize } from '../format.js';
import type { Output } from '../output.js';
import { ensureServer, findSpec } from './device-lookup.js';

/** What `raspy get` needs. */
export interface GetDeps {
  readonly devices: Pick<DevicesClient, 'servers' | 'describe' | 'get' | 'values' | 'getBytes'>;
  readonly out: Output;
  /** Writes a file (a snapshot). */
  readonly writeFile: (path: string, data: Buffer) => Promise<void>;
}

/** Arguments of `raspy get`. */
export interface GetArgs {
  readonly id: string;
  /** The command; undefined for every reading. */
  readonly name: string | undefined;
  /** Where a bytes value goes: a file, or "-" for stdout. */
  readonly out: string | undefined;
}

/**
 * Prints a reading, every reading, or saves a bytes value.
 *
 * @throws CliError `ERR_CLI_USAGE` for a bytes command without `--out` (or to a terminal), `--out` for a non-bytes command
 * @throws what the devices client throws (the device server's refusal, an unreachable broker)
 */
export async function getCommand(deps: GetDeps, args: GetArgs, options: { json: boolean; timeout: number }): Promise<void> {
  const { devices, out } = deps;
  await ensureServer(devices, args.id);
  const description = await devices.describe(args.id);
  if (args.name === undefined) {
    await printAll(deps, description, options.json);
    return;
  }
  const name = args.name;
  const spec = findSpec(description, name);
  if (spec.type !== 'bytes') {
    if (args.out !== undefined) throw new CliError('ERR_CLI_USAGE', `--out is for bytes commands; ${name} is ${spec.type}`);
    const reading = await devices.get(args.id, name);
    out.print(options.json ? JSON.stringify({ id: args.id, command: name, ...reading }) : formatReading(reading));
    return;
  }
  const kind = `${name} of ${args.id} is bytes (${spec.mime ?? 'binary'})`;
  if (args.out === undefined) throw new CliError('ERR_CLI_USAGE', `${kind}: give --out FILE, or --out - to pipe it`);
  if (args.out === '-' && out.isTTY) throw new CliError('ERR_CLI_USAGE', `${kind}: not writing binary to a terminal; give --out FILE or pipe it`);
  const { mime, data } = await devices.getBytes(args.id, name, { timeout: options.timeout });
  const summary = { id: args.id, command: name, mime, size: data.length, file: args.out === '-' ? null : args.out };
  if (args.out === '-') {
    await out.writeBytes(data);
    // stdout carries the bytes: the summary goes to stderr.
    out.warn(options.json ? JSON.stringify(summary) : `wrote ${formatSize(data.length)} of ${mime}`);
    return;
  }
  await deps.writeFile(args.out, data);
  out.print(options.json ? JSON.stringify(summary) : `wrote ${formatSize(data.length)} of ${mime} to ${args.out}`);
}

/** Every reading of a device and its subdevices, with its bytes commands named. */
async function printAll(deps: GetDeps, description: DeviceDescription, json: boolean): Promise<void> {
  const values: Record<string, Reading> = {};
  const rows: string[][] = [];
  const visit = async (d: DeviceDescription, prefix: string): Promise<void> => {
    const readings = await deps.devices.values(d.id);
    for (const [name, spec] of Object.entries(d.commands)) {
      const reading = readings[name];
      if (spec.type === 'bytes') {
        rows.push([prefix + name, `(${spec.mime ?? 'bytes'}: raspy get ${d.id} ${name} --out FILE)`]);
      } else if (reading !== undefined) {
        values[prefix + name] = reading;
        if (spec.config !== true) rows.push([prefix + name, formatReading(reading)]);
      }
    }
    for (const [name, reading] of Object.entries(readings)) {
      if (!(name in d.commands)) {
        values[prefix + name] = reading;
        rows.push([prefix + name, formatReading(reading)]);
      }
    }
    for (const [name, sub] of Object.entries(d.subdevices ?? {})) await visit(sub, `${prefix}${name}/`);
  };
  await visit(description, '');
  if (json) {
    deps.out.print(JSON.stringify({ id: description.id, type: description.type, name: description.name, values }, null, 2));
    return;
  }
  if (rows.length === 0) {
    deps.out.print(`${description.id} has no readings yet`);
    return;
  }
  for (const line of align(rows)) deps.out.print(line);
}
