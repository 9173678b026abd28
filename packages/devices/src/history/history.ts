/**
 * The history of device values: a recorder that follows the key/value tree
 * and keeps every numeric (or on/off) reading of the devices whose `record`
 * setting is on, in files on disk with bounded retention, and answers
 * queries over a time range (averaged down to a number of points).
 *
 * Layout: `<dir>/<sha1 of the key>/key` (the key itself) and one file per
 * UTC day, `<YYYY-MM-DD>.csv`, lines `ts,value`. Days older than the
 * retention, and the oldest days beyond `maxBytes`, are deleted.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KvChange, KvClient } from '@raspy/kv';
import { silentLogger, type Logger } from '@raspy/mdp';
import { DeviceError } from '../errors.js';

/** Options of {@link HistoryStore}. */
export interface HistoryOptions {
  /** Where the files go. */
  dir: string;
  /** Days kept. Default 7. */
  retentionDays?: number;
  /** Most bytes kept in all; the oldest days go first. Default 100 MiB. */
  maxBytes?: number;
  /** How often buffered points are written, ms. Default 1000. */
  flushInterval?: number;
  logger?: Logger;
}

const DAY = 86_400_000;
const dayOf = (ts: number): string => new Date(ts).toISOString().slice(0, 10);

/** Time series of tree keys, on disk. */
export class HistoryStore {
  private readonly pending = new Map<string, string>(); // key → lines
  private readonly known = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private lastPrune = 0;
  private scanned = false;
  private readonly logger: Logger;

  constructor(private readonly options: HistoryOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  /** Starts writing buffered points periodically. */
  async start(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    this.timer = setInterval(() => void this.flush(), this.options.flushInterval ?? 1000);
  }

  /** The keys that have a history (on disk or buffered). */
  async keys(): Promise<string[]> {
    await this.flush();
    if (!this.scanned) {
      for (const sub of await readdir(this.options.dir).catch(() => [] as string[])) {
        const key = await readFile(join(this.options.dir, sub, 'key'), 'utf8').catch(() => null);
        if (key !== null && hashKey(key) === sub) this.known.add(key);
      }
      this.scanned = true;
    }
    return [...this.known].sort();
  }

  /** Writes what is buffered and stops. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** Records a point (buffered; written within `flushInterval`). */
  record(key: string, ts: number, value: number): void {
    if (!Number.isFinite(ts) || !Number.isFinite(value)) return;
    this.pending.set(key, (this.pending.get(key) ?? '') + `${Math.round(ts)},${value}\n`);
  }

  /** Writes buffered points now. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const batch = [...this.pending];
      this.pending.clear();
      for (const [key, lines] of batch) {
        try {
          const dir = join(this.options.dir, hashKey(key));
          if (!this.known.has(key)) {
            await mkdir(dir, { recursive: true });
            await writeFile(join(dir, 'key'), key);
            this.known.add(key);
          }
          // Points of one batch may span midnight: split them by day.
          const byDay = new Map<string, string>();
          for (const line of lines.split('\n')) {
            if (line === '') continue;
            const day = dayOf(Number(line.slice(0, line.indexOf(','))));
            byDay.set(day, (byDay.get(day) ?? '') + line + '\n');
          }
          for (const [day, text] of byDay) await appendFile(join(dir, `${day}.csv`), text);
        } catch (err) {
          this.logger.warn('cannot write history', { key, error: err as Error });
        }
      }
      if (Date.now() - this.lastPrune > 3_600_000) {
        this.lastPrune = Date.now();
        await this.pruneNow(Date.now()).catch((err: unknown) => this.logger.warn('cannot prune history', { error: err as Error }));
      }
    });
    return this.flushing;
  }

  /**
   * The points of a key between two instants, averaged into at most
   * `points` buckets.
   *
   * @throws DeviceError `ERR_DEVICE_INVALID` for a bad range
   */
  async query(key: string, from: number, to: number, points = 500): Promise<[number, number][]> {
    if (!(Number.isFinite(from) && Number.isFinite(to) && from <= to)) throw new DeviceError('ERR_DEVICE_INVALID', 'the range needs from <= to (ms since the epoch)');
    if (!Number.isInteger(points) || points < 2 || points > 5000) throw new DeviceError('ERR_DEVICE_INVALID', 'points must be a whole number from 2 to 5000');
    await this.flush();
    const dir = join(this.options.dir, hashKey(key));
    const out: [number, number][] = [];
    for (let day = Math.floor(from / DAY) * DAY; day <= to; day += DAY) {
      let text: string;
      try {
        text = await readFile(join(dir, `${dayOf(day)}.csv`), 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        const comma = line.indexOf(',');
        if (comma < 0) continue;
        const ts = Number(line.slice(0, comma));
        const value = Number(line.slice(comma + 1));
        if (ts >= from && ts <= to && Number.isFinite(value)) out.push([ts, value]);
      }
    }
    out.sort((a, b) => a[0] - b[0]);
    if (out.length <= points) return out;
    // Average into buckets of equal time.
    const width = (to - from) / points;
    const buckets = new Map<number, { t: number; v: number; n: number }>();
    for (const [ts, v] of out) {
      const b = Math.min(points - 1, Math.floor((ts - from) / width));
      const acc = buckets.get(b) ?? { t: 0, v: 0, n: 0 };
      acc.t += ts;
      acc.v += v;
      acc.n++;
      buckets.set(b, acc);
    }
    return [...buckets.keys()].sort((a, b) => a - b).map((b) => {
      const acc = buckets.get(b) as { t: number; v: number; n: number };
      return [Math.round(acc.t / acc.n), Math.round((acc.v / acc.n) * 1000) / 1000] as [number, number];
    });
  }

  /** Deletes days past the retention, then the oldest days beyond `maxBytes`, and keys left without days. */
  prune(now = Date.now()): Promise<void> {
    this.flushing = this.flushing.then(() => this.pruneNow(now));
    return this.flushing;
  }

  private async pruneNow(now: number): Promise<void> {
    const retention = (this.options.retentionDays ?? 7) * DAY;
    const oldest = dayOf(now - retention);
    const files: { path: string; day: string; size: number }[] = [];
    for (const keyDir of await readdir(this.options.dir).catch(() => [] as string[])) {
      const dir = join(this.options.dir, keyDir);
      for (const f of await readdir(dir).catch(() => [] as string[])) {
        if (!f.endsWith('.csv')) continue;
        const day = f.slice(0, 10);
        const path = join(dir, f);
        if (day < oldest) await rm(path, { force: true });
        else files.push({ path, day, size: (await stat(path)).size });
      }
    }
    let total = files.reduce((s, f) => s + f.size, 0);
    const max = this.options.maxBytes ?? 100 * 1024 * 1024;
    files.sort((a, b) => (a.day < b.day ? -1 : 1));
    for (const f of files) {
      if (total <= max) break;
      await rm(f.path, { force: true });
      total -= f.size;
    }
    for (const keyDir of await readdir(this.options.dir).catch(() => [] as string[])) {
      const dir = join(this.options.dir, keyDir);
      const left = await readdir(dir).catch(() => null);
      if (left === null || left.some((f) => f.endsWith('.csv'))) continue;
      const key = await readFile(join(dir, 'key'), 'utf8').catch(() => null);
      if (key !== null) this.known.delete(key);
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function hashKey(key: string): string {
  return createHash('sha1').update(key).digest('hex');
}

/**
 * Records device readings from the tree into a {@link HistoryStore}:
 * numbers as they are, booleans as 1/0, skipping devices whose `record`
 * setting is off.
 *
 * @param kv - a client whose subtree includes `/device/`
 * @returns a function that stops recording
 */
export function recordDevices(kv: KvClient, store: HistoryStore): () => void {
  // A resynchronised snapshot repeats readings already recorded.
  const last = new Map<string, number>();
  const onChange = (change: KvChange): void => {
    if (!change.key.startsWith('/device/') || change.value === undefined) return;
    const name = change.key.slice(change.key.lastIndexOf('/') + 1);
    if (name.startsWith('$') || name === 'record' || name === 'poll' || name === 'name') return;
    let reading: { value?: unknown; ts?: unknown };
    try {
      reading = JSON.parse(change.value.toString('utf8')) as { value?: unknown; ts?: unknown };
    } catch {
      return;
    }
    const value = typeof reading.value === 'boolean' ? (reading.value ? 1 : 0) : reading.value;
    if (typeof value !== 'number') return;
    // The device's record setting: /device/<host>/<server>/<device>/record.
    const parts = change.key.split('/');
    const flag = kv.get(`/${parts.slice(1, 5).join('/')}/record`);
    if (flag !== undefined) {
      try {
        if ((JSON.parse(flag.toString('utf8')) as { value?: unknown }).value === false) return;
      } catch {
        // not JSON: record
      }
    }
    const ts = typeof reading.ts === 'number' ? reading.ts : Date.now();
    if ((last.get(change.key) ?? -Infinity) >= ts) return;
    last.set(change.key, ts);
    store.record(change.key, ts, value);
  };
  kv.on('change', onChange);
  return () => kv.off('change', onChange);
}
