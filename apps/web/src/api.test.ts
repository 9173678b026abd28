/**
 * The web API over real HTTP against a whole house on loopback: every
 * endpoint, with bad input and without authentication.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Cleanup, waitFor, within } from '@raspy/test-support';
import { startTestHouse, type TestHouse } from './test-house.js';

const PASSWORD = 'correct horse battery';
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function house(options: Parameters<typeof startTestHouse>[0] = { password: PASSWORD }): Promise<TestHouse> {
  const h = await startTestHouse(options);
  cleanup.defer(() => h.close());
  return h;
}

interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: string };
  headers: Headers;
}

/** A browser-like client: keeps the session cookie and the CSRF token. */
class Browser {
  cookie = '';
  csrf = '';
  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const h: Record<string, string> = { ...headers };
    if (this.cookie !== '') h.cookie = this.cookie;
    if (this.csrf !== '' && method !== 'GET' && !('x-csrf-token' in headers)) h['x-csrf-token'] = this.csrf;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(this.base + path, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie !== null) this.cookie = setCookie.split(';')[0] as string;
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { raw: text };
    }
    if (typeof parsed.csrfToken === 'string') this.csrf = parsed.csrfToken;
    return { status: res.status, body: parsed, headers: res.headers };
  }

  async login(password = PASSWORD): Promise<Answer> {
    return this.call('POST', '/api/login', { password });
  }
}

const noStack = (a: Answer): void => {
  expect(JSON.stringify(a.body)).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+/);
};

test('first start: the admin password is created once, stored hashed, and logs in with a strict HttpOnly cookie', async () => {
  const h = await house({});
  const b = new Browser(h.url);
  expect((await b.call('GET', '/api/session')).body).toEqual({ authenticated: false, setupRequired: true, csrfToken: null });
  expect((await b.call('GET', '/api/devices')).status).toBe(401);
  expect((await b.call('POST', '/api/login', { password: 'whatever-long' })).status).toBe(409);
  const short = await b.call('POST', '/api/setup', { password: 'short' });
  expect(short.status).toBe(400);
  expect(short.body.error).toMatch(/at least 10 characters/);
  expect((await b.call('POST', '/api/setup', { password: 12345678901 })).status).toBe(400);
  const res = await fetch(`${h.url}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  expect(res.status).toBe(200);
  const cookie = res.headers.get('set-cookie') as string;
  expect(cookie).toMatch(/^raspy_session=[A-Za-z0-9_-]{43};/);
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/SameSite=Strict/);
  expect(cookie).toMatch(/Path=\//);
  b.cookie = cookie.split(';')[0] as string;
  const session = await b.call('GET', '/api/session');
  expect(session.body).toMatchObject({ authenticated: true, setupRequired: false, csrfToken: expect.any(String) });
  // Once set, setup is closed.
  expect((await new Browser(h.url).call('POST', '/api/setup', { password: 'another password' })).status).toBe(409);
  // Only a hash is on disk, readable by the owner only.
  const file = join((h.auth as unknown as { file: string }).file);
  const text = readFileSync(file, 'utf8');
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(b.cookie.split('=')[1]);
  expect(statSync(file).mode & 0o777).toBe(0o600);
});

test('login: wrong passwords are refused and slowed down; logout ends the session', async () => {
  const h = await house({ password: PASSWORD, loginLimit: 3 });
  const b = new Browser(h.url);
  for (let i = 0; i < 3; i++) {
    const wrong = await b.login('not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: 'wrong password' });
  }
  const limited = await b.login();
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  expect((await b.call('POST', '/api/login', {})).status).toBe(429);

  const h2 = await house();
  const c = new Browser(h2.url);
  expect((await c.call('POST', '/api/login', {})).status).toBe(400);
  expect((await c.call('POST', '/api/login', '{"password":')).status).toBe(400);
  expect((await c.call('POST', '/api/login', [1, 2])).status).toBe(400);
  expect((await c.login()).status).toBe(200);
  expect((await c.call('GET', '/api/devices')).status).toBe(200);
  // Logging out needs the CSRF token too.
  expect((await c.call('POST', '/api/logout', {}, { 'x-csrf-token': 'nope' })).status).toBe(403);
  expect((await c.call('POST', '/api/logout', {})).status).toBe(200);
  expect((await c.call('GET', '/api/devices')).status).toBe(401);
  expect((await c.call('GET', '/api/session')).body).toMatchObject({ authenticated: false });
});

test('state changes need the CSRF token and the same origin; reads need a session or a token', async () => {
  const h = await house();
  const b = new Browser(h.url);
  await b.login();
  const command = { device: 'pi1/sim/kitchen-light', command: 'power', value: true };
  expect((await b.call('POST', '/api/command', command, { 'x-csrf-token': '' })).status).toBe(403);
  expect((await b.call('POST', '/api/command', command, { 'x-csrf-token': 'x'.repeat(32) })).status).toBe(403);
  expect((await b.call('POST', '/api/command', command, { origin: 'http://evil.example' })).status).toBe(403);
  expect((await b.call('POST', '/api/command', command)).status).toBe(200);
  const anonymous = new Browser(h.url);
  for (const [method, path] of [
    ['GET', '/api/devices'],
    ['GET', '/api/device?id=pi1/sim/tv'],
    ['POST', '/api/command'],
    ['GET', '/api/snapshot?device=pi1/sim/garden-camera&command=snapshot'],
    ['GET', '/api/history?key=/device/pi1/sim/probe/value'],
    ['GET', '/api/scenarios'],
    ['POST', '/api/scenarios'],
    ['DELETE', '/api/scenarios/x'],
    ['GET', '/api/cron'],
    ['GET', '/api/system'],
    ['GET', '/api/tokens'],
    ['GET', '/api/nothing-here'],
  ] as const) {
    const a = await anonymous.call(method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
    expect([path, a.status]).toEqual([path, 401]);
  }
  // A forged session cookie is nobody.
  anonymous.cookie = 'raspy_session=forged';
  expect((await anonymous.call('GET', '/api/devices')).status).toBe(401);
});

test('API tokens: created (shown once), listed without secret, used without CSRF, revoked', async () => {
  const h = await house();
  const b = new Browser(h.url);
  await b.login();
  expect((await b.call('POST', '/api/tokens', { name: '' })).status).toBe(400);
  expect((await b.call('POST', '/api/tokens', { name: 'x'.repeat(65) })).status).toBe(400);
  const created = await b.call('POST', '/api/tokens', { name: 'garage script' });
  expect(created.status).toBe(200);
  const { id, token } = created.body as { id: string; token: string };
  expect(token).toMatch(/^rsp_/);
  const list = await b.call('GET', '/api/tokens');
  expect(list.body).toEqual([{ id, name: 'garage script', createdAt: expect.any(Number), lastUsed: null }] as unknown as Record<string, unknown>);
  expect(JSON.stringify(list.body)).not.toContain(token);

  const script = new Browser(h.url);
  const bearer = { authorization: `Bearer ${token}` };
  expect((await script.call('GET', '/api/devices', undefined, bearer)).status).toBe(200);
  const set = await script.call('POST', '/api/command', { device: 'pi1/sim/kitchen-light', command: 'power', value: false }, bearer);
  expect(set.status).toBe(200);
  expect((await script.call('GET', '/api/devices', undefined, { authorization: `Bearer ${token}x` })).status).toBe(401);
  expect(((await b.call('GET', '/api/tokens')).body as unknown as { lastUsed: number }[])[0]?.lastUsed).toEqual(expect.any(Number));

  expect((await b.call('DELETE', '/api/tokens/000000000000')).status).toBe(404);
  expect((await b.call('DELETE', '/api/tokens/../../etc')).status).toBe(404);
  expect((await b.call('DELETE', `/api/tokens/${id}`)).status).toBe(200);
  expect((await script.call('GET', '/api/devices', undefined, bearer)).status).toBe(401);
});

test('devices: listed from the tree with descriptions, values and state; commands reach the device and refusals carry its message', async () => {
  const h = await house();
  const b = new Browser(h.url);
  await b.login();
  await waitFor(async () => ((await b.call('GET', '/api/devices')).body.devices as unknown[]).length === 5, 'the five devices');
  const { devices } = (await b.call('GET', '/api/devices')).body as { devices: { id: string; state: string; service: string; values: Record<string, { value: unknown }> }[] };
  expect(devices.map((d) => d.id)).toEqual(['pi1/sim/garden-camera', 'pi1/sim/kitchen-light', 'pi1/sim/living-light', 'pi1/sim/probe', 'pi1/sim/tv']);
  expect(devices.every((d) => d.state === 'online' && d.service === 'pi1.sim.devices')).toBe(true);
  await waitFor(async () => (await b.call('GET', '/api/device?id=pi1/sim/probe')).body.values !== undefined, 'probe values');
  const probe = await b.call('GET', '/api/device?id=pi1/sim/probe');
  expect(probe.body).toMatchObject({
    id: 'pi1/sim/probe',
    description: { type: 'sensor.temperature', name: 'Probe', commands: { value: { type: 'real', unit: '°C', readonly: true } } },
    values: { value: { value: 20, unit: '°C', ts: expect.any(Number) }, name: { value: 'Probe' }, record: { value: true } },
  });
  expect((await b.call('GET', '/api/device?id=pi1/sim/nope')).status).toBe(404);
  for (const bad of ['', 'pi1', 'pi1/sim', 'PI1/sim/tv', '../../etc/passwd', 'pi1/sim/tv/../x']) {
    const a = await b.call('GET', `/api/device?id=${encodeURIComponent(bad)}`);
    expect([bad, a.status]).toEqual([bad, 400]);
  }

  const level = await b.call('POST', '/api/command', { device: 'pi1/sim/living-light', command: 'level', value: 30 });
  expect(level.status).toBe(200);
  expect(level.body.reading).toMatchObject({ value: 30, unit: '%' });
  // The tree follows: the dimmer's power with its level.
  await waitFor(async () => ((await b.call('GET', '/api/device?id=pi1/sim/living-light')).body.values as Record<string, { value: unknown }>).power?.value === true, 'power on');
  const refused = await b.call('POST', '/api/command', { device: 'pi1/sim/living-light', command: 'level', value: 101 });
  expect(refused.status).toBe(400);
  expect(refused.body.error).toMatch(/level must be at most 100/);
  noStack(refused);
  expect((await b.call('POST', '/api/command', { device: 'pi1/sim/living-light', command: 'volume', value: 1 })).status).toBe(404);
  expect((await b.call('POST', '/api/command', { device: 'pi1/sim/nope', command: 'power', value: true })).status).toBe(404);
  expect((await b.call('POST', '/api/command', { device: 'pi1/sim/probe', command: 'value', value: 3 })).body.error).toMatch(/reading/);
  expect((await b.call('POST', '/api/command', { device: 'pi1/sim/living-light', command: 'level' })).body).toEqual({ error: 'the request needs "value"' });
  expect((await b.call('POST', '/api/command', { device: 'pi1/sim/living-light', command: 'x'.repeat(65), value: 1 })).status).toBe(400);
  expect((await b.call('POST', '/api/command', 'not json')).status).toBe(400);
  expect((await b.call('POST', '/api/command', 'x'.repeat(2 * 1024 * 1024))).status).toBe(413);
});

test('the camera snapshot comes as an image; history comes from the house recorder', async () => {
  const h = await house();
  const b = new Browser(h.url);
  await b.login();
  const res = await fetch(`${h.url}/api/snapshot?device=pi1/sim/garden-camera&command=snapshot`, { headers: { cookie: b.cookie } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(Buffer.from(await res.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
  expect((await b.call('GET', '/api/snapshot?device=pi1/sim/kitchen-light&command=power')).status).toBe(400);
  expect((await b.call('GET', '/api/snapshot?device=pi1/sim/garden-camera')).status).toBe(400);

  const before = Date.now() - 1;
  await waitFor(() => h.house.snapshot()['/device/pi1/sim/probe/value'] !== undefined, 'the probe');
  for (const v of [21, 22, 23]) {
    h.push(v);
    await waitFor(() => (h.house.snapshot()['/device/pi1/sim/probe/value'] as { value: number }).value === v, `value ${v}`);
  }
  const key = encodeURIComponent('/device/pi1/sim/probe/value');
  await waitFor(async () => ((await b.call('GET', `/api/history?key=${key}&from=${before}`)).body.points as unknown[]).length >= 3, 'three points recorded');
  const history = await b.call('GET', `/api/history?key=${key}&from=${before}&to=${Date.now()}&points=100`);
  expect((history.body.points as [number, number][]).map((p) => p[1]).slice(-3)).toEqual([21, 22, 23]);
  expect((await b.call('GET', `/api/history?key=${key}&from=10&to=5`)).status).toBe(400);
  expect((await b.call('GET', `/api/history?key=${key}&points=1`)).status).toBe(400);
  expect((await b.call('GET', `/api/history?key=${key}&from=yesterday`)).status).toBe(400);
  expect((await b.call('GET', '/api/history?key=/etc/passwd')).status).toBe(400);
  expect((await b.call('GET', '/api/history')).status).toBe(400);
});

const scenario = {
  name: 'evening',
  description: 'TV on when the probe is warm.',
  triggers: [{ type: 'threshold', id: 'warm', key: '/device/pi1/sim/probe/value', above: 25 }],
  actions: [{ type: 'device', device: 'pi1/sim/kitchen-light', command: 'power', value: true }],
};

test('scenarios: add with validation messages, get, update, enable/disable, run and read the trace, export/import, delete', async () => {
  const h = await house();
  const b = new Browser(h.url);
  await b.login();
  expect((await b.call('GET', '/api/scenarios')).body).toEqual({ scenarios: [] });
  const invalid = await b.call('POST', '/api/scenarios', { scenario: { ...scenario, triggers: [{ type: 'threshold', key: '/device/x' }] } });
  expect(invalid.status).toBe(400);
  expect(invalid.body.error).toMatch(/trigger/);
  expect((await b.call('POST', '/api/scenarios', { scenario: 'evening' })).status).toBe(400);
  expect((await b.call('POST', '/api/scenarios', {})).status).toBe(400);
  expect((await b.call('POST', '/api/scenarios', { scenario })).status).toBe(200);
  expect((await b.call('POST', '/api/scenarios', { scenario })).status).toBe(400);
  expect((await b.call('GET', '/api/scenarios/evening')).body).toMatchObject({ scenario: { name: 'evening' }, status: { running: 0 } });
  expect((await b.call('GET', '/api/scenarios/nope')).status).toBe(404);
  expect((await b.call('GET', '/api/scenarios/%2e%2e%2fx')).status).toBe(400);
  expect((await b.call('PUT', '/api/scenarios/evening', { scenario: { ...scenario, name: 'other' } })).status).toBe(400);
  expect((await b.call('PUT', '/api/scenarios/evening', { scenario: { ...scenario, description: 'changed' } })).body).toMatchObject({ scenario: { description: 'changed' } });
  expect((await b.call('POST', '/api/scenarios/evening/disable')).body).toMatchObject({ scenario: { enabled: false } });
  expect((await b.call('POST', '/api/scenarios/evening/enable')).body).toMatchObject({ scenario: { enabled: true } });
  expect((await b.call('POST', '/api/scenarios/evening/explode')).status).toBe(404);

  await b.call('POST', '/api/command', { device: 'pi1/sim/kitchen-light', command: 'power', value: false });
  const run = await b.call('POST', '/api/scenarios/evening/run');
  expect(run.status).toBe(200);
  expect(run.body).toMatchObject({ trace: { id: expect.any(String) } });
  await waitFor(async () => ((await b.call('GET', '/api/scenarios/evening/traces')).body.traces as { result: string }[])[0]?.result === 'done', 'the run to finish');
  const traces = (await b.call('GET', '/api/scenarios/evening/traces?limit=5')).body.traces as { trigger: { type: string }; steps: { type: string; result?: unknown }[] }[];
  expect(traces[0]?.trigger.type).toBe('manual');
  expect(traces[0]?.steps[0]).toMatchObject({ type: 'device' });
  await waitFor(async () => ((await b.call('GET', '/api/device?id=pi1/sim/kitchen-light')).body.values as Record<string, { value: unknown }>).power?.value === true, 'the light on');
  expect((await b.call('GET', '/api/scenarios/evening/traces?limit=0')).status).toBe(400);
  expect((await b.call('POST', '/api/scenarios/evening/stop')).body).toEqual({ stopped: expect.any(Number) });

  const exported = await b.call('GET', '/api/scenarios-export');
  expect(exported.body).toMatchObject({ bundle: { format: 'raspy-scenarios', scenarios: [{ name: 'evening' }] } });
  expect((await b.call('POST', '/api/scenarios-import', { bundle: exported.body.bundle })).status).toBe(400);
  expect((await b.call('POST', '/api/scenarios-import', { bundle: exported.body.bundle, replace: true })).body).toEqual({ scenarios: ['evening'], jobs: [] });
  expect((await b.call('POST', '/api/scenarios-import', { bundle: { format: 'zip' } })).status).toBe(400);
  expect((await b.call('DELETE', '/api/scenarios/evening')).body).toEqual({ deleted: 'evening' });
  expect((await b.call('DELETE', '/api/scenarios/evening')).status).toBe(404);
});

test('cron jobs: add, list with the next tick, run now, enable/disable, delete; bad expressions refused', async () => {
  const h = await house();
  const b = new Browser(h.url);
  await b.login();
  const bad = await b.call('POST', '/api/cron', { job: { name: 'bedtime', expression: '99 * * * *' } });
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatch(/expression|cron/i);
  expect((await b.call('POST', '/api/cron', { job: { name: 'bedtime', expression: '0 23 * * *' } })).status).toBe(200);
  const list = (await b.call('GET', '/api/cron')).body as { jobs: { job: { name: string }; next: unknown }[] };
  expect(list.jobs).toEqual([expect.objectContaining({ job: expect.objectContaining({ name: 'bedtime' }), next: expect.any(String) })]);
  expect((await b.call('POST', '/api/cron/bedtime/run')).body).toMatchObject({ ticks: 1 });
  expect((await b.call('POST', '/api/cron/bedtime/disable')).body).toMatchObject({ job: { enabled: false } });
  expect((await b.call('PUT', '/api/cron/bedtime', { job: { name: 'bedtime', expression: '30 22 * * *' } })).body).toMatchObject({ job: { expression: '30 22 * * *' } });
  expect((await b.call('PUT', '/api/cron/bedtime', { job: { name: 'other', expression: '30 22 * * *' } })).status).toBe(400);
  expect((await b.call('POST', '/api/cron/bedtime/stop')).status).toBe(404);
  expect((await b.call('DELETE', '/api/cron/bedtime')).status).toBe(200);
  expect((await b.call('DELETE', '/api/cron/bedtime')).status).toBe(404);
});

test('system: services, broker figures and versions; security headers; unknown paths; no stack traces', async () => {
  const h = await house();
  const b = new Browser(h.url);
  await b.login();
  const system = await b.call('GET', '/api/system');
  expect(system.status).toBe(200);
  expect(system.body.services).toEqual(expect.arrayContaining(['pi1.sim.devices', 'pi1.core.scenarios', 'pi1.core.history', 'titanic.store']));
  expect(system.body.broker).toMatchObject({ services: expect.any(Object) });
  expect(system.body.versions).toMatchObject({ 'raspy-web': '0.0.0-test' });
  expect(system.headers.get('x-content-type-options')).toBe('nosniff');
  expect(system.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  expect(system.headers.get('x-frame-options')).toBe('DENY');
  const missing = await b.call('GET', '/api/nothing-here');
  expect(missing.status).toBe(404);
  noStack(missing);
  const page = await fetch(`${h.url}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  expect((await fetch(`${h.url}/../../etc/passwd`)).status).toBe(404);
  expect((await fetch(`${h.url}/%2e%2e/%2e%2e/package.json`)).status).toBe(404);
});

/** Opens the stream; resolves with the socket and the messages it gets. */
async function openStream(url: string, headers: Record<string, string>): Promise<{ ws: WebSocket; messages: { type: string; key?: string; value?: unknown; entries?: Record<string, unknown> }[] }> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/api/stream' + (headers.token !== undefined ? `?token=${headers.token}` : ''), { headers });
  cleanup.defer(() => ws.terminate());
  const messages: { type: string }[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as { type: string }));
  await within(
    new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.on('error', reject);
    }),
    5000,
    'the stream to open',
  );
  return { ws, messages };
}

test('the stream: a snapshot of the tree, then each change; refused without a session or from another origin', async () => {
  const h = await house();
  const b = new Browser(h.url);
  await b.login();
  await waitFor(() => h.house.snapshot()['/device/pi1/sim/probe/value'] !== undefined, 'the probe');
  const { messages } = await openStream(h.url, { cookie: b.cookie, origin: h.url });
  await waitFor(() => messages.length > 0, 'the snapshot');
  expect(messages[0]?.type).toBe('snapshot');
  expect(messages[0]?.entries?.['/device/pi1/sim/probe/value']).toMatchObject({ value: 20, unit: '°C' });
  expect(messages[0]?.entries?.['/device/pi1/sim/probe/$state']).toMatchObject({ online: true });
  h.push(24.5);
  await waitFor(() => messages.some((m) => m.type === 'change' && m.key === '/device/pi1/sim/probe/value' && (m.value as { value: number }).value === 24.5), 'the change');

  await expect(openStream(h.url, {})).rejects.toThrow('HTTP 401');
  await expect(openStream(h.url, { cookie: b.cookie, origin: 'http://evil.example' })).rejects.toThrow('HTTP 403');
  const token = ((await b.call('POST', '/api/tokens', { name: 'dashboard' })).body as { token: string }).token;
  const viaToken = await openStream(h.url, { token });
  await waitFor(() => viaToken.messages.length > 0, 'the snapshot by token');
  await expect(openStream(h.url, { token: 'rsp_wrong' })).rejects.toThrow('HTTP 401');
});
