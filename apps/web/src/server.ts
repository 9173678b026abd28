/**
 * The web server: the browser UI, the JSON API and the WebSocket of
 * changes (API.md), on Fastify.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import { silentLogger, type Logger } from '@raspy/mdp';
import { ID_SEGMENT } from '@raspy/devices';
import { Auth, AuthInputError, LoginLimiter, PASSWORD_MAX } from './auth.js';
import { House, HttpError } from './house.js';

/** Options of {@link createWebServer}. */
export interface WebServerOptions {
  house: House;
  auth: Auth;
  /** The directory of the UI's files. Default: `public/` next to the package. */
  publicDir?: string;
  /** Versions shown on the system page. */
  versions?: Record<string, string>;
  logger?: Logger;
  /** Failed logins allowed per address and minute. Default 5. */
  loginLimit?: number;
}

const COOKIE = 'raspy_session';
const SAFE_IMAGE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
/** Above this, a browser that doesn't read its WebSocket is cut off (it reconnects and gets a fresh snapshot). */
const MAX_BUFFERED = 4 * 1024 * 1024;

type Who = { kind: 'session'; csrf: string; cookie: string } | { kind: 'token'; id: string };
declare module 'fastify' {
  interface FastifyRequest {
    who: Who | null;
  }
}

/** The package's `public/` directory (from `dist/` or `src/`). */
export function defaultPublicDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, '..', 'public'), join(here, '..', '..', 'public')]) if (existsSync(join(dir, 'index.html'))) return dir;
  return join(here, '..', 'public');
}

// ---- input checks: every endpoint validates what it is given --------------------------------

function body(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new HttpError(400, 'the body must be a JSON object');
  return b as Record<string, unknown>;
}

function text(value: unknown, what: string, max = 256): string {
  if (typeof value !== 'string' || value === '' || value.length > max) throw new HttpError(400, `"${what}" must be a non-empty string of at most ${max} characters`);
  return value;
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, `"${what}" must be a JSON object`);
  return value as Record<string, unknown>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
function nameParam(req: FastifyRequest): string {
  const name = (req.params as { name?: string }).name ?? '';
  if (!NAME.test(name)) throw new HttpError(400, 'a name has 1 to 64 letters, digits, spaces, ".", "_" or "-"');
  return name;
}

function deviceId(value: unknown, what = 'device'): string {
  const id = text(value, what, 512);
  const parts = id.split('/');
  if (parts.length < 3 || !parts.every((p) => ID_SEGMENT.test(p))) throw new HttpError(400, `"${what}" must be a device id such as pi1/sim/tv (host/server/device[/subdevice])`);
  return id;
}

function numberQuery(value: unknown, what: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(n)) throw new HttpError(400, `"${what}" must be a number`);
  return n;
}

function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * Builds the server (not yet listening).
 */
export async function createWebServer(options: WebServerOptions): Promise<FastifyInstance> {
  const { house, auth } = options;
  const logger = options.logger ?? silentLogger;
  const limiter = new LoginLimiter(options.loginLimit ?? 5);
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, trustProxy: false });
  app.decorateRequest('who', null);

  await app.register(fastifyCookie);
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(fastifyStatic, { root: options.publicDir ?? defaultPublicDir(), prefix: '/', cacheControl: true, maxAge: 0, wildcard: true });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Referrer-Policy', 'same-origin');
    reply.header(
      'Content-Security-Policy',
      "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    );
    return payload;
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof HttpError) {
      if (err.status >= 500) logger.warn('request failed', { method: req.method, url: req.url.split('?')[0], status: err.status, error: err.message });
      return reply.code(err.status).send({ error: err.message });
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // Fastify's own: bad JSON, too large, unsupported media type.
      logger.info('bad request', { method: req.method, url: req.url.split('?')[0], code: err.code, error: err.message });
      return reply.code(err.statusCode).send({ error: err.message });
    }
    logger.error('internal error', { method: req.method, url: req.url.split('?')[0], error: err });
    return reply.code(500).send({ error: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such page: ${req.method} ${req.url.split('?')[0]}` }));

  // ---- who is asking ---------------------------------------------------------------------
  const identify = (req: FastifyRequest): Who | null => {
    const header = req.headers.authorization;
    if (typeof header === 'string' && header.startsWith('Bearer ')) {
      const id = auth.verifyToken(header.slice(7).trim());
      return id === null ? null : { kind: 'token', id };
    }
    const token = (req.query as { token?: unknown } | undefined)?.token;
    if (req.url.startsWith('/api/stream') && typeof token === 'string') {
      const id = auth.verifyToken(token);
      return id === null ? null : { kind: 'token', id };
    }
    const cookie = req.cookies[COOKIE];
    const s = auth.session(cookie);
    return s === null ? null : { kind: 'session', csrf: s.csrf, cookie: cookie as string };
  };
  const OPEN = new Set(['/api/session', '/api/setup', '/api/login', '/api/logout']);
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0] as string;
    if (!path.startsWith('/api/') && path !== '/api') return;
    req.who = identify(req);
    const changing = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS';
    if ((changing || path === '/api/stream') && !sameOrigin(req)) {
      logger.warn('request from another origin refused', { method: req.method, url: path, origin: req.headers.origin });
      return reply.code(403).send({ error: 'requests from another site are refused' });
    }
    if (OPEN.has(path)) return;
    if (req.who === null) return reply.code(401).send({ error: 'log in first (or send an API token: Authorization: Bearer <token>)' });
    if (changing && req.who.kind === 'session' && !csrfOk(req, req.who.csrf)) {
      logger.warn('request without a valid CSRF token refused', { method: req.method, url: path });
      return reply.code(403).send({ error: 'missing or wrong X-CSRF-Token header (reload the page)' });
    }
  });
  const csrfOk = (req: FastifyRequest, csrf: string): boolean => {
    const sent = req.headers['x-csrf-token'];
    return typeof sent === 'string' && sent.length === csrf.length && Buffer.from(sent).equals(Buffer.from(csrf));
  };

  const startSession = async (reply: FastifyReply, req: FastifyRequest): Promise<{ csrfToken: string }> => {
    const { cookie, csrf, maxAge } = await auth.createSession();
    reply.setCookie(COOKIE, cookie, { httpOnly: true, sameSite: 'strict', path: '/', maxAge, secure: req.protocol === 'https' });
    return { csrfToken: csrf };
  };

  // ---- session ---------------------------------------------------------------------------
  app.get('/api/session', async (req) => ({
    authenticated: req.who !== null,
    setupRequired: auth.setupRequired,
    csrfToken: req.who?.kind === 'session' ? req.who.csrf : null,
  }));

  app.post('/api/setup', async (req, reply) => {
    const { password } = body(req);
    if (!auth.setupRequired) throw new HttpError(409, 'the admin password exists already; log in');
    try {
      await auth.setPassword(password as string);
    } catch (err) {
      if (err instanceof AuthInputError) throw new HttpError(400, err.message);
      throw err;
    }
    logger.info('admin password created', { from: req.ip });
    return startSession(reply, req);
  });

  app.post('/api/login', async (req, reply) => {
    const wait = limiter.retryAfter(req.ip);
    if (wait > 0) {
      reply.header('Retry-After', String(wait));
      throw new HttpError(429, `too many failed attempts; try again in ${wait} s`);
    }
    const { password } = body(req);
    if (typeof password !== 'string' || password === '' || password.length > PASSWORD_MAX) throw new HttpError(400, 'the request needs "password"');
    if (auth.setupRequired) throw new HttpError(409, 'no admin password yet: create it first');
    if (!(await auth.verifyPassword(password))) {
      limiter.fail(req.ip);
      logger.warn('wrong password', { from: req.ip });
      throw new HttpError(401, 'wrong password');
    }
    limiter.reset(req.ip);
    logger.info('logged in', { from: req.ip });
    return startSession(reply, req);
  });

  app.post('/api/logout', async (req, reply) => {
    if (req.who?.kind === 'session') {
      if (!csrfOk(req, req.who.csrf)) throw new HttpError(403, 'missing or wrong X-CSRF-Token header (reload the page)');
      await auth.deleteSession(req.who.cookie);
    }
    reply.clearCookie(COOKIE, { path: '/' });
    return {};
  });

  // ---- API tokens ------------------------------------------------------------------------
  app.get('/api/tokens', async () => auth.tokens());
  app.post('/api/tokens', async (req) => {
    try {
      const created = await auth.createToken(body(req).name);
      logger.info('API token created', { id: created.id, name: created.name });
      return created;
    } catch (err) {
      if (err instanceof AuthInputError) throw new HttpError(400, err.message);
      throw err;
    }
  });
  app.delete('/api/tokens/:id', async (req) => {
    const id = (req.params as { id: string }).id;
    if (!/^[0-9a-f]{12}$/.test(id) || !(await auth.deleteToken(id))) throw new HttpError(404, 'no such token');
    return {};
  });

  // ---- devices ---------------------------------------------------------------------------
  app.get('/api/devices', async () => ({ devices: house.listDevices() }));
  app.get('/api/device', async (req) => {
    const id = deviceId((req.query as { id?: unknown }).id, 'id');
    const device = house.findDevice(id);
    if (device === null) throw new HttpError(404, `no device ${id}`);
    return device;
  });
  app.post('/api/command', async (req) => {
    const b = body(req);
    const device = deviceId(b.device);
    const command = text(b.command, 'command', 64);
    if (!('value' in b)) throw new HttpError(400, 'the request needs "value"');
    const reading = await house.guard(house.devices.set(device, command, b.value), `${device}`);
    logger.info('command', { device, command, value: b.value, by: req.who?.kind === 'token' ? `token ${req.who.id}` : 'session' });
    return { reading };
  });
  app.get('/api/snapshot', async (req, reply) => {
    const q = req.query as { device?: unknown; command?: unknown };
    const device = deviceId(q.device);
    const command = text(q.command, 'command', 64);
    const { mime, data } = await house.guard(house.devices.getBytes(device, command, { timeout: 10_000 }), device);
    // Only images are shown inline: a device must not be able to serve a page on this origin.
    const type = SAFE_IMAGE.has(mime) ? mime : 'application/octet-stream';
    reply.header('Cache-Control', 'no-store');
    if (type === 'application/octet-stream') reply.header('Content-Disposition', 'attachment');
    return reply.type(type).send(data);
  });
  app.get('/api/history', async (req) => {
    const q = req.query as { key?: unknown; from?: unknown; to?: unknown; points?: unknown };
    const key = text(q.key, 'key', 1024);
    if (!key.startsWith('/device/')) throw new HttpError(400, '"key" must be a device value key such as /device/pi1/sim/living-temp/temperature');
    const now = Date.now();
    const to = numberQuery(q.to, 'to', now);
    const from = numberQuery(q.from, 'from', to - 86_400_000);
    const points = numberQuery(q.points, 'points', 500);
    return { key, points: await house.history(key, from, to, points) };
  });

  // ---- scenarios and cron jobs -----------------------------------------------------------
  app.get('/api/scenarios', async () => house.callCore('scenarios', 'list'));
  app.get('/api/scenarios/:name', async (req) => house.callCore('scenarios', 'get', { name: nameParam(req) }));
  app.post('/api/scenarios', async (req) => house.callCore('scenarios', 'add', { scenario: object(body(req).scenario, 'scenario') }));
  app.put('/api/scenarios/:name', async (req) => {
    const name = nameParam(req);
    const scenario = object(body(req).scenario, 'scenario');
    if (scenario.name !== name) throw new HttpError(400, `the scenario's "name" must be "${name}" (to rename, add a new one and delete this one)`);
    return house.callCore('scenarios', 'update', { scenario });
  });
  app.delete('/api/scenarios/:name', async (req) => house.callCore('scenarios', 'delete', { name: nameParam(req) }));
  app.post('/api/scenarios/:name/:action', async (req) => {
    const action = (req.params as { action: string }).action;
    if (!['enable', 'disable', 'run', 'stop'].includes(action)) throw new HttpError(404, `no action "${action}"; actions: enable, disable, run, stop`);
    const b = body(req);
    return house.callCore('scenarios', action, { name: nameParam(req), ...(action === 'run' && b.force === true ? { force: true } : {}) });
  });
  app.get('/api/scenarios/:name/traces', async (req) => {
    const limit = numberQuery((req.query as { limit?: unknown }).limit, 'limit', 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new HttpError(400, '"limit" must be a whole number from 1 to 100');
    return house.callCore('scenarios', 'traces', { name: nameParam(req), limit });
  });
  app.get('/api/scenarios-export', async () => house.callCore('scenarios', 'export'));
  app.post('/api/scenarios-import', async (req) => {
    const b = body(req);
    return house.callCore('scenarios', 'import', { bundle: object(b.bundle, 'bundle'), replace: b.replace === true });
  });

  app.get('/api/cron', async () => house.callCore('cron', 'list'));
  app.post('/api/cron', async (req) => house.callCore('cron', 'add', { job: object(body(req).job, 'job') }));
  app.put('/api/cron/:name', async (req) => {
    const name = nameParam(req);
    const job = object(body(req).job, 'job');
    if (job.name !== name) throw new HttpError(400, `the job's "name" must be "${name}"`);
    return house.callCore('cron', 'update', { job });
  });
  app.delete('/api/cron/:name', async (req) => house.callCore('cron', 'delete', { name: nameParam(req) }));
  app.post('/api/cron/:name/:action', async (req) => {
    const action = (req.params as { action: string }).action;
    if (!['enable', 'disable', 'run'].includes(action)) throw new HttpError(404, `no action "${action}"; actions: enable, disable, run`);
    return house.callCore('cron', action, { name: nameParam(req) });
  });

  // ---- system ----------------------------------------------------------------------------
  app.get('/api/system', async () => {
    const [discovery, stats] = await Promise.all([
      house.guard(house.mdp.request('mmi.discovery', '.*'), 'the broker'),
      house.guard(house.mdp.request('mmi.stats'), 'the broker'),
    ]);
    let broker: unknown = null;
    try {
      broker = String(stats[0]) === '200' ? JSON.parse(String(stats[1])) : null;
    } catch {
      broker = null;
    }
    const cores = Object.entries(house.snapshot()).filter(([k]) => /^\/system\/[^/]+\/core$/.test(k));
    const core = (cores[0]?.[1] ?? null) as { titanic?: unknown; version?: string } | null;
    return {
      services: String(discovery[0]) === '200' ? discovery.slice(1).map(String).sort() : [],
      broker,
      titanic: core?.titanic ?? null,
      versions: { ...options.versions, ...(core?.version !== undefined ? { 'raspy-core': core.version } : {}) },
    };
  });

  // ---- live changes ----------------------------------------------------------------------
  app.get('/api/stream', { websocket: true }, (socket, req) => {
    logger.debug('stream opened', { from: req.ip });
    const send = (message: string): void => {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > MAX_BUFFERED) {
        logger.warn('a browser does not keep up with the changes; its stream is closed', { from: req.ip });
        socket.close(1013, 'too slow');
        return;
      }
      socket.send(message);
    };
    const onChange = (key: string, value: unknown): void => send(JSON.stringify({ type: 'change', key, value }));
    house.on('change', onChange);
    send(JSON.stringify({ type: 'snapshot', entries: house.snapshot() }));
    // Dead connections (a phone that went to sleep) are found by pings.
    let alive = true;
    socket.on('pong', () => {
      alive = true;
    });
    const ping = setInterval(() => {
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    }, 30_000);
    socket.on('message', () => {
      // The stream is one way; anything sent is ignored.
    });
    socket.on('close', () => {
      clearInterval(ping);
      house.off('change', onChange);
    });
    socket.on('error', () => socket.terminate());
  });

  return app;
}

/** Versions of the web app and the libraries it runs with. */
export function versions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = { node: process.version };
  for (const name of ['@raspy/mdp', '@raspy/kv', '@raspy/devices']) {
    try {
      out[name] = (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      // not resolvable (e.g. without an exports entry for package.json)
    }
  }
  return out;
}
