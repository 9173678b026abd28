/**
 * `raspy devices`: every device of every device server, with its state
 * from the key/value tree and its current values. Devices whose server is
 * gone are listed too, as the tree last saw them.
 *
 * @module
 */
import type { DeviceDescription, DevicesClient, DiscoveredDevice, Reading } from '@raspy/devices';
import { decodeTreeValue, deviceState, formatValues, isReading, table, type DeviceState } from '../format.js';
import type { Output } from '../output.js';

/** One line of the list. */
export interface DeviceRow {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly state: DeviceState;
  /** The device server's MDP service; null when no server answered for it (known from the tree only). */
  readonly service: string | null;
  /** Readings by command (`<sub>/<command>` for subdevices). */
  readonly values: Readonly<Record<string, Reading>>;
  readonly description: DeviceDescription;
}

/** What `raspy devices` needs. */
export interface DevicesDeps {
  readonly devices: Pick<DevicesClient, 'discover'>;
  /** The `/device/` subtree of the key/value tree, sorted; rejects (with a message for people) when unreachable. */
  readonly tree: () => Promise<readonly (readonly [string, Buffer])[]>;
  readonly out: Output;
}

/**
 * Lists the devices: a table for people, or a JSON array with `--json`.
 *
 * @throws what the devices client throws when the broker cannot be asked
 */
export async function devicesCommand(deps: DevicesDeps, options: { json: boolean }): Promise<void> {
  const treeRead = deps.tree().then(
    (entries) => ({ ok: true as const, entries }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const discovered = await deps.devices.discover();
  const tree = await treeRead;
  if (!tree.ok) deps.out.warn(`warning: ${(tree.error as Error).message}; device states are unknown`);
  for (const e of discovered.errors ?? []) deps.out.warn(`warning: ${e.service} did not answer: ${e.error}`);
  const rows = collectDevices(discovered, tree.ok ? tree.entries : null);
  if (options.json) {
    deps.out.print(JSON.stringify(rows, null, 2));
    return;
  }
  if (rows.length === 0) {
    deps.out.print('No devices. Is a device server running? (raspy services lists what the broker knows.)');
    return;
  }
  for (const line of table(
    ['ID', 'TYPE', 'NAME', 'STATE', 'VALUES'],
    rows.map((r) => [r.id, r.type, r.name, r.state, formatValues(r.values, r.description)]),
  )) {
    deps.out.print(line);
  }
}

interface FromTree {
  description?: DeviceDescription;
  state?: unknown;
  values: Record<string, Reading>;
}

/**
 * Joins what the device servers said with what the tree holds: the state
 * of each device, and the devices the tree knows whose server did not answer.
 *
 * @param discovered - devices as the device servers describe them
 * @param tree - the `/device/` entries of the tree, or null when it could not be read
 * @returns the rows, sorted by id
 */
export function collectDevices(discovered: readonly DiscoveredDevice[], tree: readonly (readonly [string, Buffer])[] | null): DeviceRow[] {
  const known = new Map<string, FromTree>();
  for (const [key, value] of tree ?? []) {
    // /device/<host>/<server>/<device>/<rest>: the top device's id is three segments.
    const parts = key.split('/');
    if (parts.length < 6 || parts[1] !== 'device') continue;
    const id = parts.slice(2, 5).join('/');
    const rest = parts.slice(5).join('/');
    const decoded = decodeTreeValue(value);
    if (decoded.kind !== 'json') continue;
    const entry = known.get(id) ?? { values: {} };
    known.set(id, entry);
    if (rest === '$description') entry.description = decoded.value as DeviceDescription;
    else if (rest === '$state') entry.state = decoded.value;
    else if (!rest.split('/').some((s) => s.startsWith('$')) && isReading(decoded.value)) entry.values[rest] = decoded.value;
  }
  const stateOf = (id: string): DeviceState => (tree === null ? 'unknown' : deviceState(known.get(id)?.state));
  const rows: DeviceRow[] = discovered.map((d) => ({
    id: d.id,
    type: d.description.type,
    name: d.description.name,
    state: stateOf(d.id),
    service: d.service,
    values: d.values,
    description: d.description,
  }));
  const seen = new Set(rows.map((r) => r.id));
  for (const [id, entry] of known) {
    const description = entry.description;
    if (seen.has(id) || typeof description !== 'object' || description === null || typeof description.type !== 'string') continue;
    rows.push({
      id,
      type: description.type,
      name: typeof description.name === 'string' ? description.name : id,
      state: stateOf(id),
      service: null,
      values: entry.values,
      description,
    });
  }
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
