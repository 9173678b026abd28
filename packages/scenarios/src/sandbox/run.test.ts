import { isScenarioError } from '../errors.js';
import { SCRIPT_LIMITS } from './limits.js';
import { loadQuickJS } from './quickjs-module.js';
import { ScriptRun, type RunLimits } from './run.js';
import type { ScriptApi } from './sandbox.js';

// QuickJS aborts when a runtime is freed with a handle still alive. A run
// catches that, marks itself poisoned, and the sandbox quietly moves to a
// fresh module, which would hide a leak from the sandbox's tests: here every
// path, success or failure, must end with `poisoned === false`.

const limits: RunLimits = { timeout: 300, memoryLimit: 2 * 1024 * 1024, stackLimit: SCRIPT_LIMITS.stackLimit };

const api: ScriptApi = {
  get: (key) => ({ key, list: [1, 2, 3] }),
  command: async (device, command) => {
    if (device === 'broken') throw new Error('device offline');
    if (device === 'stuck') return new Promise(() => undefined);
    return { device, command };
  },
  log: () => undefined,
};

const scripts: Array<[string, string]> = [
  ['a value', 'raspy.get("a")'],
  ['a return', 'return raspy.get("a")'],
  ['commands', 'await raspy.command("a", "b", { c: 1 }); raspy.command("x", "y"); await Promise.all([raspy.command("c", "d"), raspy.command("e", "f")])'],
  ['unawaited commands left running', 'raspy.command("stuck", "x"); raspy.command("a", "b"); 1'],
  ['a promise as the value', 'raspy.command("a", "b")'],
  ['logs', 'for (let i = 0; i < 200; i++) raspy.log("x".repeat(2000), { i })'],
  ['a caught rejection', 'try { await raspy.command("broken", "x") } catch (e) { e.message }'],
  ['an uncaught rejection', 'await raspy.command("broken", "x")'],
  ['a throw', 'throw new Error("boom")'],
  ['a thrown promise', 'throw Promise.resolve(1)'],
  ['a thrown object with a getter', 'throw { get message() { return "got" } }'],
  ['a syntax error', 'const = 1'],
  ['a syntax error after return', 'return 1;\nconst = 1'],
  ['an infinite loop', 'while (true) {}'],
  ['a deadline while awaiting', 'await raspy.command("stuck", "x")'],
  ['a promise nothing settles', 'await new Promise(() => {})'],
  ['out of memory', 'const all = []; while (true) all.push({ n: all.length, s: "x" + all.length })'],
  ['out of memory in a command value', 'const big = []; try { for (;;) big.push({ n: big.length }) } catch {} await raspy.command("a", "b", big)'],
  ['a stack overflow', 'function f() { return f() + 1 } f()'],
  ['too many commands', 'for (;;) { try { await raspy.command("a", "b") } catch {} }'],
  ['a result that is not JSON', '1n'],
  ['dynamic import', 'await import("fs")'],
  ['bad arguments', 'try { raspy.command(1) } catch {} try { raspy.get({}) } catch {} raspy.log(1n)'],
];

describe('ScriptRun disposes every handle', () => {
  it.each(scripts)('after %s', async (_name, code) => {
    const module = await loadQuickJS();
    const run = new ScriptRun(module, api, limits);
    const outcome = await run.execute(code, JSON.stringify({ n: 1 })).then(
      () => 'ok',
      (error: unknown) => (isScenarioError(error) ? error.code : error),
    );
    expect(['ok', 'ERR_SCENARIO_SCRIPT']).toContain(outcome);
    expect(run.poisoned).toBe(false);
  });
});
