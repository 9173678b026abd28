/**
 * `sim.camera`: a camera whose snapshots are real PNG images that change
 * over time, to demo and test `bytes` commands end to end, including large
 * values that a device server streams as MDP partial replies.
 *
 * @module
 */
import type { CommandSpec } from '../model/command.js';
import { Device, type BytesValue, type DeviceConfig, type DeviceContext } from '../model/device.js';
import { OptionReader, type SimDeviceConfig } from './options.js';
import { encodePng } from './png.js';
import { Prng } from './prng.js';

/** Options of `sim.camera`. */
export interface SimulatedCameraOptions {
  /** Width of a snapshot in pixels, 1..4096. Default 160. */
  readonly width?: number;
  /** Height of a snapshot in pixels, 1..4096. Default 120. */
  readonly height?: number;
}

/** Snapshots larger than this many bytes are returned as a stream of chunks. */
export const SNAPSHOT_STREAM_THRESHOLD = 64 * 1024;

/** The size of the chunks of a streamed snapshot, in bytes. */
export const SNAPSHOT_CHUNK_SIZE = 16 * 1024;

/** The largest width and height a simulated camera accepts (a 4096² snapshot takes ~50 MB to make). */
export const MAX_CAMERA_SIDE = 4096;

/** Milliseconds the bar takes to cross the picture. */
const BAR_CROSSING_MS = 4000;
/** Milliseconds of one cycle of the blue tint, up and down. */
const TINT_PERIOD_MS = 20_000;

/**
 * A camera: type `media.camera`, a readonly `snapshot` (`bytes`,
 * `image/png`) got with `fetch`, and a readonly `resolution` ("160x120").
 *
 * A snapshot is a gradient (red across, green down, a blue tint that cycles
 * every 20 s), a white bar that crosses the picture every 4 s, and a little
 * seeded noise, all from `ctx.now()`: the same time gives the same bytes,
 * two times give different pictures. The noise is there for realism of size
 * too: like a real camera's, the PNG grows with the pixel count, so a large
 * resolution exercises streaming. A snapshot above
 * {@link SNAPSHOT_STREAM_THRESHOLD} bytes comes as an `AsyncIterable` of
 * {@link SNAPSHOT_CHUNK_SIZE}-byte chunks, otherwise as one `Buffer`.
 *
 * @example
 * ```ts
 * const camera = new SimulatedCamera({ id: 'door', options: { width: 320, height: 240 } });
 * const png = await camera.fetch('snapshot', ctx);
 * ```
 */
export class SimulatedCamera extends Device {
  /** The kind it is registered as. */
  static readonly kind = 'sim.camera';
  readonly type = 'media.camera';
  readonly commands: Readonly<Record<string, CommandSpec>> = {
    snapshot: { type: 'bytes', label: 'Snapshot', readonly: true, mime: 'image/png', description: 'The picture now, as a PNG image.' },
    resolution: { type: 'string', label: 'Resolution', readonly: true, description: 'Width x height of a snapshot, in pixels.' },
  };
  /** Width of a snapshot in pixels. */
  readonly width: number;
  /** Height of a snapshot in pixels. */
  readonly height: number;

  /**
   * @param config - id, name, poll, record and the options
   * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
   */
  constructor(config: SimDeviceConfig<SimulatedCameraOptions>) {
    super(config);
    const reader = new OptionReader(config, SimulatedCamera.kind, ['width', 'height']);
    const side = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= MAX_CAMERA_SIDE;
    this.width = reader.optionalNumber('width', `a whole number of pixels from 1 to ${MAX_CAMERA_SIDE}`, 160, side);
    this.height = reader.optionalNumber('height', `a whole number of pixels from 1 to ${MAX_CAMERA_SIDE}`, 120, side);
  }

  read(): Record<string, unknown> {
    return { resolution: `${this.width}x${this.height}` };
  }

  override fetch(command: string, ctx: DeviceContext): Promise<BytesValue> | BytesValue {
    if (command !== 'snapshot') return super.fetch(command, ctx);
    const png = this.snapshot(ctx.now());
    return png.length > SNAPSHOT_STREAM_THRESHOLD ? chunked(png, SNAPSHOT_CHUNK_SIZE) : png;
  }

  /**
   * The snapshot at a time, always as one buffer.
   *
   * @param now - the time in ms
   * @returns a PNG file
   */
  snapshot(now: number): Buffer {
    const { width, height } = this;
    const t = Math.floor(now);
    const pixels = Buffer.alloc(width * height * 3);
    const tintPhase = (((t % TINT_PERIOD_MS) + TINT_PERIOD_MS) % TINT_PERIOD_MS) / TINT_PERIOD_MS;
    const blue = Math.round(255 * (tintPhase < 0.5 ? tintPhase * 2 : 2 - tintPhase * 2));
    const barWidth = Math.max(2, Math.round(width / 16));
    const barPhase = (((t % BAR_CROSSING_MS) + BAR_CROSSING_MS) % BAR_CROSSING_MS) / BAR_CROSSING_MS;
    const barStart = Math.floor(barPhase * width);
    const noise = new Prng(t ^ 0x5eed);
    let i = 0;
    for (let y = 0; y < height; y++) {
      const green = height === 1 ? 0 : Math.round((255 * y) / (height - 1));
      for (let x = 0; x < width; x++) {
        const onBar = (x - barStart + width) % width < barWidth;
        const red = width === 1 ? 0 : Math.round((255 * x) / (width - 1));
        const n = noise.nextUint32();
        pixels[i++] = clampByte((onBar ? 255 : red) + (n & 3) - 2);
        pixels[i++] = clampByte((onBar ? 255 : green) + ((n >>> 2) & 3) - 2);
        pixels[i++] = clampByte((onBar ? 255 : blue) + ((n >>> 4) & 3) - 2);
      }
    }
    return encodePng({ width, height, pixels });
  }
}

function clampByte(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

/** A buffer as a stream of chunks; each iteration starts from the beginning. */
function chunked(data: Buffer, size: number): AsyncIterable<Buffer> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
    },
  };
}

/**
 * Makes a `sim.camera` device from its configuration (for `DeviceRegistry.register`).
 *
 * @throws DeviceError `ERR_DEVICE_INVALID` for bad options
 */
export function createSimulatedCamera(config: DeviceConfig): SimulatedCamera {
  return new SimulatedCamera(config as SimDeviceConfig<SimulatedCameraOptions>);
}
