/**
 * A 1-Wire temperature probe as a RasPy device (`sensor.temperature`): its
 * temperature, the status of its last reading (so a bad reading is shown as
 * such, never as a temperature), its chip, bus and, where the source can
 * tell, its resolution.
 *
 * @module
 */
import { Device, type CommandSpec, type DeviceContext } from '@raspy/devices';
import type { BadReadingReason, ProbeInfo, TemperatureSource } from '../source.js';

/** The statuses of a reading: `ok` or why it is not a temperature. */
export const READING_STATUSES: readonly ('ok' | BadReadingReason)[] = ['ok', 'crc', 'zero', 'power-on', 'missing', 'unreadable', 'truncated'];

/** How long a probe's resolution is trusted before it is asked again (10 min). */
const RESOLUTION_REFRESH_MS = 10 * 60_000;

/** A temperature probe read from a {@link TemperatureSource}. */
export class TemperatureProbe extends Device {
  readonly type = 'sensor.temperature';
  readonly commands: Readonly<Record<string, CommandSpec>>;

  /**
   * @param source - where to read it
   * @param info - what the source reported for it
   * @param options - name, poll interval (seconds)
   */
  constructor(
    private readonly source: TemperatureSource,
    readonly info: ProbeInfo,
    options: { name?: string; poll?: number } = {},
  ) {
    super({ id: info.id, name: options.name ?? `${info.chip} ${info.id}`, poll: options.poll ?? 30 }, 30);
    this.commands = {
      temperature: { type: 'real', label: 'Temperature', unit: '°C', min: -55, max: 125, readonly: true },
      status: {
        type: 'enum',
        label: 'Reading',
        values: READING_STATUSES,
        readonly: true,
        description: 'ok, or why the last reading was not a temperature (crc, zero, power-on, missing, unreadable, truncated).',
      },
      error: { type: 'string', label: 'Last problem', readonly: true, description: 'What went wrong with the last reading, empty when it was good.' },
      chip: { type: 'string', label: 'Chip', readonly: true },
      bus: { type: 'string', label: 'Bus', readonly: true },
      resolution: {
        type: 'int',
        label: 'Resolution',
        unit: 'bits',
        min: 9,
        max: 12,
        ...(source.setResolution === undefined ? { readonly: true } : {}),
        description: 'Bits of the conversion: 9 (0.5 °C, 94 ms) to 12 (0.0625 °C, 750 ms).',
      },
    };
  }

  /** The resolution last learnt and when (ms); re-read every {@link RESOLUTION_REFRESH_MS}: on old kernels it costs a conversion. */
  private known: { bits: number | null; at: number } | null = null;

  async read(_ctx: DeviceContext): Promise<Record<string, unknown>> {
    const [reading, resolution] = await Promise.all([this.source.read(this.id), this.resolution()]);
    const common: Record<string, unknown> = { chip: this.info.chip, bus: this.info.bus };
    if (resolution !== null) common.resolution = resolution;
    if (reading.ok) return { ...common, temperature: reading.celsius, status: 'ok', error: '' };
    // Not a temperature: say why, and leave the last good temperature as it was.
    return { ...common, status: reading.reason, error: reading.message };
  }

  /**
   * The probe's resolution, asked of the source only now and then: it only
   * changes when set through this device or when the probe is power-cycled,
   * and without the kernel's `resolution` attribute asking costs a second
   * conversion on the bus. An unknown resolution (probe missing) is asked
   * again at the next read.
   */
  private async resolution(): Promise<number | null> {
    const now = Date.now();
    if (this.known !== null && this.known.bits !== null && now - this.known.at < RESOLUTION_REFRESH_MS) return this.known.bits;
    const bits = await this.source.resolution(this.id).catch(() => null);
    this.known = { bits, at: now };
    return bits;
  }

  override async write(command: string, value: unknown, ctx: DeviceContext): Promise<unknown> {
    if (command === 'resolution' && this.source.setResolution !== undefined) {
      this.known = null;
      await this.source.setResolution(this.id, value as 9 | 10 | 11 | 12);
      return value;
    }
    return super.write(command, value, ctx);
  }
}
