import { isScenarioError } from '../errors.js';
import { SCRIPT_LIMITS, ScriptSandbox, type ScriptApi, type ScriptOptions } from './sandbox.js';

/** A host API that records what the script did. */
function recordingApi(
  values: Record<string, unknown> = {},
  command: (device: string, command: string, value: unknown) => Promise<unknown> = async () => ({ ok: true }),
): ScriptApi & { calls: Array<[string, string, unknown]>; lines: string[]; reads: string[] } {
  const calls: Array<[string, string, unknown]> = [];
  const lines: string[] = [];
  const reads: string[] = [];
  return {
    calls,
    lines,
    reads,
    get: (key) => {
      reads.push(key);
      return values[key];
    },
    command: (device, name, value) => {
      calls.push([device, name, value]);
      return command(device, name, value);
    },
    log: (line) => lines.push(line),
  };
}

let sandbox: ScriptSandbox;

beforeAll(async () => {
  sandbox = await ScriptSandbox.create();
});

afterAll(() => {
  sandbox.dispose();
});

async function run(code: string, api: ScriptApi = recordingApi(), options?: ScriptOptions): Promise<unknown> {
  return (await sandbox.run(code, api, options)).value;
}

/** Runs a script that must fail; returns the error after checking it is ERR_SCENARIO_SCRIPT. */
async function failure(code: string, api: ScriptApi = recordingApi(), options?: ScriptOptions): Promise<Error> {
  const error = await sandbox.run(code, api, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isScenarioError(error, 'ERR_SCENARIO_SCRIPT')).toBe(true);
  return error as Error;
}

describe('results, logs and input', () => {
  it('gives the value of the last expression', async () => {
    expect(await run('const a = 20; a + 22')).toBe(42);
    expect(await run('({ on: true, level: [1, 2] })')).toEqual({ on: true, level: [1, 2] });
  });

  it('gives what a top-level return returns', async () => {
    expect(await run('const a = 2;\nif (a > 1) return "big";\nreturn "small";')).toBe('big');
    expect(await run('await raspy.command("lamp", "power", true);\nreturn 7')).toBe(7);
  });

  it('awaits a promise that is the last expression', async () => {
    const api = recordingApi({}, async () => 'done');
    expect(await run('raspy.command("lamp", "power", true)', api)).toBe('done');
    expect(await run('Promise.resolve(Promise.resolve(5))')).toBe(5);
    expect((await failure('Promise.reject(new Error("late"))')).message).toBe('script threw Error: late (line 1)');
  });

  it('gives undefined for a script without a value', async () => {
    expect(await run('let x = 1;')).toBeUndefined();
  });

  it('reports logs, command count and duration', async () => {
    const api = recordingApi();
    const result = await sandbox.run('raspy.log("hello", { a: 1 }, 2, undefined); raspy.log("bye"); 1', api);
    expect(result.logs).toEqual(['hello {"a":1} 2 undefined', 'bye']);
    expect(api.lines).toEqual(result.logs);
    expect(result.commands).toBe(0);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('passes input as JSON', async () => {
    expect(await run('input.max * 2', recordingApi(), { input: { max: 21 } })).toBe(42);
    expect(await run('typeof input', recordingApi())).toBe('undefined');
    expect(await run('input.when', recordingApi(), { input: { when: new Date(0) } })).toBe('1970-01-01T00:00:00.000Z');
  });

  it('reads values with raspy.get', async () => {
    const api = recordingApi({ 'home/temp': 21.5, 'home/modes': { away: false } });
    expect(await run('[raspy.get("home/temp"), raspy.get("home/modes").away, raspy.get("absent")]', api)).toEqual([21.5, false, null]);
    expect(api.reads).toEqual(['home/temp', 'home/modes', 'absent']);
  });

  it('gives a JSON copy that the script can change without touching the host value', async () => {
    const modes = { away: false, nested: { list: [1] } };
    const api = recordingApi({ modes });
    expect(await run('const m = raspy.get("modes"); m.away = true; m.nested.list.push(2); m', api)).toEqual({
      away: true,
      nested: { list: [1, 2] },
    });
    expect(modes).toEqual({ away: false, nested: { list: [1] } });
  });

  it('rejects a non-string key', async () => {
    expect(await run('try { raspy.get(1) } catch (e) { e.name + ": " + e.message }')).toBe(
      'TypeError: raspy.get(key): key must be a string, got number',
    );
  });

  it('turns an error of the host get into a catchable error', async () => {
    const api = recordingApi();
    api.get = () => {
      throw new Error('replica not ready');
    };
    expect(await run('try { raspy.get("a") } catch (e) { e.message }', api)).toBe('replica not ready');
  });

  it('fails with the line of the statement that threw', async () => {
    const error = await failure('const a = 1;\n\nnull.x;');
    expect(error.message).toMatch(/^script threw TypeError: .+ \(line 3\)$/);
    expect((await failure('throw new Error("nope")')).message).toBe('script threw Error: nope (line 1)');
    expect((await failure('throw "plain"')).message).toBe('script threw "plain"');
  });

  it('fails on a result that is not JSON', async () => {
    expect((await failure('const a = {}; a.self = a; a')).message).toMatch(/^script returned a value that is not JSON/);
  });

  it('rejects options out of range and input that is not JSON', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: ScriptOptions[] = [{ timeout: 0 }, { memoryLimit: 1000 }, { stackLimit: 0 }, { stackLimit: 1024 * 1024 }, { input: cyclic }];
    for (const options of cases) {
      await expect(sandbox.run('1', recordingApi(), options)).rejects.toMatchObject({ code: 'ERR_SCENARIO_INVALID' });
    }
  });
});

describe('syntax errors', () => {
  it('says the line and column', async () => {
    const error = await failure('const a = 1;\nconst b = a +;\n');
    expect(error.message).toMatch(/^script has a syntax error at line 2, column \d+: /);
  });

  it('says the line in a script that uses return', async () => {
    const error = await failure('return 1;\nlet x y;');
    expect(error.message).toMatch(/^script has a syntax error at line 2, column \d+: /);
  });

  it('refuses import statements', async () => {
    const error = await failure('import fs from "fs";\nfs');
    expect(error.message).toMatch(/^script has a syntax error at line 1/);
  });
});

describe('commands', () => {
  it('awaits host commands and sees their results', async () => {
    const api = recordingApi({}, async (device, command) => ({ device, command, at: 'done' }));
    const result = await sandbox.run(
      'const a = await raspy.command("lamp", "power", { on: true, fn() {} });\n' +
        'const [b, c] = await Promise.all([raspy.command("fan", "speed", 3), raspy.command("tv", "off")]);\n' +
        '[a.at, b.device, c.command]',
      api,
    );
    expect(result.value).toEqual(['done', 'fan', 'off']);
    expect(result.commands).toBe(3);
    expect(api.calls).toEqual([
      ['lamp', 'power', { on: true }],
      ['fan', 'speed', 3],
      ['tv', 'off', undefined],
    ]);
  });

  it('gives a fresh QuickJS value per result, not the host object', async () => {
    const shared = { n: 1 };
    const api = recordingApi({}, async () => shared);
    expect(await run('const r = await raspy.command("a", "b"); r.n = 2; r.n', api)).toBe(2);
    expect(shared.n).toBe(1);
  });

  it('lets the script catch a rejected command', async () => {
    const api = recordingApi({}, async () => {
      throw Object.assign(new Error('device offline'), { code: 'ERR_DEVICE_LOST' });
    });
    expect(await run('try { await raspy.command("lamp", "power", true) } catch (e) { [e instanceof Error, e.message, e.code] }', api)).toEqual([
      true,
      'device offline',
      'ERR_DEVICE_LOST',
    ]);
  });

  it('fails with the message of an uncaught rejected command', async () => {
    const api = recordingApi({}, () => Promise.reject(new Error('device offline')));
    const error = await failure('raspy.log("before");\nawait raspy.command("lamp", "power", true);', api);
    expect(error.message).toMatch(/^script threw Error: device offline/);
  });

  it('treats a host command that throws synchronously like a rejection', async () => {
    const api = recordingApi();
    api.command = () => {
      throw new Error('no such device');
    };
    expect(await run('try { await raspy.command("x", "y") } catch (e) { e.message }', api)).toBe('no such device');
  });

  it('rejects arguments of the wrong type and values that are not JSON', async () => {
    expect(await run('try { raspy.command(1, "y") } catch (e) { e.message }')).toBe(
      'raspy.command(device, command, value): device must be a string, got number',
    );
    expect(await run('try { raspy.command("x") } catch (e) { e.message }')).toBe(
      'raspy.command(device, command, value): command must be a string, got nothing',
    );
    expect(await run('const v = {}; v.v = v; try { raspy.command("x", "y", v) } catch (e) { e.name }')).toBe('TypeError');
    expect(await run('try { raspy.command("x", "y", 1n) } catch (e) { e.name }')).toBe('TypeError');
  });

  it(`stops a run that sends more than ${SCRIPT_LIMITS.maxCommands} commands, even if the script catches the error`, async () => {
    const api = recordingApi();
    const error = await failure('for (let i = 0; i < 1000; i++) { try { await raspy.command("lamp", "toggle") } catch {} }', api);
    expect(error.message).toMatch(/^script stopped: it sent more than 100 commands in one run/);
    expect(api.calls).toHaveLength(SCRIPT_LIMITS.maxCommands);
  });

  it('stops at the deadline while awaiting a host command that never settles', async () => {
    const api = recordingApi({}, () => new Promise(() => undefined));
    const error = await failure('raspy.log("waiting");\nawait raspy.command("lamp", "power", true);\n"never"', api, { timeout: 200 });
    expect(error.message).toBe('script stopped: it ran longer than 200 ms');
    expect(api.calls).toHaveLength(1);
  });

  it('fails at once when the script awaits a promise nothing can settle', async () => {
    const error = await failure('await new Promise(() => {});');
    expect(error.message).toMatch(/^script stopped: it awaits a promise that nothing will settle/);
  });
});

describe('limits', () => {
  it('stops an infinite loop at the deadline', async () => {
    const error = await failure('while (true) {}', recordingApi(), { timeout: 200 });
    expect(error.message).toBe('script stopped: it ran longer than 200 ms');
  });

  it('says the default deadline of 1000 ms', async () => {
    const error = await failure('for (;;) {}');
    expect(error.message).toBe('script stopped: it ran longer than 1000 ms');
  });

  it('stops a loop that catches the interrupt', async () => {
    const error = await failure('for (;;) { try { while (true) {} } catch {} }', recordingApi(), { timeout: 200 });
    expect(error.message).toBe('script stopped: it ran longer than 200 ms');
  });

  it('stops an infinite loop after an await', async () => {
    const error = await failure('await raspy.command("a", "b");\nwhile (true) {}', recordingApi(), { timeout: 200 });
    expect(error.message).toBe('script stopped: it ran longer than 200 ms');
  });

  it('stops a script that allocates without end at its memory cap', async () => {
    const error = await failure('const all = [];\nwhile (true) all.push({ n: all.length, s: "x" + all.length });', recordingApi(), {
      timeout: 10_000,
    });
    expect(error.message).toBe('script stopped: it ran out of memory (its limit is 8 MiB); keep less data in variables');
  });

  it('applies a lower memory cap', async () => {
    const error = await failure('const all = [];\nwhile (true) all.push({ n: all.length, s: "x" + all.length });', recordingApi(), {
      timeout: 10_000,
      memoryLimit: 2 * 1024 * 1024,
    });
    expect(error.message).toMatch(/^script stopped: it ran out of memory \(its limit is 2 MiB\)/);
  });

  it('stops deep recursion at the stack limit', async () => {
    const error = await failure('function down(n) { return down(n + 1) + 1 }\ndown(0)');
    expect(error.message).toMatch(/^script stopped: it nested calls deeper than its stack limit of 256 KiB/);
  });

  it('caps the number of log lines', async () => {
    const result = await sandbox.run('for (let i = 0; i < 500; i++) raspy.log("line " + i)', recordingApi());
    expect(result.logs).toHaveLength(SCRIPT_LIMITS.maxLogLines + 1);
    expect(result.logs[99]).toBe('line 99');
    expect(result.logs[100]).toMatch(/^log capped: a run keeps 100 lines/);
  });

  it('caps the length of a log line', async () => {
    const result = await sandbox.run('raspy.log("x".repeat(100000))', recordingApi());
    const line = result.logs[0] ?? '';
    expect(line.startsWith('x'.repeat(SCRIPT_LIMITS.maxLogLineLength))).toBe(true);
    expect(line.endsWith('… (99000 more characters dropped)')).toBe(true);
  });

  it('keeps working after every kind of failure', async () => {
    await failure('while (true) {}', recordingApi(), { timeout: 50 });
    await failure('const a = []; while (true) a.push([a.length]);', recordingApi(), { timeout: 10_000, memoryLimit: 1024 * 1024 });
    await failure('function f() { return f() } f()');
    await failure('await new Promise(() => {})');
    await failure('raspy.command("a", "b"); throw new Error("x")');
    await failure('const a = 1 +;');
    expect(await run('1 + 1')).toBe(2);
  });
});

describe('escape attempts', () => {
  it('has no Node globals, no timers, no console', async () => {
    const names = ['process', 'require', 'module', 'exports', 'global', 'Buffer', 'setTimeout', 'setInterval', 'setImmediate', 'fetch', 'console', 'std', 'os'];
    const types = await run(`${JSON.stringify(names)}.map((name) => typeof globalThis[name])`);
    expect(types).toEqual(names.map(() => 'undefined'));
    expect(await run('typeof globalThis.process + typeof process + typeof require')).toBe('undefinedundefinedundefined');
    expect(await run('try { process.exit(1) } catch (e) { e.name }')).toBe('ReferenceError');
  });

  it('has only standard globals besides raspy and input', async () => {
    // The whole global object of QuickJS 2025-09-13 (quickjs-emscripten 0.32.0): ECMAScript built-ins only.
    // A QuickJS upgrade that adds a global fails here on purpose, so that someone looks at it.
    const standard =
      'Error EvalError RangeError ReferenceError SyntaxError TypeError URIError InternalError AggregateError Array Object ' +
      'Function Iterator parseInt parseFloat isNaN isFinite decodeURI decodeURIComponent encodeURI encodeURIComponent escape ' +
      'unescape Infinity NaN undefined eval Number Boolean String Math Reflect Symbol globalThis BigInt Date RegExp JSON Proxy ' +
      'Map Set WeakMap WeakSet ArrayBuffer SharedArrayBuffer Uint8ClampedArray Int8Array Uint8Array Int16Array Uint16Array ' +
      'Int32Array Uint32Array BigInt64Array BigUint64Array Float16Array Float32Array Float64Array DataView Promise WeakRef ' +
      'FinalizationRegistry';
    const names = (await run('Object.getOwnPropertyNames(globalThis).sort()')) as string[];
    expect(names).toEqual([...standard.split(' '), 'raspy', 'input'].sort());
    expect(await run('Object.getOwnPropertyNames(raspy).sort()')).toEqual(['command', 'get', 'log']);
  });

  it('cannot load modules', async () => {
    const error = await failure('await import("fs")');
    expect(error.message).toMatch(/^script threw /);
    expect(await run('try { await import("node:child_process"); "loaded" } catch (e) { "refused" }')).toBe('refused');
  });

  it('reaches only the QuickJS global through the Function constructor', async () => {
    expect(await run('this.constructor.constructor("return typeof process")()')).toBe('undefined');
    expect(await run('try { this.constructor.constructor("return process")() } catch (e) { e.name }')).toBe('ReferenceError');
    expect(await run('this.constructor.constructor("return Object.getOwnPropertyNames(globalThis).includes(\'process\')")()')).toBe(false);
    expect(await run('raspy.get.constructor === Function')).toBe(true);
    expect(await run('raspy.get.constructor("return typeof require + typeof process")()')).toBe('undefinedundefined');
    expect(await run('(async () => {}).constructor("return typeof process")()')).toBe('undefined');
  });

  it('runs eval inside QuickJS only', async () => {
    expect(await run('eval("typeof process + typeof require")')).toBe('undefinedundefined');
    expect(await run('(0, eval)("this === globalThis")')).toBe(true);
  });

  it('does not reach the host through the injected functions', async () => {
    expect(await run('raspy.get.toString()')).toMatch(/native code/);
    expect(await run('Object.getOwnPropertyNames(raspy.get).sort()')).toEqual(['length', 'name']);
    expect(await run('try { raspy.get.caller } catch (e) { e.name }')).toBe('TypeError');
    expect(await run('Object.getPrototypeOf(raspy.get) === Function.prototype')).toBe(true);
    expect(await run('try { raspy.command.call(process) } catch (e) { e.name }')).toBe('ReferenceError');
  });

  it('cannot pollute host prototypes', async () => {
    await run(
      'Object.prototype.polluted = 1; Function.prototype.polluted = 2; Array.prototype.polluted = 3;\n' +
        'raspy.get.__proto__.hijacked = 4; raspy.get.constructor.prototype.call = () => "owned";\n' +
        'JSON.parse = () => "owned"; JSON.stringify = () => "owned";',
    );
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect((function noop() {} as unknown as { polluted?: unknown }).polluted).toBeUndefined();
    expect(([] as unknown as { polluted?: unknown }).polluted).toBeUndefined();
    expect(JSON.stringify({ a: 1 })).toBe('{"a":1}');
  });

  it('keeps the JSON boundary working when the script replaces JSON and Object.prototype', async () => {
    const api = recordingApi({ k: { a: 1 } });
    expect(
      await run(
        'JSON.parse = () => "owned"; JSON.stringify = () => "owned"; Object.prototype.toJSON = function () { return "owned" };\n' +
          'delete Object.prototype.toJSON; const v = raspy.get("k"); await raspy.command("d", "c", { b: 2 }); v',
        api,
      ),
    ).toEqual({ a: 1 });
    expect(api.calls).toEqual([['d', 'c', { b: 2 }]]);
  });

  it('sees only the JSON data get() returns, never host objects', async () => {
    class Secret {
      token = 'value';
      get hidden(): string {
        return 'getter';
      }
      reveal(): string {
        return 'method';
      }
    }
    const api = recordingApi({ thing: { visible: 1, secret: new Secret(), fn: () => 'host function', map: new Map([[1, 2]]) } });
    expect(await run('raspy.get("thing")', api)).toEqual({ visible: 1, secret: { token: 'value' }, map: {} });
    expect(await run('const t = raspy.get("thing"); [typeof t.fn, typeof t.secret.reveal, typeof t.secret.hidden, t.secret.constructor === Object]', api)).toEqual([
      'undefined',
      'undefined',
      'undefined',
      true,
    ]);
  });

  it('copies command values as JSON, so host code never gets script objects', async () => {
    const api = recordingApi();
    await run('await raspy.command("d", "c", { f() { return 1 }, d: new Date(0), u: undefined, n: NaN, nested: [1, { g: () => 2 }] })', api);
    expect(api.calls).toEqual([['d', 'c', { d: '1970-01-01T00:00:00.000Z', n: null, nested: [1, {}] }]]);
  });

  it('does not share state between runs', async () => {
    await run('globalThis.leak = 42; var declared = 1; Object.prototype.polluted = true; raspy.extra = 1; Math.random = () => 4;');
    expect(
      await run('[typeof leak, typeof declared, ({}).polluted, raspy.extra, Math.random() === 4]'),
    ).toEqual(['undefined', 'undefined', null, null, false]);
  });
});

describe('lifecycle', () => {
  it('stops runs in progress when disposed and refuses new ones', async () => {
    const own = await ScriptSandbox.create();
    let sent!: () => void;
    const commandSent = new Promise<void>((resolve) => {
      sent = resolve;
    });
    const api = recordingApi({}, () => {
      sent();
      return new Promise(() => undefined);
    });
    const running = own.run('await raspy.command("a", "b")', api, { timeout: 60_000 });
    await commandSent;
    own.dispose();
    own.dispose();
    await expect(running).rejects.toMatchObject({ code: 'ERR_SCENARIO_CLOSED' });
    await expect(own.run('1', recordingApi())).rejects.toMatchObject({ code: 'ERR_SCENARIO_CLOSED' });
  });

  it('runs scripts concurrently, each in its own context', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const api = recordingApi({}, async () => {
      await gate;
      return 'released';
    });
    const first = sandbox.run('globalThis.mine = 1; await raspy.command("a", "b")', api);
    const second = await sandbox.run('typeof mine', recordingApi());
    expect(second.value).toBe('undefined');
    release();
    expect((await first).value).toBe('released');
  });
});
