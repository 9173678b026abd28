import { isDeviceError } from '../errors.js';
import type { BytesValue } from '../model/device.js';
import { SNAPSHOT_CHUNK_SIZE, SNAPSHOT_STREAM_THRESHOLD, createSimulatedCamera } from './camera.js';
import { fakeContext } from './test-support/fake-context.js';
import { readPng } from './test-support/png-reader.js';

async function collect(value: BytesValue): Promise<{ png: Buffer; chunks: Buffer[] | undefined }> {
  if (Buffer.isBuffer(value)) return { png: value, chunks: undefined };
  const chunks: Buffer[] = [];
  for await (const chunk of value) chunks.push(chunk);
  return { png: Buffer.concat(chunks), chunks };
}

describe('sim.camera', () => {
  it('returns a valid 160x120 PNG as one buffer by default', async () => {
    const ctx = fakeContext();
    const camera = createSimulatedCamera({ id: 'door', kind: 'sim.camera' });
    const value = await camera.fetch('snapshot', ctx);
    expect(Buffer.isBuffer(value)).toBe(true);
    const png = value as Buffer;
    expect(png.length).toBeLessThanOrEqual(SNAPSHOT_STREAM_THRESHOLD);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const read = readPng(png);
    expect(read.signatureOk).toBe(true);
    expect(read.chunks[0]?.type).toBe('IHDR');
    expect(read.chunks.at(-1)?.type).toBe('IEND');
    expect(read.chunks.every((c) => c.crcOk)).toBe(true);
    expect([read.width, read.height, read.bitDepth, read.colorType]).toEqual([160, 120, 8, 2]);
    expect(read.scanlines.length).toBe(120 * (1 + 160 * 3));
    expect(read.pixels.length).toBe(160 * 120 * 3);
  });

  it('gives different pictures at different times and the same at the same time', async () => {
    const ctx = fakeContext();
    const camera = createSimulatedCamera({ id: 'door', kind: 'sim.camera' });
    const first = (await collect(await camera.fetch('snapshot', ctx))).png;
    expect((await collect(await camera.fetch('snapshot', ctx))).png.equals(first)).toBe(true);
    ctx.advance(1000);
    const second = (await collect(await camera.fetch('snapshot', ctx))).png;
    expect(second.equals(first)).toBe(false);
    expect(readPng(second).pixels.equals(readPng(first).pixels)).toBe(false);
  });

  it('moves a white bar across the picture', () => {
    const camera = createSimulatedCamera({ id: 'door', kind: 'sim.camera', options: { width: 64, height: 4 } });
    const whiteColumns = (now: number): number[] => {
      const rows = readPng(camera.snapshot(now)).pixels;
      const columns: number[] = [];
      for (let x = 0; x < 64; x++) {
        const offset = x * 3; // first row
        if ((rows[offset] as number) >= 253 && (rows[offset + 1] as number) >= 253 && (rows[offset + 2] as number) >= 253) columns.push(x);
      }
      return columns;
    };
    expect(whiteColumns(0)).toEqual([0, 1, 2, 3]);
    expect(whiteColumns(1000)).toEqual([16, 17, 18, 19]);
    expect(whiteColumns(3000)).toEqual([48, 49, 50, 51]);
  });

  it('streams a large snapshot as 16 KiB chunks that make a valid PNG', async () => {
    const ctx = fakeContext();
    const camera = createSimulatedCamera({ id: 'door', kind: 'sim.camera', options: { width: 640, height: 480 } });
    const value = await camera.fetch('snapshot', ctx);
    expect(Buffer.isBuffer(value)).toBe(false);
    const { png, chunks } = await collect(value);
    expect(png.length).toBeGreaterThan(SNAPSHOT_STREAM_THRESHOLD);
    expect(chunks!.length).toBe(Math.ceil(png.length / SNAPSHOT_CHUNK_SIZE));
    for (const chunk of chunks!.slice(0, -1)) expect(chunk.length).toBe(SNAPSHOT_CHUNK_SIZE);
    // toEqual on half a megabyte is slow; Buffer.equals is not.
    expect(png.equals(camera.snapshot(ctx.now()))).toBe(true);
    const read = readPng(png);
    expect(read.chunks.every((c) => c.crcOk)).toBe(true);
    expect([read.width, read.height]).toEqual([640, 480]);
    expect(read.scanlines.length).toBe(480 * (1 + 640 * 3));
    // The stream can be read again.
    expect((await collect(value)).png.equals(png)).toBe(true);
  });

  it('reads its resolution and nothing else', () => {
    expect(createSimulatedCamera({ id: 'door', kind: 'sim.camera', options: { width: 320, height: 200 } }).read()).toEqual({ resolution: '320x200' });
    expect(createSimulatedCamera({ id: 'door', kind: 'sim.camera' }).read()).toEqual({ resolution: '160x120' });
  });

  it('fetches only the snapshot', () => {
    const camera = createSimulatedCamera({ id: 'door', kind: 'sim.camera' });
    expect(() => camera.fetch('resolution', fakeContext())).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_NOT_SUPPORTED' }));
  });

  it('describes a readonly PNG snapshot and a readonly resolution', () => {
    const description = createSimulatedCamera({ id: 'door', kind: 'sim.camera' }).describe('pi1/sim');
    expect(description.type).toBe('media.camera');
    expect(description.commands.snapshot).toMatchObject({ type: 'bytes', readonly: true, mime: 'image/png' });
    expect(description.commands.resolution).toMatchObject({ type: 'string', readonly: true });
  });

  it('makes pictures of 1 pixel too', () => {
    const read = readPng(createSimulatedCamera({ id: 'dot', kind: 'sim.camera', options: { width: 1, height: 1 } }).snapshot(0));
    expect([read.width, read.height, read.scanlines.length]).toEqual([1, 1, 4]);
  });

  it.each([
    [{ width: 0 }, 'device door (sim.camera): width must be a whole number of pixels from 1 to 4096, got 0'],
    [{ height: 5000 }, 'height must be a whole number of pixels from 1 to 4096, got 5000'],
    [{ width: '640' }, 'width must be a whole number of pixels from 1 to 4096, got "640"'],
  ])('refuses %j', (options, message) => {
    let error: unknown;
    try {
      createSimulatedCamera({ id: 'door', kind: 'sim.camera', options });
    } catch (err) {
      error = err;
    }
    expect(isDeviceError(error, 'ERR_DEVICE_INVALID')).toBe(true);
    expect((error as Error).message).toContain(message);
  });
});
