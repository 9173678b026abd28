/**
 * The sandbox of a scenario's `script` action: user code written by people
 * in the house runs in QuickJS compiled to WebAssembly, with its own heap,
 * a memory cap, a stack cap and a deadline, and sees nothing of Node but
 * `raspy.get`, `raspy.command`, `raspy.log` and `input`.
 *
 * `node:vm` is deliberately not used: it shares the process's heap and is
 * not a security boundary (https://nodejs.org/api/vm.html#vm-executing-javascript).
 *
 * @module
 */
import type { QuickJSWASMModule } from 'quickjs-emscripten';
import { ScenarioError, isScenarioError } from '../errors.js';
import { SCRIPT_LIMITS } from './limits.js';
import { discardQuickJS, loadQuickJS } from './quickjs-module.js';
import { ScriptRun, type RunLimits } from './run.js';

/**
 * What the host lends a script. Every value crossing to the script is copied
 * as JSON; the script never holds a host object.
 */
export interface ScriptApi {
  /**
   * Reads a value of the key/value tree, from a snapshot or replica the host
   * holds (synchronous). The script gets a JSON copy.
   *
   * @param key - the key the script asked for
   * @returns the value, JSON-serialisable; `undefined` when absent
   */
  get(key: string): unknown;
  /**
   * Sends a device command. The script may `await` it; a rejection is thrown
   * in the script as an `Error` with the same message (and `code`, if a string).
   *
   * @param device - device id
   * @param command - command name
   * @param value - a JSON copy of what the script passed
   * @returns the command's result, JSON-serialisable
   */
  command(device: string, command: string, value: unknown): Promise<unknown>;
  /**
   * Receives each line the script logs, as it is logged (capped, see
   * {@link SCRIPT_LIMITS}).
   *
   * @param message - one log line
   */
  log(message: string): void;
}

/** Limits and input of one run. */
export interface ScriptOptions {
  /** Deadline in milliseconds, across `await`s too. Default 1000. */
  timeout?: number;
  /** Memory cap of the run's QuickJS runtime, in bytes. Default 8 MiB, at least 1 MiB. */
  memoryLimit?: number;
  /** QuickJS stack limit in bytes, 16 KiB to 256 KiB. Default 256 KiB. */
  stackLimit?: number;
  /** JSON given to the script as the global `input`. */
  input?: unknown;
}

/** What a run gave back. */
export interface ScriptResult {
  /** JSON copy of the script's result: the value of its last expression, or what a top-level `return` gave. */
  value: unknown;
  /** The lines the script logged (capped, see {@link SCRIPT_LIMITS}). */
  logs: string[];
  /** How many commands the script sent. */
  commands: number;
  /** Wall-clock duration of the run. */
  durationMs: number;
}

/**
 * Runs scenario scripts in QuickJS (WebAssembly). Each run gets a fresh
 * QuickJS runtime and context, so nothing a script does survives it.
 *
 * Inside a script: `raspy.get(key)`, `await raspy.command(device, command,
 * value)`, `raspy.log(...values)`, and `input`. No `require`, `process`,
 * `import`, timers or I/O exist. The script's value is its last expression;
 * a script may also `return` a value from the top level.
 *
 * @example
 * ```ts
 * const sandbox = await ScriptSandbox.create();
 * const { value, logs } = await sandbox.run(
 *   `const t = raspy.get('home/living/temperature');
 *    if (t > input.max) await raspy.command('living-fan', 'power', true);
 *    raspy.log('temperature', t);
 *    t > input.max`,
 *   { get: (key) => replica.get(key), command: (d, c, v) => devices.send(d, c, v), log: (line) => logger.info(line) },
 *   { input: { max: 24 } },
 * );
 * sandbox.dispose();
 * ```
 */
export class ScriptSandbox {
  #module: QuickJSWASMModule | undefined;
  #closed = false;
  readonly #runs = new Set<ScriptRun>();

  private constructor(module: QuickJSWASMModule) {
    this.#module = module;
  }

  /**
   * Loads QuickJS (once per process) and makes a sandbox. Create one per
   * engine and reuse it for every run.
   *
   * @returns a sandbox ready to run scripts
   */
  static async create(): Promise<ScriptSandbox> {
    return new ScriptSandbox(await loadQuickJS());
  }

  /**
   * Runs a script to the end.
   *
   * @param code - the script's source
   * @param api - what the script may read, send and log
   * @param options - deadline, memory and stack caps, `input`
   * @returns the script's JSON result, its logs, the number of commands sent and the duration
   * @throws {@link ScenarioError} `ERR_SCENARIO_SCRIPT` when the script does not compile (the
   *   message has the line), throws, passes its deadline or memory cap, or sends too many commands;
   *   `ERR_SCENARIO_INVALID` for bad options; `ERR_SCENARIO_CLOSED` once the sandbox is disposed
   */
  async run(code: string, api: ScriptApi, options: ScriptOptions = {}): Promise<ScriptResult> {
    if (this.#closed) throw closedError();
    const limits = validateLimits(options);
    const inputJson = inputText(options.input);
    const module = this.#module ?? (await loadQuickJS());
    if (this.#closed) throw closedError();
    this.#module = module;

    const started = performance.now();
    const run = new ScriptRun(module, api, limits);
    this.#runs.add(run);
    try {
      const result = await run.execute(code, inputJson);
      return { ...result, durationMs: performance.now() - started };
    } catch (error) {
      if (isScenarioError(error)) throw error;
      // QuickJS threw in the host (e.g. Node's own stack overflowed inside WASM): its state is unknown.
      run.poisoned = true;
      throw new ScenarioError('ERR_SCENARIO_SCRIPT', `script sandbox failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    } finally {
      this.#runs.delete(run);
      if (run.poisoned) this.#discard(module);
    }
  }

  /**
   * Stops the runs in progress (they reject with `ERR_SCENARIO_CLOSED`) and
   * refuses new ones. Idempotent.
   */
  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const run of this.#runs) run.stop(closedError());
  }

  /** Stops using a WASM module whose state can no longer be trusted; the next run loads a fresh one. */
  #discard(module: QuickJSWASMModule): void {
    if (this.#module === module) this.#module = undefined;
    discardQuickJS(module);
  }
}

function closedError(): ScenarioError {
  return new ScenarioError('ERR_SCENARIO_CLOSED', 'the script sandbox was disposed; create a new one to run scripts');
}

function validateLimits(options: ScriptOptions): RunLimits {
  const timeout = options.timeout ?? SCRIPT_LIMITS.timeout;
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw new ScenarioError('ERR_SCENARIO_INVALID', `script timeout must be a positive number of milliseconds, got ${String(timeout)}`);
  }
  const memoryLimit = options.memoryLimit ?? SCRIPT_LIMITS.memoryLimit;
  if (!(Number.isSafeInteger(memoryLimit) && memoryLimit >= SCRIPT_LIMITS.minMemoryLimit)) {
    throw new ScenarioError(
      'ERR_SCENARIO_INVALID',
      `script memoryLimit must be a whole number of bytes, at least ${SCRIPT_LIMITS.minMemoryLimit}, got ${String(memoryLimit)}`,
    );
  }
  const stackLimit = options.stackLimit ?? SCRIPT_LIMITS.stackLimit;
  if (!(Number.isSafeInteger(stackLimit) && stackLimit >= SCRIPT_LIMITS.minStackLimit && stackLimit <= SCRIPT_LIMITS.maxStackLimit)) {
    throw new ScenarioError(
      'ERR_SCENARIO_INVALID',
      `script stackLimit must be a whole number of bytes from ${SCRIPT_LIMITS.minStackLimit} to ${SCRIPT_LIMITS.maxStackLimit}, got ${String(stackLimit)}`,
    );
  }
  return { timeout, memoryLimit, stackLimit };
}

function inputText(input: unknown): string | undefined {
  try {
    return JSON.stringify(input) as string | undefined;
  } catch (error) {
    throw new ScenarioError('ERR_SCENARIO_INVALID', `script input must be JSON: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

export { SCRIPT_LIMITS };
export type { ScriptLimits } from './limits.js';
