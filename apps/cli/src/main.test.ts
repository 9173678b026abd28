/**
 * `raspy` as a person runs it: the built CLI in a child process, against a
 * real broker, key/value server and device server living in this test
 * process (so the CLI is always spawned asynchronously: a synchronous spawn
 * would block the very broker it talks to).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdpBroker, MdpClient } from '@raspy/mdp';
import { KvClient, KvServer } from '@raspy/kv';
import { Device, DeviceError, DeviceServer, DevicesClient, defineDevice, type DeviceConfig } from '@raspy/devices';
import { Cleanup, unusedPort, waitFor, within } from '@raspy/test-support';

const main = join(__dirname, '..', 'dist', 'main.js');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

// ---- the devices of the test house ---------------------------------------------------

/** A dimmable lamp; it refuses 13 %, as real hardware refuses things. */
class Lamp extends Device {
  readonly type = 'switch.dimmer';
  readonly commands = {
    power: { type: 'bool', label: 'Power' },
    level: { type: 'int', label: 'Brightness', unit: '%', min: 0, max: 100 },
  } as const;
  private on = false;
  private level = 50;
  read() {
    return { power: this.on, level: this.level };
  }
  override write(command: string, value: unknown) {
    if (command === 'level' && value === 13) throw new DeviceError('ERR_DEVICE_INVALID', 'the hall light does not do 13 %, try 12 or 14');
    if (command === 'power') this.on = value as boolean;
    if (command === 'level') {
      this.level = value as number;
      this.on = this.level > 0;
    }
    return value;
  }
}

/** A camera whose snapshot is larger than the server's chunk size, so it comes streamed. */
const SNAPSHOT = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(5000, 7)]);
class Camera extends Device {
  readonly type = 'media.camera';
  readonly commands = {
    snapshot: { type: 'bytes', readonly: true, mime: 'image/png' },
    motion: { type: 'bool', readonly: true },
  } as const;
  read() {
    return { motion: false };
  }
  override fetch() {
    return SNAPSHOT;
  }
}

const thermometer = defineDevice({
  type: 'sensor.temperature',
  commands: { temperature: { type: 'real', unit: '°C', readonly: true } },
  read: () => ({ temperature: 21.4 }),
});

interface House {
  broker: string;
  kv: string;
  server: DeviceServer;
  devices: DevicesClient;
}

async function house(): Promise<House> {
  const broker = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100 }));
  await broker.start();
  const kvServer = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0 }));
  await kvServer.start();
  const endpoint = broker.endpoints[0] as string;
  const configs: DeviceConfig[] = [
    { id: 'hall', name: 'Hall light', kind: 'x' },
    { id: 'door', name: 'Front door', kind: 'x' },
  ];
  const server = new DeviceServer({
    host: 'pi1',
    server: 'acme',
    broker: endpoint,
    kv: kvServer.endpoints,
    store: false,
    heartbeatInterval: 100,
    chunkSize: 1024,
    devices: [new Lamp(configs[0] as DeviceConfig), new Camera(configs[1] as DeviceConfig), thermometer({ id: 'kitchen', name: 'Kitchen', kind: 'acme.thermometer' })],
  });
  cleanup.defer(() => server.stop());
  await server.start();
  const devices = new DevicesClient(cleanup.add(new MdpClient({ endpoint, timeout: 5000 })));
  const kv = kvServer.endpoints.snapshot;
  // Everything the CLI reads is in the tree before it runs.
  const tree = cleanup.add(new KvClient({ servers: kv, subtree: '/device/' }));
  await tree.start();
  await waitFor(
    () => ['hall', 'door', 'kitchen'].every((d) => tree.get(`/device/pi1/acme/${d}/$state`) !== undefined) && tree.get('/device/pi1/acme/kitchen/temperature') !== undefined,
    'the devices in the tree',
  );
  await tree.close();
  return { broker: endpoint, kv, server, devices };
}

// ---- running the CLI -----------------------------------------------------------------

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stdoutBytes: () => Buffer;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[], h?: Pick<House, 'broker' | 'kv'>): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, RASPY_BROKER: h?.broker ?? '', RASPY_KV: h?.kv ?? '' };
  delete env.RASPY_DEBUG;
  const child = spawn(process.execPath, [main, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const out: Buffer[] = [];
  let err = '';
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => Buffer.concat(out).toString('utf8'), stdoutBytes: () => Buffer.concat(out), stderr: () => err, exited };
}

/** Runs the CLI to the end. */
async function raspy(args: string[], h?: Pick<House, 'broker' | 'kv'>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = start(args, h);
  const { code } = await within(r.exited, 20_000, `raspy ${args.join(' ')}`);
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

// ---- tests ---------------------------------------------------------------------------

test('devices: a table of every device with its state and values', async () => {
  const h = await house();
  const { code, stdout, stderr } = await raspy(['devices'], h);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const lines = stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^ID\s+TYPE\s+NAME\s+STATE\s+VALUES$/);
  expect(lines.slice(1)).toEqual([
    expect.stringMatching(/^pi1\/acme\/door\s+media\.camera\s+Front door\s+online\s+motion=off$/),
    expect.stringMatching(/^pi1\/acme\/hall\s+switch\.dimmer\s+Hall light\s+online\s+power=off level=50 %$/),
    expect.stringMatching(/^pi1\/acme\/kitchen\s+sensor\.temperature\s+Kitchen\s+online\s+temperature=21\.4 °C$/),
  ]);

  // Without the tree the devices are still listed; their states are unknown.
  const kv = `tcp://127.0.0.1:${await unusedPort()}`;
  const blind = await raspy(['devices', '--kv', kv, '--timeout', '500'], h);
  expect(blind.code).toBe(0);
  expect(blind.stderr).toBe(`warning: cannot reach the key/value tree at ${kv} — is the house running? (npm start); device states are unknown\n`);
  expect(blind.stdout).toMatch(/^pi1\/acme\/hall\s+switch\.dimmer\s+Hall light\s+unknown\s+power=off level=50 %$/m);
});

test('devices --json: rows for scripts; a stopped server\'s devices stay listed, offline, and one the tree lost shows as lost', async () => {
  const h = await house();
  const first = await raspy(['devices', '--json'], h);
  expect(first.code).toBe(0);
  const rows = JSON.parse(first.stdout) as { id: string; state: string; service: string | null; values: Record<string, { value: unknown; unit?: string }> }[];
  expect(rows.map((r) => [r.id, r.state, r.service])).toEqual([
    ['pi1/acme/door', 'online', 'pi1.acme.devices'],
    ['pi1/acme/hall', 'online', 'pi1.acme.devices'],
    ['pi1/acme/kitchen', 'online', 'pi1.acme.devices'],
  ]);
  expect(rows[2]?.values.temperature).toMatchObject({ value: 21.4, unit: '°C' });

  // A device the tree knows with no $state (it ran out) is lost.
  const tree = cleanup.add(new KvClient({ servers: h.kv, subtree: '/device/' }));
  await tree.start();
  await tree.setJson('/device/pi2/old/lamp/$description', { id: 'pi2/old/lamp', type: 'switch.onoff', name: 'Old lamp', commands: { power: { type: 'bool' } } });
  await tree.setJson('/device/pi2/old/lamp/power', { value: true, ts: 1 });
  await h.server.stop();
  const second = await raspy(['devices'], h);
  expect(second.code).toBe(0);
  expect(second.stdout).toMatch(/^pi1\/acme\/hall\s+switch\.dimmer\s+Hall light\s+offline\s+power=off level=50 %$/m);
  expect(second.stdout).toMatch(/^pi2\/old\/lamp\s+switch\.onoff\s+Old lamp\s+lost\s+power=on$/m);
});

test('get: one reading, every reading, and a snapshot to a file (never to a terminal or without --out)', async () => {
  const h = await house();
  expect(await raspy(['get', 'pi1/acme/kitchen', 'temperature'], h)).toEqual({ code: 0, stdout: '21.4 °C\n', stderr: '' });
  const json = await raspy(['get', 'pi1/acme/kitchen', 'temperature', '--json'], h);
  expect(JSON.parse(json.stdout)).toMatchObject({ id: 'pi1/acme/kitchen', command: 'temperature', value: 21.4, unit: '°C', ts: expect.any(Number) });

  const all = await raspy(['get', 'pi1/acme/hall'], h);
  expect(all.code).toBe(0);
  expect(all.stdout).toBe('power  off\nlevel  50 %\n');
  const camera = await raspy(['get', 'pi1/acme/door'], h);
  expect(camera.stdout).toMatch(/^snapshot\s+\(image\/png: raspy get pi1\/acme\/door snapshot --out FILE\)$/m);

  const dir = mkdtempSync(join(tmpdir(), 'raspy-cli-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'door.png');
  const saved = await raspy(['get', 'pi1/acme/door', 'snapshot', '--out', file], h);
  expect(saved).toEqual({ code: 0, stdout: `wrote 4.9 KiB of image/png to ${file}\n`, stderr: '' });
  expect(readFileSync(file).equals(SNAPSHOT)).toBe(true);

  const piped = start(['get', 'pi1/acme/door', 'snapshot', '--out', '-'], h);
  expect((await within(piped.exited, 20_000, 'piped snapshot')).code).toBe(0);
  expect(piped.stdoutBytes().equals(SNAPSHOT)).toBe(true);
  expect(piped.stderr()).toBe('wrote 4.9 KiB of image/png\n');

  const bare = await raspy(['get', 'pi1/acme/door', 'snapshot'], h);
  expect(bare).toEqual({ code: 2, stdout: '', stderr: 'raspy: snapshot of pi1/acme/door is bytes (image/png): give --out FILE, or --out - to pipe it\n' });

  const missing = await raspy(['get', 'pi1/acme/cellar'], h);
  expect(missing).toEqual({ code: 1, stdout: '', stderr: 'raspy: no device pi1/acme/cellar on pi1.acme.devices\n' });
  const noServer = await raspy(['get', 'pi9/acme/hall', 'power'], h);
  expect(noServer.code).toBe(1);
  expect(noServer.stderr).toMatch(/^raspy: no device server serves pi9\/acme\/hall: pi9\.acme\.devices is not registered with the broker/);
});

test('set: parses with the schema and prints the reading in effect; a refused value prints the server\'s message', async () => {
  const h = await house();
  expect(await raspy(['set', 'pi1/acme/hall', 'level', '80'], h)).toEqual({ code: 0, stdout: 'level = 80 %\n', stderr: '' });
  expect(await h.devices.get('pi1/acme/hall', 'level')).toMatchObject({ value: 80 });
  const on = await raspy(['set', 'pi1/acme/hall', 'power', 'off', '--json'], h);
  expect(JSON.parse(on.stdout)).toMatchObject({ id: 'pi1/acme/hall', command: 'power', value: false });

  expect(await raspy(['set', 'pi1/acme/hall', 'level', '150'], h)).toEqual({ code: 1, stdout: '', stderr: 'raspy: level must be at most 100 %, got 150\n' });
  expect(await raspy(['set', 'pi1/acme/hall', 'level', '13'], h)).toEqual({
    code: 1,
    stdout: '',
    stderr: 'raspy: the hall light does not do 13 %, try 12 or 14\n',
  });
  expect(await raspy(['set', 'pi1/acme/hall', 'power', 'maybe'], h)).toEqual({ code: 1, stdout: '', stderr: 'raspy: power must be true or false, got "maybe"\n' });
  expect(await raspy(['set', 'pi1/acme/kitchen', 'temperature', '30'], h)).toEqual({
    code: 1,
    stdout: '',
    stderr: 'raspy: temperature of pi1/acme/kitchen is a reading: it can be read, not set\n',
  });
  const negative = await raspy(['set', 'pi1/acme/hall', 'level', '-5'], h);
  expect(negative).toEqual({ code: 1, stdout: '', stderr: 'raspy: level must be at least 0 %, got -5\n' });
  expect(await h.devices.get('pi1/acme/hall', 'level')).toMatchObject({ value: 80 });
});

test('watch: one line per change until Ctrl-C, then exit 0', async () => {
  const h = await house();
  const w = start(['watch', 'pi1/acme/hall'], h);
  await waitFor(() => w.stderr().includes('watching'), 'the watch to start', 10_000);
  expect(w.stderr()).toBe(`watching /device/pi1/acme/hall on ${h.kv} (Ctrl-C to stop)\n`);
  await h.devices.set('pi1/acme/hall', 'level', 30);
  await waitFor(() => /\/device\/pi1\/acme\/hall\/level 30 %\n/.test(w.stdout()), 'the change of level', 10_000);
  expect(w.stdout()).toMatch(/^\d\d:\d\d:\d\d\.\d\d\d \/device\/pi1\/acme\/hall\/level 30 %$/m);
  expect(w.stdout()).not.toMatch(/kitchen/);
  w.child.kill('SIGINT');
  expect(await within(w.exited, 10_000, 'the watch to end')).toEqual({ code: 0, signal: null });

  const j = start(['watch', '--json'], h);
  await waitFor(() => j.stderr().includes('watching /device/'), 'the JSON watch to start', 10_000);
  await h.devices.set('pi1/acme/hall', 'power', false);
  await waitFor(() => j.stdout().includes('"key":"/device/pi1/acme/hall/power"'), 'the change of power', 10_000);
  const line = j.stdout().split('\n').find((l) => l.includes('/hall/power')) as string;
  expect(JSON.parse(line)).toEqual({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), key: '/device/pi1/acme/hall/power', value: { value: false, ts: expect.any(Number) } });
  j.child.kill('SIGINT');
  expect((await within(j.exited, 10_000, 'the JSON watch to end')).code).toBe(0);
});

test('services: the broker\'s services with workers and queued requests', async () => {
  const h = await house();
  const text = await raspy(['services'], h);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^SERVICE\s+WORKERS\s+IDLE\s+QUEUED\npi1\.acme\.devices\s+2\s+\d\s+0\n$/);
  const json = await raspy(['services', '--json'], h);
  expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ service: 'pi1.acme.devices', workers: 2, queued: 0 })]);
});

test('an unreachable broker: one line saying so, exit 1', async () => {
  const port = await unusedPort();
  const broker = `tcp://127.0.0.1:${port}`;
  for (const args of [['services'], ['devices'], ['set', 'pi1/acme/hall', 'power', 'on']]) {
    const r = await raspy([...args, '--broker', broker, '--kv', `tcp://127.0.0.1:${port}`, '--timeout', '500']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `raspy: cannot reach the broker at ${broker} — is the house running? (npm start)\n` });
  }
  const watch = await raspy(['watch', '--kv', `tcp://127.0.0.1:${port}`, '--timeout', '500']);
  expect(watch).toEqual({ code: 1, stdout: '', stderr: `raspy: cannot reach the key/value tree at tcp://127.0.0.1:${port} — is the house running? (npm start)\n` });
});

test('bad usage: one line, exit 2; --help and --version', async () => {
  const cases: [string[], RegExp][] = [
    [[], /^raspy: a command is needed \(see raspy --help\)\n$/],
    [['frobnicate'], /^raspy: no command "frobnicate"; commands: devices, get, set, watch, services/],
    [['get'], /^raspy: usage: raspy get <device-id> \[command\] \(see raspy get --help\)\n$/],
    [['set', 'pi1/acme/hall', 'level'], /^raspy: usage: raspy set <device-id> <command> <value>/],
    [['get', 'hall', 'power'], /^raspy: a device id is <host>\/<server>\/<device>/],
    [['devices', '--timeout', 'soon'], /^raspy: --timeout must be a positive whole number of milliseconds, got "soon"/],
    [['devices', '--colour'], /^raspy: Unknown option '--colour'/],
    [['services', '--out', 'x'], /^raspy: --out is an option of get only/],
  ];
  for (const [args, message] of cases) {
    const r = await raspy(args);
    expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  }
  const help = await raspy(['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^Usage: raspy <command>/);
  const getHelp = await raspy(['get', '--help']);
  expect(getHelp.stdout).toMatch(/^Usage: raspy get <device-id> \[command\]/);
  expect(getHelp.stdout).toMatch(/--broker/);
  expect((await raspy(['help', 'watch'])).stdout).toMatch(/^Usage: raspy watch/);
  expect(await raspy(['--version'])).toEqual({ code: 0, stdout: expect.stringMatching(/^raspy \d+\.\d+\.\d+\n$/), stderr: '' });
});
