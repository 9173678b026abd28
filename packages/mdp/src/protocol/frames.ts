/**
 * Frame helpers: turning what users pass (strings, buffers, typed arrays) into
 * Buffers, and back into text.
 *
 * @module
 */

/** One frame as the library returns it. */
export type Frame = Buffer;

/** What a frame may be given as: text is encoded as UTF-8. */
export type FrameLike = Buffer | Uint8Array | string;

/**
 * Converts one frame-like value to a Buffer without copying buffers.
 *
 * @param frame - text (UTF-8), Buffer or Uint8Array
 * @returns the frame as a Buffer
 */
export function toFrame(frame: FrameLike): Buffer {
  if (Buffer.isBuffer(frame)) return frame;
  if (typeof frame === 'string') return Buffer.from(frame, 'utf8');
  if (frame instanceof Uint8Array) return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  throw new TypeError(`a frame must be a string, Buffer or Uint8Array, got ${typeof frame}`);
}

/**
 * Converts a list of frame-like values to Buffers.
 *
 * @param frames - frames to convert
 * @returns a new array of Buffers
 */
export function toFrames(frames: readonly FrameLike[]): Buffer[] {
  const out = new Array<Buffer>(frames.length);
  for (let i = 0; i < frames.length; i++) out[i] = toFrame(frames[i] as FrameLike);
  return out;
}

/**
 * Decodes frames as UTF-8 text, for logs and for text protocols on top of MDP.
 *
 * @param frames - frames to decode
 * @returns one string per frame
 */
export function framesToStrings(frames: readonly Buffer[]): string[] {
  return frames.map((f) => f.toString('utf8'));
}
