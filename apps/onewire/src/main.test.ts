/**
 * raspy-onewire as a user runs it: from a kernel bus (a fixture tree) and
 * from a real owserver (Debian's, in its tester mode).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createConnection } from 'node:net';
import { MdpBroker, MdpClient } from '@raspy/mdp';
import { KvServer } from '@raspy/kv';
import { DevicesClient } from '@raspy/devices';
import { Cleanup, unusedPort, waitFor, within } from '@raspy/test-support';
import { hostIdFrom, parseConfig } from './config.js';

const main = join(__dirname, '..', 'dist', 'main.js');
const OWSERVER = '/usr/bin/owserver';
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function house(): Promise<{ broker: string; kv: string; devices: DevicesClient }> {
  const broker = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100 }));
  await broker.start();
  const kv = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0 }));
  await kv.start();
  const ep = broker.endpoints[0] as string;
  return { broker: ep, kv: kv.endpoints.snapshot, devices: new DevicesClient(cleanup.add(new MdpClient({ endpoint: ep, timeout: 5000 }))) };
}

function run(args: string[]): { ready: Promise<void>; child: ChildProcess } {
  const child = spawn(process.execPath, [main, '--log-format', 'json', '--heartbeat-interval', '100', '--host', 'pi1', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  cleanup.defer(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  const ready = within(
    new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on('line', (line) => {
        lines.push(line);
        if (line.includes('"raspy-onewire running"')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`raspy-onewire exited with ${code}: ${lines.join('\n')}`)));
    }),
    15_000,
    'raspy-onewire to run',
  );
  return { ready, child };
}

test('from the kernel bus: a DS18B20 on w1_bus_master1 is served with its temperature', async () => {
  const root = mkdtempSync(join(tmpdir(), 'raspy-w1-'));
  cleanup.defer(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'w1_bus_master1'));
  writeFileSync(join(root, 'w1_bus_master1', 'w1_master_slaves'), '28-0000052fd3c1\n');
  mkdirSync(join(root, '28-0000052fd3c1'));
  writeFileSync(join(root, '28-0000052fd3c1', 'w1_slave'), '72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n');
  const h = await house();
  await run(['--sysfs', root, '--broker', h.broker, '--kv', h.kv]).ready;
  expect(await h.devices.list()).toEqual([{ id: 'pi1/onewire/28-0000052fd3c1', type: 'sensor.temperature', name: 'DS18B20 28-0000052fd3c1' }]);
  expect(await h.devices.get('pi1/onewire/28-0000052fd3c1', 'temperature')).toMatchObject({ value: 23.125, unit: '°C' });
  expect(await h.devices.get('pi1/onewire/28-0000052fd3c1', 'resolution')).toMatchObject({ value: 12 });
});

// Debian's owserver is installed by CI (.ci/run); without it these are skipped unless RASPY_REQUIRE_OWSERVER=1.
const haveOwserver = existsSync(OWSERVER);
if (!haveOwserver && process.env.RASPY_REQUIRE_OWSERVER === '1') {
  test('owserver is installed (RASPY_REQUIRE_OWSERVER=1)', () => {
    throw new Error(`${OWSERVER} is missing: install Debian's owserver package`);
  });
}
const testOwserver = haveOwserver ? test : test.skip;

testOwserver('from an owserver: the tester\'s DS18B20 and DS18S20 are served', async () => {
  const port = await unusedPort();
  const ow = spawn(OWSERVER, ['--foreground', '--error_level=0', '--tester=28,10', '-p', `127.0.0.1:${port}`], { stdio: 'ignore' });
  cleanup.defer(async () => {
    ow.kill('SIGKILL');
    if (ow.exitCode === null && ow.signalCode === null) await new Promise((r) => ow.once('exit', r));
  });
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const s = createConnection({ host: '127.0.0.1', port }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
    'owserver to listen',
    10_000,
  );
  const h = await house();
  await run(['--owserver', `127.0.0.1:${port}`, '--broker', h.broker, '--kv', h.kv]).ready;
  expect((await h.devices.list()).map((d) => [d.id, d.type])).toEqual([
    ['pi1/onewire/10-000010ef0100', 'sensor.temperature'],
    ['pi1/onewire/28-000028d70000', 'sensor.temperature'],
  ]);
  expect(await h.devices.get('pi1/onewire/28-000028d70000', 'temperature')).toMatchObject({ value: 4, unit: '°C' });
  expect(await h.devices.get('pi1/onewire/10-000010ef0100', 'temperature')).toMatchObject({ value: 1.7 });
  expect(await h.devices.get('pi1/onewire/10-000010ef0100', 'status')).toMatchObject({ value: 'ok' });
});

test('config: sources, host id from the machine name, refusals', () => {
  expect(hostIdFrom('Kitchen-Pi.local')).toBe('kitchen-pi');
  expect(hostIdFrom('___')).toBe('pi');
  expect(parseConfig([], {}, 'pi1')).toMatchObject({ kind: 'run', config: { source: { kind: 'sysfs', root: '/sys/bus/w1/devices' }, host: 'pi1', poll: 30 } });
  expect(parseConfig(['--owserver', 'localhost:4304'], {}, 'pi1')).toMatchObject({ kind: 'run', config: { source: { kind: 'owserver', host: 'localhost', port: 4304 } } });
  expect(parseConfig(['--owserver', 'localhost'], {}, 'pi1')).toMatchObject({ kind: 'error', message: expect.stringMatching(/host:port/) });
  expect(parseConfig(['--sysfs', '/x', '--owserver', 'h:1'], {}, 'pi1')).toMatchObject({ kind: 'error', message: 'give --sysfs or --owserver, not both' });
  expect(parseConfig(['--poll', '0'], {}, 'pi1')).toMatchObject({ kind: 'error' });
  expect(spawnSync(process.execPath, [main, '--bogus'], { encoding: 'utf8' }).status).toBe(2);
});
