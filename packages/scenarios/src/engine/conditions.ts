/**
 * Evaluating conditions, pure: values of the tree, time windows in a time
 * zone, the trigger that fired, and/or/not. Each evaluation says why, for
 * the traces ("living-temp 18.5 < 19: true").
 *
 * @module
 * @internal
 */
import type { Condition, Weekday } from '../model/scenario.js';

/** What conditions are evaluated against. */
export interface ConditionContext {
  /** A key's current value (JSON-decoded), or undefined. */
  get(key: string): unknown;
  /** Now, ms since the epoch. */
  now: number;
  /** IANA time zone for time conditions. */
  timezone: string;
  /** The id of the trigger that fired, if it had one. */
  triggerId?: string;
}

/** The outcome of one condition. */
export interface ConditionResult {
  readonly ok: boolean;
  /** Why, for people. */
  readonly detail: string;
}

/** The number or value inside a tree value: device readings are `{value, unit, ts}`. */
export function valueOf(raw: unknown): unknown {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'value' in raw) return (raw as { value: unknown }).value;
  return raw;
}

const WEEKDAY_INDEX: Record<string, Weekday> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };

/** Local time of day (minutes) and weekday of an instant in a time zone. */
export function localTime(now: number, timezone: string): { minutes: number; weekday: Weekday; text: string } {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', weekday: 'short', hourCycle: 'h23' }).formatToParts(new Date(now));
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  const hour = Number(get('hour'));
  const minute = Number(get('minute'));
  return { minutes: hour * 60 + minute, weekday: WEEKDAY_INDEX[get('weekday')] ?? 'mon', text: `${get('weekday')} ${get('hour')}:${get('minute')}` };
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

function show(v: unknown): string {
  const t = JSON.stringify(v);
  return t === undefined ? 'nothing' : t.length > 40 ? `${t.slice(0, 37)}...` : t;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Evaluates one condition. */
export function evaluate(condition: Condition, ctx: ConditionContext): ConditionResult {
  switch (condition.type) {
    case 'value': {
      const current = valueOf(ctx.get(condition.key));
      let ok: boolean;
      if (condition.op === '==') ok = equal(current, condition.value);
      else if (condition.op === '!=') ok = !equal(current, condition.value);
      else if (typeof current !== 'number' || typeof condition.value !== 'number') {
        return { ok: false, detail: `${condition.key} is ${show(current)}, not a number to compare with ${condition.op} ${show(condition.value)}` };
      } else {
        const a = current;
        const b = condition.value;
        ok = condition.op === '>' ? a > b : condition.op === '>=' ? a >= b : condition.op === '<' ? a < b : a <= b;
      }
      return { ok, detail: `${condition.key} ${show(current)} ${condition.op} ${show(condition.value)}: ${ok}` };
    }
    case 'time': {
      const t = localTime(ctx.now, ctx.timezone);
      const reasons: string[] = [];
      let ok = true;
      if (condition.weekdays !== undefined && !condition.weekdays.includes(t.weekday)) {
        ok = false;
        reasons.push(`${t.weekday} is not one of ${condition.weekdays.join(', ')}`);
      }
      if (condition.after !== undefined || condition.before !== undefined) {
        const after = condition.after === undefined ? 0 : minutesOf(condition.after);
        const before = condition.before === undefined ? 24 * 60 : minutesOf(condition.before);
        // A window over midnight (22:00 to 06:00) is the two ends of the day.
        const inside = after <= before ? t.minutes >= after && t.minutes < before : t.minutes >= after || t.minutes < before;
        if (!inside) {
          ok = false;
          reasons.push(`${t.text} is outside ${condition.after ?? '00:00'}-${condition.before ?? '24:00'}`);
        }
      }
      return { ok, detail: ok ? `${t.text} (${ctx.timezone}) is within the time window` : reasons.join('; ') };
    }
    case 'trigger': {
      const ok = ctx.triggerId === condition.id;
      return { ok, detail: `fired by trigger ${ctx.triggerId ?? '(none)'}${ok ? '' : `, not ${condition.id}`}` };
    }
    case 'and': {
      const results = condition.conditions.map((c) => evaluate(c, ctx));
      const failed = results.find((r) => !r.ok);
      return failed === undefined ? { ok: true, detail: results.map((r) => r.detail).join(' and ') } : { ok: false, detail: failed.detail };
    }
    case 'or': {
      const results = condition.conditions.map((c) => evaluate(c, ctx));
      const passed = results.find((r) => r.ok);
      return passed !== undefined ? { ok: true, detail: passed.detail } : { ok: false, detail: results.map((r) => r.detail).join(' or ') };
    }
    case 'not': {
      const inner = evaluate(condition.condition, ctx);
      return { ok: !inner.ok, detail: `not (${inner.detail})` };
    }
  }
}

/** Evaluates a list of conditions that must all hold. */
export function evaluateAll(conditions: readonly Condition[], ctx: ConditionContext): { ok: boolean; results: ConditionResult[] } {
  const results: ConditionResult[] = [];
  for (const c of conditions) {
    const r = evaluate(c, ctx);
    results.push(r);
    if (!r.ok) return { ok: false, results };
  }
  return { ok: true, results };
}

/** Whether a numeric value is inside a threshold's range (above, below, or a band). */
export function insideThreshold(raw: unknown, above: number | undefined, below: number | undefined): boolean {
  const v = valueOf(raw);
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  return (above === undefined || v > above) && (below === undefined || v < below);
}
