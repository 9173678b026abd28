import * as zlib from 'node:zlib';
import { PNG_SIGNATURE, crc32, encodePng, pngChunk } from './png.js';
import { readPng } from './test-support/png-reader.js';

describe('crc32', () => {
  it('gives the check value of the CRC-32 catalogue', () => {
    expect(crc32(Buffer.from('123456789', 'ascii'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  it('continues a running CRC', () => {
    const data = Buffer.from('The quick brown fox jumps over the lazy dog');
    expect(crc32(data.subarray(10), crc32(data.subarray(0, 10)))).toBe(crc32(data));
    expect(crc32(data)).toBe(0x414fa339);
  });

  it('agrees with zlib.crc32 where Node has it (20.15+)', () => {
    const native = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
    if (native === undefined) return;
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff));
    expect(crc32(data)).toBe(native(data));
  });
});

describe('encodePng', () => {
  it('writes signature, IHDR, IDAT and IEND with valid CRCs', () => {
    const pixels = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    const png = encodePng({ width: 3, height: 2, pixels });
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const read = readPng(png);
    expect(read.chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(read.chunks.every((c) => c.crcOk)).toBe(true);
    expect([read.width, read.height, read.bitDepth, read.colorType]).toEqual([3, 2, 8, 2]);
    expect(read.scanlines.length).toBe(2 * (1 + 3 * 3));
    expect(read.filters).toEqual([1, 1]);
    expect(read.pixels.equals(pixels)).toBe(true);
    // Sub: each byte minus the same colour of the pixel on its left, mod 256.
    expect([...read.scanlines.subarray(0, 10)]).toEqual([1, 255, 0, 0, 1, 255, 0, 0, 1, 255]);
  });

  it('round-trips a noisy picture', () => {
    const width = 37;
    const height = 23;
    const pixels = Buffer.from(Array.from({ length: width * height * 3 }, (_, i) => (i * 7919) % 251));
    const read = readPng(encodePng({ width, height, pixels }));
    expect([read.width, read.height]).toEqual([width, height]);
    expect(read.pixels.equals(pixels)).toBe(true);
  });

  it('refuses pixel data of the wrong size', () => {
    expect(() => encodePng({ width: 2, height: 2, pixels: Buffer.alloc(11) })).toThrow(RangeError);
    expect(() => encodePng({ width: 0, height: 2, pixels: Buffer.alloc(0) })).toThrow(/1 to 2\^31-1/);
  });

  it('makes a chunk whose CRC covers type and data', () => {
    const chunk = pngChunk('tEXt', Buffer.from('a\0b'));
    expect(chunk.readUInt32BE(0)).toBe(3);
    expect(chunk.readUInt32BE(11)).toBe(crc32(Buffer.from('tEXta\0b', 'latin1')));
  });
});
