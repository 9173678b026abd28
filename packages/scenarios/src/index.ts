/**
 * `@raspy/scenarios`: cron jobs and automations for a RasPy house. A
 * scenario is JSON: triggers (cron, a key changing, a threshold held for a
 * while, sunrise or sunset, events, start-up), conditions (values, time
 * windows, and/or/not) and actions (device commands, tree updates, delays,
 * waits, other scenarios, logs, sandboxed scripts), with run modes; every
 * run leaves a trace that says why it ran, or why it did not.
 *
 * @packageDocumentation
 */
export { ScenarioService } from './service/scenario-service.js';
export type { ScenarioServiceOptions } from './service/scenario-service.js';
export { ScenarioEngine } from './engine/engine.js';
export type {
  EngineWorld,
  EngineClock,
  EnginePersistence,
  EngineOptions,
  PersistedState,
  Trace,
  TraceStep,
  TriggerInfo,
} from './engine/engine.js';
export { evaluate, evaluateAll, valueOf } from './engine/conditions.js';
export type { ConditionContext, ConditionResult } from './engine/conditions.js';
export { CronScheduler } from './cron/scheduler.js';
export type { CronSchedulerOptions, CronJobState, Publish } from './cron/scheduler.js';
export {
  validateScenario,
  validateTrigger,
  validateCondition,
  validateAction,
  durationMs,
  offsetMs,
  NAME,
} from './model/scenario.js';
export type { Scenario, Trigger, Condition, Action, RunMode, Duration, Weekday } from './model/scenario.js';
export { validateCronJob, validateCronExpression, validateTimezone } from './model/cron-job.js';
export type { CronJob } from './model/cron-job.js';
export { makeBundle, validateBundle } from './model/bundle.js';
export type { Bundle } from './model/bundle.js';
export { sunTimes, nextSunEvent, validateLocation, SUN_ZENITH_DEGREES, SUN_SEARCH_DAYS } from './sun/sun.js';
export type { SunLocation, SunEvent, SunTimes } from './sun/sun.js';
export { ScriptSandbox, SCRIPT_LIMITS } from './sandbox/sandbox.js';
export type { ScriptApi, ScriptOptions, ScriptResult, ScriptLimits } from './sandbox/sandbox.js';
export { ScenarioError, isScenarioError } from './errors.js';
export type { ScenarioErrorCode } from './errors.js';
