/**
 * The scenario engine: listens to triggers, checks conditions, runs actions
 * in the scenario's run mode, and leaves a trace of every run, including of
 * the ones that did not run and why.
 *
 * The engine talks to the house through an injected {@link EngineWorld}
 * (the tree, device commands, the script sandbox) and a clock, so its tests
 * use a fake world and a fake clock; `createWorld` in this package builds
 * the real one from the libraries.
 *
 * Pending `for` timers of thresholds and runs waiting in a delay or a wait
 * are persisted; after a restart they go on where they were.
 *
 * @module
 */
import { silentLogger, type Logger } from '@raspy/mdp';
import { ScenarioError } from '../errors.js';
import { durationMs, offsetMs, type Action, type Condition, type Scenario, type Trigger } from '../model/scenario.js';
import { nextSunEvent, type SunLocation as Location } from '../sun/sun.js';
import { evaluate, evaluateAll, insideThreshold, valueOf, type ConditionContext } from './conditions.js';

/** What the engine needs of the house. */
export interface EngineWorld {
  /** A key's current value, JSON-decoded, or undefined. */
  get(key: string): unknown;
  /** Calls `listener` for every change of the tree; returns the unsubscribe function. */
  watch(listener: (key: string, value: unknown) => void): () => void;
  /** Sets a key (null deletes it). */
  set(key: string, value: unknown, ttl?: number): Promise<void>;
  /** Sends a command to a device; resolves with the value in effect. */
  command(device: string, command: string, value: unknown): Promise<unknown>;
  /** Runs a script in the sandbox. */
  script(code: string, input: unknown, timeoutMs: number): Promise<{ value: unknown; logs: string[] }>;
}

/** How long finished traces wait in memory before they are written (with the others finished meanwhile). */
const TRACE_SAVE_DELAY = 1000;
/** Trace saves in flight at once. */
const TRACE_SAVE_CONCURRENCY = 4;

/** The engine's clock (real by default; a fake one in tests). */
export interface EngineClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Where the engine keeps what must survive a restart. */
export interface EnginePersistence {
  load(): Promise<PersistedState | undefined>;
  save(state: PersistedState): Promise<void>;
  saveTraces?(scenario: string, traces: Trace[]): Promise<void>;
  loadTraces?(scenario: string): Promise<Trace[]>;
}

/** What is saved: pending threshold timers and runs in a delay or a wait. */
export interface PersistedState {
  thresholds: { scenario: string; trigger: number; dueAt: number }[];
  runs: { scenario: string; id: string; path: number[]; resumeAt: number; kind: 'delay' | 'wait'; trigger: TriggerInfo }[];
}

/** Why a run started. */
export interface TriggerInfo {
  type: Trigger['type'] | 'manual' | 'scenario' | 'restore';
  id?: string;
  key?: string;
  value?: unknown;
  /** For people: "living-temp 18.4 went below 19 and stayed 5m". */
  detail: string;
}

/** One step of a run, in its trace. */
export interface TraceStep {
  /** Position in the actions, e.g. "2" or "3.1.0" inside a choose. */
  path: string;
  type: Action['type'];
  at: number;
  ms?: number;
  result?: unknown;
  error?: string;
}

/** The record of one run, or of a trigger that did not run. */
export interface Trace {
  id: string;
  scenario: string;
  trigger: TriggerInfo;
  firedAt: number;
  finishedAt?: number;
  /** running; done; error; stopped; blocked (conditions failed); skipped (run mode, disabled). */
  result: 'running' | 'done' | 'error' | 'stopped' | 'blocked' | 'skipped';
  /** Why it was blocked, skipped, stopped or failed. */
  reason?: string;
  conditions: { ok: boolean; detail: string }[];
  steps: TraceStep[];
}

/** Options of {@link ScenarioEngine}. */
export interface EngineOptions {
  world: EngineWorld;
  clock?: EngineClock;
  persistence?: EnginePersistence;
  /** For sun triggers. */
  location?: Location;
  /** For time conditions. Default: the system's. */
  timezone?: string;
  /** Traces kept per scenario. Default 20. */
  maxTraces?: number;
  logger?: Logger;
}

const realClock: EngineClock = {
  now: Date.now,
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(ms, 2_147_483_647)),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Waiter {
  trigger: Trigger;
  resolve: (info: TriggerInfo) => void;
  inside?: boolean;
  timer?: unknown;
}

class Stopped extends Error {}

interface Run {
  id: string;
  entry: Entry;
  trace: Trace;
  stopped: boolean;
  reason?: string;
  /** Things to cancel when the run is stopped. */
  cancel: Set<() => void>;
  persisted: PersistedState['runs'][number] | null;
}

interface Entry {
  scenario: Scenario;
  runs: Set<Run>;
  queue: { trigger: TriggerInfo; resume?: { path: number[]; resumeAt: number; kind: 'delay' | 'wait' } }[];
  traces: Trace[];
  /** Per threshold trigger: whether the value is inside, and the pending `for` timer. */
  thresholds: Map<number, { inside: boolean; timer?: unknown; dueAt?: number }>;
  sunTimers: Map<number, unknown>;
}

/**
 * Runs scenarios.
 *
 * @example
 * ```ts
 * const engine = new ScenarioEngine({ world, location: { latitude: 48.85, longitude: 2.35 }, timezone: 'Europe/Paris' });
 * await engine.start();
 * engine.add(validateScenario(json));
 * ```
 */
export class ScenarioEngine {
  private readonly world: EngineWorld;
  private readonly clock: EngineClock;
  private readonly logger: Logger;
  private readonly timezone: string;
  private readonly maxTraces: number;
  private readonly entries = new Map<string, Entry>();
  private readonly waiters = new Set<Waiter>();
  private unwatch: (() => void) | null = null;
  private started = false;
  private seq = 0;
  private restored: PersistedState = { thresholds: [], runs: [] };
  private saving: Promise<void> = Promise.resolve();
  private saveQueued = false;
  private index: { exact: Map<string, Entry[]>; prefix: Entry[] } | null = null;
  private readonly dirtyTraces = new Set<Entry>();
  private traceTimer: unknown;
  private tracesSaving: Promise<void> = Promise.resolve();
  /** Set while stopping: the saved state is the one taken before the stop. */
  private frozen = false;
  /** Runs finished since start (for tests and statistics). */
  readonly counters = { runs: 0, blocked: 0, skipped: 0, errors: 0 };

  /** @param options - world, clock, persistence, location, time zone; see {@link EngineOptions} */
  constructor(private readonly options: EngineOptions) {
    this.world = options.world;
    this.clock = options.clock ?? realClock;
    this.logger = options.logger ?? silentLogger;
    this.timezone = options.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    this.maxTraces = options.maxTraces ?? 20;
  }

  /** Loads what was pending before a restart and starts listening. Scenarios added before start are armed now. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.frozen = false;
    this.restored = (await this.options.persistence?.load().catch((err: unknown) => {
      this.logger.warn('cannot load the pending timers', { error: err as Error });
      return undefined;
    })) ?? { thresholds: [], runs: [] };
    this.unwatch = this.world.watch((key, value) => this.onChange(key, value));
    for (const entry of this.entries.values()) this.arm(entry, true);
    // Runs that were waiting when the engine stopped go on.
    for (const r of this.restored.runs) {
      const entry = this.entries.get(r.scenario);
      if (entry === undefined) continue;
      this.logger.info('resuming a run after a restart', { scenario: r.scenario, path: r.path.join('.'), kind: r.kind });
      this.startRun(entry, { ...r.trigger, detail: `${r.trigger.detail} (resumed after a restart)` }, { path: r.path, resumeAt: r.resumeAt, kind: r.kind });
    }
    this.restored.runs = [];
    this.persist();
  }

  /**
   * Stops every run and timer. What was pending (threshold timers, runs in a
   * delay or a wait) is saved as it was, to go on after the next start.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    const pending = this.snapshot();
    this.frozen = true;
    this.started = false;
    this.unwatch?.();
    this.unwatch = null;
    for (const entry of this.entries.values()) this.disarm(entry);
    for (const w of this.waiters) if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
    this.waiters.clear();
    for (const entry of this.entries.values()) for (const run of [...entry.runs]) this.stopRun(run, 'the engine stopped');
    if (this.traceTimer !== undefined) this.clock.clearTimeout(this.traceTimer);
    this.traceTimer = undefined;
    await this.flushTraces();
    await this.saving;
    try {
      await this.options.persistence?.save(pending);
    } catch (err) {
      this.logger.warn('cannot save the pending timers', { error: err as Error });
    }
  }

  /** The scenarios, by name. */
  list(): Scenario[] {
    return [...this.entries.values()].map((e) => e.scenario).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** A scenario, or undefined. */
  get(name: string): Scenario | undefined {
    return this.entries.get(name)?.scenario;
  }

  /** Whether a scenario is running, and how many runs. */
  status(name: string): { running: number; queued: number; enabled: boolean; lastTrace?: Trace } {
    const entry = this.require(name);
    return { running: entry.runs.size, queued: entry.queue.length, enabled: entry.scenario.enabled !== false, lastTrace: entry.traces[0] };
  }

  /**
   * Adds (or replaces) a scenario and arms its triggers. A replaced scenario's
   * runs are stopped.
   *
   * @throws ScenarioError `ERR_SCENARIO_INVALID` for a sun trigger without a configured location
   */
  add(scenario: Scenario): void {
    if (scenario.triggers.some((t) => t.type === 'sun') && this.options.location === undefined) {
      throw new ScenarioError('ERR_SCENARIO_INVALID', `scenario "${scenario.name}": a sun trigger needs the house's location (latitude and longitude in the core's configuration)`);
    }
    const old = this.entries.get(scenario.name);
    if (old !== undefined) this.remove(scenario.name, 'the scenario was updated');
    const entry: Entry = { scenario, runs: new Set(), queue: [], traces: old?.traces ?? [], thresholds: new Map(), sunTimers: new Map() };
    this.entries.set(scenario.name, entry);
    this.index = null;
    if (old === undefined && this.options.persistence?.loadTraces !== undefined) {
      void this.options.persistence.loadTraces(scenario.name).then((t) => {
        if (entry.traces.length === 0) entry.traces.push(...t.slice(0, this.maxTraces));
      }, () => {});
    }
    if (this.started) this.arm(entry, false);
    this.publishState(entry);
  }

  /** Removes a scenario, stopping its runs. */
  remove(name: string, reason = 'the scenario was deleted'): boolean {
    const entry = this.entries.get(name);
    if (entry === undefined) return false;
    this.disarm(entry);
    for (const run of [...entry.runs]) this.stopRun(run, reason);
    entry.queue.length = 0;
    this.entries.delete(name);
    this.index = null;
    this.persist();
    return true;
  }

  /** Enables or disables a scenario's triggers (a disabled one can still be run by hand). */
  setEnabled(name: string, enabled: boolean): Scenario {
    const entry = this.require(name);
    entry.scenario = { ...entry.scenario, enabled };
    this.index = null;
    this.disarm(entry);
    if (this.started) this.arm(entry, false);
    this.publishState(entry);
    return entry.scenario;
  }

  /** Runs a scenario now, as if triggered (its conditions are checked, unless `force`). */
  run(name: string, options: { force?: boolean; detail?: string } = {}): Trace {
    const entry = this.require(name);
    return this.fire(entry, { type: 'manual', detail: options.detail ?? 'run by hand' }, { manual: true, force: options.force ?? false });
  }

  /** Stops every run of a scenario (and empties its queue). */
  stopScenario(name: string, reason = 'stopped by hand'): number {
    const entry = this.require(name);
    entry.queue.length = 0;
    const runs = [...entry.runs];
    for (const run of runs) this.stopRun(run, reason);
    return runs.length;
  }

  /** The last traces of a scenario, newest first. */
  traces(name: string, limit = this.maxTraces): Trace[] {
    return this.require(name).traces.slice(0, limit);
  }

  private require(name: string): Entry {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new ScenarioError('ERR_SCENARIO_NOT_FOUND', `no scenario "${name}"`);
    return entry;
  }

  // ------------------------------------------------------------------ triggers

  private arm(entry: Entry, restoring: boolean): void {
    const s = entry.scenario;
    s.triggers.forEach((t, i) => {
      if (t.type === 'threshold') {
        const inside = insideThreshold(this.world.get(t.key), t.above, t.below);
        const state: { inside: boolean; timer?: unknown; dueAt?: number } = { inside };
        entry.thresholds.set(i, state);
        const saved = restoring ? this.restored.thresholds.find((x) => x.scenario === s.name && x.trigger === i) : undefined;
        if (saved !== undefined && inside && s.enabled !== false) this.startForTimer(entry, i, t, saved.dueAt);
      }
      if (t.type === 'sun' && s.enabled !== false) this.scheduleSun(entry, i, t);
      if (t.type === 'startup' && restoring && s.enabled !== false) this.fire(entry, { type: 'startup', ...(t.id ? { id: t.id } : {}), detail: 'the engine started' });
    });
  }

  private disarm(entry: Entry): void {
    for (const st of entry.thresholds.values()) if (st.timer !== undefined) this.clock.clearTimeout(st.timer);
    entry.thresholds.clear();
    for (const t of entry.sunTimers.values()) this.clock.clearTimeout(t);
    entry.sunTimers.clear();
    this.persist();
  }

  private scheduleSun(entry: Entry, index: number, t: Extract<Trigger, { type: 'sun' }>, fired = 0): void {
    const location = this.options.location as Location;
    const offset = t.offset === undefined ? 0 : offsetMs(t.offset, 'offset');
    // After the event that just fired, even if its timer came a moment early.
    const next = nextSunEvent(t.event, new Date(Math.max(this.clock.now(), fired)), location, offset / 60_000);
    if (next === null) {
      this.logger.warn('no sunrise or sunset within a year at this location', { scenario: entry.scenario.name, event: t.event });
      return;
    }
    const handle = this.clock.setTimeout(() => {
      entry.sunTimers.delete(index);
      this.fire(entry, { type: 'sun', ...(t.id ? { id: t.id } : {}), detail: `${t.event}${t.offset ? ` ${t.offset}` : ''} at ${next.toISOString()}` });
      if (this.started && this.entries.get(entry.scenario.name) === entry) this.scheduleSun(entry, index, t, next.getTime());
    }, Math.max(0, next.getTime() - this.clock.now()));
    entry.sunTimers.set(index, handle);
  }

  /**
   * Which scenarios a key can fire, so that a change costs the scenarios
   * that watch it, not all of them: exact keys (change, threshold, cron) and
   * the scenarios with event triggers (prefixes). Rebuilt after a change of
   * the scenarios.
   */
  private watchIndex(): { exact: Map<string, Entry[]>; prefix: Entry[] } {
    if (this.index !== null) return this.index;
    const exact = new Map<string, Entry[]>();
    const prefix: Entry[] = [];
    for (const entry of this.entries.values()) {
      if (entry.scenario.enabled === false) continue;
      const keys = new Set<string>();
      for (const t of entry.scenario.triggers) {
        if (t.type === 'change' || t.type === 'threshold') keys.add(t.key);
        else if (t.type === 'cron') keys.add(`/event/cron/${t.job}`);
        else if (t.type === 'event' && !prefix.includes(entry)) prefix.push(entry);
      }
      for (const k of keys) {
        const list = exact.get(k);
        if (list === undefined) exact.set(k, [entry]);
        else list.push(entry);
      }
    }
    this.index = { exact, prefix };
    return this.index;
  }

  private onChange(key: string, value: unknown): void {
    const index = this.watchIndex();
    const exact = index.exact.get(key);
    const candidates = index.prefix.length === 0 ? (exact ?? []) : [...new Set([...(exact ?? []), ...index.prefix])];
    for (const entry of candidates) {
      if (entry.scenario.enabled === false || this.entries.get(entry.scenario.name) !== entry) continue;
      entry.scenario.triggers.forEach((t, i) => {
        const info = this.match(t, key, value);
        if (info !== null) this.fire(entry, info);
        if (t.type === 'threshold' && t.key === key) this.onThreshold(entry, i, t, value);
      });
    }
    for (const w of [...this.waiters]) {
      const info = this.match(w.trigger, key, value);
      if (info !== null) w.resolve(info);
      else if (w.trigger.type === 'threshold' && w.trigger.key === key) this.onWaitThreshold(w, value);
    }
  }

  /** Does a change fire this trigger (not thresholds: they need state)? */
  private match(t: Trigger, key: string, value: unknown): TriggerInfo | null {
    const id = t.id === undefined ? {} : { id: t.id };
    switch (t.type) {
      case 'change':
        if (key !== t.key) return null;
        if (t.to !== undefined && JSON.stringify(valueOf(value)) !== JSON.stringify(t.to)) return null;
        return { type: 'change', ...id, key, value: valueOf(value), detail: `${key} changed to ${JSON.stringify(valueOf(value)) ?? 'nothing (deleted)'}` };
      case 'event':
        if (value === undefined || (key !== t.key && !key.startsWith(t.key.endsWith('/') ? t.key : `${t.key}/`))) return null;
        return { type: 'event', ...id, key, value, detail: `event ${key}` };
      case 'cron':
        if (key !== `/event/cron/${t.job}` || value === undefined) return null;
        return { type: 'cron', ...id, key, value, detail: `cron job ${t.job} ticked` };
      default:
        return null;
    }
  }

  private onThreshold(entry: Entry, index: number, t: Extract<Trigger, { type: 'threshold' }>, value: unknown): void {
    const state = entry.thresholds.get(index) ?? { inside: false };
    entry.thresholds.set(index, state);
    const inside = insideThreshold(value, t.above, t.below);
    if (inside === state.inside) return;
    state.inside = inside;
    if (!inside) {
      if (state.timer !== undefined) {
        this.clock.clearTimeout(state.timer);
        state.timer = undefined;
        state.dueAt = undefined;
        this.persist();
      }
      return;
    }
    if (t.for === undefined) this.fire(entry, this.thresholdInfo(t, value, false));
    else this.startForTimer(entry, index, t, this.clock.now() + durationMs(t.for));
  }

  private startForTimer(entry: Entry, index: number, t: Extract<Trigger, { type: 'threshold' }>, dueAt: number): void {
    const state = entry.thresholds.get(index) as { inside: boolean; timer?: unknown; dueAt?: number };
    state.dueAt = dueAt;
    state.timer = this.clock.setTimeout(() => {
      state.timer = undefined;
      state.dueAt = undefined;
      this.persist();
      this.fire(entry, this.thresholdInfo(t, this.world.get(t.key), true));
    }, Math.max(0, dueAt - this.clock.now()));
    this.persist();
  }

  private thresholdInfo(t: Extract<Trigger, { type: 'threshold' }>, value: unknown, held: boolean): TriggerInfo {
    const v = valueOf(value);
    const range = t.above !== undefined && t.below !== undefined ? `between ${t.above} and ${t.below}` : t.above !== undefined ? `above ${t.above}` : `below ${t.below}`;
    return {
      type: 'threshold',
      ...(t.id === undefined ? {} : { id: t.id }),
      key: t.key,
      value: v,
      detail: `${t.key} is ${JSON.stringify(v)}, ${range}${held ? ` for ${t.for}` : ''}`,
    };
  }

  // ------------------------------------------------------------------ runs

  private conditionContext(info: TriggerInfo): ConditionContext {
    return { get: (k) => this.world.get(k), now: this.clock.now(), timezone: this.timezone, ...(info.id === undefined ? {} : { triggerId: info.id }) };
  }

  private newTrace(entry: Entry, trigger: TriggerInfo): Trace {
    return { id: `${entry.scenario.name}-${this.clock.now().toString(36)}-${(++this.seq).toString(36)}`, scenario: entry.scenario.name, trigger, firedAt: this.clock.now(), result: 'running', conditions: [], steps: [] };
  }

  private fire(entry: Entry, trigger: TriggerInfo, how: { manual?: boolean; force?: boolean } = {}): Trace {
    const s = entry.scenario;
    const trace = this.newTrace(entry, trigger);
    if (!how.force) {
      const checked = evaluateAll(s.conditions ?? [], this.conditionContext(trigger));
      trace.conditions = checked.results;
      if (!checked.ok) {
        // Nothing runs, but the trace says why.
        this.counters.blocked++;
        return this.finishTrace(entry, trace, 'blocked', `a condition does not hold: ${checked.results[checked.results.length - 1]?.detail ?? ''}`);
      }
    }
    const mode = s.mode ?? 'single';
    const max = s.max ?? 10;
    if (entry.runs.size > 0) {
      if (mode === 'single') {
        this.counters.skipped++;
        return this.finishTrace(entry, trace, 'skipped', 'already running (mode single)');
      }
      if (mode === 'restart') for (const run of [...entry.runs]) this.stopRun(run, 'restarted by a new trigger (mode restart)');
      if (mode === 'queued') {
        if (entry.queue.length >= max) {
          this.counters.skipped++;
          return this.finishTrace(entry, trace, 'skipped', `the queue is full (${max}, mode queued)`);
        }
        entry.queue.push({ trigger });
        trace.reason = `queued behind the running one (${entry.queue.length} waiting)`;
        return trace;
      }
      if (mode === 'parallel' && entry.runs.size >= max) {
        this.counters.skipped++;
        return this.finishTrace(entry, trace, 'skipped', `${max} runs already (mode parallel)`);
      }
    }
    return this.startRun(entry, trigger, undefined, trace).trace;
  }

  private startRun(entry: Entry, trigger: TriggerInfo, resume?: { path: number[]; resumeAt: number; kind: 'delay' | 'wait' }, trace = this.newTrace(entry, trigger)): Run {
    const run: Run = { id: trace.id, entry, trace, stopped: false, cancel: new Set(), persisted: null };
    entry.runs.add(run);
    this.publishState(entry);
    this.logger.info('scenario running', { scenario: entry.scenario.name, trigger: trigger.detail });
    void this.execute(run, resume).then(
      () => this.endRun(run, run.stopped ? 'stopped' : 'done', run.reason),
      (err: unknown) => {
        if (err instanceof Stopped || run.stopped) this.endRun(run, 'stopped', run.reason);
        else {
          this.counters.errors++;
          this.logger.warn('scenario failed', { scenario: entry.scenario.name, error: err as Error });
          this.endRun(run, 'error', (err as Error).message);
        }
      },
    );
    return run;
  }

  private endRun(run: Run, result: Trace['result'], reason?: string): void {
    const entry = run.entry;
    entry.runs.delete(run);
    this.counters.runs++;
    if (run.persisted !== null) {
      run.persisted = null;
      this.persist();
    }
    this.finishTrace(entry, run.trace, result, reason);
    const next = entry.queue.shift();
    if (next !== undefined && this.entries.get(entry.scenario.name) === entry) this.startRun(entry, next.trigger);
    this.publishState(entry);
  }

  private stopRun(run: Run, reason: string): void {
    if (run.stopped) return;
    run.stopped = true;
    run.reason = reason;
    for (const cancel of run.cancel) cancel();
  }

  private finishTrace(entry: Entry, trace: Trace, result: Trace['result'], reason?: string): Trace {
    trace.result = result;
    trace.finishedAt = this.clock.now();
    if (reason !== undefined) trace.reason = reason;
    if (!entry.traces.includes(trace)) entry.traces.unshift(trace);
    if (entry.traces.length > this.maxTraces) entry.traces.length = this.maxTraces;
    this.saveTracesSoon(entry);
    return trace;
  }

  /**
   * Traces are kept in memory at once and written within a second, many
   * runs in one write: a scenario firing often must not cost a store write
   * per run (the store fsyncs each).
   */
  private saveTracesSoon(entry: Entry): void {
    if (this.options.persistence?.saveTraces === undefined) return;
    this.dirtyTraces.add(entry);
    // Stopping: no timer left behind, the last traces go now.
    if (this.frozen) {
      void this.flushTraces();
      return;
    }
    if (this.traceTimer !== undefined) return;
    this.traceTimer = this.clock.setTimeout(() => {
      this.traceTimer = undefined;
      void this.flushTraces();
    }, TRACE_SAVE_DELAY);
  }

  /**
   * Saves the traces of the scenarios that ran since the last save, a few
   * at a time and one save after the other: a burst of a thousand writes
   * at once would hold up the reactions to the tree behind it.
   */
  private flushTraces(): Promise<void> {
    this.tracesSaving = this.tracesSaving.then(async () => {
      const save = this.options.persistence?.saveTraces;
      const dirty = [...this.dirtyTraces];
      this.dirtyTraces.clear();
      if (save === undefined) return;
      const worker = async (): Promise<void> => {
        for (let e = dirty.shift(); e !== undefined; e = dirty.shift()) {
          await save.call(this.options.persistence, e.scenario.name, e.traces).catch((err: unknown) => this.logger.warn('cannot save traces', { scenario: (e as Entry).scenario.name, error: err as Error }));
        }
      };
      await Promise.all(Array.from({ length: Math.min(TRACE_SAVE_CONCURRENCY, dirty.length) }, worker));
    });
    return this.tracesSaving;
  }

  private check(run: Run): void {
    if (run.stopped) throw new Stopped(run.reason);
  }

  private async execute(run: Run, resume?: { path: number[]; resumeAt: number; kind: 'delay' | 'wait' }): Promise<void> {
    await this.runActions(run, run.entry.scenario.actions, [], resume);
  }

  private async runActions(run: Run, actions: readonly Action[], prefix: number[], resume?: { path: number[]; resumeAt: number; kind: 'delay' | 'wait' }): Promise<void> {
    const start = resume?.path[prefix.length] ?? 0;
    for (let i = start; i < actions.length; i++) {
      this.check(run);
      const here = resume !== undefined && i === start ? resume : undefined;
      await this.runAction(run, actions[i] as Action, [...prefix, i], here);
    }
  }

  private async runAction(run: Run, action: Action, path: number[], resume?: { path: number[]; resumeAt: number; kind: 'delay' | 'wait' }): Promise<void> {
    const step: TraceStep = { path: path.join('.'), type: action.type, at: this.clock.now() };
    run.trace.steps.push(step);
    const done = (result?: unknown): void => {
      step.ms = this.clock.now() - step.at;
      if (result !== undefined) step.result = result;
    };
    const nested = resume !== undefined && resume.path.length > path.length;
    try {
      switch (action.type) {
        case 'device': {
          const value = await this.world.command(action.device, action.command, action.value);
          done({ device: action.device, command: action.command, value });
          return;
        }
        case 'set':
          await this.world.set(action.key, action.value, action.ttl);
          done({ key: action.key });
          return;
        case 'delay': {
          const ms = durationMs(action.for);
          const until = resume?.kind === 'delay' && !nested ? resume.resumeAt : this.clock.now() + ms;
          await this.sleep(run, until, path, 'delay');
          done({ waited: action.for });
          return;
        }
        case 'wait': {
          const timeout = action.timeout === undefined ? undefined : durationMs(action.timeout);
          const deadline = resume?.kind === 'wait' && !nested ? resume.resumeAt : timeout === undefined ? undefined : this.clock.now() + timeout;
          const info = await this.waitFor(run, action.trigger, deadline, path);
          if (info === null) {
            done({ timedOut: true });
            if (action.stopOnTimeout) {
              run.stopped = true;
              run.reason = `waited ${action.timeout} for the trigger in vain (stopOnTimeout)`;
              throw new Stopped(run.reason);
            }
          } else done({ trigger: info.detail });
          return;
        }
        case 'scenario':
          if (action.action === 'start') {
            const t = this.fire(this.require(action.name), { type: 'scenario', detail: `started by scenario ${run.entry.scenario.name}` });
            done({ started: action.name, result: t.result });
          } else done({ stopped: action.name, runs: this.stopScenario(action.name, `stopped by scenario ${run.entry.scenario.name}`) });
          return;
        case 'log':
          (action.level === 'warn' ? this.logger.warn : this.logger.info).call(this.logger, action.message, { scenario: run.entry.scenario.name });
          done({ message: action.message });
          return;
        case 'script': {
          const timeout = action.timeout === undefined ? 1000 : durationMs(action.timeout);
          const out = await this.world.script(action.code, { scenario: run.entry.scenario.name, trigger: run.trace.trigger }, timeout);
          done({ value: out.value, logs: out.logs });
          return;
        }
        case 'choose': {
          let branch = resume?.path[path.length];
          const ctx = this.conditionContext(run.trace.trigger);
          if (branch === undefined) {
            branch = action.when.findIndex((b) => evaluateAll(b.conditions, ctx).ok);
            if (branch < 0) branch = action.when.length; // otherwise
          }
          done({ branch: branch < action.when.length ? branch : 'otherwise' });
          const actions = branch < action.when.length ? (action.when[branch] as { actions: Action[] }).actions : (action.otherwise ?? []);
          await this.runActions(run, actions, [...path, branch], nested ? resume : undefined);
          return;
        }
        case 'repeat': {
          const max = action.max ?? 1000;
          let n = nested ? (resume?.path[path.length] ?? 0) : 0;
          let first = nested;
          while (n < max) {
            if (!first && !evaluateAll(action.while, this.conditionContext(run.trace.trigger)).ok) break;
            await this.runActions(run, action.actions, [...path, n], first ? resume : undefined);
            first = false;
            n++;
            // Let the rest of the house run between iterations.
            await new Promise((r) => setImmediate(r));
            this.check(run);
          }
          done({ iterations: n });
          return;
        }
      }
    } catch (err) {
      if (err instanceof Stopped) throw err;
      step.error = (err as Error).message;
      step.ms = this.clock.now() - step.at;
      throw err;
    }
  }

  /** Waits until `until` (clock), persisted, stoppable. */
  private sleep(run: Run, until: number, path: number[], kind: 'delay'): Promise<void> {
    this.check(run);
    run.persisted = { scenario: run.entry.scenario.name, id: run.id, path, resumeAt: until, kind, trigger: run.trace.trigger };
    this.persist();
    return new Promise<void>((resolve, reject) => {
      const handle = this.clock.setTimeout(() => {
        run.cancel.delete(cancel);
        run.persisted = null;
        this.persist();
        resolve();
      }, Math.max(0, until - this.clock.now()));
      const cancel = (): void => {
        this.clock.clearTimeout(handle);
        reject(new Stopped(run.reason));
      };
      run.cancel.add(cancel);
    });
  }

  /** Waits for a trigger until `deadline`; resolves with it, or null on timeout. */
  private waitFor(run: Run, trigger: Trigger, deadline: number | undefined, path: number[]): Promise<TriggerInfo | null> {
    this.check(run);
    if (deadline !== undefined) {
      run.persisted = { scenario: run.entry.scenario.name, id: run.id, path, resumeAt: deadline, kind: 'wait', trigger: run.trace.trigger };
      this.persist();
    }
    return new Promise<TriggerInfo | null>((resolve, reject) => {
      let timeoutHandle: unknown;
      const finish = (value: TriggerInfo | null): void => {
        this.waiters.delete(waiter);
        if (waiter.timer !== undefined) this.clock.clearTimeout(waiter.timer);
        if (timeoutHandle !== undefined) this.clock.clearTimeout(timeoutHandle);
        run.cancel.delete(cancel);
        if (run.persisted !== null) {
          run.persisted = null;
          this.persist();
        }
        resolve(value);
      };
      const waiter: Waiter = { trigger, resolve: (info) => finish(info) };
      const cancel = (): void => {
        this.waiters.delete(waiter);
        if (waiter.timer !== undefined) this.clock.clearTimeout(waiter.timer);
        if (timeoutHandle !== undefined) this.clock.clearTimeout(timeoutHandle);
        reject(new Stopped(run.reason));
      };
      run.cancel.add(cancel);
      this.waiters.add(waiter);
      if (deadline !== undefined) timeoutHandle = this.clock.setTimeout(() => finish(null), Math.max(0, deadline - this.clock.now()));
      if (trigger.type === 'threshold') {
        // Already inside: no crossing will come.
        waiter.inside = false;
        this.onWaitThreshold(waiter, this.world.get(trigger.key));
      }
      if (trigger.type === 'sun' && this.options.location !== undefined) {
        const offset = trigger.offset === undefined ? 0 : offsetMs(trigger.offset, 'offset');
        const next = nextSunEvent(trigger.event, new Date(this.clock.now()), this.options.location, offset / 60_000);
        if (next !== null) waiter.timer = this.clock.setTimeout(() => finish({ type: 'sun', detail: `${trigger.event} at ${next.toISOString()}` }), next.getTime() - this.clock.now());
      }
    });
  }

  private onWaitThreshold(w: Waiter, value: unknown): void {
    const t = w.trigger as Extract<Trigger, { type: 'threshold' }>;
    const inside = insideThreshold(value, t.above, t.below);
    if (inside === w.inside) return;
    w.inside = inside;
    if (w.timer !== undefined) {
      this.clock.clearTimeout(w.timer);
      w.timer = undefined;
    }
    if (!inside) return;
    if (t.for === undefined) w.resolve(this.thresholdInfo(t, value, false));
    else w.timer = this.clock.setTimeout(() => w.resolve(this.thresholdInfo(t, this.world.get(t.key), true)), durationMs(t.for));
  }

  // ------------------------------------------------------------------ state

  /** What is pending now: threshold timers and runs in a delay or a wait. */
  private snapshot(): PersistedState {
    const state: PersistedState = { thresholds: [], runs: [] };
    for (const entry of this.entries.values()) {
      for (const [i, st] of entry.thresholds) if (st.dueAt !== undefined) state.thresholds.push({ scenario: entry.scenario.name, trigger: i, dueAt: st.dueAt });
      for (const run of entry.runs) if (run.persisted !== null) state.runs.push(run.persisted);
    }
    return state;
  }

  /** Saves what is pending (coalesced; not once the engine is stopping). */
  private persist(): void {
    const persistence = this.options.persistence;
    if (persistence === undefined || this.saveQueued || this.frozen) return;
    this.saveQueued = true;
    this.saving = this.saving.then(async () => {
      this.saveQueued = false;
      if (this.frozen) return;
      try {
        await persistence.save(this.snapshot());
      } catch (err) {
        this.logger.warn('cannot save the pending timers', { error: err as Error });
      }
    });
  }

  private publishState(entry: Entry): void {
    const last = entry.traces[0];
    void this.world
      .set(`/scenario/${entry.scenario.name}/state`, {
        enabled: entry.scenario.enabled !== false,
        running: entry.runs.size,
        queued: entry.queue.length,
        ...(last === undefined ? {} : { last: { result: last.result, at: last.finishedAt ?? last.firedAt, reason: last.reason ?? null, trigger: last.trigger.detail } }),
      })
      .catch(() => {});
  }

  /** For tests: evaluate a condition with the engine's context. */
  evaluate(condition: Condition): { ok: boolean; detail: string } {
    return evaluate(condition, this.conditionContext({ type: 'manual', detail: '' }));
  }
}
