/**
 * `raspy watch`: follows the key/value tree, one line per change, until the
 * signal says stop (Ctrl-C). A value renewed with only a new timestamp
 * (an availability refresh, a sensor reading the same again) is no change.
 *
 * @module
 */
import type { KvChange, KvClient } from '@raspy/kv';
import { decodeTreeValue, formatTime, formatTreeValue } from '../format.js';
import type { Output } from '../output.js';

/** What `raspy watch` needs. */
export interface WatchDeps {
  /** A started client replicating {@link watchScope}'s subtree. */
  readonly kv: Pick<KvClient, 'changes' | 'on' | 'off'>;
  readonly out: Output;
  /** The current time, ms. */
  readonly now: () => number;
  /** Ends the watch (Ctrl-C). */
  readonly signal: AbortSignal;
}

/**
 * What to replicate and which keys to show for a watched path: a path
 * ending in "/" is a subtree; any other is a key, shown with everything
 * under it (`/device/pi1/sim/lamp` shows `…/lamp/power`, not `…/lamp2/power`).
 *
 * @param path - a key path starting with "/"
 * @returns the subtree for the key/value client and the filter on keys
 */
export function watchScope(path: string): { subtree: string; matches: (key: string) => boolean } {
  const subtree = path.slice(0, path.lastIndexOf('/') + 1);
  return {
    subtree: subtree === '/' ? '' : subtree,
    matches: path.endsWith('/') ? (key) => key.startsWith(path) : (key) => key === path || key.startsWith(`${path}/`),
  };
}

/**
 * One change as a line: `time key value` for people, a JSON object with
 * `--json` (`value` parsed when it is JSON; `deleted: true` for a deleted key).
 */
export function formatChange(change: Pick<KvChange, 'key' | 'value'>, now: number, json: boolean): string {
  if (!json) return `${formatTime(now)} ${change.key} ${formatTreeValue(change.key, change.value)}`;
  const decoded = decodeTreeValue(change.value);
  const base = { time: new Date(now).toISOString(), key: change.key };
  switch (decoded.kind) {
    case 'deleted':
      return JSON.stringify({ ...base, value: null, deleted: true });
    case 'json':
      return JSON.stringify({ ...base, value: decoded.value });
    case 'text':
      return JSON.stringify({ ...base, value: decoded.text });
    case 'binary':
      return JSON.stringify({ ...base, value: null, bytes: decoded.size });
  }
}

/**
 * Whether a change only renews a value: the same JSON but for its `ts`, as
 * when a device's `$state` is refreshed every two seconds or a sensor reads
 * the same value again. Those are not shown.
 */
export function isRefresh(change: Pick<KvChange, 'value' | 'previous'>): boolean {
  const now = decodeTreeValue(change.value);
  const before = decodeTreeValue(change.previous);
  if (now.kind !== 'json' || before.kind !== 'json') return false;
  const strip = (v: unknown): string => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return JSON.stringify(v);
    const { ts: _ts, ...rest } = v as Record<string, unknown>;
    return JSON.stringify(rest);
  };
  return strip(now.value) === strip(before.value);
}

/**
 * Prints changes under `path` until `deps.signal` aborts.
 *
 * @param args - `path`, a key path; `server`, the key/value server, for the first line
 * @throws KvError `ERR_KV_OVERFLOW` when the output cannot keep up
 */
export async function watchCommand(deps: WatchDeps, args: { path: string; server: string }, options: { json: boolean }): Promise<void> {
  const { kv, out } = deps;
  const { matches } = watchScope(args.path);
  const onResync = (reason: string): void => out.warn(`(the key/value tree was lost: ${reason}; catching up)`);
  kv.on('resync', onResync);
  try {
    if (deps.signal.aborted) return;
    const changes = kv.changes('', { signal: deps.signal });
    out.warn(`watching ${args.path} on ${args.server} (Ctrl-C to stop)`);
    for await (const change of changes) {
      if (matches(change.key) && !isRefresh(change)) out.print(formatChange(change, deps.now(), options.json));
    }
  } finally {
    kv.off('resync', onResync);
  }
}
