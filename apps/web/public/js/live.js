/**
 * The live tree: a copy of the house's keys under /device/, /scenario/,
 * /server/ and /event/, kept up to date by the WebSocket `/api/stream`
 * (a `snapshot` first, then one `change` per update). Views watch a key or
 * a prefix; a new snapshot (after a reconnect) is delivered to watchers as
 * the changes it implies, so they never need to tell the two apart.
 *
 * The socket reconnects with an exponential back-off (1 s doubling up to
 * 30 s, with some jitter) and reports its status for the header indicator.
 */

const MIN_DELAY = 1000;
const MAX_DELAY = 30_000;

class LiveTree extends EventTarget {
  constructor() {
    super();
    /** @type {Map<string, unknown>} */
    this.entries = new Map();
    /** True once a snapshot arrived (so a missing key means "absent"). */
    this.synced = false;
    /** connecting | live | reconnecting | offline */
    this.status = 'offline';
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.wanted = false;
    /** @type {Map<string, Set<Function>>} */
    this.keyWatchers = new Map();
    /** @type {Set<{prefix: string, fn: Function}>} */
    this.prefixWatchers = new Set();
    this.onVisible = () => {
      // A phone that wakes up should not wait for the back-off to run out.
      if (document.visibilityState === 'visible' && this.wanted && !this.socket) this.open();
    };
  }

  /** Opens the stream (and keeps it open) until {@link disconnect}. */
  connect() {
    if (this.wanted) return;
    this.wanted = true;
    this.attempt = 0;
    document.addEventListener('visibilitychange', this.onVisible);
    this.open();
  }

  /** Closes the stream and forgets the tree (at logout). */
  disconnect() {
    this.wanted = false;
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.timer);
    this.timer = null;
    if (this.socket) {
      const s = this.socket;
      this.socket = null;
      s.close(1000, 'logout');
    }
    this.entries.clear();
    this.synced = false;
    this.setStatus('offline');
  }

  /** The value of a key, or undefined. */
  get(key) {
    return this.entries.get(key);
  }

  /**
   * Calls `fn(key, value)` when `key` changes (`value` null when deleted).
   * @returns {() => void} stops watching
   */
  watchKey(key, fn) {
    let set = this.keyWatchers.get(key);
    if (!set) this.keyWatchers.set(key, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.keyWatchers.delete(key);
    };
  }

  /**
   * Calls `fn(key, value)` when any key starting with `prefix` changes.
   * @returns {() => void} stops watching
   */
  watchPrefix(prefix, fn) {
    const w = { prefix, fn };
    this.prefixWatchers.add(w);
    return () => this.prefixWatchers.delete(w);
  }

  /** Every entry whose key starts with `prefix`. */
  *under(prefix) {
    for (const [k, v] of this.entries) if (k.startsWith(prefix)) yield [k, v];
  }

  // ------------------------------------------------------------------ socket

  open() {
    clearTimeout(this.timer);
    this.timer = null;
    this.setStatus(this.attempt === 0 && !this.synced ? 'connecting' : 'reconnecting');
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/stream`;
    let socket;
    try {
      socket = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener('message', (ev) => {
      if (socket !== this.socket) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg && msg.type === 'snapshot') {
        this.applySnapshot(msg.entries ?? {});
        this.attempt = 0;
        this.setStatus('live');
      } else if (msg && msg.type === 'change' && typeof msg.key === 'string') {
        this.applyChange(msg.key, msg.value ?? null);
      }
    });
    socket.addEventListener('close', () => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (this.wanted) this.scheduleReconnect();
    });
    // 'error' is always followed by 'close'; nothing to do here.
  }

  scheduleReconnect() {
    this.setStatus('reconnecting');
    const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);
    const delay = base * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.dispatchEvent(new CustomEvent('dropped', { detail: { attempt: this.attempt, delay } }));
    this.timer = setTimeout(() => {
      if (this.wanted) this.open();
    }, delay);
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent('status', { detail: status }));
  }

  applySnapshot(entries) {
    const before = this.entries;
    this.entries = new Map(Object.entries(entries));
    this.synced = true;
    for (const [k, v] of this.entries) {
      if (!before.has(k) || JSON.stringify(before.get(k)) !== JSON.stringify(v)) this.notify(k, v);
    }
    for (const k of before.keys()) if (!this.entries.has(k)) this.notify(k, null);
    this.dispatchEvent(new CustomEvent('snapshot'));
  }

  applyChange(key, value) {
    if (value === null) this.entries.delete(key);
    else this.entries.set(key, value);
    this.notify(key, value);
  }

  notify(key, value) {
    const set = this.keyWatchers.get(key);
    if (set) for (const fn of [...set]) safe(fn, key, value);
    for (const w of [...this.prefixWatchers]) if (key.startsWith(w.prefix)) safe(w.fn, key, value);
  }
}

function safe(fn, key, value) {
  try {
    fn(key, value);
  } catch (err) {
    console.error('live watcher failed', key, err);
  }
}

/** The one live tree of the app. */
export const live = new LiveTree();
