/**
 * Talking to device servers: find them, list and describe their devices,
 * read and set commands. Used by the `raspy` command line, the web app and
 * scenarios.
 *
 * @module
 */
import type { MdpClient } from '@raspy/mdp';
import { DeviceError, type DeviceErrorCode } from './errors.js';
import { deviceService, parseDeviceId, type DeviceDescription } from './model/description.js';
import type { Reading } from './server/device-server.js';

/** A device as `list` gives it. */
export interface DeviceSummary {
  readonly id: string;
  readonly type: string;
  readonly name: string;
}

/** A device with everything known about it, as {@link DevicesClient.discover} gives it. */
export interface DiscoveredDevice {
  /** Full id, `<host>/<server>/<device>`. */
  readonly id: string;
  /** The device server's MDP service. */
  readonly service: string;
  readonly description: DeviceDescription;
  /** Last readings by command (subdevices: by `<sub>/<command>`). */
  readonly values: Readonly<Record<string, Reading>>;
}

const CODE_OF_STATUS: Record<string, DeviceErrorCode> = {
  '400': 'ERR_DEVICE_INVALID',
  '404': 'ERR_DEVICE_NOT_FOUND',
  '501': 'ERR_DEVICE_NOT_SUPPORTED',
  '503': 'ERR_DEVICE_UNAVAILABLE',
};

/**
 * A client of every device server reachable through a broker.
 *
 * @example
 * ```ts
 * const devices = new DevicesClient(new MdpClient({ endpoint: 'tcp://pi1.local:5514' }));
 * for (const d of await devices.discover()) console.log(d.id, d.description.name, d.values);
 * await devices.set('pi1/sim/kitchen-light', 'power', true);
 * ```
 */
export class DevicesClient {
  /** @param mdp - the MDP client to send through (not closed by this object) */
  constructor(private readonly mdp: MdpClient) {}

  /**
   * The device servers present now (MMI `mmi.discovery`).
   *
   * @returns service names, e.g. `pi1.sim.devices`
   */
  async servers(): Promise<string[]> {
    const [status, ...names] = await this.mdp.request('mmi.discovery', '\\.devices$');
    if (String(status) !== '200') throw new DeviceError('ERR_DEVICE_REPLY', `mmi.discovery answered ${String(status)}`);
    return names.map(String);
  }

  /** The devices of one server (`pi1.sim.devices`), or of every server. */
  async list(service?: string): Promise<DeviceSummary[]> {
    const services = service === undefined ? await this.servers() : [service];
    const lists = await Promise.all(
      services.map(async (s) => ((await this.call(s, 'list')) as { devices: DeviceSummary[] }).devices),
    );
    return lists.flat().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** A device's description (subdevices included). */
  async describe(id: string): Promise<DeviceDescription> {
    const { service, device } = route(id);
    return (await this.call(service, 'describe', { device })) as DeviceDescription;
  }

  /**
   * The last reading of one command.
   *
   * @throws DeviceError `ERR_DEVICE_NOT_SUPPORTED` for a bytes command (use {@link getBytes})
   */
  async get(id: string, command: string): Promise<Reading> {
    const { service, device } = route(id);
    const frames = await this.mdp.request(service, 'get', JSON.stringify({ device, command }));
    if (String(frames[0]) !== '200') throw replyError(service, 'get', frames);
    if (frames.length > 2) {
      throw new DeviceError('ERR_DEVICE_NOT_SUPPORTED', `${command} of ${id} is a bytes value: read it with getBytes()`);
    }
    return parseJson(service, 'get', frames[1]) as Reading;
  }

  /** The last readings of every command of a device. */
  async values(id: string): Promise<Record<string, Reading>> {
    const { service, device } = route(id);
    return ((await this.call(service, 'get', { device })) as { values: Record<string, Reading> }).values;
  }

  /**
   * A bytes command's value (a camera snapshot), streamed chunks joined.
   *
   * @returns the MIME type and the bytes
   */
  async getBytes(id: string, command: string, options: { timeout?: number } = {}): Promise<{ mime: string; data: Buffer }> {
    const { service, device } = route(id);
    const frames: Buffer[] = [];
    for await (const reply of this.mdp.streamWith(service, ['get', JSON.stringify({ device, command })], options)) frames.push(...reply.body);
    const [status, meta, ...data] = frames;
    if (String(status) !== '200') throw replyError(service, 'get', frames);
    const parsed = parseJson(service, 'get', meta) as { mime?: unknown } | null;
    if (typeof parsed?.mime !== 'string') throw new DeviceError('ERR_DEVICE_NOT_SUPPORTED', `${command} of ${id} is not a bytes value: read it with get()`);
    return { mime: parsed.mime, data: Buffer.concat(data) };
  }

  /** Sets a command; resolves with the reading in effect. */
  async set(id: string, command: string, value: unknown): Promise<Reading> {
    const { service, device } = route(id);
    return (await this.call(service, 'set', { device, command, value })) as Reading;
  }

  /** Reads a device now. */
  async poll(id: string): Promise<Record<string, Reading>> {
    const { service, device } = route(id);
    return ((await this.call(service, 'poll', { device })) as { values: Record<string, Reading> }).values;
  }

  /**
   * Every device of every server, with its description and readings.
   * A server that fails to answer is skipped (reported in `errors`).
   */
  async discover(): Promise<DiscoveredDevice[] & { errors?: { service: string; error: string }[] }> {
    const out: DiscoveredDevice[] & { errors?: { service: string; error: string }[] } = [];
    const errors: { service: string; error: string }[] = [];
    for (const service of await this.servers()) {
      try {
        const devices = ((await this.call(service, 'list')) as { devices: DeviceSummary[] }).devices;
        for (const d of devices) {
          const { device } = route(d.id);
          const [description, values] = await Promise.all([
            this.call(service, 'describe', { device }) as Promise<DeviceDescription>,
            this.call(service, 'get', { device }) as Promise<{ values: Record<string, Reading> }>,
          ]);
          const all: Record<string, Reading> = { ...values.values };
          for (const sub of Object.keys(description.subdevices ?? {})) {
            const subValues = ((await this.call(service, 'get', { device: `${device}/${sub}` })) as { values: Record<string, Reading> }).values;
            for (const [k, v] of Object.entries(subValues)) all[`${sub}/${k}`] = v;
          }
          out.push({ id: d.id, service, description, values: all });
        }
      } catch (err) {
        errors.push({ service, error: (err as Error).message });
      }
    }
    if (errors.length > 0) out.errors = errors;
    return out;
  }

  private async call(service: string, action: string, arg?: object): Promise<unknown> {
    const frames = await this.mdp.request(service, action, ...(arg === undefined ? [] : [JSON.stringify(arg)]));
    if (String(frames[0]) !== '200') throw replyError(service, action, frames);
    return parseJson(service, action, frames[1]);
  }
}

function parseJson(service: string, action: string, frame: Buffer | undefined): unknown {
  try {
    return JSON.parse(String(frame ?? '{}'));
  } catch {
    throw new DeviceError('ERR_DEVICE_REPLY', `${service} ${action}: the reply is not JSON`);
  }
}

/** Where a device id's requests go: its server's service and its path there. */
export function route(id: string): { service: string; device: string } {
  const { host, server, path } = parseDeviceId(id);
  return { service: deviceService(host, server), device: path.join('/') };
}

function replyError(service: string, action: string, frames: Buffer[]): DeviceError {
  const status = String(frames[0] ?? '');
  let message = '';
  try {
    message = String((JSON.parse(String(frames[1] ?? '{}')) as { error?: unknown }).error ?? '');
  } catch {
    message = String(frames[1] ?? '');
  }
  return new DeviceError(CODE_OF_STATUS[status] ?? 'ERR_DEVICE_REPLY', message || `${service} ${action} answered ${status}`, { status });
}
