/**
 * An append-only journal of JSON records with group commit: every record
 * appended while a write and fsync are under way goes into the next batch,
 * so under load one fsync covers many records, and `append()` resolves only
 * once its record is on disk.
 *
 * Each line is `<crc32 hex> <json>`. On load, a line whose checksum does not
 * match is skipped and reported (a torn last line after a crash is expected
 * and only noted), and the rest is served. `rewrite()` compacts the journal
 * to the records the owner still needs: a temp file, fsynced, renamed over
 * the journal, the directory fsynced.
 *
 * @module
 * @internal
 */
import { open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from './crc32.js';

interface Waiter {
  line: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** What {@link Journal.open} found. */
export interface JournalLoad<R> {
  journal: Journal<R>;
  records: R[];
  /** Problems met while loading, for the log. */
  problems: string[];
}

function encodeLine(record: unknown): string {
  const json = JSON.stringify(record);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** @internal */
export class Journal<R> {
  private fh: FileHandle | null;
  private pending: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private rewriting: Promise<void> | null = null;
  private lines: number;
  private closed = false;
  /** fsyncs done, for statistics and benchmarks. */
  syncs = 0;
  /** records written. */
  written = 0;

  private constructor(
    private readonly path: string,
    fh: FileHandle,
    lines: number,
  ) {
    this.fh = fh;
    this.lines = lines;
  }

  /**
   * Opens (creating if needed) `<dir>/<name>.journal` and reads its records.
   *
   * @param validate - tells a well-formed record from garbage that had a valid checksum
   */
  static async open<R>(dir: string, name: string, validate: (value: unknown) => value is R): Promise<JournalLoad<R>> {
    const path = join(dir, `${name}.journal`);
    const problems: string[] = [];
    const records: R[] = [];
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const parts = text.split('\n');
    const last = parts.length - 1;
    let lines = 0;
    parts.forEach((line, i) => {
      if (line === '') return;
      lines++;
      const space = line.indexOf(' ');
      const json = line.slice(space + 1);
      const where = `${name}.journal line ${i + 1}`;
      if (space !== 8 || parseInt(line.slice(0, 8), 16) !== crc32(json)) {
        problems.push(i === last ? `${where}: torn last line ignored (an interrupted write)` : `${where}: checksum mismatch, record skipped`);
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(json);
      } catch {
        problems.push(`${where}: not JSON, record skipped`);
        return;
      }
      if (!validate(value)) {
        problems.push(`${where}: malformed record skipped`);
        return;
      }
      records.push(value);
    });
    // A torn tail must not glue itself to the next record: start on a new line.
    const fh = await open(path, 'a');
    if (text !== '' && !text.endsWith('\n')) await fh.write('\n');
    return { journal: new Journal<R>(path, fh, lines), records, problems };
  }

  /** Lines in the journal file now (records, including superseded ones). */
  get size(): number {
    return this.lines;
  }

  /**
   * Appends a record; resolves once it is written and fsynced (with the
   * other records of its batch).
   */
  append(record: R): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the journal is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ line: encodeLine(record), resolve, reject });
      if (this.flushing === null && this.rewriting === null) this.flushing = this.flush();
    });
  }

  /**
   * Replaces the journal by the records `produce` returns (compaction).
   * `produce` is called once every batch already written is done, so the
   * records it returns cover them; appends made meanwhile wait, then go to
   * the new file.
   */
  async rewrite(produce: () => Iterable<R>): Promise<void> {
    if (this.closed || this.rewriting !== null) return;
    let done!: () => void;
    this.rewriting = new Promise<void>((resolve) => (done = resolve));
    try {
      while (this.flushing !== null) await this.flushing;
      const tmp = `${this.path}.tmp`;
      let text = '';
      let lines = 0;
      for (const r of produce()) {
        text += encodeLine(r);
        lines++;
      }
      const out = await open(tmp, 'w');
      try {
        await out.write(text);
        await out.datasync();
      } finally {
        await out.close();
      }
      await rename(tmp, this.path);
      await this.syncDir();
      await this.fh?.close();
      this.fh = await open(this.path, 'a');
      this.lines = lines;
    } finally {
      this.rewriting = null;
      done();
      if (this.pending.length > 0 && this.flushing === null) this.flushing = this.flush();
    }
  }

  /** Waits for pending records, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.rewriting !== null || this.flushing !== null) {
      await this.rewriting;
      await this.flushing;
    }
    this.closed = true;
    await this.fh?.close();
    this.fh = null;
  }

  private async flush(): Promise<void> {
    // Let the records of this turn of the event loop join the batch.
    await new Promise((r) => setImmediate(r));
    try {
      while (this.pending.length > 0 && this.rewriting === null) {
        const batch = this.pending;
        this.pending = [];
        try {
          const fh = this.fh;
          if (fh === null) throw new Error('the journal is closed');
          await fh.write(batch.map((w) => w.line).join(''));
          await fh.datasync();
          this.syncs++;
          this.written += batch.length;
          this.lines += batch.length;
          for (const w of batch) w.resolve();
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  private async syncDir(): Promise<void> {
    try {
      const d = await open(join(this.path, '..'), 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch {
      // not every file system can fsync a directory; the rename is still atomic
    }
  }
}
