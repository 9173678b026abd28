/**
 * The server's key/value tree, without sockets, timers or files: applies
 * updates under a strictly increasing sequence, expires ephemeral keys, and
 * cuts consistent snapshots of a subtree.
 *
 * @module
 * @internal
 */
import type { KvMessage } from '../protocol/codec.js';

/** One key of the tree. */
export interface TreeEntry {
  readonly key: string;
  readonly value: Buffer;
  /** Sequence of the update that set it. */
  readonly sequence: number;
  readonly uuid: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  /** When an ephemeral key runs out (clock of the caller), else null. */
  readonly expiresAt: number | null;
}

/** An update to apply: a set (non-empty value) or a delete (empty value). */
export interface TreeUpdate {
  readonly key: string;
  readonly value: Buffer;
  readonly uuid: Buffer;
  readonly properties: Readonly<Record<string, string>>;
}

/** Longest TTL accepted: one year. */
export const MAX_TTL_SECONDS = 365 * 24 * 3600;

/**
 * Reads the `ttl` property: seconds, a non-negative decimal number. `ttl=0`
 * means "no time to live" (the Guide's clone class puts `ttl=0` on every
 * permanent set).
 *
 * @returns the TTL in ms, null when there is none, or an error text
 */
export function ttlOf(properties: Readonly<Record<string, string>>): number | null | string {
  const raw = properties.ttl;
  if (raw === undefined) return null;
  if (!/^\d+(\.\d+)?$/.test(raw)) return `ttl must be a number of seconds, got ${JSON.stringify(raw)}`;
  const seconds = Number(raw);
  if (seconds === 0) return null;
  if (seconds > MAX_TTL_SECONDS) return `ttl must be at most ${MAX_TTL_SECONDS} seconds, got ${raw}`;
  return seconds * 1000;
}

export class KvTree {
  private readonly entries = new Map<string, TreeEntry>();
  /** Ephemeral keys and when they run out. */
  private readonly ephemeral = new Map<string, number>();
  private seq: number;

  /** @param sequence - the last sequence already used (0 for a new tree) */
  constructor(sequence = 0) {
    this.seq = sequence;
  }

  /** The last sequence assigned. */
  get sequence(): number {
    return this.seq;
  }

  /** Number of keys. */
  get size(): number {
    return this.entries.size;
  }

  /** Number of ephemeral keys. */
  get ephemeralCount(): number {
    return this.ephemeral.size;
  }

  get(key: string): TreeEntry | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Puts an entry back as it was stored (loading a data directory); no new sequence. */
  restore(key: string, value: Buffer, sequence: number): void {
    this.entries.set(key, { key, value, sequence, uuid: Buffer.alloc(0), properties: {}, expiresAt: null });
  }

  /**
   * Applies a set or a delete under the next sequence number.
   *
   * @param update - key, value (empty deletes), uuid and properties
   * @param now - current time in ms, for TTLs
   * @param ttl - TTL in ms from {@link ttlOf}, or null
   * @returns the KVPUB to publish
   */
  apply(update: TreeUpdate, now: number, ttl: number | null): KvMessage {
    const sequence = ++this.seq;
    if (update.value.length === 0) {
      this.entries.delete(update.key);
      this.ephemeral.delete(update.key);
    } else {
      const expiresAt = ttl === null ? null : now + ttl;
      this.entries.set(update.key, { ...update, sequence, expiresAt });
      if (expiresAt === null) this.ephemeral.delete(update.key);
      else this.ephemeral.set(update.key, expiresAt);
    }
    return { key: update.key, sequence, uuid: update.uuid, properties: update.properties, value: update.value };
  }

  /**
   * Deletes the ephemeral keys whose time has come.
   *
   * @param now - current time in ms
   * @returns one delete KVPUB per expired key, in sequence order
   */
  expire(now: number): KvMessage[] {
    const out: KvMessage[] = [];
    for (const [key, expiresAt] of this.ephemeral) {
      if (expiresAt > now) continue;
      out.push(this.apply({ key, value: Buffer.alloc(0), uuid: Buffer.alloc(0), properties: {} }, now, null));
    }
    return out;
  }

  /**
   * The entries of a subtree at this instant, with the sequence the snapshot
   * is consistent with.
   *
   * @param subtree - "" or a "/seg/.../" prefix
   */
  snapshot(subtree: string): { entries: TreeEntry[]; sequence: number } {
    const entries: TreeEntry[] = [];
    for (const entry of this.entries.values()) if (entry.key.startsWith(subtree)) entries.push(entry);
    return { entries, sequence: this.seq };
  }

  /** Every entry, for compaction. */
  all(): IterableIterator<TreeEntry> {
    return this.entries.values();
  }
}
