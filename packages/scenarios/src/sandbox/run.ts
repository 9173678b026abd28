/**
 * One run of a script: its own QuickJS runtime and context, the `raspy` API
 * bridged into it, and the loop that drives the script's promise until it
 * settles, fails, or passes its deadline. Not public API: {@link ScriptSandbox}
 * is the entry point.
 *
 * Everything crossing the boundary is JSON text: host values are
 * `JSON.stringify`'d in Node and `JSON.parse`'d by QuickJS (the guest's own
 * `JSON`, captured before the script runs), guest values the other way round.
 * No host object, function or promise is ever handed to the script.
 *
 * Host commands are bridged with a QuickJS promise per call: the host promise
 * settles in Node, the result is queued, and the run loop resolves the QuickJS
 * promise and runs QuickJS's pending jobs. Between jobs the loop waits for the
 * next host result or the deadline, whichever comes first, so a host promise
 * that never settles cannot keep a run alive.
 *
 * @internal
 * @module
 */
import { shouldInterruptAfterDeadline } from 'quickjs-emscripten';
import type { QuickJSContext, QuickJSDeferredPromise, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten';
import { ScenarioError } from '../errors.js';
import { SCRIPT_LIMITS } from './limits.js';
import type { ScriptApi, ScriptResult } from './sandbox.js';

/** The limits of one run, validated. */
export interface RunLimits {
  readonly timeout: number;
  readonly memoryLimit: number;
  readonly stackLimit: number;
}

/** File name the script's errors point at. */
const FILE_NAME = 'script.js';
/** `JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_ASYNC`: a script with top-level `await`, evaluated to a promise of `{ value }`. */
const EVAL_ASYNC_SCRIPT = 1 << 7;
/** `JS_EVAL_FLAG_COMPILE_ONLY`. */
const EVAL_COMPILE_ONLY = 1 << 5;
/** A script that uses a top-level `return` runs as the body of this async function; line 1 stays line 1. */
const BODY_PREFIX = '(async () => {';
const BODY_SUFFIX = '\n})()';
/** Longest error message kept from the script. */
const MAX_MESSAGE_LENGTH = 500;

/** How the script's code was wrapped. */
type Mode = 'script' | 'body';

/** A host command whose QuickJS promise is still pending. */
interface PendingCommand {
  readonly deferred: QuickJSDeferredPromise;
}

/** A host command that settled and waits to be delivered to QuickJS. */
type Settled =
  | { readonly command: PendingCommand; readonly ok: true; readonly value: unknown }
  | { readonly command: PendingCommand; readonly ok: false; readonly error: unknown };

/** A guest value copied to the host, or the guest error the copy threw. */
type Copy = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: QuickJSHandle };

/** What could be read of an error the script threw. */
interface ErrorInfo {
  readonly name: string | undefined;
  readonly message: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
}

/**
 * One script run. Create, {@link ScriptRun.execute} once; the run disposes
 * its runtime and context before `execute` settles.
 */
export class ScriptRun {
  /** True when disposing QuickJS failed or QuickJS threw in the host: the WASM module must not be used again. */
  poisoned = false;

  readonly #api: ScriptApi;
  readonly #limits: RunLimits;
  readonly #runtime: QuickJSRuntime;
  readonly #context: QuickJSContext;
  readonly #deadline: number;
  /** Handles of the guest's own `JSON.parse` and `JSON.stringify`, taken before the script runs. */
  #parse: QuickJSHandle | undefined;
  #stringify: QuickJSHandle | undefined;
  /** The first reason to stop the run that came from the host side (command cap, sandbox disposed). */
  #fatal: ScenarioError | undefined;
  #commands = 0;
  readonly #logs: string[] = [];
  #logCapped = false;
  readonly #pending = new Set<PendingCommand>();
  #settled: Settled[] = [];
  #wake: (() => void) | undefined;
  #finished = false;

  /**
   * @param module - the shared QuickJS WASM module
   * @param api - what the host lends the script
   * @param limits - validated limits
   */
  constructor(module: QuickJSWASMModule, api: ScriptApi, limits: RunLimits) {
    this.#api = api;
    this.#limits = limits;
    this.#deadline = Date.now() + limits.timeout;
    this.#runtime = module.newRuntime();
    try {
      this.#runtime.setMemoryLimit(limits.memoryLimit);
      this.#runtime.setMaxStackSize(limits.stackLimit);
      const pastDeadline = shouldInterruptAfterDeadline(this.#deadline);
      this.#runtime.setInterruptHandler(() => this.#fatal !== undefined || pastDeadline(this.#runtime));
      this.#context = this.#runtime.newContext();
    } catch (error) {
      this.#runtime.dispose();
      throw error;
    }
  }

  /**
   * Stops the run from the host side: the script is interrupted at its next
   * check and `execute` rejects with `reason`.
   */
  stop(reason: ScenarioError): void {
    this.#fatal ??= reason;
    this.#wake?.();
  }

  /**
   * Runs the script to the end and disposes the run.
   *
   * @param code - the script's source
   * @param inputJson - `input`, already checked to be JSON text (or undefined)
   * @returns the script's result, logs and command count
   * @throws {@link ScenarioError} `ERR_SCENARIO_SCRIPT` when the script fails
   */
  async execute(code: string, inputJson: string | undefined): Promise<Omit<ScriptResult, 'durationMs'>> {
    let failed = true;
    try {
      this.#install(inputJson);
      const { promise, mode } = this.#start(code);
      let value: unknown;
      try {
        value = await this.#drive(promise, mode);
      } finally {
        promise.dispose();
      }
      failed = false;
      return { value, logs: [...this.#logs], commands: this.#commands };
    } finally {
      this.#finished = true;
      this.#wake?.();
      const closeError = this.#close();
      if (closeError !== undefined && !failed) throw closeError;
    }
  }

  /** Sets up `raspy`, `input`, and the captured `JSON` functions. */
  #install(inputJson: string | undefined): void {
    const ctx = this.#context;
    const json = ctx.getProp(ctx.global, 'JSON');
    try {
      this.#parse = ctx.getProp(json, 'parse');
      this.#stringify = ctx.getProp(json, 'stringify');
    } finally {
      json.dispose();
    }

    const raspy = ctx.newObject();
    try {
      ctx.newFunction('get', (key) => this.#get(key)).consume((fn) => ctx.setProp(raspy, 'get', fn));
      ctx
        .newFunction('command', (device, command, value) => this.#command(device, command, value))
        .consume((fn) => ctx.setProp(raspy, 'command', fn));
      ctx.newFunction('log', (...parts) => this.#log(parts)).consume((fn) => ctx.setProp(raspy, 'log', fn));
      ctx.setProp(ctx.global, 'raspy', raspy);
    } finally {
      raspy.dispose();
    }

    const input = this.#parseJson(inputJson);
    if (input.error !== undefined) throw this.#failure(input.error);
    input.value.consume((handle) => ctx.setProp(ctx.global, 'input', handle));
  }

  /**
   * Compiles and starts the script. A script is first compiled as a global
   * script with top-level `await`, so that its last expression is its value;
   * only when that fails on a top-level `return` does it run as the body of
   * an async function, so that `return x` is its value.
   */
  #start(code: string): { promise: QuickJSHandle; mode: Mode } {
    const ctx = this.#context;
    let mode: Mode = 'script';
    const compiled = ctx.evalCode(code, FILE_NAME, EVAL_ASYNC_SCRIPT | EVAL_COMPILE_ONLY);
    if (compiled.error !== undefined) {
      const info = this.#describe(compiled.error);
      compiled.error.dispose();
      if (info.name !== 'SyntaxError' || info.message !== 'return not in a function') throw syntaxError(info, code, 'script');
      mode = 'body';
    } else {
      compiled.value.dispose();
    }

    const started =
      mode === 'script' ? ctx.evalCode(code, FILE_NAME, EVAL_ASYNC_SCRIPT) : ctx.evalCode(`${BODY_PREFIX}${code}${BODY_SUFFIX}`, FILE_NAME);
    if (started.error !== undefined) {
      const info = this.#describe(started.error);
      if (mode === 'body' && info.name === 'SyntaxError' && this.#fatal === undefined) {
        started.error.dispose();
        throw syntaxError(info, code, mode);
      }
      throw this.#failure(started.error, info);
    }
    return { promise: started.value, mode };
  }

  /**
   * Runs QuickJS jobs and delivers host results until the script's promise
   * settles. A script whose last expression is a promise (say, a command it
   * did not `await`) has that promise's value as its value.
   */
  async #drive(started: QuickJSHandle, startedMode: Mode): Promise<unknown> {
    const ctx = this.#context;
    let promise = started;
    let mode = startedMode;
    try {
      for (;;) {
        this.#deliver();
        const jobs = this.#runtime.executePendingJobs();
        if (jobs.error !== undefined) throw this.#failure(jobs.error);
        if (this.#fatal !== undefined) throw this.#fatal;

        const state = ctx.getPromiseState(promise);
        if (state.type === 'rejected') throw this.#failure(state.error);
        if (state.type === 'fulfilled') {
          // A top-level-await script fulfils with `{ value }`, the completion value.
          const value = mode === 'script' ? state.value.consume((h) => ctx.getProp(h, 'value')) : state.value;
          if (!this.#isPromise(value)) return this.#result(value);
          if (promise !== started) promise.dispose();
          promise = value;
          mode = 'body';
          continue;
        }

        if (this.#pending.size === 0 && this.#settled.length === 0) {
          throw new ScenarioError(
            'ERR_SCENARIO_SCRIPT',
            'script stopped: it awaits a promise that nothing will settle (only the results of raspy.command() can be awaited; there are no timers)',
          );
        }
        if ((await this.#waitForHost()) === 'deadline') throw this.#timeout();
      }
    } finally {
      if (promise !== started && promise.alive) promise.dispose();
    }
  }

  #isPromise(handle: QuickJSHandle): boolean {
    const state = this.#context.getPromiseState(handle);
    if (state.type === 'fulfilled' && state.notAPromise === true) return false;
    if (state.type === 'fulfilled') state.value.dispose();
    if (state.type === 'rejected') state.error.dispose();
    return true;
  }

  /** Waits for a host command to settle, for {@link stop}, or for the deadline. */
  #waitForHost(): Promise<'wake' | 'deadline'> {
    if (this.#settled.length > 0 || this.#fatal !== undefined) return Promise.resolve('wake');
    const remaining = this.#deadline - Date.now();
    if (remaining <= 0) return Promise.resolve('deadline');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve('deadline');
      }, remaining);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve('wake');
      };
    });
  }

  /** Resolves or rejects the QuickJS promises of host commands that settled. */
  #deliver(): void {
    const settled = this.#settled;
    this.#settled = [];
    for (const item of settled) {
      const { deferred } = item.command;
      this.#pending.delete(item.command);
      try {
        if (item.ok) {
          const value = this.#parseJson(jsonText(item.value));
          if (value.error !== undefined) {
            value.error.consume((error) => deferred.reject(error));
          } else {
            value.value.consume((handle) => deferred.resolve(handle));
          }
        } else {
          this.#hostError(item.error).consume((error) => deferred.reject(error));
        }
      } catch (error) {
        // Only the promise's own resolve/reject run here; they fail when QuickJS is out of memory.
        throw this.#fatal ?? new ScenarioError('ERR_SCENARIO_SCRIPT', `script stopped: a command result could not be handed to the script (${messageOf(error)})`, { cause: error });
      } finally {
        deferred.dispose();
      }
    }
  }

  /** `raspy.get(key)`. */
  #get(keyHandle: QuickJSHandle | undefined): QuickJSHandle | { error: QuickJSHandle } {
    const key = this.#stringArg(keyHandle);
    if (key === undefined) return { error: this.#typeError(`raspy.get(key): key must be a string, got ${this.#typeName(keyHandle)}`) };
    let value: unknown;
    try {
      value = this.#api.get(key);
    } catch (error) {
      return { error: this.#hostError(error) };
    }
    const text = jsonTextOrError(value);
    if (typeof text === 'object') return { error: this.#typeError(`raspy.get(${JSON.stringify(key)}): the value is not JSON (${text.message})`) };
    const copy = this.#parseJson(text);
    return copy.error !== undefined ? { error: copy.error } : copy.value;
  }

  /** `raspy.command(device, command, value)`. */
  #command(
    deviceHandle: QuickJSHandle | undefined,
    commandHandle: QuickJSHandle | undefined,
    valueHandle: QuickJSHandle | undefined,
  ): QuickJSHandle | { error: QuickJSHandle } {
    const usage = 'raspy.command(device, command, value)';
    const device = this.#stringArg(deviceHandle);
    if (device === undefined) return { error: this.#typeError(`${usage}: device must be a string, got ${this.#typeName(deviceHandle)}`) };
    const command = this.#stringArg(commandHandle);
    if (command === undefined) return { error: this.#typeError(`${usage}: command must be a string, got ${this.#typeName(commandHandle)}`) };
    let value: unknown;
    if (valueHandle !== undefined) {
      const copy = this.#copyOut(valueHandle);
      if (!copy.ok) return { error: copy.error };
      value = copy.value;
    }

    if (this.#commands >= SCRIPT_LIMITS.maxCommands) {
      const message = `script stopped: it sent more than ${SCRIPT_LIMITS.maxCommands} commands in one run; send fewer commands per run (a loop that never ends sends too many)`;
      this.#fatal ??= new ScenarioError('ERR_SCENARIO_SCRIPT', message);
      return { error: this.#context.newError({ name: 'Error', message }) };
    }
    this.#commands += 1;

    const deferred = this.#context.newPromise();
    const pending: PendingCommand = { deferred };
    this.#pending.add(pending);
    let sent: Promise<unknown>;
    try {
      sent = Promise.resolve(this.#api.command(device, command, value));
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (result) => this.#settle({ command: pending, ok: true, value: result }),
      (error: unknown) => this.#settle({ command: pending, ok: false, error }),
    );
    // The host function's return value is consumed (duplicated for QuickJS, then disposed).
    return deferred.handle;
  }

  #settle(item: Settled): void {
    if (this.#finished) return;
    this.#settled.push(item);
    this.#wake?.();
  }

  /** `raspy.log(...parts)`: strings as they are, other values as JSON, joined by spaces. */
  #log(parts: QuickJSHandle[]): { error: QuickJSHandle } | undefined {
    const texts: string[] = [];
    for (const part of parts) {
      if (this.#context.typeof(part) === 'string') {
        texts.push(this.#context.getString(part));
        continue;
      }
      const copy = this.#stringifyGuest(part);
      if (!copy.ok) return { error: copy.error };
      texts.push(typeof copy.value === 'string' ? copy.value : 'undefined');
    }
    if (this.#logs.length >= SCRIPT_LIMITS.maxLogLines) {
      if (!this.#logCapped) {
        this.#logCapped = true;
        this.#emit(`log capped: a run keeps ${SCRIPT_LIMITS.maxLogLines} lines, later lines are dropped`);
      }
      return undefined;
    }
    let line = texts.join(' ');
    const max = SCRIPT_LIMITS.maxLogLineLength;
    if (line.length > max) line = `${line.slice(0, max)}… (${line.length - max} more characters dropped)`;
    this.#emit(line);
    return undefined;
  }

  #emit(line: string): void {
    this.#logs.push(line);
    this.#api.log(line);
  }

  /** Turns the script's value (which it disposes) into the host result. */
  #result(handle: QuickJSHandle): unknown {
    const copy = handle.consume((h) => this.#copyOut(h));
    if (copy.ok) return copy.value;
    const info = this.#describe(copy.error);
    const error = this.#failure(copy.error, info);
    if (!error.message.startsWith('script threw')) throw error;
    throw new ScenarioError(
      'ERR_SCENARIO_SCRIPT',
      `script returned a value that is not JSON (${info.name ?? 'Error'}: ${info.message}); return plain data: objects, arrays, strings, numbers, booleans or null`,
      { cause: info },
    );
  }

  /** Copies a guest value to the host through JSON. */
  #copyOut(handle: QuickJSHandle): Copy {
    const text = this.#stringifyGuest(handle);
    if (!text.ok) return text;
    return { ok: true, value: typeof text.value === 'string' ? JSON.parse(text.value) : undefined };
  }

  /** The guest's `JSON.stringify(value)`: a string, or undefined for functions, symbols and `undefined`. */
  #stringifyGuest(handle: QuickJSHandle): Copy {
    const ctx = this.#context;
    const result = ctx.callFunction(required(this.#stringify), ctx.undefined, handle);
    if (result.error !== undefined) return { ok: false, error: result.error };
    return result.value.consume((h) => ({ ok: true, value: ctx.typeof(h) === 'string' ? ctx.getString(h) : undefined }));
  }

  /** A fresh guest value from JSON text, made by the guest's own `JSON.parse`. */
  #parseJson(text: string | undefined): { value: QuickJSHandle; error?: undefined } | { error: QuickJSHandle } {
    const ctx = this.#context;
    if (text === undefined) return { value: ctx.undefined };
    const result = ctx.newString(text).consume((h) => ctx.callFunction(required(this.#parse), ctx.undefined, h));
    return result.error !== undefined ? { error: result.error } : { value: result.value };
  }

  #stringArg(handle: QuickJSHandle | undefined): string | undefined {
    if (handle === undefined || this.#context.typeof(handle) !== 'string') return undefined;
    return this.#context.getString(handle);
  }

  #typeName(handle: QuickJSHandle | undefined): string {
    if (handle === undefined) return 'nothing';
    if (this.#context.typeof(handle) === 'object' && this.#context.sameValue(handle, this.#context.null)) return 'null';
    return this.#context.typeof(handle);
  }

  #typeError(message: string): QuickJSHandle {
    return this.#context.newError({ name: 'TypeError', message });
  }

  /** A guest `Error` carrying the message (and a string `code`) of a host error: never the host object. */
  #hostError(error: unknown): QuickJSHandle {
    const handle = this.#context.newError({ name: 'Error', message: messageOf(error) });
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    if (typeof code === 'string') this.#context.newString(code).consume((h) => this.#context.setProp(handle, 'code', h));
    return handle;
  }

  /** Reads what can be read of a thrown guest value, without disposing it. */
  #describe(handle: QuickJSHandle): ErrorInfo {
    let dumped: unknown;
    const copy = handle.dup();
    try {
      dumped = this.#context.dump(copy);
    } catch {
      return { name: undefined, message: 'an error that could not be read', line: undefined, column: undefined };
    } finally {
      if (copy.alive) copy.dispose();
    }
    if (typeof dumped === 'object' && dumped !== null && typeof (dumped as { message?: unknown }).message === 'string') {
      const { name, message, stack } = dumped as { name?: unknown; message: string; stack?: unknown };
      const at = typeof stack === 'string' ? /script\.js:(\d+):(\d+)/.exec(stack) : null;
      return {
        name: typeof name === 'string' ? name : undefined,
        message: clip(message),
        line: at?.[1] === undefined ? undefined : Number(at[1]),
        column: at?.[2] === undefined ? undefined : Number(at[2]),
      };
    }
    let text: string | undefined;
    try {
      text = typeof dumped === 'string' ? JSON.stringify(dumped) : JSON.stringify(dumped ?? null);
    } catch {
      text = undefined;
    }
    return { name: undefined, message: clip(text ?? String(dumped)), line: undefined, column: undefined };
  }

  /** Turns a guest error (which it disposes) into the error the run rejects with. */
  #failure(handle: QuickJSHandle, known?: ErrorInfo): ScenarioError {
    try {
      if (this.#fatal !== undefined) return this.#fatal;
      const info = known ?? this.#describe(handle);
      if (info.name === 'InternalError' && info.message === 'interrupted') return this.#timeout();
      if (Date.now() > this.#deadline) return this.#timeout();
      if (info.name === 'InternalError' && info.message === 'out of memory') {
        return new ScenarioError(
          'ERR_SCENARIO_SCRIPT',
          `script stopped: it ran out of memory (its limit is ${formatBytes(this.#limits.memoryLimit)}); keep less data in variables`,
        );
      }
      if (info.name === 'InternalError' && info.message === 'stack overflow') {
        return new ScenarioError(
          'ERR_SCENARIO_SCRIPT',
          `script stopped: it nested calls deeper than its stack limit of ${formatBytes(this.#limits.stackLimit)}; use a loop instead of deep recursion`,
        );
      }
      const what = info.name === undefined ? info.message : `${info.name}: ${info.message}`;
      const where = info.line === undefined ? '' : ` (line ${info.line})`;
      return new ScenarioError('ERR_SCENARIO_SCRIPT', `script threw ${what}${where}`, { cause: info });
    } finally {
      if (handle.alive) handle.dispose();
    }
  }

  #timeout(): ScenarioError {
    return this.#fatal ?? new ScenarioError('ERR_SCENARIO_SCRIPT', `script stopped: it ran longer than ${this.#limits.timeout} ms`);
  }

  /** Disposes every handle, the context and the runtime; returns what went wrong, if anything. */
  #close(): unknown {
    let failure: unknown;
    const attempt = (dispose: () => void): void => {
      try {
        dispose();
      } catch (error) {
        failure ??= error;
      }
    };
    for (const { deferred } of this.#pending) attempt(() => deferred.dispose());
    this.#pending.clear();
    this.#settled = [];
    attempt(() => this.#parse?.dispose());
    attempt(() => this.#stringify?.dispose());
    attempt(() => this.#context.dispose());
    attempt(() => this.#runtime.dispose());
    if (failure !== undefined) this.poisoned = true;
    return failure;
  }
}

function required(handle: QuickJSHandle | undefined): QuickJSHandle {
  if (handle === undefined) throw new Error('script sandbox: JSON functions used before install');
  return handle;
}

/** `JSON.stringify` of a host value, or undefined when that throws or gives nothing. */
function jsonText(value: unknown): string | undefined {
  const text = jsonTextOrError(value);
  return typeof text === 'object' ? undefined : text;
}

function jsonTextOrError(value: unknown): string | undefined | Error {
  try {
    return JSON.stringify(value) as string | undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  return String(jsonText(error) ?? error);
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH)}…` : text;
}

function formatBytes(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** The error for a script that does not compile, with the line (and column) in the user's code. */
function syntaxError(info: ErrorInfo, code: string, mode: Mode): ScenarioError {
  const lines = code.split('\n').length;
  let where = '';
  if (info.line !== undefined) {
    const line = Math.min(info.line, lines);
    let column = info.column;
    if (column !== undefined && mode === 'body' && info.line === 1) column = Math.max(1, column - BODY_PREFIX.length);
    if (info.line > lines) column = undefined;
    where = column === undefined ? ` at line ${line}` : ` at line ${line}, column ${column}`;
  }
  return new ScenarioError('ERR_SCENARIO_SCRIPT', `script has a syntax error${where}: ${info.message}`, { cause: info });
}
