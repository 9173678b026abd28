/**
 * Scenarios end to end, through a real broker, key/value tree, settings
 * store and device server.
 */
import { MdpBroker, MdpClient } from '@raspy/mdp';
import { KvServer } from '@raspy/kv';
import { StoreService } from '@raspy/titanic';
import { Device, DeviceServer, DevicesClient, SimulatedSwitch, type DeviceContext } from '@raspy/devices';
import { Cleanup, waitFor } from '@raspy/test-support';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScenarioService } from './scenario-service.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A thermometer whose temperature the test sets (pushed as a reading). */
class Thermometer extends Device {
  readonly type = 'sensor.temperature';
  readonly commands = { temperature: { type: 'real', unit: '°C', readonly: true } } as const;
  celsius = 20;
  ctx: DeviceContext | null = null;
  override start(ctx: DeviceContext) {
    this.ctx = ctx;
  }
  read() {
    return { temperature: this.celsius };
  }
  setTo(celsius: number) {
    this.celsius = celsius;
    this.ctx?.publish({ temperature: celsius });
  }
}

async function house(dataDir: string) {
  const broker = cleanup.add(new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100 }));
  await broker.start();
  const ep = broker.endpoints[0] as string;
  const tree = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0 }));
  await tree.start();
  const store = new StoreService({ broker: ep, dataDir: join(dataDir, 'store'), heartbeatInterval: 100 });
  cleanup.defer(() => store.stop());
  await store.start();
  const thermometer = new Thermometer({ id: 'living-temp', poll: 0 });
  const devices = new DeviceServer({
    host: 'pi1',
    server: 'sim',
    broker: ep,
    kv: tree.endpoints,
    devices: [thermometer, new SimulatedSwitch({ id: 'heater' })],
    heartbeatInterval: 100,
  });
  cleanup.defer(() => devices.stop());
  await devices.start();
  const mdp = cleanup.add(new MdpClient({ endpoint: ep, timeout: 5000 }));
  return { ep, tree, thermometer, mdp, client: new DevicesClient(mdp) };
}

async function service(ep: string, tree: KvServer, extra = {}): Promise<ScenarioService> {
  const s = new ScenarioService({ host: 'pi1', broker: ep, kv: tree.endpoints.snapshot, heartbeatInterval: 100, timezone: 'Europe/Paris', ...extra });
  cleanup.defer(() => s.stop());
  await s.start();
  return s;
}

const thermostat = {
  name: 'thermostat',
  mode: 'restart',
  triggers: [
    { type: 'threshold', id: 'cold', key: '/device/pi1/sim/living-temp/temperature', below: 19, for: '1s' },
    { type: 'threshold', id: 'warm', key: '/device/pi1/sim/living-temp/temperature', above: 21 },
  ],
  actions: [
    {
      type: 'choose',
      when: [
        { conditions: [{ type: 'trigger', id: 'cold' }], actions: [{ type: 'device', device: 'pi1/sim/heater', command: 'power', value: true }] },
        { conditions: [{ type: 'trigger', id: 'warm' }], actions: [{ type: 'device', device: 'pi1/sim/heater', command: 'power', value: false }] },
      ],
    },
  ],
};

async function call(mdp: MdpClient, service: string, action: string, arg: unknown = {}): Promise<[string, Record<string, unknown>]> {
  const [status, json] = (await mdp.request(service, action, JSON.stringify(arg))).map(String);
  return [status as string, JSON.parse(json as string) as Record<string, unknown>];
}

test('a simulated temperature crossing a threshold switches a simulated heater, and the trace shows why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-scenarios-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const h = await house(dir);
  await service(h.ep, h.tree);
  expect(await call(h.mdp, 'pi1.core.scenarios', 'add', { scenario: thermostat })).toEqual(['200', { scenario: expect.objectContaining({ name: 'thermostat' }) }]);

  h.thermometer.setTo(18.2);
  await waitFor(async () => (await h.client.get('pi1/sim/heater', 'power')).value === true, 'the heater to switch on', 8000);
  const [, traces] = await call(h.mdp, 'pi1.core.scenarios', 'traces', { name: 'thermostat' });
  expect((traces.traces as unknown[])[0]).toMatchObject({
    result: 'done',
    trigger: { type: 'threshold', id: 'cold', detail: '/device/pi1/sim/living-temp/temperature is 18.2, below 19 for 1s' },
    steps: [
      { type: 'choose', result: { branch: 0 } },
      { type: 'device', result: { device: 'pi1/sim/heater', command: 'power', value: true } },
    ],
  });
  h.thermometer.setTo(21.5);
  await waitFor(async () => (await h.client.get('pi1/sim/heater', 'power')).value === false, 'the heater to switch off', 8000);
});

test('the services: add, update, enable, run, stop, traces, export and import, cron jobs; bad requests get 400/404/501', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-scenarios-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const h = await house(dir);
  const first = await service(h.ep, h.tree);
  const S = 'pi1.core.scenarios';
  const C = 'pi1.core.cron';
  const slow = { name: 'slow', triggers: [{ type: 'cron', job: 'tick' }], actions: [{ type: 'delay', for: '1m' }, { type: 'log', message: 'done' }] };
  expect((await call(h.mdp, C, 'add', { job: { name: 'tick', expression: '0 7 * * *' } }))[0]).toBe('200');
  expect((await call(h.mdp, S, 'add', { scenario: slow }))[0]).toBe('200');
  expect(await call(h.mdp, S, 'add', { scenario: slow })).toEqual(['400', { error: 'a scenario "slow" exists; use update' }]);
  expect(await call(h.mdp, S, 'add', { scenario: { ...slow, name: 'bad', actions: [{ type: 'delay', for: 'soon' }] } })).toEqual([
    '400',
    { error: 'scenario "bad": actions[0].for: expected a duration like "30s", "5m", "1h30m" or a number of seconds, got "soon"' },
  ]);
  expect(await call(h.mdp, S, 'get', { name: 'nope' })).toEqual(['404', { error: 'no scenario "nope"' }]);
  expect(await call(h.mdp, S, 'dance')).toEqual(['501', { error: expect.stringMatching(/^unknown action "dance"/) }]);
  expect((await call(h.mdp, S, 'disable', { name: 'slow' }))[1]).toMatchObject({ scenario: { enabled: false } });
  expect((await call(h.mdp, S, 'run', { name: 'slow' }))[1]).toMatchObject({ trace: { result: 'running' } });
  expect((await call(h.mdp, S, 'list'))[1]).toMatchObject({ scenarios: [{ name: 'slow', enabled: false, running: 1 }] });
  expect(await call(h.mdp, S, 'stop', { name: 'slow' })).toEqual(['200', { stopped: 1 }]);
  await waitFor(async () => ((await call(h.mdp, S, 'traces', { name: 'slow' }))[1].traces as { result: string }[])[0]?.result === 'stopped', 'the stopped trace');
  // A cron tick by hand reaches the scenario (enabled again).
  await call(h.mdp, S, 'enable', { name: 'slow' });
  expect((await call(h.mdp, C, 'run', { name: 'tick' }))[1]).toMatchObject({ job: { name: 'tick' }, ticks: 1 });
  await waitFor(async () => ((await call(h.mdp, S, 'list'))[1].scenarios as { running: number }[])[0]?.running === 1, 'the cron-triggered run');
  await call(h.mdp, S, 'stop', { name: 'slow' });

  const [, exported] = await call(h.mdp, S, 'export');
  expect(exported.bundle).toMatchObject({ format: 'raspy-scenarios', version: 1, scenarios: [{ name: 'slow' }], jobs: [{ name: 'tick' }] });
  expect(await call(h.mdp, S, 'import', { bundle: exported.bundle })).toEqual(['400', { error: '"slow" exists already; import with "replace": true to overwrite' }]);
  expect(await call(h.mdp, S, 'import', { bundle: { ...(exported.bundle as object), scenarios: [{ name: 'x', triggers: [], actions: [] }] } })).toEqual([
    '400',
    { error: 'bundle.scenarios[0]: scenario "x": actions: needs at least one entry' },
  ]);
  expect((await call(h.mdp, S, 'delete', { name: 'slow' }))[0]).toBe('200');
  expect(await call(h.mdp, S, 'import', { bundle: exported.bundle, replace: true })).toEqual(['200', { scenarios: ['slow'], jobs: ['tick'] }]);

  // Everything is kept across a restart of the service.
  await first.stop();
  await service(h.ep, h.tree);
  expect((await call(h.mdp, S, 'list'))[1]).toMatchObject({ scenarios: [{ name: 'slow' }] });
  expect((await call(h.mdp, C, 'list'))[1]).toMatchObject({ jobs: [{ job: { name: 'tick', expression: '0 7 * * *' }, next: expect.any(String) }] });
  expect(await call(h.mdp, C, 'add', { job: { name: 'bad', expression: '0 25 * * *' } })).toEqual(['400', { error: expect.stringMatching(/not a valid cron expression \(hour/) }]);
});

test('a script step runs in the sandbox and can read the tree and command devices', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-scenarios-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const h = await house(dir);
  await service(h.ep, h.tree);
  await waitFor(async () => (await h.client.get('pi1/sim/living-temp', 'temperature')).value === 20, 'the first reading');
  const scripted = {
    name: 'scripted',
    triggers: [],
    actions: [
      {
        type: 'script',
        code: `const t = raspy.get('/device/pi1/sim/living-temp/temperature').value;
raspy.log('it is ' + t);
if (t < 25) await raspy.command('pi1/sim/heater', 'power', true);
return { heated: t < 25 };`,
      },
    ],
  };
  await call(h.mdp, 'pi1.core.scenarios', 'add', { scenario: scripted });
  await call(h.mdp, 'pi1.core.scenarios', 'run', { name: 'scripted' });
  await waitFor(async () => (await h.client.get('pi1/sim/heater', 'power')).value === true, 'the script to switch the heater');
  await waitFor(async () => ((await call(h.mdp, 'pi1.core.scenarios', 'traces', { name: 'scripted' }))[1].traces as { result: string }[])[0]?.result === 'done', 'the run to end');
  const [, done] = await call(h.mdp, 'pi1.core.scenarios', 'traces', { name: 'scripted' });
  expect((done.traces as unknown[])[0]).toMatchObject({ steps: [{ type: 'script', result: { value: { heated: true }, logs: ['it is 20'] } }] });
});
