/**
 * The JSON API client. Keeps the CSRF token in memory only (never in
 * storage) and adds it to every state-changing request; sends the session
 * cookie with `credentials: 'same-origin'`. A 401 on anything but the
 * session calls means the session is gone: `onAuthLost` listeners are told,
 * and the app shows the login form again.
 */

/** An error the API answered with (`status` 0 when the server could not be reached). */
export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

let csrfToken = null;
const authLostListeners = new Set();

/** Sets (or clears, with null) the CSRF token sent with POST, PUT and DELETE. */
export function setCsrfToken(token) {
  csrfToken = token ?? null;
}

/** Calls `fn` when a request answers 401 (the session expired or was revoked). */
export function onAuthLost(fn) {
  authLostListeners.add(fn);
  return () => authLostListeners.delete(fn);
}

const SESSION_PATHS = new Set(['/api/session', '/api/login', '/api/setup', '/api/logout']);

/**
 * Makes a request and returns the parsed JSON body.
 *
 * @param {string} method - GET, POST, PUT, DELETE
 * @param {string} path - e.g. `/api/devices`
 * @param {unknown} [body] - sent as JSON when given
 * @param {{signal?: AbortSignal}} [options]
 * @throws {ApiError} with the server's `error` message for a non-2xx answer
 */
export async function request(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'The RasPy web server cannot be reached. Check the connection and try again.');
  }
  let data = null;
  const text = await res.text().catch(() => '');
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const pathOnly = path.split('?')[0];
    if (res.status === 401 && !SESSION_PATHS.has(pathOnly)) for (const fn of authLostListeners) fn();
    throw new ApiError(res.status, errorMessage(res.status, data), data);
  }
  return data ?? {};
}

function errorMessage(status, data) {
  if (data && typeof data.error === 'string' && data.error) return data.error;
  switch (status) {
    case 401: return 'You are not logged in.';
    case 403: return 'Refused (the page may be out of date: reload it).';
    case 404: return 'Not found.';
    case 429: return 'Too many attempts: wait a minute and try again.';
    case 502: case 503: return 'The house did not answer. Is it running?';
    default: return `The server answered ${status}.`;
  }
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body = {}, opts) => request('POST', path, body, opts);
export const put = (path, body = {}, opts) => request('PUT', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

/** A query string from an object (undefined values skipped). */
export function qs(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) search.set(k, String(v));
  return search.toString();
}

/** `encodeURIComponent` for one path segment. */
export const seg = (s) => encodeURIComponent(s);
