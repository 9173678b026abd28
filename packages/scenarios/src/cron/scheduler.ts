/**
 * Cron jobs with node-cron: each tick is published as an event under
 * `/event/cron/<name>` (`{ts, scheduled, job}`), which scenarios take as a
 * trigger. Ticks missed because the Pi was busy or asleep are reported (a
 * log line and `/event/cron/<name>/missed`), not silently dropped.
 *
 * @module
 */
import cron, { type ScheduledTask } from 'node-cron';
import { silentLogger, type Logger } from '@raspy/mdp';
import { ScenarioError } from '../errors.js';
import type { CronJob } from '../model/cron-job.js';

/** Publishes an event (the engine's world `set`). */
export type Publish = (key: string, value: unknown) => Promise<void>;

/** The state of a job, as the cron service reports it. */
export interface CronJobState {
  job: CronJob;
  /** Next tick (ISO), if enabled. */
  next: string | null;
  ticks: number;
  missed: number;
  lastTick: string | null;
  lastMissed: string | null;
}

interface Scheduled {
  job: CronJob;
  task: ScheduledTask | null;
  ticks: number;
  missed: number;
  lastTick: number | null;
  lastMissed: number | null;
  /** When the next tick was expected, to notice ticks that came late. */
  expected: number | null;
}

/** Options of {@link CronScheduler}. */
export interface CronSchedulerOptions {
  publish: Publish;
  /** Default time zone of jobs. Default: the system's. */
  timezone?: string;
  /** A tick later than this (ms) after its time counts as missed. Default 5000. */
  tolerance?: number;
  logger?: Logger;
}

/** Runs cron jobs and publishes their ticks. */
export class CronScheduler {
  private readonly jobs = new Map<string, Scheduled>();
  private readonly logger: Logger;
  private readonly timezone: string;
  private readonly tolerance: number;
  private running = false;

  constructor(private readonly options: CronSchedulerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.timezone = options.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    this.tolerance = options.tolerance ?? 5000;
  }

  /** Starts the enabled jobs. */
  start(): void {
    this.running = true;
    for (const s of this.jobs.values()) this.schedule(s);
  }

  /** Stops every job. */
  async stop(): Promise<void> {
    this.running = false;
    for (const s of this.jobs.values()) await this.unschedule(s);
  }

  /** Adds or replaces a job. */
  async set(job: CronJob): Promise<void> {
    const old = this.jobs.get(job.name);
    if (old !== undefined) await this.unschedule(old);
    const s: Scheduled = { job, task: null, ticks: old?.ticks ?? 0, missed: old?.missed ?? 0, lastTick: old?.lastTick ?? null, lastMissed: old?.lastMissed ?? null, expected: null };
    this.jobs.set(job.name, s);
    if (this.running) this.schedule(s);
  }

  /** Removes a job. */
  async remove(name: string): Promise<boolean> {
    const s = this.jobs.get(name);
    if (s === undefined) return false;
    await this.unschedule(s);
    this.jobs.delete(name);
    return true;
  }

  /** Ticks a job now, by hand. */
  async tick(name: string): Promise<void> {
    const s = this.require(name);
    await this.publishTick(s, Date.now(), 'by hand');
  }

  /** The jobs and their state. */
  list(): CronJobState[] {
    return [...this.jobs.values()].map((s) => this.state(s)).sort((a, b) => (a.job.name < b.job.name ? -1 : 1));
  }

  /** One job and its state. */
  get(name: string): CronJobState {
    return this.state(this.require(name));
  }

  private require(name: string): Scheduled {
    const s = this.jobs.get(name);
    if (s === undefined) throw new ScenarioError('ERR_SCENARIO_NOT_FOUND', `no cron job "${name}"`);
    return s;
  }

  private state(s: Scheduled): CronJobState {
    const next = s.task?.getNextRun() ?? null;
    return {
      job: s.job,
      next: next === null ? null : next.toISOString(),
      ticks: s.ticks,
      missed: s.missed,
      lastTick: s.lastTick === null ? null : new Date(s.lastTick).toISOString(),
      lastMissed: s.lastMissed === null ? null : new Date(s.lastMissed).toISOString(),
    };
  }

  private schedule(s: Scheduled): void {
    if (s.job.enabled === false || s.task !== null) return;
    const task = cron.createTask(
      s.job.expression,
      (ctx) => {
        const now = Date.now();
        const scheduled = ctx.date.getTime();
        // A tick that comes much later than its time: the ones before it were missed.
        if (s.expected !== null && now - s.expected > this.tolerance && scheduled > s.expected) this.reportMissed(s, s.expected, 'the Pi was busy or asleep');
        void this.publishTick(s, scheduled, 'scheduled');
        s.expected = task.getNextRun()?.getTime() ?? null;
      },
      { name: `raspy-${s.job.name}`, timezone: s.job.timezone ?? this.timezone, noOverlap: false, suppressMissedWarning: true },
    );
    task.on('execution:missed', (ctx) => this.reportMissed(s, ctx.date.getTime(), 'node-cron saw it go by'));
    s.task = task;
    void Promise.resolve(task.start()).then(() => {
      s.expected = task.getNextRun()?.getTime() ?? null;
    });
  }

  private async unschedule(s: Scheduled): Promise<void> {
    const task = s.task;
    s.task = null;
    s.expected = null;
    if (task !== null) await task.destroy();
  }

  private async publishTick(s: Scheduled, scheduled: number, reason: string): Promise<void> {
    s.ticks++;
    s.lastTick = Date.now();
    this.logger.debug('cron tick', { job: s.job.name, reason });
    try {
      await this.options.publish(`/event/cron/${s.job.name}`, { ts: s.lastTick, scheduled: new Date(scheduled).toISOString(), job: s.job.name, reason });
    } catch (err) {
      this.logger.warn('cannot publish a cron tick', { job: s.job.name, error: err as Error });
    }
  }

  private reportMissed(s: Scheduled, at: number, why: string): void {
    s.missed++;
    s.lastMissed = at;
    this.logger.warn('cron tick missed', { job: s.job.name, at: new Date(at).toISOString(), why });
    this.options.publish(`/event/cron/${s.job.name}/missed`, { ts: Date.now(), at: new Date(at).toISOString(), job: s.job.name, why }).catch(() => {});
  }
}
