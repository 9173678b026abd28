/**
 * The defaults and fixed caps of a script run, in one place so that the
 * sandbox, its tests and the docs quote the same numbers.
 *
 * @module
 */

/** Defaults and caps that apply to every script run. */
export interface ScriptLimits {
  /** Default deadline of a run, in milliseconds. */
  readonly timeout: number;
  /** Default memory cap of a run's QuickJS runtime, in bytes. */
  readonly memoryLimit: number;
  /** Smallest memory cap a run accepts, in bytes (a bare QuickJS context needs a few hundred KiB). */
  readonly minMemoryLimit: number;
  /** Default QuickJS stack limit, in bytes. */
  readonly stackLimit: number;
  /**
   * Largest QuickJS stack limit a run accepts, in bytes. The WebAssembly
   * frames of QuickJS run on Node's own stack: a QuickJS limit of 512 KiB
   * already overflows Node's stack before QuickJS notices, which would throw
   * in the host instead of in the script.
   */
  readonly maxStackLimit: number;
  /** Smallest QuickJS stack limit a run accepts, in bytes (0 would turn the check off). */
  readonly minStackLimit: number;
  /** Commands one run may send; the next one stops the run. */
  readonly maxCommands: number;
  /** Log lines one run keeps; later lines are dropped, with one line saying so. */
  readonly maxLogLines: number;
  /** Characters kept of one log line; the rest is cut, with a note of how much. */
  readonly maxLogLineLength: number;
}

/** The defaults and caps of a script run. */
export const SCRIPT_LIMITS: ScriptLimits = Object.freeze({
  timeout: 1000,
  memoryLimit: 8 * 1024 * 1024,
  minMemoryLimit: 1024 * 1024,
  stackLimit: 256 * 1024,
  maxStackLimit: 256 * 1024,
  minStackLimit: 16 * 1024,
  maxCommands: 100,
  maxLogLines: 100,
  maxLogLineLength: 1000,
});
