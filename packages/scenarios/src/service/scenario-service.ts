/**
 * Scenarios and cron jobs as services of the core: `<host>.core.scenarios`
 * and `<host>.core.cron` (MDP, status-first JSON replies), with everything
 * kept in the settings store and the engine wired to the house (the
 * key/value tree, device servers, the script sandbox).
 *
 * `<host>.core.scenarios` actions: `list`, `get {name}`, `add {scenario}`,
 * `update {scenario}`, `delete {name}`, `enable {name}`, `disable {name}`,
 * `run {name, force?}`, `stop {name}`, `traces {name, limit?}`,
 * `export {names?}`, `import {bundle, replace?}`.
 *
 * `<host>.core.cron` actions: `list`, `get {name}`, `add {job}`,
 * `update {job}`, `delete {name}`, `enable {name}`, `disable {name}`,
 * `run {name}` (tick now).
 *
 * Errors: `400` invalid (with the validation message), `404` unknown name,
 * `501` unknown action, `500` store failure; payload `{"error": "..."}`.
 *
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { MdpClient, MdpWorker, silentLogger, type Logger } from '@raspy/mdp';
import { KvClient, type KvServerAddress } from '@raspy/kv';
import { DevicesClient } from '@raspy/devices';
import { StoreClient } from '@raspy/titanic';
import { ScenarioError, isScenarioError } from '../errors.js';
import { makeBundle, validateBundle } from '../model/bundle.js';
import { validateCronJob, type CronJob } from '../model/cron-job.js';
import { validateScenario, type Scenario } from '../model/scenario.js';
import { ScenarioEngine, type EnginePersistence, type EngineWorld, type PersistedState, type Trace } from '../engine/engine.js';
import { CronScheduler } from '../cron/scheduler.js';
import { ScriptSandbox } from '../sandbox/sandbox.js';
import type { SunLocation } from '../sun/sun.js';

/** Options of {@link ScenarioService}. */
export interface ScenarioServiceOptions {
  /** Host id: the services are `<host>.core.scenarios` and `<host>.core.cron`. */
  host: string;
  /** Broker endpoint. Default `tcp://127.0.0.1:5514`. */
  broker?: string;
  /** Key/value server. Default `tcp://127.0.0.1:5515`. */
  kv?: KvServerAddress;
  /** The house's location, for sun triggers. */
  location?: SunLocation;
  /** Time zone of time conditions and cron jobs. Default: the system's. */
  timezone?: string;
  /** A bundle to import on the first start (when the store holds no scenario). */
  examples?: unknown;
  /** Heartbeat interval towards the broker (must match it). */
  heartbeatInterval?: number;
  /** Traces kept per scenario. Default 20. */
  maxTraces?: number;
  logger?: Logger;
}

const NS_SCENARIOS = 'core/scenarios';
const NS_CRON = 'core/cron';
const NS_ENGINE = 'core/engine';
const NS_TRACES = 'core/traces';

type Reply = [string, string];
const ok = (payload: unknown): Reply => ['200', JSON.stringify(payload)];
const fail = (status: string, message: string): Reply => [status, JSON.stringify({ error: message })];

/** Decodes a value of the tree: JSON when it is, text otherwise. */
function decode(value: Buffer | undefined): unknown {
  if (value === undefined) return undefined;
  const text = value.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The scenario engine and cron jobs of a house, served over MDP. */
export class ScenarioService {
  private readonly logger: Logger;
  private mdp: MdpClient | null = null;
  private kv: KvClient | null = null;
  private store: StoreClient | null = null;
  private sandbox: ScriptSandbox | null = null;
  private engine: ScenarioEngine | null = null;
  private cron: CronScheduler | null = null;
  private workers: MdpWorker[] = [];
  private jobs = new Map<string, CronJob>();
  private stopping: Promise<void> | null = null;

  constructor(private readonly options: ScenarioServiceOptions) {
    this.logger = (options.logger ?? silentLogger).child('scenarios');
  }

  /** The engine (for statistics and tests). */
  get scenarios(): ScenarioEngine {
    if (this.engine === null) throw new ScenarioError('ERR_SCENARIO_CLOSED', 'the scenario service is not started');
    return this.engine;
  }

  /** Connects to the house, loads scenarios and jobs from the store, starts them and the services. */
  async start(): Promise<void> {
    const broker = this.options.broker ?? 'tcp://127.0.0.1:5514';
    this.mdp = new MdpClient({ endpoint: broker, timeout: 5000, retries: 1, logger: this.logger });
    this.store = new StoreClient(this.mdp);
    const devices = new DevicesClient(this.mdp);
    this.kv = new KvClient({ servers: this.options.kv ?? 'tcp://127.0.0.1:5515', subtree: '', logger: this.logger });
    await this.kv.start({ timeout: 10_000 }).catch((err: unknown) => this.logger.warn('key/value server not reachable yet', { error: err as Error }));
    this.sandbox = await ScriptSandbox.create();
    const kv = this.kv;
    const sandbox = this.sandbox;
    const world: EngineWorld = {
      get: (key) => decode(kv.get(key)),
      watch: (listener) => {
        const onChange = (c: { key: string; value: Buffer | undefined }): void => listener(c.key, decode(c.value));
        kv.on('change', onChange);
        return () => kv.off('change', onChange);
      },
      set: async (key, value, ttl) => {
        if (value === null) await kv.delete(key);
        else await kv.setJson(key, value, ttl === undefined ? {} : { ttl });
      },
      command: async (device, command, value) => (await devices.set(device, command, value)).value,
      script: async (code, input, timeoutMs) => {
        const out = await sandbox.run(
          code,
          {
            get: (key) => decode(kv.get(key)),
            command: async (device, command, value) => (await devices.set(device, command, value)).value,
            log: (message) => this.logger.info('script', { message }),
          },
          { timeout: timeoutMs, input },
        );
        return { value: out.value, logs: out.logs };
      },
    };
    const store = this.store;
    const persistence: EnginePersistence = {
      load: async () => store.get<PersistedState>(NS_ENGINE, 'pending'),
      save: async (state) => store.set(NS_ENGINE, 'pending', state),
      saveTraces: async (name, traces) => store.set(NS_TRACES, name, fitTraces(traces)),
      loadTraces: async (name) => (await store.get<Trace[]>(NS_TRACES, name)) ?? [],
    };
    this.engine = new ScenarioEngine({
      world,
      persistence,
      ...(this.options.location === undefined ? {} : { location: this.options.location }),
      ...(this.options.timezone === undefined ? {} : { timezone: this.options.timezone }),
      ...(this.options.maxTraces === undefined ? {} : { maxTraces: this.options.maxTraces }),
      logger: this.logger,
    });
    this.cron = new CronScheduler({
      publish: (key, value) => kv.setJson(key, value),
      ...(this.options.timezone === undefined ? {} : { timezone: this.options.timezone }),
      logger: this.logger.child('cron'),
    });
    await this.load();
    await this.engine.start();
    this.cron.start();
    const make = (service: string, handler: (frames: Buffer[]) => Promise<Reply>): void => {
      for (let i = 0; i < 2; i++) {
        this.workers.push(new MdpWorker({ endpoint: broker, service, handler, heartbeatInterval: this.options.heartbeatInterval, logger: this.logger }));
      }
    };
    make(`${this.options.host}.core.scenarios`, (f) => this.handle(f, (a, arg) => this.scenarioAction(a, arg)));
    make(`${this.options.host}.core.cron`, (f) => this.handle(f, (a, arg) => this.cronAction(a, arg)));
    await Promise.all(this.workers.map((w) => w.start()));
    this.logger.info('scenarios started', { scenarios: this.engine.list().length, jobs: this.jobs.size });
  }

  /** Stops the services, the cron jobs and the engine (saving what is pending). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.workers.map((w) => w.stop()));
      await this.cron?.stop();
      await this.engine?.stop();
      this.sandbox?.dispose();
      await this.kv?.close();
      await this.mdp?.close();
    })();
    return this.stopping;
  }

  private async load(): Promise<void> {
    const store = this.store as StoreClient;
    let stored: Record<string, unknown> = {};
    let jobs: Record<string, unknown> = {};
    try {
      stored = await store.list(NS_SCENARIOS);
      jobs = await store.list(NS_CRON);
    } catch (err) {
      this.logger.warn('cannot read scenarios from the store; starting with none', { error: err as Error });
    }
    if (Object.keys(stored).length === 0 && Object.keys(jobs).length === 0 && this.options.examples !== undefined) {
      try {
        const bundle = validateBundle(this.options.examples);
        await this.importBundle(bundle, false);
        this.logger.info('example scenarios imported', { scenarios: bundle.scenarios.length, jobs: bundle.jobs.length });
        return;
      } catch (err) {
        this.logger.warn('example scenarios not imported', { error: err as Error });
      }
    }
    for (const [name, value] of Object.entries(jobs)) {
      try {
        const job = validateCronJob(value);
        this.jobs.set(job.name, job);
        await (this.cron as CronScheduler).set(job);
      } catch (err) {
        this.logger.warn('stored cron job skipped', { name, error: err as Error });
      }
    }
    for (const [name, value] of Object.entries(stored)) {
      try {
        (this.engine as ScenarioEngine).add(validateScenario(value));
      } catch (err) {
        this.logger.warn('stored scenario skipped', { name, error: err as Error });
      }
    }
  }

  private async handle(frames: Buffer[], act: (action: string, arg: Record<string, unknown>) => Promise<unknown>): Promise<Reply> {
    const action = frames[0]?.toString('utf8') ?? '';
    let arg: Record<string, unknown> = {};
    const raw = frames[1];
    if (raw !== undefined && raw.length > 0) {
      if (!isUtf8(raw)) return fail('400', 'the argument is not valid UTF-8');
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('400', 'the argument must be a JSON object');
        arg = parsed as Record<string, unknown>;
      } catch (err) {
        return fail('400', `the argument is not JSON: ${(err as Error).message}`);
      }
    }
    try {
      return ok(await act(action, arg));
    } catch (err) {
      if (isScenarioError(err)) {
        const status = err.code === 'ERR_SCENARIO_INVALID' ? '400' : err.code === 'ERR_SCENARIO_NOT_FOUND' ? '404' : err.code === 'ERR_SCENARIO_CLOSED' ? '503' : '500';
        if (err.message.startsWith('unknown action')) return fail('501', err.message);
        return fail(status, err.message);
      }
      this.logger.error('scenario service failure', { action, error: err as Error });
      return fail('500', (err as Error).message);
    }
  }

  private name(arg: Record<string, unknown>): string {
    if (typeof arg.name !== 'string' || arg.name === '') throw new ScenarioError('ERR_SCENARIO_INVALID', 'the request needs "name"');
    return arg.name;
  }

  private async scenarioAction(action: string, arg: Record<string, unknown>): Promise<unknown> {
    const engine = this.scenarios;
    const store = this.store as StoreClient;
    switch (action) {
      case 'list':
        return { scenarios: engine.list().map((s) => ({ name: s.name, description: s.description ?? '', enabled: s.enabled !== false, mode: s.mode ?? 'single', ...summary(engine.status(s.name)) })) };
      case 'get': {
        const name = this.name(arg);
        const scenario = engine.get(name);
        if (scenario === undefined) throw new ScenarioError('ERR_SCENARIO_NOT_FOUND', `no scenario "${name}"`);
        return { scenario, status: summary(engine.status(name)) };
      }
      case 'add':
      case 'update': {
        const scenario = validateScenario(arg.scenario);
        const exists = engine.get(scenario.name) !== undefined;
        if (action === 'add' && exists) throw new ScenarioError('ERR_SCENARIO_INVALID', `a scenario "${scenario.name}" exists; use update`);
        if (action === 'update' && !exists) throw new ScenarioError('ERR_SCENARIO_NOT_FOUND', `no scenario "${scenario.name}"; use add`);
        engine.add(scenario);
        await store.set(NS_SCENARIOS, scenario.name, scenario);
        return { scenario };
      }
      case 'delete': {
        const name = this.name(arg);
        if (!engine.remove(name)) throw new ScenarioError('ERR_SCENARIO_NOT_FOUND', `no scenario "${name}"`);
        await store.delete(NS_SCENARIOS, name);
        await store.delete(NS_TRACES, name).catch(() => false);
        return { deleted: name };
      }
      case 'enable':
      case 'disable': {
        const scenario = engine.setEnabled(this.name(arg), action === 'enable');
        await store.set(NS_SCENARIOS, scenario.name, scenario);
        return { scenario };
      }
      case 'run': {
        const trace = engine.run(this.name(arg), { force: arg.force === true });
        return { trace: { id: trace.id, result: trace.result, reason: trace.reason ?? null } };
      }
      case 'stop':
        return { stopped: engine.stopScenario(this.name(arg)) };
      case 'traces': {
        const limit = typeof arg.limit === 'number' && arg.limit > 0 ? Math.min(100, Math.floor(arg.limit)) : 20;
        return { traces: engine.traces(this.name(arg), limit) };
      }
      case 'export': {
        const names = Array.isArray(arg.names) ? (arg.names as unknown[]).map(String) : null;
        const scenarios = engine.list().filter((s) => names === null || names.includes(s.name));
        const jobs = [...this.jobs.values()].filter((j) => names === null || scenarios.some((s) => s.triggers.some((t) => t.type === 'cron' && t.job === j.name)));
        return { bundle: makeBundle(scenarios, jobs) };
      }
      case 'import': {
        const bundle = validateBundle(arg.bundle);
        const replace = arg.replace === true;
        if (!replace) {
          const clash = bundle.scenarios.find((s) => engine.get(s.name) !== undefined) ?? bundle.jobs.find((j) => this.jobs.has(j.name));
          if (clash !== undefined) throw new ScenarioError('ERR_SCENARIO_INVALID', `"${clash.name}" exists already; import with "replace": true to overwrite`);
        }
        await this.importBundle(bundle, replace);
        return { scenarios: bundle.scenarios.map((s) => s.name), jobs: bundle.jobs.map((j) => j.name) };
      }
      default:
        throw new ScenarioError('ERR_SCENARIO_INVALID', `unknown action "${action}"; actions: list, get, add, update, delete, enable, disable, run, stop, traces, export, import`);
    }
  }

  private async importBundle(bundle: ReturnType<typeof validateBundle>, _replace: boolean): Promise<void> {
    const store = this.store as StoreClient;
    for (const job of bundle.jobs) {
      this.jobs.set(job.name, job);
      await (this.cron as CronScheduler).set(job);
      await store.set(NS_CRON, job.name, job);
    }
    for (const scenario of bundle.scenarios) {
      (this.engine as ScenarioEngine).add(scenario);
      await store.set(NS_SCENARIOS, scenario.name, scenario);
    }
  }

  private async cronAction(action: string, arg: Record<string, unknown>): Promise<unknown> {
    const cron = this.cron as CronScheduler;
    const store = this.store as StoreClient;
    switch (action) {
      case 'list':
        return { jobs: cron.list() };
      case 'get':
        return cron.get(this.name(arg));
      case 'add':
      case 'update': {
        const job = validateCronJob(arg.job);
        const exists = this.jobs.has(job.name);
        if (action === 'add' && exists) throw new ScenarioError('ERR_SCENARIO_INVALID', `a cron job "${job.name}" exists; use update`);
        if (action === 'update' && !exists) throw new ScenarioError('ERR_SCENARIO_NOT_FOUND', `no cron job "${job.name}"; use add`);
        this.jobs.set(job.name, job);
        await cron.set(job);
        await store.set(NS_CRON, job.name, job);
        return cron.get(job.name);
      }
      case 'delete': {
        const name = this.name(arg);
        if (!(await cron.remove(name))) throw new ScenarioError('ERR_SCENARIO_NOT_FOUND', `no cron job "${name}"`);
        this.jobs.delete(name);
        await store.delete(NS_CRON, name);
        return { deleted: name };
      }
      case 'enable':
      case 'disable': {
        const name = this.name(arg);
        const job = this.jobs.get(name);
        if (job === undefined) throw new ScenarioError('ERR_SCENARIO_NOT_FOUND', `no cron job "${name}"`);
        const updated = { ...job, enabled: action === 'enable' };
        this.jobs.set(name, updated);
        await cron.set(updated);
        await store.set(NS_CRON, name, updated);
        return cron.get(name);
      }
      case 'run':
        await cron.tick(this.name(arg));
        return cron.get(this.name(arg));
      default:
        throw new ScenarioError('ERR_SCENARIO_INVALID', `unknown action "${action}"; actions: list, get, add, update, delete, enable, disable, run`);
    }
  }
}

function summary(status: { running: number; queued: number; enabled: boolean; lastTrace?: Trace }): Record<string, unknown> {
  const t = status.lastTrace;
  return {
    running: status.running,
    queued: status.queued,
    last: t === undefined ? null : { result: t.result, at: t.finishedAt ?? t.firedAt, reason: t.reason ?? null, trigger: t.trigger.detail },
  };
}

/** Keeps the newest traces that fit in one stored value (64 KiB). */
function fitTraces(traces: Trace[]): Trace[] {
  const out: Trace[] = [];
  let size = 2;
  for (const t of traces) {
    const s = JSON.stringify(t).length + 1;
    if (size + s > 60_000) break;
    size += s;
    out.push(t);
  }
  return out;
}
