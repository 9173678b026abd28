/**
 * The durable settings store: JSON values under a namespace and a key,
 * kept in a journal (each set or delete is one checksummed record, written
 * with group commit), compacted as it grows.
 *
 * A namespace is a path of 1 to 4 segments, such as `pi1.sim/devices` or
 * `core/scenarios/thermostat` (the original RasPy's service / section /
 * key); segments are letters, digits, `_`, `-` and `.`, never `.` or `..`
 * alone.
 *
 * @module
 * @internal
 */
import { mkdir } from 'node:fs/promises';
import { TitanicError } from '../errors.js';
import { Journal } from '../internal/journal.js';

/** Limits of the settings store. */
export const SETTINGS_LIMITS = {
  /** Longest key, in characters. */
  maxKeyLength: 256,
  /** Largest value, as JSON text, in bytes. */
  maxValueBytes: 64 * 1024,
  /** Most keys in all namespaces together. */
  maxEntries: 100_000,
} as const;

type SettingsRecord = { t: 's'; n: string; k: string; v: string } | { t: 'd'; n: string; k: string };

function isRecord(v: unknown): v is SettingsRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (typeof r.n !== 'string' || typeof r.k !== 'string') return false;
  return (r.t === 's' && typeof r.v === 'string') || r.t === 'd';
}

const SEGMENT = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Checks a namespace.
 *
 * @returns null when valid, else the reason
 */
export function checkNamespace(namespace: unknown): string | null {
  if (typeof namespace !== 'string' || namespace === '') return 'namespace must be a non-empty string such as "core/scenarios"';
  const segments = namespace.split('/');
  if (segments.length > 4) return `namespace "${namespace}" has more than 4 segments`;
  for (const s of segments) {
    if (!SEGMENT.test(s) || s === '.' || s === '..') {
      return `namespace "${namespace}": each segment is 1 to 64 letters, digits, "_", "-" or "." (not "." or "..")`;
    }
  }
  return null;
}

/**
 * Checks a key.
 *
 * @returns null when valid, else the reason
 */
export function checkKey(key: unknown): string | null {
  if (typeof key !== 'string' || key === '') return 'key must be a non-empty string';
  if (key.length > SETTINGS_LIMITS.maxKeyLength) return `key is longer than ${SETTINGS_LIMITS.maxKeyLength} characters`;
  if (/[\x00-\x1f\x7f]/.test(key)) return 'key contains a control character';
  return null;
}

/** @internal */
export class SettingsStore {
  /** namespace → key → JSON text */
  private readonly data = new Map<string, Map<string, string>>();
  private entries = 0;
  private compacting = false;

  private constructor(private readonly journal: Journal<SettingsRecord>) {}

  /** Loads `<dir>/settings.journal`, reporting records that were skipped. */
  static async open(dir: string): Promise<{ store: SettingsStore; problems: string[] }> {
    try {
      await mkdir(dir, { recursive: true });
      const { journal, records, problems } = await Journal.open(dir, 'settings', isRecord);
      const store = new SettingsStore(journal);
      for (const r of records) {
        if (r.t === 's') store.put(r.n, r.k, r.v);
        else store.remove(r.n, r.k);
      }
      return { store, problems };
    } catch (err) {
      throw new TitanicError('ERR_TITANIC_STORAGE', `cannot open the settings in ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Keys in all namespaces. */
  get size(): number {
    return this.entries;
  }

  /** The JSON text of a key, or undefined. */
  get(namespace: string, key: string): string | undefined {
    return this.data.get(namespace)?.get(key);
  }

  /** Keys and JSON texts of a namespace, sorted by key. */
  list(namespace: string, prefix = ''): [string, string][] {
    const ns = this.data.get(namespace);
    if (ns === undefined) return [];
    return [...ns].filter(([k]) => k.startsWith(prefix)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** Namespaces that hold at least one key, sorted. */
  namespaces(): string[] {
    return [...this.data.keys()].sort();
  }

  /**
   * Sets a key to a JSON text; resolves once it is on disk.
   *
   * @throws TitanicError `ERR_TITANIC_INVALID_ARGUMENT` (too large, too many keys), `ERR_TITANIC_STORAGE`
   */
  async set(namespace: string, key: string, json: string): Promise<void> {
    if (Buffer.byteLength(json) > SETTINGS_LIMITS.maxValueBytes) {
      throw new TitanicError('ERR_TITANIC_INVALID_ARGUMENT', `the value is larger than ${SETTINGS_LIMITS.maxValueBytes} bytes of JSON`);
    }
    if (this.get(namespace, key) === undefined && this.entries >= SETTINGS_LIMITS.maxEntries) {
      throw new TitanicError('ERR_TITANIC_INVALID_ARGUMENT', `the store holds ${SETTINGS_LIMITS.maxEntries} keys, its limit`);
    }
    const previous = this.get(namespace, key);
    this.put(namespace, key, json);
    try {
      await this.journal.append({ t: 's', n: namespace, k: key, v: json });
    } catch (err) {
      if (this.get(namespace, key) === json) {
        if (previous === undefined) this.remove(namespace, key);
        else this.put(namespace, key, previous);
      }
      throw new TitanicError('ERR_TITANIC_STORAGE', `cannot write the setting: ${(err as Error).message}`, { cause: err });
    }
    this.maybeCompact();
  }

  /**
   * Deletes a key; resolves once that is on disk.
   *
   * @returns false when the key did not exist
   */
  async delete(namespace: string, key: string): Promise<boolean> {
    if (!this.remove(namespace, key)) return false;
    try {
      await this.journal.append({ t: 'd', n: namespace, k: key });
    } catch (err) {
      throw new TitanicError('ERR_TITANIC_STORAGE', `cannot write the delete: ${(err as Error).message}`, { cause: err });
    }
    this.maybeCompact();
    return true;
  }

  /** Closes the journal once pending writes are on disk. */
  async shutdown(): Promise<void> {
    await this.journal.close();
  }

  private put(namespace: string, key: string, json: string): void {
    let ns = this.data.get(namespace);
    if (ns === undefined) this.data.set(namespace, (ns = new Map()));
    if (!ns.has(key)) this.entries++;
    ns.set(key, json);
  }

  private remove(namespace: string, key: string): boolean {
    const ns = this.data.get(namespace);
    if (ns === undefined || !ns.delete(key)) return false;
    this.entries--;
    if (ns.size === 0) this.data.delete(namespace);
    return true;
  }

  private maybeCompact(): void {
    if (this.compacting || this.journal.size < 1000 + 2 * this.entries) return;
    this.compacting = true;
    const live = function* (this: SettingsStore): Generator<SettingsRecord> {
      for (const [n, ns] of this.data) for (const [k, v] of ns) yield { t: 's', n, k, v };
    }.bind(this);
    void this.journal.rewrite(live).finally(() => {
      this.compacting = false;
    });
  }
}
