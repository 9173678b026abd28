/**
 * Sharing: scenarios and cron jobs exported as one JSON bundle, and
 * imported back after validation (every entry is checked before anything is
 * stored).
 *
 * @module
 */
import { ScenarioError } from '../errors.js';
import { validateCronJob, type CronJob } from './cron-job.js';
import { validateScenario, type Scenario } from './scenario.js';

/** A bundle of scenarios and cron jobs. */
export interface Bundle {
  format: 'raspy-scenarios';
  version: 1;
  exportedAt?: string;
  scenarios: Scenario[];
  jobs: CronJob[];
}

/** Makes a bundle. */
export function makeBundle(scenarios: Scenario[], jobs: CronJob[], now = new Date()): Bundle {
  return { format: 'raspy-scenarios', version: 1, exportedAt: now.toISOString(), scenarios, jobs };
}

/**
 * Validates a bundle and everything in it.
 *
 * @throws ScenarioError `ERR_SCENARIO_INVALID` naming the entry that is wrong
 */
export function validateBundle(value: unknown): Bundle {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ScenarioError('ERR_SCENARIO_INVALID', 'bundle: expected a JSON object');
  const b = value as Record<string, unknown>;
  if (b.format !== 'raspy-scenarios') throw new ScenarioError('ERR_SCENARIO_INVALID', `bundle: format must be "raspy-scenarios", got ${JSON.stringify(b.format)}`);
  if (b.version !== 1) throw new ScenarioError('ERR_SCENARIO_INVALID', `bundle: version ${JSON.stringify(b.version)} is not supported (1 is)`);
  const scenarios = Array.isArray(b.scenarios) ? b.scenarios : [];
  const jobs = Array.isArray(b.jobs) ? b.jobs : [];
  const out: Bundle = { format: 'raspy-scenarios', version: 1, scenarios: [], jobs: [] };
  scenarios.forEach((s, i) => {
    try {
      out.scenarios.push(validateScenario(s));
    } catch (err) {
      throw new ScenarioError('ERR_SCENARIO_INVALID', `bundle.scenarios[${i}]: ${(err as Error).message}`);
    }
  });
  jobs.forEach((j, i) => {
    try {
      out.jobs.push(validateCronJob(j));
    } catch (err) {
      throw new ScenarioError('ERR_SCENARIO_INVALID', `bundle.jobs[${i}]: ${(err as Error).message}`);
    }
  });
  const names = out.scenarios.map((s) => s.name);
  if (new Set(names).size !== names.length) throw new ScenarioError('ERR_SCENARIO_INVALID', 'bundle: two scenarios have the same name');
  return out;
}
