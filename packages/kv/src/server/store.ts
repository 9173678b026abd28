/**
 * Durability of the server's tree: an append-only journal plus a compacted
 * snapshot in a data directory.
 *
 * Publishing never waits for the disk. Updates are applied and published at
 * once; the store keeps the latest pending record per key (so a stalled disk
 * costs at most one record per key in memory), writes them in batches, and
 * fsyncs every `syncInterval`. A power cut can lose the last unsynced batch,
 * never the files' consistency: a torn last line is ignored on load.
 *
 * The sequence must keep increasing across restarts, even after a crash that
 * lost records that clients already saw. So the store reserves blocks of
 * sequence numbers on disk ahead of use (a durable "reserved up to N"
 * record); a restarted server starts above the highest reservation.
 *
 * Files: `snapshot.jsonl` (a header line, then one line per key) and
 * `journal-<generation>.jsonl` (one line per update or reservation). A
 * compaction writes a new snapshot atomically (temp file, fsync, rename)
 * and drops the journals it covers.
 *
 * @module
 * @internal
 */
import { closeSync, openSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { KvError } from '../errors.js';
import type { KvLogger } from '../logger.js';
import type { KvTree } from './tree.js';

/** What a data directory held. */
export interface StoredState {
  /** Keys with their values and the sequence that set them. */
  entries: { key: string; value: Buffer; sequence: number }[];
  /** The last sequence a restarted server must stay above. */
  sequence: number;
  /** Problems met while loading (corrupt lines skipped), for the log. */
  problems: string[];
}

/** Options of {@link KvStore.open}. */
export interface StoreOptions {
  logger: KvLogger;
  /** How often written records are fsynced, in ms. Default 1000. */
  syncInterval?: number;
  /** Sequence numbers reserved on disk at a time. Default 10000. */
  reserveBlock?: number;
  /** Journal size that triggers a compaction, at least. Default 1 MiB. */
  compactBytes?: number;
}

interface SnapshotHeader {
  format: 'raspy-kv-snapshot';
  version: 1;
  generation: number;
  sequence: number;
  reserved: number;
}

type Record_ = { s: number; k: string; v: string } | { s: number; k: string; d: 1 } | { r: number };

const SNAPSHOT = 'snapshot.jsonl';
const LOCK = 'lock';
const journalName = (generation: number): string => `journal-${String(generation).padStart(8, '0')}.jsonl`;

/** Parses JSON lines; a bad last line is a torn write, a bad inner line is corruption. */
function lines(text: string, file: string, problems: string[]): unknown[] {
  const out: unknown[] = [];
  const parts = text.split('\n');
  const last = parts.length - 1;
  parts.forEach((line, i) => {
    if (line === '') return;
    try {
      out.push(JSON.parse(line));
    } catch {
      problems.push(i === last ? `${file}: torn last line ignored` : `${file}: corrupt line ${i + 1} skipped`);
    }
  });
  return out;
}

/** @internal */
export class KvStore {
  private journal: FileHandle | null = null;
  private journalBytes = 0;
  private snapshotBytes = 0;
  private readonly pending = new Map<string, Record_>();
  private pendingReserve: number | null = null;
  private flushing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private dirty = false;
  private compaction: Promise<void> | null = null;
  private closed = false;
  private failed = false;

  private constructor(
    private readonly dir: string,
    private generation: number,
    private reserved: number,
    private readonly options: Required<Omit<StoreOptions, 'logger'>> & { logger: KvLogger },
  ) {}

  /**
   * Opens (or creates) a data directory, loads what it holds and reserves
   * the next block of sequence numbers durably before returning.
   *
   * @throws KvError `ERR_KV_STORAGE` when the directory cannot be used or another server holds it
   */
  static async open(dir: string, options: StoreOptions): Promise<{ store: KvStore; state: StoredState }> {
    const opts = { syncInterval: 1000, reserveBlock: 10_000, compactBytes: 1024 * 1024, ...options };
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new KvError('ERR_KV_STORAGE', `cannot create the data directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
    KvStore.lock(dir);
    try {
      const problems: string[] = [];
      const entries = new Map<string, { value: Buffer; sequence: number }>();
      let sequence = 0;
      let reserved = 0;
      let generation = 0;
      let snapshotBytes = 0;

      let snapshotText: string | null = null;
      try {
        snapshotText = await readFile(join(dir, SNAPSHOT), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (snapshotText !== null) {
        snapshotBytes = Buffer.byteLength(snapshotText);
        const [header, ...rows] = lines(snapshotText, SNAPSHOT, problems) as [SnapshotHeader, ...{ k: string; v: string; s: number }[]];
        if (header?.format !== 'raspy-kv-snapshot') {
          throw new KvError('ERR_KV_STORAGE', `${join(dir, SNAPSHOT)} is not a RasPy key/value snapshot`);
        }
        generation = header.generation;
        sequence = header.sequence;
        reserved = header.reserved;
        for (const row of rows) {
          if (typeof row?.k !== 'string' || typeof row.v !== 'string' || typeof row.s !== 'number') {
            problems.push(`${SNAPSHOT}: malformed entry skipped`);
            continue;
          }
          entries.set(row.k, { value: Buffer.from(row.v, 'base64'), sequence: row.s });
        }
      }

      const journals = (await readdir(dir))
        .map((f) => /^journal-(\d{8})\.jsonl$/.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      for (const gen of journals) {
        const file = journalName(gen);
        if (gen < generation) {
          // Covered by the snapshot; left behind by a compaction cut short.
          await rm(join(dir, file), { force: true });
          continue;
        }
        for (const rec of lines(await readFile(join(dir, file), 'utf8'), file, problems) as Record_[]) {
          if (typeof rec !== 'object' || rec === null) continue;
          if ('r' in rec && typeof rec.r === 'number') {
            reserved = Math.max(reserved, rec.r);
          } else if ('k' in rec && typeof rec.k === 'string' && typeof rec.s === 'number') {
            sequence = Math.max(sequence, rec.s);
            if ('d' in rec) entries.delete(rec.k);
            else if (typeof (rec as { v?: unknown }).v === 'string') entries.set(rec.k, { value: Buffer.from((rec as { v: string }).v, 'base64'), sequence: rec.s });
            else problems.push(`${file}: malformed record skipped`);
          } else {
            problems.push(`${file}: malformed record skipped`);
          }
        }
        generation = Math.max(generation, gen);
      }

      const start = Math.max(sequence, reserved);
      const store = new KvStore(dir, generation, start, opts);
      store.snapshotBytes = snapshotBytes;
      await store.openJournal();
      // Reserve the next block durably before any sequence of it is used.
      await store.writeReservation(start + opts.reserveBlock, true);
      store.syncTimer = setInterval(() => void store.sync(), opts.syncInterval);
      return {
        store,
        state: {
          entries: [...entries].map(([key, e]) => ({ key, value: e.value, sequence: e.sequence })),
          sequence: start,
          problems,
        },
      };
    } catch (err) {
      KvStore.unlock(dir);
      if ((err as { name?: string }).name === 'KvError') throw err;
      throw new KvError('ERR_KV_STORAGE', `cannot load the data directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Records an update (null value: a delete, or an ephemeral key, which is
   * not kept across restarts). Returns at once; the write happens later.
   */
  record(sequence: number, key: string, value: Buffer | null): void {
    if (this.closed) return;
    this.pending.set(key, value === null ? { s: sequence, k: key, d: 1 } : { s: sequence, k: key, v: value.toString('base64') });
    if (sequence > this.reserved - this.options.reserveBlock / 2) {
      this.reserved += this.options.reserveBlock;
      this.pendingReserve = this.reserved;
    }
    this.scheduleFlush();
  }

  /** Starts a compaction if the journal outgrew the snapshot. Returns at once. */
  maybeCompact(tree: KvTree): void {
    if (this.compaction !== null || this.closed || this.failed) return;
    if (this.journalBytes < Math.max(this.options.compactBytes, 2 * this.snapshotBytes)) return;
    this.compaction = this.compact(tree).finally(() => {
      this.compaction = null;
    });
  }

  /** Writes and fsyncs everything pending. */
  async flush(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      while (this.flushing !== null) await this.flushing;
      if (this.pending.size === 0 && this.pendingReserve === null) break;
      await this.runFlush();
    }
    await this.sync();
  }

  /** Flushes, fsyncs and closes the journal; releases the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    if (this.syncTimer !== null) clearInterval(this.syncTimer);
    this.flushTimer = this.syncTimer = null;
    try {
      if (this.compaction !== null) await this.compaction;
      await this.flush();
    } finally {
      this.closed = true;
      await this.journal?.close();
      this.journal = null;
      KvStore.unlock(this.dir);
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== null || this.flushing !== null) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.runFlush();
    }, 5);
  }

  private runFlush(): Promise<void> {
    const run = (async () => {
      const records = [...this.pending.values()];
      this.pending.clear();
      const reserve = this.pendingReserve;
      this.pendingReserve = null;
      let text = reserve === null ? '' : JSON.stringify({ r: reserve }) + '\n';
      for (const r of records) text += JSON.stringify(r) + '\n';
      if (text === '' || this.journal === null) return;
      try {
        await this.journal.write(text);
        this.journalBytes += Buffer.byteLength(text);
        this.dirty = true;
        if (this.failed) this.options.logger.info('writing the data directory works again', { dir: this.dir });
        this.failed = false;
      } catch (err) {
        if (!this.failed) this.options.logger.error('cannot write the key/value journal; updates are not durable', { dir: this.dir, error: err as Error });
        this.failed = true;
        // Keep the records for the next attempt, unless newer ones replaced them.
        for (const r of records) if ('k' in r && !this.pending.has(r.k)) this.pending.set(r.k, r);
        if (reserve !== null && this.pendingReserve === null) this.pendingReserve = reserve;
      }
    })();
    this.flushing = run;
    return run.finally(() => {
      this.flushing = null;
      if ((this.pending.size > 0 || this.pendingReserve !== null) && !this.closed) {
        if (this.failed) setTimeout(() => this.scheduleFlush(), 1000).unref();
        else this.scheduleFlush();
      }
    });
  }

  private async sync(): Promise<void> {
    if (!this.dirty || this.journal === null) return;
    this.dirty = false;
    try {
      await this.journal.datasync();
    } catch (err) {
      this.options.logger.error('fsync of the key/value journal failed', { error: err as Error });
    }
  }

  private async openJournal(): Promise<void> {
    this.journal = await open(join(this.dir, journalName(this.generation)), 'a');
    this.journalBytes = (await this.journal.stat()).size;
  }

  private async writeReservation(reserved: number, syncNow: boolean): Promise<void> {
    this.reserved = reserved;
    const text = JSON.stringify({ r: reserved }) + '\n';
    await this.journal?.write(text);
    this.journalBytes += Buffer.byteLength(text);
    if (syncNow) await this.journal?.datasync();
  }

  private async compact(tree: KvTree): Promise<void> {
    const started = performance.now();
    try {
      // Everything up to now goes to the old journal first.
      await this.flush();
      if (this.closed) return;
      // Then, in one synchronous step: a new journal generation, and a copy
      // of the tree as it is at this instant. Later updates go to the new
      // journal; updates already in the copy may be in it too (replaying
      // them is harmless).
      const previous = this.generation;
      const next = await open(join(this.dir, journalName(previous + 1)), 'a');
      while (this.flushing !== null) await this.flushing;
      if (this.closed) {
        await next.close();
        return;
      }
      const old = this.journal;
      this.journal = next;
      this.journalBytes = 0;
      this.generation = previous + 1;
      const header: SnapshotHeader = {
        format: 'raspy-kv-snapshot',
        version: 1,
        generation: this.generation,
        sequence: tree.sequence,
        reserved: this.reserved,
      };
      const rows: string[] = [JSON.stringify(header)];
      for (const e of tree.all()) {
        if (e.expiresAt === null) rows.push(JSON.stringify({ k: e.key, v: e.value.toString('base64'), s: e.sequence }));
      }
      await old?.close();

      const text = rows.join('\n') + '\n';
      const tmp = join(this.dir, `${SNAPSHOT}.tmp`);
      const fh = await open(tmp, 'w');
      try {
        await fh.write(text);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.dir, SNAPSHOT));
      await this.syncDir();
      this.snapshotBytes = Buffer.byteLength(text);
      for (let gen = previous; gen >= 0; gen--) {
        await rm(join(this.dir, journalName(gen)), { force: true });
        if (gen === 0) break;
      }
      this.options.logger.info('key/value journal compacted', {
        keys: rows.length - 1,
        bytes: this.snapshotBytes,
        ms: Math.round(performance.now() - started),
      });
    } catch (err) {
      this.options.logger.error('compaction of the key/value store failed (the journal is kept)', { error: err as Error });
    }
  }

  private async syncDir(): Promise<void> {
    try {
      const d = await open(this.dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch {
      // Some file systems cannot fsync a directory; the rename is still atomic.
    }
  }

  /** One server per data directory: a lock file with the owner's pid. */
  private static lock(dir: string): void {
    const file = join(dir, LOCK);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx');
        writeFileSync(fd, String(process.pid));
        closeSync(fd);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new KvError('ERR_KV_STORAGE', `cannot lock the data directory ${dir}: ${(err as Error).message}`, { cause: err });
        }
        const pid = Number(readFileSync(file, 'utf8'));
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
          throw new KvError('ERR_KV_STORAGE', `the data directory ${dir} is in use by process ${pid}`);
        }
        if (pid === process.pid) {
          throw new KvError('ERR_KV_STORAGE', `the data directory ${dir} is already open in this process`);
        }
        unlinkSync(file); // stale: its owner is gone
      }
    }
    throw new KvError('ERR_KV_STORAGE', `cannot lock the data directory ${dir}`);
  }

  private static unlock(dir: string): void {
    try {
      unlinkSync(join(dir, LOCK));
    } catch {
      // already gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
