/**
 * A client's copy of a subtree, without sockets: snapshot, buffered live
 * updates, sequence rules, and the changes to announce.
 *
 * The race of 12/CHP: a client subscribes first, then asks for a snapshot.
 * Updates published meanwhile arrive on the subscriber before or after the
 * snapshot; the snapshot ends with the sequence it is consistent with, and
 * every buffered update at or below it is already in the snapshot. So:
 * buffer while syncing, then apply only what is newer. Nothing is lost and
 * nothing is applied twice.
 *
 * @module
 * @internal
 */
import type { KvMessage } from '../protocol/codec.js';

/** One change of the replica, as announced to listeners. */
export interface KvChange {
  /** The key that changed. */
  readonly key: string;
  /** The new value; undefined when the key was deleted. */
  readonly value: Buffer | undefined;
  /** The value before; undefined when the key is new. */
  readonly previous: Buffer | undefined;
  /** Sequence of the update (for a resync: the snapshot's). */
  readonly sequence: number;
}

/** What applying a live update did. */
export type UpdateOutcome =
  | { kind: 'applied'; change: KvChange | null }
  | { kind: 'stale' }
  | { kind: 'buffered' }
  /** Lower than anything this session received: another run of the server. */
  | { kind: 'restarted' };

/** @internal */
export class Replica {
  private readonly map = new Map<string, Buffer>();
  private staging: Map<string, Buffer> | null = null;
  private buffer: KvMessage[] = [];
  private last = 0;
  private synced = false;
  /** Lowest sequence received live since the session began. */
  private firstLive = Infinity;

  constructor(private readonly maxBuffered = 100_000) {}

  /** Sequence of the last update applied (or of the last snapshot). */
  get sequence(): number {
    return this.last;
  }

  /** True once a snapshot has been applied and until the next resync begins. */
  get live(): boolean {
    return this.synced && this.staging === null;
  }

  get(key: string): Buffer | undefined {
    return this.map.get(key);
  }

  get size(): number {
    return this.map.size;
  }

  entries(): IterableIterator<[string, Buffer]> {
    return this.map.entries();
  }

  /** Starts (re)synchronising: live updates are buffered until {@link endSnapshot}. */
  beginSnapshot(): void {
    this.staging = new Map();
    this.buffer = [];
    this.firstLive = Infinity;
  }

  /** One KVSYNC. */
  snapshotEntry(key: string, value: Buffer): void {
    if (value.length > 0) this.staging?.set(key, value);
  }

  /**
   * KTHXBAI: replaces the replica by the snapshot, then applies the buffered
   * updates newer than it.
   *
   * @param sequence - the sequence the snapshot is consistent with
   * @returns every change, against what the replica held before
   */
  endSnapshot(sequence: number): KvChange[] {
    const next = this.staging ?? new Map<string, Buffer>();
    this.staging = null;
    const changes: KvChange[] = [];
    for (const [key, previous] of this.map) {
      if (!next.has(key)) changes.push({ key, value: undefined, previous, sequence });
    }
    for (const [key, value] of next) {
      const previous = this.map.get(key);
      if (previous === undefined || !previous.equals(value)) changes.push({ key, value, previous, sequence });
    }
    this.map.clear();
    for (const [key, value] of next) this.map.set(key, value);
    this.last = sequence;
    this.synced = true;
    const buffered = this.buffer;
    this.buffer = [];
    for (const msg of buffered) {
      if (msg.sequence <= this.last) continue;
      const change = this.set(msg);
      if (change !== null) changes.push(change);
    }
    return changes;
  }

  /** A KVPUB from the subscriber. */
  update(msg: KvMessage): UpdateOutcome {
    // Everything published while we are subscribed has a sequence at least
    // as high as the first we received; a lower one comes from another run
    // of the server.
    if (msg.sequence < this.firstLive) {
      if (this.firstLive !== Infinity) return { kind: 'restarted' };
      this.firstLive = msg.sequence;
    }
    if (this.staging !== null || !this.synced) {
      if (this.buffer.length >= this.maxBuffered) this.buffer.shift();
      this.buffer.push(msg);
      return { kind: 'buffered' };
    }
    // At or below what we hold: already in the snapshot (updates travel on
    // another connection than the snapshot and may trail it). 12/CHP: discard.
    if (msg.sequence <= this.last) return { kind: 'stale' };
    return { kind: 'applied', change: this.set(msg) };
  }

  private set(msg: KvMessage): KvChange | null {
    this.last = msg.sequence;
    const previous = this.map.get(msg.key);
    if (msg.value.length === 0) {
      if (previous === undefined) return null;
      this.map.delete(msg.key);
      return { key: msg.key, value: undefined, previous, sequence: msg.sequence };
    }
    this.map.set(msg.key, msg.value);
    if (previous !== undefined && previous.equals(msg.value)) return null;
    return { key: msg.key, value: msg.value, previous, sequence: msg.sequence };
  }
}
