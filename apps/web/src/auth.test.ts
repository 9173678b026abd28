/**
 * The web app's credentials: real files in a temp dir.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup } from '@raspy/test-support';
import { Auth, AuthInputError, LoginLimiter } from './auth.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'raspy-auth-'));
  cleanup.defer(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('the password survives a restart as a hash; a new password ends every session', async () => {
  const d = dir();
  const auth = await Auth.open(d);
  expect(auth.setupRequired).toBe(true);
  await expect(auth.setPassword('short')).rejects.toBeInstanceOf(AuthInputError);
  await expect(auth.setPassword('x'.repeat(1025))).rejects.toBeInstanceOf(AuthInputError);
  await auth.setPassword('first password');
  const { cookie, csrf } = await auth.createSession();
  expect(auth.session(cookie)).toEqual({ csrf });
  await auth.close();

  const again = await Auth.open(d);
  expect(again.setupRequired).toBe(false);
  expect(await again.verifyPassword('first password')).toBe(true);
  expect(await again.verifyPassword('first passworD')).toBe(false);
  expect(await again.verifyPassword('x'.repeat(5000))).toBe(false);
  expect(again.session(cookie)).toEqual({ csrf });
  // The same password again (RASPY_ADMIN_PASSWORD at each start) keeps the sessions.
  await again.setPassword('first password');
  expect(again.session(cookie)).toEqual({ csrf });
  await again.setPassword('second password');
  expect(again.session(cookie)).toBeNull();
  expect(await again.verifyPassword('first password')).toBe(false);
  expect(readFileSync(join(d, 'auth.json'), 'utf8')).not.toContain('second password');
});

test('sessions expire after 30 days and unknown or absurd cookies are nobody', async () => {
  let now = Date.UTC(2026, 0, 1);
  const auth = await Auth.open(dir(), { now: () => now });
  await auth.setPassword('a good password');
  const { cookie } = await auth.createSession();
  expect(auth.session(cookie)).not.toBeNull();
  expect(auth.session(undefined)).toBeNull();
  expect(auth.session('')).toBeNull();
  expect(auth.session('x'.repeat(10_000))).toBeNull();
  now += 29 * 86_400_000;
  expect(auth.session(cookie)).not.toBeNull();
  now += 2 * 86_400_000;
  expect(auth.session(cookie)).toBeNull();
  await auth.deleteSession(cookie);
  await auth.close();
});

test('tokens are stored hashed, listed without secret, and revoked', async () => {
  const d = dir();
  const auth = await Auth.open(d);
  await expect(auth.createToken('')).rejects.toBeInstanceOf(AuthInputError);
  await expect(auth.createToken(42)).rejects.toBeInstanceOf(AuthInputError);
  const t = await auth.createToken('  backup script ');
  expect(t.name).toBe('backup script');
  expect(auth.verifyToken(t.token)).toBe(t.id);
  expect(auth.verifyToken(`${t.token}x`)).toBeNull();
  expect(auth.verifyToken('Bearer')).toBeNull();
  expect(auth.tokens()).toEqual([{ id: t.id, name: 'backup script', createdAt: expect.any(Number), lastUsed: expect.any(Number) }]);
  await auth.close();
  expect(readFileSync(join(d, 'auth.json'), 'utf8')).not.toContain(t.token);
  const again = await Auth.open(d);
  expect(again.verifyToken(t.token)).toBe(t.id);
  expect(await again.deleteToken(t.id)).toBe(true);
  expect(await again.deleteToken(t.id)).toBe(false);
  expect(again.verifyToken(t.token)).toBeNull();
  await again.close();
});

test('a damaged credentials file stops the start with a clear message (never an open setup)', async () => {
  const d = dir();
  writeFileSync(join(d, 'auth.json'), '{"version": 1, "password": {"salt"');
  await expect(Auth.open(d)).rejects.toThrow(/auth\.json is damaged .*delete it/);
  writeFileSync(join(d, 'auth.json'), '{"version": 7}');
  await expect(Auth.open(d)).rejects.toThrow(/damaged \(unknown layout\)/);
});

test('the login limiter counts failures per address in a sliding minute', () => {
  let now = 0;
  const limiter = new LoginLimiter(3, 60_000, () => now);
  for (let i = 0; i < 3; i++) {
    expect(limiter.retryAfter('10.0.0.1')).toBe(0);
    limiter.fail('10.0.0.1');
    now += 1000;
  }
  expect(limiter.retryAfter('10.0.0.1')).toBe(57);
  expect(limiter.retryAfter('10.0.0.2')).toBe(0);
  now = 60_001;
  expect(limiter.retryAfter('10.0.0.1')).toBe(0);
  limiter.fail('10.0.0.1');
  limiter.reset('10.0.0.1');
  expect(limiter.retryAfter('10.0.0.1')).toBe(0);
});
