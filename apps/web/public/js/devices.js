/** Reading device descriptions: ids, commands of subdevices, tree keys. */

/** `pi1/sim/tv` → `{host: 'pi1', server: 'sim', device: 'tv'}`. */
export function splitId(id) {
  const [host = '?', server = '?', ...rest] = String(id).split('/');
  return { host, server, device: rest.join('/') };
}

/** The tree key of a reading: `/device/pi1/sim/tv/volume/level`. */
export function valueKey(deviceId, command) {
  return `/device/${deviceId}/${command}`;
}

/** The tree key of a device's availability. */
export function stateKey(deviceId) {
  return `/device/${deviceId}/$state`;
}

/** Whether a command has a value to show (not an action, not bytes). */
export function isReadable(spec) {
  return !spec.writeonly && spec.type !== 'bytes';
}

export function isNumeric(spec) {
  return spec.type === 'int' || spec.type === 'real';
}

/**
 * Every command of a device and of its subdevices (depth first), each as
 * `{deviceId, sub, path, name, spec, description}` where `sub` is the
 * subdevice path ("" for the device itself, "volume", "a/b") and `path` the
 * key in `Device.values` ("level" or "volume/level").
 */
export function allCommands(description, sub = '') {
  const out = [];
  for (const [name, spec] of Object.entries(description.commands ?? {})) {
    out.push({ deviceId: description.id, sub, path: sub ? `${sub}/${name}` : name, name, spec, description });
  }
  for (const [name, child] of Object.entries(description.subdevices ?? {})) {
    const childSub = sub ? `${sub}/${name}` : name;
    out.push(...allCommands({ ...child, id: child.id ?? `${description.id}/${name}` }, childSub));
  }
  return out;
}

/** Every subdevice description, depth first, with its path. */
export function allSubdevices(description, sub = '') {
  const out = [];
  for (const [name, child] of Object.entries(description.subdevices ?? {})) {
    const path = sub ? `${sub}/${name}` : name;
    const withId = { ...child, id: child.id ?? `${description.id}/${name}` };
    out.push({ path, description: withId }, ...allSubdevices(withId, path));
  }
  return out;
}

/**
 * Finds the device and command of a reading's key, given the device list:
 * `/device/pi1/sim/tv/volume/level` → the TV, "volume/level" and its spec.
 */
export function commandOfKey(key, description) {
  const prefix = `/device/${description.id}/`;
  if (!key.startsWith(prefix)) return null;
  const path = key.slice(prefix.length);
  return allCommands(description).find((c) => c.path === path) ?? null;
}
