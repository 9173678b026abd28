/**
 * Hash routing: `#/path?query`. Each route is a pattern and a view
 * function `(ctx) => void | Promise<void>` that draws into `ctx.root`.
 * A view gets a `scope` that ends when the route changes: its `signal`
 * aborts pending requests and its `onCleanup` callbacks stop live
 * watchers and timers, so a view left behind never updates the page.
 */

/** The lifetime of one view. */
export class Scope {
  constructor() {
    this.controller = new AbortController();
    this.cleanups = [];
  }

  get signal() {
    return this.controller.signal;
  }

  get ended() {
    return this.controller.signal.aborted;
  }

  /** Runs `fn` when the view goes away. */
  onCleanup(fn) {
    if (this.ended) fn();
    else this.cleanups.push(fn);
  }

  /** setInterval that stops with the view. */
  every(ms, fn) {
    const id = setInterval(fn, ms);
    this.onCleanup(() => clearInterval(id));
  }

  end() {
    if (this.ended) return;
    this.controller.abort();
    for (const fn of this.cleanups.splice(0)) {
      try {
        fn();
      } catch (err) {
        console.error('cleanup failed', err);
      }
    }
  }
}

/** The current hash as `{path, query}`. */
export function currentLocation() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const i = raw.indexOf('?');
  const path = i < 0 ? raw : raw.slice(0, i);
  const query = new URLSearchParams(i < 0 ? '' : raw.slice(i + 1));
  return { path: path.startsWith('/') ? path : `/${path}`, query };
}

export class Router {
  /**
   * @param {HTMLElement} root - where views draw
   * @param {Array<{pattern: RegExp, view: Function, nav?: string, title?: string}>} routes
   * @param {{notFound: Function, onRoute?: Function}} options
   */
  constructor(root, routes, { notFound, onRoute }) {
    this.root = root;
    this.routes = routes;
    this.notFound = notFound;
    this.onRoute = onRoute;
    this.scope = null;
    this.listener = () => this.render();
  }

  start() {
    window.addEventListener('hashchange', this.listener);
    this.render();
  }

  stop() {
    window.removeEventListener('hashchange', this.listener);
    this.scope?.end();
    this.scope = null;
  }

  /** Draws the view of the current hash (again). */
  render() {
    this.scope?.end();
    const scope = (this.scope = new Scope());
    const { path, query } = currentLocation();
    let match = null;
    let route = null;
    for (const r of this.routes) {
      match = r.pattern.exec(path);
      if (match) {
        route = r;
        break;
      }
    }
    const params = match ? match.slice(1).map((p) => safeDecode(p)) : [];
    const view = route ? route.view : this.notFound;
    this.root.replaceChildren();
    this.onRoute?.(route, path);
    Promise.resolve()
      .then(() => view({ root: this.root, params, query, scope, path }))
      .catch((err) => {
        if (err && err.name === 'AbortError') return;
        console.error(err);
      });
  }
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Navigates to a hash path (`/scenario/x`). */
export function navigate(path) {
  location.hash = `#${path}`;
}
