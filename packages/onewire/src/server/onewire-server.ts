/**
 * The 1-Wire device server: finds the temperature probes of a source (the
 * kernel bus or an owserver), serves each as a device, and follows the bus:
 * probes plugged in appear, probes unplugged go lost, without a restart.
 *
 * @module
 */
import { DeviceServer, type DeviceServerOptions } from '@raspy/devices';
import { silentLogger, type Logger } from '@raspy/mdp';
import type { TemperatureSource } from '../source.js';
import { TemperatureProbe } from './probe.js';

/** Options of {@link OneWireServer}. */
export interface OneWireServerOptions extends Omit<DeviceServerOptions, 'devices' | 'server'> {
  /** Where the probes are. */
  source: TemperatureSource;
  /** Server id. Default `onewire`. */
  server?: string;
  /** Default poll interval of a probe, seconds. Default 30. */
  poll?: number;
  /** How often the bus is scanned for probes coming and going, ms. Default 10000. */
  scanInterval?: number;
}

/**
 * Serves the 1-Wire temperature probes of a source as RasPy devices.
 *
 * @example
 * ```ts
 * import { OneWireServer, SysfsSource } from '@raspy/onewire';
 *
 * const server = new OneWireServer({ host: 'pi1', source: new SysfsSource() });
 * await server.start();
 * ```
 */
export class OneWireServer {
  private readonly devices: DeviceServer;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private stopped = false;

  /** @param options - source, host, broker, key/value server; see {@link OneWireServerOptions} */
  constructor(private readonly options: OneWireServerOptions) {
    this.logger = (options.logger ?? silentLogger).child('onewire', { source: `${options.source.kind} ${options.source.location}` });
    this.devices = new DeviceServer({ ...options, server: options.server ?? 'onewire', devices: [] });
  }

  /** The device server underneath (service name, descriptions). */
  get server(): DeviceServer {
    return this.devices;
  }

  /** Scans the bus, starts serving, and keeps scanning. */
  async start(): Promise<void> {
    await this.devices.start();
    await this.scan();
    this.timer = setInterval(() => void this.scan(), this.options.scanInterval ?? 10_000);
  }

  /**
   * Scans the bus now: adds probes that appeared, removes those that went.
   *
   * @returns the ids added and removed
   */
  scan(): Promise<void> {
    this.scanning ??= this.doScan().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  private async doScan(): Promise<void> {
    if (this.stopped) return;
    let probes;
    try {
      probes = await this.options.source.list();
    } catch (err) {
      this.logger.warn('cannot list the probes', { error: err as Error });
      return;
    }
    const present = new Set(probes.map((p) => p.id));
    const served = new Set(this.devices.describe().map((d) => d.id.split('/').pop() as string));
    // All at once: each waits for its first reading (750 ms at 12 bits), which need not wait for the others'.
    await Promise.all(
      probes
        .filter((info) => !served.has(info.id))
        .map(async (info) => {
          if (this.stopped) return;
          try {
            await this.devices.addDevice(new TemperatureProbe(this.options.source, info, { poll: this.options.poll ?? 30 }));
          } catch (err) {
            this.logger.warn('cannot add a probe', { probe: info.id, error: err as Error });
          }
        }),
    );
    for (const id of served) if (!present.has(id) && !this.stopped) await this.devices.removeDevice(id);
  }

  /** Stops scanning and serving, and closes the source. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.scanning;
    await this.devices.stop();
    await this.options.source.close();
  }
}
