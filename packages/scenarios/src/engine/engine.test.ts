/**
 * The engine with a fake clock and a fake house: triggers, `for` durations,
 * sun, run modes, stops, waits, traces, and timers restored after a restart.
 */
import { ScenarioEngine, type EngineClock, type EnginePersistence, type EngineWorld, type PersistedState } from './engine.js';
import { validateScenario, type Scenario } from '../model/scenario.js';

class FakeClock implements EngineClock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 1;
  constructor(public t: number) {}
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.next++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  get pending(): number {
    return this.timers.length;
  }
  /** Moves time forward, firing timers in order, letting async work run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const due = this.timers[0];
      if (due === undefined || due.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

class FakeHouse implements EngineWorld {
  values = new Map<string, unknown>();
  commands: string[] = [];
  listeners = new Set<(key: string, value: unknown) => void>();
  get(key: string): unknown {
    return this.values.get(key);
  }
  watch(listener: (key: string, value: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async set(key: string, value: unknown): Promise<void> {
    this.put(key, value === null ? undefined : value);
  }
  put(key: string, value: unknown): void {
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, value);
    for (const l of [...this.listeners]) l(key, value);
  }
  async command(device: string, command: string, value: unknown): Promise<unknown> {
    this.commands.push(`${device} ${command}=${JSON.stringify(value)}`);
    this.put(`/device/${device}/${command}`, { value, ts: 0 });
    return value;
  }
  async script(code: string, input: unknown): Promise<{ value: unknown; logs: string[] }> {
    return { value: { code, input }, logs: [] };
  }
}

class MemoryPersistence implements EnginePersistence {
  state: PersistedState | undefined;
  async load(): Promise<PersistedState | undefined> {
    return this.state === undefined ? undefined : JSON.parse(JSON.stringify(this.state));
  }
  async save(state: PersistedState): Promise<void> {
    this.state = JSON.parse(JSON.stringify(state));
  }
}

const T0 = Date.UTC(2024, 5, 21, 12, 0, 0); // 2024-06-21 12:00 UTC, a Friday
const TEMP = '/device/pi1/sim/living-temp/temperature';
const reading = (value: number) => ({ value, unit: '°C', ts: 0 });

function setup(options: { persistence?: EnginePersistence; clock?: FakeClock; house?: FakeHouse } = {}) {
  const clock = options.clock ?? new FakeClock(T0);
  const house = options.house ?? new FakeHouse();
  const engine = new ScenarioEngine({
    world: house,
    clock,
    timezone: 'Europe/Paris',
    location: { latitude: 48.8566, longitude: 2.3522 },
    ...(options.persistence ? { persistence: options.persistence } : {}),
  });
  return { clock, house, engine };
}

const thermostat: Scenario = validateScenario({
  name: 'thermostat',
  description: 'Keeps the living room between 19 and 21 °C',
  mode: 'restart',
  triggers: [
    { type: 'threshold', id: 'cold', key: TEMP, below: 19, for: '2m' },
    { type: 'threshold', id: 'warm', key: TEMP, above: 21 },
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
});

describe('triggers', () => {
  test('a threshold held for its duration fires once; leaving it before cancels; the trace says why', async () => {
    const { clock, house, engine } = setup();
    house.put(TEMP, reading(20));
    engine.add(thermostat);
    await engine.start();
    house.put(TEMP, reading(18.5));
    await clock.advance(60_000);
    house.put(TEMP, reading(19.5)); // back up after one minute: no heating
    await clock.advance(5 * 60_000);
    expect(house.commands).toEqual([]);
    house.put(TEMP, reading(18.4));
    await clock.advance(2 * 60_000);
    expect(house.commands).toEqual(['pi1/sim/heater power=true']);
    const [trace] = engine.traces('thermostat');
    expect(trace).toMatchObject({
      result: 'done',
      trigger: { type: 'threshold', id: 'cold', value: 18.4, detail: `${TEMP} is 18.4, below 19 for 2m` },
      steps: [{ type: 'choose', result: { branch: 0 } }, { type: 'device', path: '0.0.0', result: { device: 'pi1/sim/heater', command: 'power', value: true } }],
    });
    house.put(TEMP, reading(21.2));
    await clock.advance(1);
    expect(house.commands).toEqual(['pi1/sim/heater power=true', 'pi1/sim/heater power=false']);
    await engine.stop();
  });

  test('change (with "to"), event prefixes and cron ticks', async () => {
    const { clock, house, engine } = setup();
    engine.add(validateScenario({ name: 'door', triggers: [{ type: 'change', key: '/device/pi1/sim/door/open', to: true }], actions: [{ type: 'log', message: 'door opened' }] }));
    engine.add(validateScenario({ name: 'bell', triggers: [{ type: 'event', key: '/event/doorbell' }], actions: [{ type: 'log', message: 'ding' }] }));
    engine.add(validateScenario({ name: 'morning', triggers: [{ type: 'cron', job: 'wake-up' }], actions: [{ type: 'set', key: '/house/mode', value: 'day' }] }));
    await engine.start();
    house.put('/device/pi1/sim/door/open', { value: false });
    house.put('/device/pi1/sim/door/open', { value: true });
    house.put('/event/doorbell/front', { ts: 1 });
    house.put('/event/doorbellx', { ts: 1 }); // another prefix: not ours
    house.put('/event/cron/wake-up', { ts: 1 });
    await clock.advance(1);
    expect(engine.traces('door').map((t) => t.trigger.detail)).toEqual(['/device/pi1/sim/door/open changed to true']);
    expect(engine.traces('bell').map((t) => t.trigger.key)).toEqual(['/event/doorbell/front']);
    expect(house.get('/house/mode')).toBe('day');
    await engine.stop();
  });

  test('disabling, re-enabling, replacing and removing a scenario changes what a key fires (the watch index follows)', async () => {
    const { clock, house, engine } = setup();
    const door = (name: string, key: string) => validateScenario({ name, triggers: [{ type: 'change', key }, { type: 'event', key: '/event/knock' }], actions: [{ type: 'log', message: name }] });
    engine.add(door('front', '/device/pi1/sim/front/open'));
    await engine.start();
    engine.add(door('back', '/device/pi1/sim/back/open'));
    const fired = () => ({ front: engine.traces('front').length, back: engine.traces('back').length });
    house.put('/device/pi1/sim/front/open', { value: true });
    house.put('/device/pi1/sim/back/open', { value: true });
    await clock.advance(1);
    expect(fired()).toEqual({ front: 1, back: 1 });
    engine.setEnabled('front', false);
    house.put('/device/pi1/sim/front/open', { value: false });
    house.put('/event/knock/x', { ts: 1 });
    await clock.advance(1);
    expect(fired()).toEqual({ front: 1, back: 2 });
    engine.setEnabled('front', true);
    house.put('/device/pi1/sim/front/open', { value: true });
    await clock.advance(1);
    expect(fired()).toEqual({ front: 2, back: 2 });
    // Replaced: now watches another key.
    engine.add(door('front', '/device/pi1/sim/garage/open'));
    house.put('/device/pi1/sim/front/open', { value: false });
    house.put('/device/pi1/sim/garage/open', { value: true });
    await clock.advance(1);
    expect(fired()).toEqual({ front: 3, back: 2 });
    engine.remove('back');
    house.put('/device/pi1/sim/back/open', { value: false });
    house.put('/event/knock/y', { ts: 2 });
    await clock.advance(1);
    expect(engine.traces('front')).toHaveLength(4);
    expect(engine.get('back')).toBeUndefined();
    await engine.stop();
  });

  test('sunset with an offset, at the configured location', async () => {
    const { clock, house, engine } = setup();
    engine.add(validateScenario({ name: 'dusk', triggers: [{ type: 'sun', event: 'sunset', offset: '-15m' }], actions: [{ type: 'device', device: 'pi1/sim/kitchen-light', command: 'power', value: true }] }));
    await engine.start();
    // Paris sunset on 2024-06-21 is about 19:58 UTC: 15 minutes before, about 19:43.
    await clock.advance(7 * 3_600_000 + 40 * 60_000); // 19:40
    expect(house.commands).toEqual([]);
    await clock.advance(6 * 60_000); // 19:46
    expect(house.commands).toEqual(['pi1/sim/kitchen-light power=true']);
    // And again the next day.
    await clock.advance(24 * 3_600_000);
    expect(house.commands).toHaveLength(2);
    await engine.stop();
  });

  test('a sun trigger without a location is refused', () => {
    const engine = new ScenarioEngine({ world: new FakeHouse(), clock: new FakeClock(T0) });
    expect(() => engine.add(validateScenario({ name: 's', triggers: [{ type: 'sun', event: 'sunrise' }], actions: [{ type: 'log', message: 'x' }] }))).toThrow(/needs the house's location/);
  });

  test('startup triggers fire when the engine starts', async () => {
    const { engine, clock } = setup();
    engine.add(validateScenario({ name: 'boot', triggers: [{ type: 'startup' }], actions: [{ type: 'log', message: 'up' }] }));
    await engine.start();
    await clock.advance(1);
    expect(engine.traces('boot')[0]).toMatchObject({ result: 'done', trigger: { type: 'startup' } });
    await engine.stop();
  });
});

describe('conditions', () => {
  test('a trigger blocked by a condition records why nothing ran', async () => {
    const { clock, house, engine } = setup();
    house.put('/house/mode', 'away');
    engine.add(
      validateScenario({
        name: 'welcome',
        triggers: [{ type: 'event', key: '/event/door' }],
        conditions: [{ type: 'value', key: '/house/mode', op: '==', value: 'home' }],
        actions: [{ type: 'log', message: 'welcome' }],
      }),
    );
    await engine.start();
    house.put('/event/door', { ts: 1 });
    await clock.advance(1);
    expect(engine.traces('welcome')[0]).toMatchObject({
      result: 'blocked',
      reason: 'a condition does not hold: /house/mode "away" == "home": false',
      steps: [],
    });
    await engine.stop();
  });

  test('time windows in the configured time zone, over midnight too; weekdays', () => {
    const { engine } = setup(); // 12:00 UTC = 14:00 in Paris (summer), a Friday
    expect(engine.evaluate({ type: 'time', after: '13:00', before: '15:00' }).ok).toBe(true);
    expect(engine.evaluate({ type: 'time', after: '22:00', before: '06:00' })).toMatchObject({ ok: false, detail: 'Fri 14:00 is outside 22:00-06:00' });
    expect(engine.evaluate({ type: 'time', weekdays: ['sat', 'sun'] })).toMatchObject({ ok: false, detail: 'fri is not one of sat, sun' });
    expect(engine.evaluate({ type: 'or', conditions: [{ type: 'time', weekdays: ['fri'] }, { type: 'time', after: '23:00' }] }).ok).toBe(true);
    expect(engine.evaluate({ type: 'not', condition: { type: 'time', before: '12:00' } }).ok).toBe(true);
  });
});

describe('run modes and stops', () => {
  const slow = (mode: string, max?: number): Scenario =>
    validateScenario({
      name: 'slow',
      mode,
      ...(max === undefined ? {} : { max }),
      triggers: [{ type: 'event', key: '/event/go' }],
      actions: [
        { type: 'delay', for: '1m' },
        { type: 'set', key: '/done', value: 1 },
      ],
    });

  test('single: a trigger while it runs is skipped, with the reason', async () => {
    const { clock, house, engine } = setup();
    engine.add(slow('single'));
    await engine.start();
    house.put('/event/go', 1);
    house.put('/event/go', 2);
    await clock.advance(61_000);
    expect(engine.traces('slow').map((t) => [t.result, t.reason ?? null])).toEqual([
      ['done', null],
      ['skipped', 'already running (mode single)'],
    ]);
    await engine.stop();
  });

  test('restart: the running one is stopped and a new one starts', async () => {
    const { clock, house, engine } = setup();
    engine.add(slow('restart'));
    await engine.start();
    house.put('/event/go', 1);
    await clock.advance(30_000);
    house.put('/event/go', 2);
    await clock.advance(61_000);
    expect(engine.traces('slow').map((t) => [t.result, t.reason ?? null])).toEqual([
      ['done', null],
      ['stopped', 'restarted by a new trigger (mode restart)'],
    ]);
    await engine.stop();
  });

  test('queued: runs one after the other, up to max waiting', async () => {
    const { clock, house, engine } = setup();
    engine.add(slow('queued', 1));
    await engine.start();
    for (let i = 0; i < 3; i++) house.put('/event/go', i);
    expect(engine.status('slow')).toMatchObject({ running: 1, queued: 1 });
    await clock.advance(121_000);
    const results = engine.traces('slow').map((t) => t.result);
    expect(results.filter((r) => r === 'done')).toHaveLength(2);
    expect(results.filter((r) => r === 'skipped')).toHaveLength(1);
    await engine.stop();
  });

  test('parallel: up to max at once', async () => {
    const { clock, house, engine } = setup();
    engine.add(slow('parallel', 2));
    await engine.start();
    for (let i = 0; i < 3; i++) house.put('/event/go', i);
    expect(engine.status('slow').running).toBe(2);
    await clock.advance(61_000);
    expect(engine.traces('slow').map((t) => t.result).sort()).toEqual(['done', 'done', 'skipped']);
    await engine.stop();
  });

  test('a long-running scenario can be stopped at any point', async () => {
    const { clock, house, engine } = setup();
    engine.add(slow('single'));
    await engine.start();
    engine.run('slow');
    await clock.advance(10_000);
    expect(engine.stopScenario('slow')).toBe(1);
    await clock.advance(120_000);
    expect(house.get('/done')).toBeUndefined();
    expect(engine.traces('slow')[0]).toMatchObject({ result: 'stopped', reason: 'stopped by hand' });
    await engine.stop();
  });

  test('wait for a trigger with a timeout: a pump fills until the level is right', async () => {
    const { clock, house, engine } = setup();
    const LEVEL = '/device/pi1/garden/tank/level';
    house.put(LEVEL, { value: 20 });
    engine.add(
      validateScenario({
        name: 'fill',
        triggers: [],
        actions: [
          { type: 'device', device: 'pi1/garden/pump', command: 'power', value: true },
          { type: 'wait', trigger: { type: 'threshold', key: LEVEL, above: 80 }, timeout: '30m', stopOnTimeout: false },
          { type: 'device', device: 'pi1/garden/pump', command: 'power', value: false },
        ],
      }),
    );
    await engine.start();
    engine.run('fill');
    await clock.advance(60_000);
    house.put(LEVEL, { value: 50 });
    await clock.advance(60_000);
    expect(house.commands).toEqual(['pi1/garden/pump power=true']);
    house.put(LEVEL, { value: 85 });
    await clock.advance(1);
    expect(house.commands).toEqual(['pi1/garden/pump power=true', 'pi1/garden/pump power=false']);
    expect(engine.traces('fill')[0]?.steps[1]).toMatchObject({ type: 'wait', result: { trigger: `${LEVEL} is 85, above 80` } });
    // A wait that times out with stopOnTimeout ends the run.
    engine.add(validateScenario({ name: 'give-up', triggers: [], actions: [{ type: 'wait', trigger: { type: 'event', key: '/event/never' }, timeout: '5m', stopOnTimeout: true }, { type: 'log', message: 'unreachable' }] }));
    engine.run('give-up');
    await clock.advance(5 * 60_000);
    expect(engine.traces('give-up')[0]).toMatchObject({ result: 'stopped', reason: 'waited 5m for the trigger in vain (stopOnTimeout)' });
    await engine.stop();
  });

  test('an action that fails ends the run with an error in the trace', async () => {
    const { clock, house, engine } = setup();
    house.command = async () => {
      throw new Error('device pi1/sim/heater did not answer');
    };
    engine.add(thermostat);
    await engine.start();
    engine.run('thermostat', { force: true });
    await clock.advance(1);
    expect(engine.traces('thermostat')[0]).toMatchObject({ result: 'done' }); // no branch: no trigger id
    engine.add(validateScenario({ name: 'heat', triggers: [], actions: [{ type: 'device', device: 'pi1/sim/heater', command: 'power', value: true }] }));
    engine.run('heat');
    await clock.advance(1);
    expect(engine.traces('heat')[0]).toMatchObject({ result: 'error', reason: 'device pi1/sim/heater did not answer', steps: [{ type: 'device', error: 'device pi1/sim/heater did not answer' }] });
    await engine.stop();
  });
});

describe('restarts', () => {
  test('traces are saved a second after their runs, a few at a time, each scenario once per save', async () => {
    const saves: string[] = [];
    let inFlight = 0;
    let most = 0;
    const gates: (() => void)[] = [];
    class SlowTraces extends MemoryPersistence {
      async saveTraces(scenario: string): Promise<void> {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise<void>((resolve) => gates.push(resolve));
        inFlight--;
        saves.push(scenario);
      }
    }
    const { clock, house, engine } = setup({ persistence: new SlowTraces() });
    for (let i = 0; i < 10; i++) engine.add(validateScenario({ name: `s${i}`, triggers: [{ type: 'change', key: `/in/${i}` }], actions: [{ type: 'set', key: `/out/${i}`, value: 1 }] }));
    await engine.start();
    for (let round = 0; round < 3; round++) for (let i = 0; i < 10; i++) house.put(`/in/${i}`, round);
    await clock.advance(1);
    expect(house.get('/out/9')).toBe(1);
    expect(gates).toHaveLength(0); // nothing saved yet: the runs' traces wait a second
    await clock.advance(1000);
    for (let i = 0; i < 20 && saves.length < 10; i++) {
      for (const open of gates.splice(0)) open();
      await flush();
    }
    expect(saves.sort()).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9']);
    expect(most).toBe(4);
    await engine.stop();
  });

  test('a pending "for" timer is restored after a restart and fires at its time', async () => {
    const persistence = new MemoryPersistence();
    const clock = new FakeClock(T0);
    const house = new FakeHouse();
    house.put(TEMP, reading(20));
    const first = setup({ persistence, clock, house }).engine;
    first.add(thermostat);
    await first.start();
    house.put(TEMP, reading(18));
    await clock.advance(60_000);
    await first.stop();
    expect(persistence.state?.thresholds).toEqual([{ scenario: 'thermostat', trigger: 0, dueAt: T0 + 120_000 }]);
    // The core restarts 30 s later.
    await clock.advance(30_000);
    const second = setup({ persistence, clock, house }).engine;
    second.add(thermostat);
    await second.start();
    await clock.advance(29_000);
    expect(house.commands).toEqual([]);
    await clock.advance(2_000);
    expect(house.commands).toEqual(['pi1/sim/heater power=true']);
    await second.stop();
  });

  test('a run in a delay goes on after a restart, at the next action', async () => {
    const persistence = new MemoryPersistence();
    const clock = new FakeClock(T0);
    const house = new FakeHouse();
    const scenario = validateScenario({
      name: 'later',
      triggers: [],
      actions: [
        { type: 'set', key: '/step', value: 1 },
        { type: 'delay', for: '10m' },
        { type: 'set', key: '/step', value: 2 },
      ],
    });
    const first = setup({ persistence, clock, house }).engine;
    first.add(scenario);
    await first.start();
    first.run('later');
    await clock.advance(60_000);
    await first.stop();
    expect(persistence.state?.runs).toEqual([expect.objectContaining({ scenario: 'later', path: [1], resumeAt: T0 + 600_000, kind: 'delay' })]);
    const second = setup({ persistence, clock, house }).engine;
    second.add(scenario);
    await second.start();
    await clock.advance(8 * 60_000);
    expect(house.get('/step')).toBe(1);
    await clock.advance(60_000 + 1);
    expect(house.get('/step')).toBe(2);
    expect(second.traces('later')[0]).toMatchObject({ result: 'done', trigger: { detail: expect.stringMatching(/resumed after a restart/) } });
    await second.stop();
  });
});
