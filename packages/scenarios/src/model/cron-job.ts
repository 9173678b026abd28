/**
 * Cron jobs: a name, a cron expression (node-cron syntax: 5 fields, or 6
 * with seconds first) and a time zone. Each tick is published as an event
 * under `/event/cron/<name>`, which scenarios use as a trigger.
 *
 * @module
 */
import cron from 'node-cron';
import { ScenarioError } from '../errors.js';
import { NAME } from './scenario.js';

/** A cron job. */
export interface CronJob {
  /** Its id: lower-case letters, digits and `-`. */
  name: string;
  /** e.g. `0 7 * * 1-5` (07:00 on weekdays), `*\/30 * * * * *` (every 30 s). */
  expression: string;
  /** IANA time zone, e.g. `Europe/Paris`. Default: the core's. */
  timezone?: string;
  /** Default true. */
  enabled?: boolean;
  description?: string;
}

function invalid(message: string): ScenarioError {
  return new ScenarioError('ERR_SCENARIO_INVALID', message);
}

/**
 * Checks a cron expression with node-cron, naming the field that is wrong.
 *
 * @throws ScenarioError `ERR_SCENARIO_INVALID`
 */
export function validateCronExpression(expression: unknown, where = 'expression'): string {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw invalid(`${where}: expected a cron expression like "0 7 * * 1-5", got ${JSON.stringify(expression)}`);
  }
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw invalid(`${where}: "${expression}" has ${fields.length} fields; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)`);
  }
  const detail = cron.validateDetailed(expression);
  if (!detail.valid) {
    const reasons = detail.errors.map((e) => `${e.field}${e.value === undefined ? '' : ` "${e.value}"`}: ${e.message}`).join('; ');
    throw invalid(`${where}: "${expression}" is not a valid cron expression (${reasons || 'unknown reason'})`);
  }
  return expression.trim();
}

/** Checks an IANA time zone name. */
export function validateTimezone(zone: unknown, where = 'timezone'): string {
  if (typeof zone !== 'string' || zone === '') throw invalid(`${where}: expected a time zone like "Europe/Paris", got ${JSON.stringify(zone)}`);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw invalid(`${where}: "${zone}" is not a time zone known to this system (e.g. "Europe/Paris", "UTC")`);
  }
  return zone;
}

/**
 * Validates a cron job (parsed JSON).
 *
 * @throws ScenarioError `ERR_SCENARIO_INVALID`
 */
export function validateCronJob(value: unknown): CronJob {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('cron job: expected an object');
  const j = value as Record<string, unknown>;
  for (const k of Object.keys(j)) if (!['name', 'expression', 'timezone', 'enabled', 'description'].includes(k)) throw invalid(`cron job: unknown field "${k}"`);
  if (typeof j.name !== 'string' || !NAME.test(j.name)) throw invalid(`cron job.name: expected lower-case letters, digits and "-", got ${JSON.stringify(j.name)}`);
  const at = `cron job "${j.name}"`;
  validateCronExpression(j.expression, `${at}: expression`);
  if (j.timezone !== undefined) validateTimezone(j.timezone, `${at}: timezone`);
  if (j.enabled !== undefined && typeof j.enabled !== 'boolean') throw invalid(`${at}: enabled: expected true or false`);
  if (j.description !== undefined && (typeof j.description !== 'string' || j.description.length > 1000)) throw invalid(`${at}: description: expected a string`);
  return j as unknown as CronJob;
}
