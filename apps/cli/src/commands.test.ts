/**
 * The commands with fake clients: what they ask, what they print, what
 * they refuse. No sockets (main.test.ts runs the real thing).
 */
import type { DeviceDescription, DevicesClient, DiscoveredDevice, Reading } from '@raspy/devices';
import { DeviceError } from '@raspy/devices';
import type { KvChange, KvClient } from '@raspy/kv';
import { MdpError } from '@raspy/mdp';
import { collectDevices, devicesCommand } from './commands/devices.js';
import { getCommand, type GetDeps } from './commands/get.js';
import { serviceRows, servicesCommand } from './commands/services.js';
import { setCommand, typeOnly } from './commands/set.js';
import { formatChange, isRefresh, watchCommand, watchScope } from './commands/watch.js';
import { CliError, explain, isCliError } from './errors.js';
import type { Output } from './output.js';

function memoryOutput(isTTY = false): Output & { lines: string[]; warnings: string[]; bytes: Buffer[] } {
  const lines: string[] = [];
  const warnings: string[] = [];
  const bytes: Buffer[] = [];
  return {
    lines,
    warnings,
    bytes,
    isTTY,
    print: (l) => lines.push(l),
    warn: (l) => warnings.push(l),
    writeBytes: async (d) => void bytes.push(d),
  };
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

const lamp: DeviceDescription = {
  id: 'pi1/sim/lamp',
  type: 'switch.dimmer',
  name: 'Lamp',
  commands: {
    power: { type: 'bool' },
    level: { type: 'int', unit: '%', min: 0, max: 100 },
    temperature: { type: 'real', unit: '°C', readonly: true },
    name: { type: 'string', config: true },
  },
};
const camera: DeviceDescription = {
  id: 'pi1/sim/cam',
  type: 'media.camera',
  name: 'Cam',
  commands: { snapshot: { type: 'bytes', readonly: true, mime: 'image/png' } },
};
const descriptions: Record<string, DeviceDescription> = { [lamp.id]: lamp, [camera.id]: camera };

/** A devices client over fixed data that records the sets. */
function fakeDevices(): Pick<DevicesClient, 'servers' | 'describe' | 'get' | 'values' | 'getBytes' | 'set'> & { sets: unknown[][] } {
  const sets: unknown[][] = [];
  return {
    sets,
    servers: async () => ['pi1.sim.devices'],
    describe: async (id) => {
      const d = descriptions[id];
      if (d === undefined) throw new DeviceError('ERR_DEVICE_NOT_FOUND', `no device ${id}`);
      return d;
    },
    get: async (_id, command) => ({ level: { value: 40, unit: '%', ts: 1 }, power: { value: true, ts: 1 } })[command] as Reading,
    values: async () => ({ power: { value: true, ts: 1 }, level: { value: 40, unit: '%', ts: 1 } }),
    getBytes: async () => ({ mime: 'image/png', data: Buffer.from('PNG!') }),
    set: async (id, command, value) => {
      sets.push([id, command, value]);
      if (command === 'temperature') throw new DeviceError('ERR_DEVICE_NOT_SUPPORTED', 'temperature of lamp is a reading: it can be read, not set');
      if (command === 'level' && (value as number) > 100) throw new DeviceError('ERR_DEVICE_INVALID', `level must be at most 100 %, got ${String(value)}`);
      return { value, ...(command === 'level' ? { unit: '%' } : {}), ts: 2 };
    },
  };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
}

describe('devices', () => {
  const discovered: DiscoveredDevice[] = [
    { id: 'pi1/sim/lamp', service: 'pi1.sim.devices', description: lamp, values: { power: { value: true, ts: 1 }, level: { value: 40, unit: '%', ts: 1 } } },
  ];

  test('states from the tree; devices the tree knows whose server is gone', () => {
    const tree: [string, Buffer][] = [
      ['/device/pi1/sim/lamp/$state', json({ online: true, ts: 1 })],
      ['/device/pi1/sim/lamp/power', json({ value: true, ts: 1 })],
      ['/device/pi2/old/fan/$description', json({ id: 'pi2/old/fan', type: 'climate.fan', name: 'Fan', commands: { speed: { type: 'int' } } })],
      ['/device/pi2/old/fan/$state', json({ online: false, ts: 1 })],
      ['/device/pi2/old/fan/speed', json({ value: 3, ts: 1 })],
      ['/device/pi2/old/fan/$error', json({ error: 'bus', ts: 1 })],
      ['/device/pi3/x/heater/$description', json({ id: 'pi3/x/heater', type: 'climate.heater', name: 'Heater', commands: {} })],
      ['/device/pi4/x/orphan/power', json({ value: true, ts: 1 })],
      ['/device/garbage', Buffer.from('x')],
    ];
    const rows = collectDevices(discovered, tree);
    expect(rows.map((r) => [r.id, r.state, r.service])).toEqual([
      ['pi1/sim/lamp', 'online', 'pi1.sim.devices'],
      ['pi2/old/fan', 'offline', null],
      ['pi3/x/heater', 'lost', null],
    ]);
    expect(rows[1]?.values).toEqual({ speed: { value: 3, ts: 1 } });
    expect(collectDevices(discovered, []).map((r) => r.state)).toEqual(['lost']);
    expect(collectDevices(discovered, null).map((r) => r.state)).toEqual(['unknown']);
  });

  test('a table; an unreachable tree is a warning, not a failure', async () => {
    const out = memoryOutput();
    const tree = async (): Promise<[string, Buffer][]> => {
      throw new CliError('ERR_CLI_FAILED', 'cannot reach the key/value tree at tcp://x:5515');
    };
    await devicesCommand({ devices: { discover: async () => discovered }, tree, out }, { json: false });
    expect(out.lines).toEqual(['ID            TYPE           NAME  STATE    VALUES', 'pi1/sim/lamp  switch.dimmer  Lamp  unknown  power=on level=40 %']);
    expect(out.warnings).toEqual(['warning: cannot reach the key/value tree at tcp://x:5515; device states are unknown']);
  });

  test('servers that did not answer are named; no devices at all is said so', async () => {
    const out = memoryOutput();
    const none = Object.assign([] as DiscoveredDevice[], { errors: [{ service: 'pi9.sim.devices', error: 'no reply' }] });
    await devicesCommand({ devices: { discover: async () => none }, tree: async () => [], out }, { json: false });
    expect(out.warnings).toEqual(['warning: pi9.sim.devices did not answer: no reply']);
    expect(out.lines).toEqual([expect.stringMatching(/^No devices\./)]);
    const j = memoryOutput();
    await devicesCommand({ devices: { discover: async () => none }, tree: async () => [], out: j }, { json: true });
    expect(JSON.parse(j.lines.join('\n'))).toEqual([]);
  });
});

describe('get', () => {
  const deps = (out = memoryOutput()): GetDeps & { out: ReturnType<typeof memoryOutput>; files: Map<string, Buffer> } => {
    const files = new Map<string, Buffer>();
    return { devices: fakeDevices(), out, files, writeFile: async (p, d) => void files.set(p, d) };
  };

  test('one reading, or all of them', async () => {
    const one = deps();
    await getCommand(one, { id: 'pi1/sim/lamp', name: 'level', out: undefined }, { json: false, timeout: 1000 });
    expect(one.out.lines).toEqual(['40 %']);
    const all = deps();
    await getCommand(all, { id: 'pi1/sim/lamp', name: undefined, out: undefined }, { json: false, timeout: 1000 });
    expect(all.out.lines).toEqual(['power  on', 'level  40 %']);
  });

  test('bytes: to a file, to a pipe, never to a terminal nor without --out', async () => {
    const file = deps();
    await getCommand(file, { id: 'pi1/sim/cam', name: 'snapshot', out: 'cam.png' }, { json: true, timeout: 1000 });
    expect(file.files.get('cam.png')?.toString()).toBe('PNG!');
    expect(JSON.parse(file.out.lines[0] as string)).toEqual({ id: 'pi1/sim/cam', command: 'snapshot', mime: 'image/png', size: 4, file: 'cam.png' });

    const pipe = deps();
    await getCommand(pipe, { id: 'pi1/sim/cam', name: 'snapshot', out: '-' }, { json: false, timeout: 1000 });
    expect(Buffer.concat(pipe.out.bytes).toString()).toBe('PNG!');
    expect(pipe.out.lines).toEqual([]);
    expect(pipe.out.warnings).toEqual(['wrote 4 bytes of image/png']);

    const terminal = deps(memoryOutput(true));
    const err = await failure(getCommand(terminal, { id: 'pi1/sim/cam', name: 'snapshot', out: '-' }, { json: false, timeout: 1000 }));
    expect(isCliError(err, 'ERR_CLI_USAGE')).toBe(true);
    expect((err as Error).message).toMatch(/not writing binary to a terminal/);
    const bare = await failure(getCommand(deps(), { id: 'pi1/sim/cam', name: 'snapshot', out: undefined }, { json: false, timeout: 1000 }));
    expect((bare as Error).message).toBe('snapshot of pi1/sim/cam is bytes (image/png): give --out FILE, or --out - to pipe it');
    const notBytes = await failure(getCommand(deps(), { id: 'pi1/sim/lamp', name: 'level', out: 'x' }, { json: false, timeout: 1000 }));
    expect((notBytes as Error).message).toBe('--out is for bytes commands; level is int');
  });

  test('a command the device does not have; a server that is not there', async () => {
    const err = await failure(getCommand(deps(), { id: 'pi1/sim/lamp', name: 'colour', out: undefined }, { json: false, timeout: 1000 }));
    expect((err as Error).message).toBe('pi1/sim/lamp has no command "colour"; commands: power, level, temperature, name');
    const gone = await failure(getCommand(deps(), { id: 'pi2/sim/lamp', name: undefined, out: undefined }, { json: false, timeout: 1000 }));
    expect((gone as Error).message).toMatch(/^no device server serves pi2\/sim\/lamp: pi2\.sim\.devices is not registered/);
  });
});

describe('set', () => {
  test('the text is read with the schema before it is sent', async () => {
    const devices = fakeDevices();
    const out = memoryOutput();
    await setCommand({ devices, out }, { id: 'pi1/sim/lamp', name: 'power', value: 'on' }, { json: false });
    await setCommand({ devices, out }, { id: 'pi1/sim/lamp', name: 'level', value: '75' }, { json: true });
    expect(devices.sets).toEqual([
      ['pi1/sim/lamp', 'power', true],
      ['pi1/sim/lamp', 'level', 75],
    ]);
    expect(out.lines[0]).toBe('power = on');
    expect(JSON.parse(out.lines[1] as string)).toEqual({ id: 'pi1/sim/lamp', command: 'level', value: 75, unit: '%', ts: 2 });
  });

  test('text that is not of the type is refused here; the server judges the value, and what cannot be set', async () => {
    const devices = fakeDevices();
    const notBool = await failure(setCommand({ devices, out: memoryOutput() }, { id: 'pi1/sim/lamp', name: 'power', value: 'maybe' }, { json: false }));
    expect((notBool as Error).message).toBe('power must be true or false, got "maybe"');
    expect(devices.sets).toEqual([]);
    const range = await failure(setCommand({ devices, out: memoryOutput() }, { id: 'pi1/sim/lamp', name: 'level', value: '101' }, { json: false }));
    expect(explain(range, { broker: 'b', kv: 'k', timeout: 1 })).toEqual({ message: 'level must be at most 100 %, got 101', exitCode: 1 });
    const reading = await failure(setCommand({ devices, out: memoryOutput() }, { id: 'pi1/sim/lamp', name: 'temperature', value: 'hot' }, { json: false }));
    expect((reading as Error).message).toBe('temperature of lamp is a reading: it can be read, not set');
    expect(devices.sets).toEqual([
      ['pi1/sim/lamp', 'level', 101],
      ['pi1/sim/lamp', 'temperature', 'hot'],
    ]);
  });

  test('typeOnly keeps the type and drops the limits; an enum is text', () => {
    expect(typeOnly({ type: 'int', min: 0, max: 10, unit: '%' })).toEqual({ type: 'int' });
    expect(typeOnly({ type: 'enum', values: ['a'] })).toEqual({ type: 'string' });
  });
});

describe('watch', () => {
  test('a path is a subtree or a key with what is under it', () => {
    const subtree = watchScope('/device/');
    expect(subtree.subtree).toBe('/device/');
    expect(subtree.matches('/device/pi1/sim/lamp/power')).toBe(true);
    const key = watchScope('/device/pi1/sim/lamp');
    expect(key.subtree).toBe('/device/pi1/sim/');
    expect(['/device/pi1/sim/lamp', '/device/pi1/sim/lamp/power', '/device/pi1/sim/lamp2/power'].map(key.matches)).toEqual([true, true, false]);
    expect(watchScope('/').subtree).toBe('');
    expect(watchScope('/house').subtree).toBe('');
  });

  test('changes as lines for people or JSON lines', () => {
    const at = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();
    const change = { key: '/device/pi1/sim/lamp/level', value: json({ value: 80, unit: '%', ts: 1 }) };
    expect(formatChange(change, at, false)).toBe('03:04:05.006 /device/pi1/sim/lamp/level 80 %');
    expect(JSON.parse(formatChange(change, at, true))).toEqual({ time: new Date(at).toISOString(), key: change.key, value: { value: 80, unit: '%', ts: 1 } });
    expect(JSON.parse(formatChange({ key: '/x/y', value: undefined }, at, true))).toMatchObject({ value: null, deleted: true });
    expect(JSON.parse(formatChange({ key: '/x/y', value: Buffer.from('hi') }, at, true))).toMatchObject({ value: 'hi' });
    expect(JSON.parse(formatChange({ key: '/x/y', value: Buffer.from([0xff]) }, at, true))).toMatchObject({ value: null, bytes: 1 });
  });

  test('a value renewed with only a new timestamp is no change', () => {
    expect(isRefresh({ previous: json({ online: true, ts: 1 }), value: json({ online: true, ts: 2 }) })).toBe(true);
    expect(isRefresh({ previous: json({ online: true, ts: 1 }), value: json({ online: false, ts: 2 }) })).toBe(false);
    expect(isRefresh({ previous: undefined, value: json({ online: true, ts: 2 }) })).toBe(false);
    expect(isRefresh({ previous: json({ value: 1, ts: 1 }), value: undefined })).toBe(false);
    expect(isRefresh({ previous: Buffer.from('a'), value: Buffer.from('a') })).toBe(false);
  });

  test('prints matching changes until the signal, then returns', async () => {
    const listeners: ((c: KvChange) => void)[] = [];
    const kv = {
      on: () => kv,
      off: () => kv,
      changes: (_prefix: string, options: { signal?: AbortSignal }) => {
        const queue: KvChange[] = [];
        let wake: (() => void) | null = null;
        listeners.push((c) => {
          queue.push(c);
          wake?.();
        });
        options.signal?.addEventListener('abort', () => wake?.());
        return (async function* () {
          for (;;) {
            const c = queue.shift();
            if (c !== undefined) yield c;
            else if (options.signal?.aborted) return;
            else await new Promise<void>((r) => (wake = r));
          }
        })();
      },
    } as unknown as Pick<KvClient, 'changes' | 'on' | 'off'>;
    const out = memoryOutput();
    const stop = new AbortController();
    const done = watchCommand({ kv, out, now: () => 0, signal: stop.signal }, { path: '/device/pi1/sim/lamp', server: 'tcp://k:5515' }, { json: true });
    await new Promise((r) => setImmediate(r));
    const emit = (key: string, value: unknown, previous?: unknown): void =>
      listeners.forEach((l) => l({ key, value: json(value), previous: previous === undefined ? undefined : json(previous), sequence: 1 }));
    emit('/device/pi1/sim/lamp/power', { value: true, ts: 1 });
    emit('/device/pi1/sim/lamp2/power', { value: true, ts: 1 });
    emit('/device/pi1/sim/lamp/$state', { online: true, ts: 2 }, { online: true, ts: 1 });
    await new Promise((r) => setImmediate(r));
    stop.abort();
    await done;
    expect(out.warnings).toEqual(['watching /device/pi1/sim/lamp on tcp://k:5515 (Ctrl-C to stop)']);
    expect(out.lines.map((l) => (JSON.parse(l) as { key: string }).key)).toEqual(['/device/pi1/sim/lamp/power']);
  });
});

describe('services', () => {
  test('names from mmi.discovery, figures from mmi.stats', async () => {
    const asked: string[][] = [];
    const mdp = {
      request: async (service: string, ...body: (string | Buffer)[]) => {
        asked.push([service, ...body.map(String)]);
        if (service === 'mmi.discovery') return ['200', 'titanic.store', 'pi1.sim.devices'].map((s) => Buffer.from(s));
        return [Buffer.from('200'), json({ services: { 'pi1.sim.devices': { workers: 2, idle: 1, queued: 0, requests: 9, replies: 9, errors: 0 } } })];
      },
    };
    const out = memoryOutput();
    await servicesCommand({ mdp, out }, { json: false });
    expect(asked).toEqual([['mmi.discovery', ''], ['mmi.stats']]);
    expect(out.lines).toEqual(['SERVICE          WORKERS  IDLE  QUEUED', 'pi1.sim.devices  2        1     0', 'titanic.store    0        0     0']);
    expect(serviceRows([], { services: {} })).toEqual([]);
  });

  test('a broker that does not answer MMI as expected', async () => {
    const mdp = { request: async () => [Buffer.from('501')] };
    const err = await failure(servicesCommand({ mdp, out: memoryOutput() }, { json: false }));
    expect((err as Error).message).toBe('the broker answered mmi.discovery with 501: ');
  });
});

describe('explain', () => {
  const where = { broker: 'tcp://127.0.0.1:5514', kv: 'tcp://127.0.0.1:5515', timeout: 3000 };

  test('library errors become one line for people', () => {
    expect(explain(new MdpError('ERR_MDP_BROKER_UNREACHABLE', 'could not connect'), where)).toEqual({
      message: 'cannot reach the broker at tcp://127.0.0.1:5514 — is the house running? (npm start)',
      exitCode: 1,
    });
    expect(explain(new MdpError('ERR_MDP_TIMEOUT', 'x', { details: { service: 'pi1.sim.devices' } }), where).message).toBe(
      'no answer from pi1.sim.devices within 3000 ms (the broker is at tcp://127.0.0.1:5514; --timeout to wait longer)',
    );
    expect(explain(new DeviceError('ERR_DEVICE_INVALID', 'level must be at most 100 %,\n got 150'), where).message).toBe('level must be at most 100 %, got 150');
    expect(explain(new CliError('ERR_CLI_USAGE', 'give --out'), where)).toEqual({ message: 'give --out', exitCode: 2 });
    expect(explain(Object.assign(new Error('permission denied'), { code: 'EACCES' }), where).message).toBe('permission denied (EACCES)');
    expect(explain('odd', where)).toEqual({ message: 'odd', exitCode: 1 });
  });
});
