/**
 * The scenario model: triggers, conditions, actions and run modes, as plain
 * JSON, validated with messages that say where and what is wrong
 * (`scenario "thermostat": triggers[1].for: expected a duration like "5m", got "soon"`).
 *
 * @module
 */
import { ScenarioError } from '../errors.js';

/** A duration: seconds, or text such as `500ms`, `30s`, `5m`, `2h`, `1d`, `1h30m`. */
export type Duration = number | string;

/** What can start a scenario. */
export type Trigger =
  /** A tick of a cron job (published under `/event/cron/<job>`). */
  | { type: 'cron'; id?: string; job: string }
  /** A key of the tree changing (to a given value, if `to` is set). */
  | { type: 'change'; id?: string; key: string; to?: unknown }
  /** A numeric value entering a range: above, below, or a band (both), held `for` a duration. */
  | { type: 'threshold'; id?: string; key: string; above?: number; below?: number; for?: Duration }
  /** Sunrise or sunset, with an offset, at the configured location. */
  | { type: 'sun'; id?: string; event: 'sunrise' | 'sunset'; offset?: Duration }
  /** Any set of a key under an event prefix, e.g. `/event/doorbell`. */
  | { type: 'event'; id?: string; key: string }
  /** The engine starting (the core started). */
  | { type: 'startup'; id?: string };

/** A test that must hold for the actions to run. */
export type Condition =
  | { type: 'value'; key: string; op: '==' | '!=' | '>' | '>=' | '<' | '<='; value: unknown }
  | { type: 'time'; after?: string; before?: string; weekdays?: Weekday[] }
  | { type: 'trigger'; id: string }
  | { type: 'and'; conditions: Condition[] }
  | { type: 'or'; conditions: Condition[] }
  | { type: 'not'; condition: Condition };

/** Days of the week, as in time conditions. */
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** What a scenario does. */
export type Action =
  /** Sends a command to a device (through its device server). */
  | { type: 'device'; device: string; command: string; value: unknown }
  /** Sets a key of the tree (JSON value; `null` deletes). */
  | { type: 'set'; key: string; value: unknown; ttl?: number }
  /** Waits. */
  | { type: 'delay'; for: Duration }
  /** Waits for a trigger, at most `timeout`; then goes on (or stops the run with `stopOnTimeout`). */
  | { type: 'wait'; trigger: Trigger; timeout?: Duration; stopOnTimeout?: boolean }
  /** Starts or stops another scenario. */
  | { type: 'scenario'; action: 'start' | 'stop'; name: string }
  /** Writes a line to the log and the trace. */
  | { type: 'log'; message: string; level?: 'info' | 'warn' }
  /** Runs a script in the sandbox (it sees `raspy.get`, `raspy.command`, `raspy.log`, `input`). */
  | { type: 'script'; code: string; timeout?: Duration }
  /** Runs the first branch whose conditions hold, else `otherwise`. */
  | { type: 'choose'; when: { conditions: Condition[]; actions: Action[] }[]; otherwise?: Action[] }
  /** Repeats actions while conditions hold (at most `max` times). */
  | { type: 'repeat'; while: Condition[]; actions: Action[]; max?: number };

/** How a scenario behaves when triggered while it runs. */
export type RunMode = 'single' | 'restart' | 'queued' | 'parallel';

/** A scenario. */
export interface Scenario {
  /** Its id: lower-case letters, digits and `-`. */
  name: string;
  description?: string;
  /** A disabled scenario ignores its triggers (it can still be run by hand). Default true. */
  enabled?: boolean;
  /** Default `single`. */
  mode?: RunMode;
  /** Most runs queued or in parallel. Default 10. */
  max?: number;
  triggers: Trigger[];
  /** All must hold. */
  conditions?: Condition[];
  actions: Action[];
}

/** A name of a scenario or cron job. */
export const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Converts a duration to milliseconds.
 *
 * @throws ScenarioError `ERR_SCENARIO_INVALID`
 */
export function durationMs(value: Duration, where = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw invalid(`${where}: expected a duration (seconds, or like "5m"), got ${show(value)}`);
    return value * 1000;
  }
  if (typeof value === 'string') {
    const text = value.trim();
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
    if (parts.length > 0 && parts.map((p) => p[0]).join('') === text.replace(/\s+/g, '')) {
      return parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS[p[2] as string] as number), 0);
    }
  }
  throw invalid(`${where}: expected a duration like "30s", "5m", "1h30m" or a number of seconds, got ${show(value)}`);
}

function invalid(message: string): ScenarioError {
  return new ScenarioError('ERR_SCENARIO_INVALID', message);
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

type Obj = Record<string, unknown>;

function object(value: unknown, where: string, allowed: readonly string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${where}: expected an object, got ${show(value)}`);
  for (const key of Object.keys(value)) if (!allowed.includes(key)) throw invalid(`${where}: unknown field "${key}"`);
  return value as Obj;
}

function list(value: unknown, where: string, nonEmpty = false): unknown[] {
  if (!Array.isArray(value)) throw invalid(`${where}: expected a list, got ${show(value)}`);
  if (nonEmpty && value.length === 0) throw invalid(`${where}: needs at least one entry`);
  return value;
}

function text(value: unknown, where: string, max = 500): string {
  if (typeof value !== 'string' || value === '' || value.length > max) throw invalid(`${where}: expected a non-empty string of at most ${max} characters, got ${show(value)}`);
  return value;
}

function key(value: unknown, where: string): string {
  const k = text(value, where, 1024);
  if (!k.startsWith('/') || /[\x00-\x1f\x7f]/.test(k)) throw invalid(`${where}: a key of the tree starts with "/" (e.g. "/device/pi1/sim/heater/power"), got ${show(value)}`);
  return k;
}

function num(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${where}: expected a number, got ${show(value)}`);
  return value;
}

function clock(value: unknown, where: string): string {
  if (typeof value !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(value)) throw invalid(`${where}: expected a time like "07:30", got ${show(value)}`);
  return value;
}

/** Validates a trigger. */
export function validateTrigger(value: unknown, where: string): Trigger {
  const base = object(value, where, ['type', 'id', 'job', 'key', 'to', 'above', 'below', 'for', 'event', 'offset']);
  const allowed: Record<string, string[]> = {
    cron: ['type', 'id', 'job'],
    change: ['type', 'id', 'key', 'to'],
    threshold: ['type', 'id', 'key', 'above', 'below', 'for'],
    sun: ['type', 'id', 'event', 'offset'],
    event: ['type', 'id', 'key'],
    startup: ['type', 'id'],
  };
  const fields = allowed[base.type as string];
  if (fields === undefined) throw invalid(`${where}.type: expected one of ${Object.keys(allowed).join(', ')}, got ${show(base.type)}`);
  object(value, where, fields);
  if (base.id !== undefined && (typeof base.id !== 'string' || !NAME.test(base.id))) throw invalid(`${where}.id: expected lower-case letters, digits and "-", got ${show(base.id)}`);
  switch (base.type) {
    case 'cron':
      if (typeof base.job !== 'string' || !NAME.test(base.job)) throw invalid(`${where}.job: expected the name of a cron job, got ${show(base.job)}`);
      break;
    case 'change':
    case 'event':
      key(base.key, `${where}.key`);
      break;
    case 'threshold':
      key(base.key, `${where}.key`);
      if (base.above === undefined && base.below === undefined) throw invalid(`${where}: a threshold needs "above", "below" or both (a band)`);
      if (base.above !== undefined) num(base.above, `${where}.above`);
      if (base.below !== undefined) num(base.below, `${where}.below`);
      if (base.above !== undefined && base.below !== undefined && (base.above as number) >= (base.below as number)) {
        throw invalid(`${where}: a band needs "above" lower than "below" (the value must be above ${show(base.above)} and below ${show(base.below)})`);
      }
      if (base.for !== undefined) durationMs(base.for as Duration, `${where}.for`);
      break;
    case 'sun':
      if (base.event !== 'sunrise' && base.event !== 'sunset') throw invalid(`${where}.event: expected "sunrise" or "sunset", got ${show(base.event)}`);
      if (base.offset !== undefined) offsetMs(base.offset as Duration, `${where}.offset`);
      break;
    default:
      break;
  }
  return base as unknown as Trigger;
}

/** An offset may be negative: "-15m". */
export function offsetMs(value: Duration, where: string): number {
  if (typeof value === 'string' && value.trim().startsWith('-')) return -durationMs(value.trim().slice(1), where);
  if (typeof value === 'number' && value < 0) return -durationMs(-value, where);
  return durationMs(value, where);
}

/** Validates a condition. */
export function validateCondition(value: unknown, where: string, depth = 0): Condition {
  if (depth > 10) throw invalid(`${where}: conditions are nested too deep`);
  const base = object(value, where, ['type', 'key', 'op', 'value', 'after', 'before', 'weekdays', 'id', 'conditions', 'condition']);
  switch (base.type) {
    case 'value':
      object(value, where, ['type', 'key', 'op', 'value']);
      key(base.key, `${where}.key`);
      if (!['==', '!=', '>', '>=', '<', '<='].includes(base.op as string)) throw invalid(`${where}.op: expected one of == != > >= < <=, got ${show(base.op)}`);
      if (base.value === undefined) throw invalid(`${where}.value: needed`);
      break;
    case 'time':
      object(value, where, ['type', 'after', 'before', 'weekdays']);
      if (base.after === undefined && base.before === undefined && base.weekdays === undefined) throw invalid(`${where}: a time condition needs "after", "before" or "weekdays"`);
      if (base.after !== undefined) clock(base.after, `${where}.after`);
      if (base.before !== undefined) clock(base.before, `${where}.before`);
      if (base.weekdays !== undefined) {
        for (const d of list(base.weekdays, `${where}.weekdays`, true)) {
          if (!WEEKDAYS.includes(d as Weekday)) throw invalid(`${where}.weekdays: expected days among ${WEEKDAYS.join(', ')}, got ${show(d)}`);
        }
      }
      break;
    case 'trigger':
      object(value, where, ['type', 'id']);
      if (typeof base.id !== 'string' || !NAME.test(base.id)) throw invalid(`${where}.id: expected a trigger id, got ${show(base.id)}`);
      break;
    case 'and':
    case 'or':
      object(value, where, ['type', 'conditions']);
      list(base.conditions, `${where}.conditions`, true).forEach((c, i) => validateCondition(c, `${where}.conditions[${i}]`, depth + 1));
      break;
    case 'not':
      object(value, where, ['type', 'condition']);
      validateCondition(base.condition, `${where}.condition`, depth + 1);
      break;
    default:
      throw invalid(`${where}.type: expected one of value, time, trigger, and, or, not, got ${show(base.type)}`);
  }
  return base as unknown as Condition;
}

/** Validates an action. */
export function validateAction(value: unknown, where: string, depth = 0): Action {
  if (depth > 10) throw invalid(`${where}: actions are nested too deep`);
  const base = object(value, where, ['type', 'device', 'command', 'value', 'key', 'ttl', 'for', 'trigger', 'timeout', 'stopOnTimeout', 'action', 'name', 'message', 'level', 'code', 'when', 'otherwise', 'while', 'actions', 'max']);
  switch (base.type) {
    case 'device':
      object(value, where, ['type', 'device', 'command', 'value']);
      if (typeof base.device !== 'string' || !/^[a-z0-9-]+(\/[a-z0-9-]+){2,}$/.test(base.device)) {
        throw invalid(`${where}.device: expected a device id like "pi1/sim/heater", got ${show(base.device)}`);
      }
      text(base.command, `${where}.command`, 64);
      if (base.value === undefined) throw invalid(`${where}.value: needed`);
      break;
    case 'set':
      object(value, where, ['type', 'key', 'value', 'ttl']);
      key(base.key, `${where}.key`);
      if (base.value === undefined) throw invalid(`${where}.value: needed (null deletes the key)`);
      if (base.ttl !== undefined && (num(base.ttl, `${where}.ttl`) <= 0)) throw invalid(`${where}.ttl: expected a positive number of seconds`);
      break;
    case 'delay':
      object(value, where, ['type', 'for']);
      durationMs(base.for as Duration, `${where}.for`);
      break;
    case 'wait':
      object(value, where, ['type', 'trigger', 'timeout', 'stopOnTimeout']);
      validateTrigger(base.trigger, `${where}.trigger`);
      if ((base.trigger as Obj).type === 'startup') throw invalid(`${where}.trigger: cannot wait for startup`);
      if (base.timeout !== undefined) durationMs(base.timeout as Duration, `${where}.timeout`);
      if (base.stopOnTimeout !== undefined && typeof base.stopOnTimeout !== 'boolean') throw invalid(`${where}.stopOnTimeout: expected true or false`);
      break;
    case 'scenario':
      object(value, where, ['type', 'action', 'name']);
      if (base.action !== 'start' && base.action !== 'stop') throw invalid(`${where}.action: expected "start" or "stop", got ${show(base.action)}`);
      if (typeof base.name !== 'string' || !NAME.test(base.name)) throw invalid(`${where}.name: expected a scenario name, got ${show(base.name)}`);
      break;
    case 'log':
      object(value, where, ['type', 'message', 'level']);
      text(base.message, `${where}.message`, 1000);
      if (base.level !== undefined && base.level !== 'info' && base.level !== 'warn') throw invalid(`${where}.level: expected "info" or "warn"`);
      break;
    case 'script':
      object(value, where, ['type', 'code', 'timeout']);
      text(base.code, `${where}.code`, 20_000);
      if (base.timeout !== undefined && durationMs(base.timeout as Duration, `${where}.timeout`) > 30_000) throw invalid(`${where}.timeout: at most 30s`);
      break;
    case 'choose':
      object(value, where, ['type', 'when', 'otherwise']);
      list(base.when, `${where}.when`, true).forEach((branch, i) => {
        const b = object(branch, `${where}.when[${i}]`, ['conditions', 'actions']);
        list(b.conditions, `${where}.when[${i}].conditions`, true).forEach((c, j) => validateCondition(c, `${where}.when[${i}].conditions[${j}]`));
        list(b.actions, `${where}.when[${i}].actions`, true).forEach((a, j) => validateAction(a, `${where}.when[${i}].actions[${j}]`, depth + 1));
      });
      if (base.otherwise !== undefined) list(base.otherwise, `${where}.otherwise`).forEach((a, j) => validateAction(a, `${where}.otherwise[${j}]`, depth + 1));
      break;
    case 'repeat':
      object(value, where, ['type', 'while', 'actions', 'max']);
      list(base.while, `${where}.while`, true).forEach((c, j) => validateCondition(c, `${where}.while[${j}]`));
      list(base.actions, `${where}.actions`, true).forEach((a, j) => validateAction(a, `${where}.actions[${j}]`, depth + 1));
      if (base.max !== undefined && (!Number.isInteger(base.max) || (base.max as number) < 1 || (base.max as number) > 100_000)) {
        throw invalid(`${where}.max: expected a whole number from 1 to 100000`);
      }
      break;
    default:
      throw invalid(`${where}.type: expected one of device, set, delay, wait, scenario, log, script, choose, repeat, got ${show(base.type)}`);
  }
  return base as unknown as Action;
}

/**
 * Validates a scenario (parsed JSON), with messages naming the field.
 *
 * @throws ScenarioError `ERR_SCENARIO_INVALID`
 */
export function validateScenario(value: unknown): Scenario {
  const s = object(value, 'scenario', ['name', 'description', 'enabled', 'mode', 'max', 'triggers', 'conditions', 'actions']);
  if (typeof s.name !== 'string' || !NAME.test(s.name)) throw invalid(`scenario.name: expected lower-case letters, digits and "-", got ${show(s.name)}`);
  const at = `scenario "${s.name}"`;
  if (s.description !== undefined) text(s.description, `${at}: description`, 1000);
  if (s.enabled !== undefined && typeof s.enabled !== 'boolean') throw invalid(`${at}: enabled: expected true or false`);
  if (s.mode !== undefined && !['single', 'restart', 'queued', 'parallel'].includes(s.mode as string)) {
    throw invalid(`${at}: mode: expected single, restart, queued or parallel, got ${show(s.mode)}`);
  }
  if (s.max !== undefined && (!Number.isInteger(s.max) || (s.max as number) < 1 || (s.max as number) > 1000)) throw invalid(`${at}: max: expected a whole number from 1 to 1000`);
  const triggers = list(s.triggers, `${at}: triggers`).map((t, i) => validateTrigger(t, `${at}: triggers[${i}]`));
  const ids = triggers.map((t) => t.id).filter((id): id is string => id !== undefined);
  if (new Set(ids).size !== ids.length) throw invalid(`${at}: triggers: two triggers have the same id`);
  (s.conditions === undefined ? [] : list(s.conditions, `${at}: conditions`)).forEach((c, i) => validateCondition(c, `${at}: conditions[${i}]`));
  list(s.actions, `${at}: actions`, true).forEach((a, i) => validateAction(a, `${at}: actions[${i}]`));
  // Conditions on trigger ids must name a trigger of the scenario.
  const known = new Set(ids);
  const walk = (c: Condition, where: string): void => {
    if (c.type === 'trigger' && !known.has(c.id)) throw invalid(`${where}: no trigger has the id "${c.id}"`);
    if (c.type === 'and' || c.type === 'or') c.conditions.forEach((x) => walk(x, where));
    if (c.type === 'not') walk(c.condition, where);
  };
  const walkActions = (actions: Action[], where: string): void => {
    for (const a of actions) {
      if (a.type === 'choose') {
        a.when.forEach((b) => b.conditions.forEach((c) => walk(c, where)));
        a.when.forEach((b) => walkActions(b.actions, where));
        walkActions(a.otherwise ?? [], where);
      }
      if (a.type === 'repeat') {
        a.while.forEach((c) => walk(c, where));
        walkActions(a.actions, where);
      }
    }
  };
  ((s.conditions ?? []) as Condition[]).forEach((c) => walk(c, `${at}: conditions`));
  walkActions(s.actions as Action[], `${at}: actions`);
  return s as unknown as Scenario;
}
