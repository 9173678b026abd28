/**
 * Reads an 8-bit RGB PNG file back for the tests: the chunks with their
 * CRCs checked by an independent bit-by-bit CRC-32, the header, the
 * inflated scanlines and the pixels (every filter type of the spec undone).
 *
 * @module
 */
import { inflateSync } from 'node:zlib';

/** One chunk of a PNG file. */
export interface ReadChunk {
  readonly type: string;
  readonly data: Buffer;
  /** Whether the stored CRC matches the one computed here. */
  readonly crcOk: boolean;
}

/** A PNG file taken apart. */
export interface ReadPng {
  readonly signatureOk: boolean;
  readonly chunks: ReadChunk[];
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  readonly colorType: number;
  /** The inflated IDAT data: a filter byte and the filtered pixels of each scanline. */
  readonly scanlines: Buffer;
  /** The filter type of each scanline. */
  readonly filters: number[];
  /** The pixels, R G B, row after row (for colour type 2, bit depth 8). */
  readonly pixels: Buffer;
}

/** Undoes the scanline filters (https://www.w3.org/TR/png-3/#9Filters) of 8-bit RGB. */
function unfilter(scanlines: Buffer, width: number, height: number): { filters: number[]; pixels: Buffer } {
  const rowBytes = width * 3;
  const pixels = Buffer.alloc(rowBytes * height);
  const filters: number[] = [];
  for (let y = 0; y < height; y++) {
    const filter = scanlines[y * (rowBytes + 1)] ?? -1;
    filters.push(filter);
    for (let i = 0; i < rowBytes; i++) {
      const x = scanlines[y * (rowBytes + 1) + 1 + i] ?? 0;
      const a = i >= 3 ? (pixels[y * rowBytes + i - 3] ?? 0) : 0;
      const b = y > 0 ? (pixels[(y - 1) * rowBytes + i] ?? 0) : 0;
      const c = i >= 3 && y > 0 ? (pixels[(y - 1) * rowBytes + i - 3] ?? 0) : 0;
      let predictor: number;
      switch (filter) {
        case 0:
          predictor = 0;
          break;
        case 1:
          predictor = a;
          break;
        case 2:
          predictor = b;
          break;
        case 3:
          predictor = Math.floor((a + b) / 2);
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`scanline ${y} has filter type ${filter}`);
      }
      pixels[y * rowBytes + i] = (x + predictor) & 0xff;
    }
  }
  return { filters, pixels };
}

/** A CRC-32 without a table, so the encoder's table is checked against something else. */
function slowCrc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Takes a PNG file apart.
 *
 * @throws Error when it is truncated or has no IHDR
 */
export function readPng(png: Buffer): ReadPng {
  const signatureOk = png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const chunks: ReadChunk[] = [];
  let offset = 8;
  while (offset < png.length) {
    if (offset + 12 > png.length) throw new Error(`truncated chunk at ${offset}`);
    const length = png.readUInt32BE(offset);
    const end = offset + 12 + length;
    if (end > png.length) throw new Error(`chunk at ${offset} runs past the end`);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    const crcOk = png.readUInt32BE(offset + 8 + length) === slowCrc32(png.subarray(offset + 4, offset + 8 + length));
    chunks.push({ type, data, crcOk });
    offset = end;
  }
  const ihdr = chunks.find((c) => c.type === 'IHDR');
  if (ihdr === undefined) throw new Error('no IHDR');
  const idat = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
  const width = ihdr.data.readUInt32BE(0);
  const height = ihdr.data.readUInt32BE(4);
  const scanlines = inflateSync(idat);
  if (scanlines.length !== height * (1 + width * 3)) throw new Error(`${scanlines.length} bytes of scanlines for ${width}x${height} RGB`);
  return {
    signatureOk,
    chunks,
    width,
    height,
    bitDepth: ihdr.data[8] ?? -1,
    colorType: ihdr.data[9] ?? -1,
    scanlines,
    ...unfilter(scanlines, width, height),
  };
}
