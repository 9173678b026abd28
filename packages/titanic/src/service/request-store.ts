/**
 * Titanic's durable state: the open requests and their replies, kept in a
 * journal with group commit, compacted so that the file grows only with
 * what is still open.
 *
 * @module
 * @internal
 */
import { mkdir } from 'node:fs/promises';
import { TitanicError } from '../errors.js';
import { Journal } from '../internal/journal.js';
import { newUuid } from '../internal/uuid.js';

/** One stored request. */
export interface StoredRequest {
  readonly uuid: string;
  readonly service: string;
  readonly body: Buffer[];
  /** When it was stored (ms since the epoch). */
  readonly createdAt: number;
  /** The worker's reply, once executed. */
  reply: Buffer[] | null;
  /** True once the reply is on disk: only then is it given out. */
  replySynced: boolean;
}

type JournalRecord =
  | { t: 'q'; u: string; s: string; b: string[]; at: number }
  | { t: 'r'; u: string; b: string[] }
  | { t: 'c'; u: string };

function isRecord(v: unknown): v is JournalRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (typeof r.u !== 'string' || !/^[0-9a-f]{32}$/.test(r.u)) return false;
  const frames = (x: unknown): boolean => Array.isArray(x) && x.every((f) => typeof f === 'string');
  if (r.t === 'q') return typeof r.s === 'string' && frames(r.b) && typeof r.at === 'number';
  if (r.t === 'r') return frames(r.b);
  return r.t === 'c';
}

const b64 = (frames: Buffer[]): string[] => frames.map((f) => f.toString('base64'));
const unb64 = (frames: string[]): Buffer[] => frames.map((f) => Buffer.from(f, 'base64'));

/** @internal */
export class RequestStore {
  private readonly requests = new Map<string, StoredRequest>();
  private compacting = false;

  private constructor(
    private readonly journal: Journal<JournalRecord>,
    private readonly maxOpen: number,
  ) {}

  /**
   * Loads `<dir>/requests.journal`.
   *
   * @returns the store and the problems met (corrupt records skipped)
   */
  static async open(dir: string, maxOpen = 100_000): Promise<{ store: RequestStore; problems: string[] }> {
    try {
      await mkdir(dir, { recursive: true });
      const { journal, records, problems } = await Journal.open(dir, 'requests', isRecord);
      const store = new RequestStore(journal, maxOpen);
      for (const r of records) {
        if (r.t === 'q') store.requests.set(r.u, { uuid: r.u, service: r.s, body: unb64(r.b), createdAt: r.at, reply: null, replySynced: false });
        else if (r.t === 'r') {
          const req = store.requests.get(r.u);
          if (req !== undefined) {
            req.reply = unb64(r.b);
            req.replySynced = true;
          }
        } else store.requests.delete(r.u);
      }
      return { store, problems };
    } catch (err) {
      throw new TitanicError('ERR_TITANIC_STORAGE', `cannot open the Titanic data directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Open requests (stored, not closed). */
  get size(): number {
    return this.requests.size;
  }

  /** fsyncs done since start. */
  get syncs(): number {
    return this.journal.syncs;
  }

  get(uuid: string): StoredRequest | undefined {
    return this.requests.get(uuid);
  }

  /** Requests without a reply, oldest first. */
  pending(): StoredRequest[] {
    return [...this.requests.values()].filter((r) => r.reply === null).sort((a, b) => a.createdAt - b.createdAt);
  }

  /**
   * Stores a request durably.
   *
   * @returns its new id, once it is on disk
   * @throws TitanicError `ERR_TITANIC_STORAGE` when the disk refuses, or when `maxOpen` requests are open
   */
  async add(service: string, body: Buffer[], now = Date.now()): Promise<string> {
    if (this.requests.size >= this.maxOpen) {
      throw new TitanicError('ERR_TITANIC_STORAGE', `${this.maxOpen} requests are open, the limit; close some (titanic.close)`);
    }
    const uuid = newUuid();
    // In memory first, so that a compaction cut meanwhile includes it; the
    // id is returned (and the request executed) only once it is on disk.
    this.requests.set(uuid, { uuid, service, body, createdAt: now, reply: null, replySynced: false });
    try {
      await this.journal.append({ t: 'q', u: uuid, s: service, b: b64(body), at: now });
    } catch (err) {
      this.requests.delete(uuid);
      throw new TitanicError('ERR_TITANIC_STORAGE', `cannot store the request: ${(err as Error).message}`, { cause: err });
    }
    return uuid;
  }

  /** Stores a reply durably (once; a second one is ignored). */
  async setReply(uuid: string, reply: Buffer[]): Promise<void> {
    const req = this.requests.get(uuid);
    if (req === undefined || req.reply !== null) return;
    req.reply = reply;
    try {
      await this.journal.append({ t: 'r', u: uuid, b: b64(reply) });
      req.replySynced = true;
    } catch (err) {
      req.reply = null; // executed again later
      throw new TitanicError('ERR_TITANIC_STORAGE', `cannot store the reply: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Forgets a request and its reply. */
  async close(uuid: string): Promise<void> {
    if (!this.requests.delete(uuid)) return;
    await this.journal.append({ t: 'c', u: uuid });
    this.maybeCompact();
  }

  /** Closes the journal after what is pending is on disk. */
  async shutdown(): Promise<void> {
    await this.journal.close();
  }

  /**
   * Rewrites the journal with the open requests only, once it holds many
   * more records than that: storage grows with what is open, not with
   * what ever was.
   */
  private maybeCompact(): void {
    if (this.compacting || this.journal.size < 1000 + 3 * this.requests.size * 2) return;
    this.compacting = true;
    const live = (): JournalRecord[] => {
      const out: JournalRecord[] = [];
      for (const r of this.requests.values()) {
        out.push({ t: 'q', u: r.uuid, s: r.service, b: b64(r.body), at: r.createdAt });
        if (r.reply !== null) out.push({ t: 'r', u: r.uuid, b: b64(r.reply) });
      }
      return out;
    };
    void this.journal.rewrite(live).finally(() => {
      this.compacting = false;
    });
  }
}
