/**
 * Who may change the house: the admin password (scrypt hash), browser
 * sessions and API tokens, kept in `<data>/auth.json` (mode 0600, written
 * atomically). Only hashes are stored: a stolen file gives no session, no
 * token and no password.
 *
 * @module
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, type Logger } from '@raspy/mdp';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

/** Scrypt parameters: 16 MiB and ~50 ms on a Raspberry Pi 4. */
const SCRYPT = { N: 16_384, r: 8, p: 1, keylen: 64 };
const SESSION_DAYS = 30;
const MAX_SESSIONS = 100;
const MAX_TOKENS = 100;
/** Password length bounds (the upper one keeps hashing cheap for an attacker's giant bodies). */
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 1024;

interface StoredPassword {
  salt: string;
  hash: string;
  N: number;
  r: number;
  p: number;
}
interface StoredSession {
  /** sha256 of the cookie value. */
  id: string;
  csrf: string;
  createdAt: number;
  expires: number;
}
interface StoredToken {
  id: string;
  name: string;
  /** sha256 of the token. */
  hash: string;
  createdAt: number;
  lastUsed: number | null;
}
interface AuthFile {
  version: 1;
  password: StoredPassword | null;
  sessions: StoredSession[];
  tokens: StoredToken[];
}

/** An API token as listed (never the token itself). */
export interface TokenInfo {
  id: string;
  name: string;
  createdAt: number;
  lastUsed: number | null;
}

/** Thrown for bad input (a short password, a bad token name). */
export class AuthInputError extends Error {}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const sameText = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** The password, sessions and tokens of one web app. */
export class Auth {
  private saving: Promise<void> = Promise.resolve();
  private lastUsedDirty = false;

  private constructor(
    private readonly file: string,
    private readonly data: AuthFile,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /**
   * Reads `<dir>/auth.json` (creating the directory).
   *
   * @throws Error when the file exists but is not readable as ours: starting
   *   without a password would let anyone on the network set one
   */
  static async open(dir: string, options: { logger?: Logger; now?: () => number } = {}): Promise<Auth> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'auth.json');
    let data: AuthFile = { version: 1, password: null, sessions: [], tokens: [] };
    let text: string | null = null;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== null) {
      try {
        const parsed = JSON.parse(text) as AuthFile;
        if (parsed.version !== 1 || !Array.isArray(parsed.sessions) || !Array.isArray(parsed.tokens)) throw new Error('unknown layout');
        data = parsed;
      } catch (err) {
        throw new Error(`${file} is damaged (${(err as Error).message}); delete it to create a new admin password (sessions and API tokens are lost)`);
      }
    }
    const auth = new Auth(file, data, options.logger ?? silentLogger, options.now ?? Date.now);
    auth.dropExpired();
    return auth;
  }

  /** True until the admin password exists. */
  get setupRequired(): boolean {
    return this.data.password === null;
  }

  /**
   * Sets the admin password; every session ends when it changes.
   *
   * @throws AuthInputError for a password that is too short or too long
   */
  async setPassword(password: string): Promise<void> {
    checkPassword(password);
    if (this.data.password !== null && (await this.verifyPassword(password))) return;
    const salt = randomBytes(16);
    const hash = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 });
    const replaced = this.data.password !== null;
    this.data.password = { salt: salt.toString('base64'), hash: hash.toString('base64'), N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p };
    if (replaced) this.data.sessions = [];
    await this.save();
  }

  /** Checks a password against the stored hash (false when there is none). */
  async verifyPassword(password: string): Promise<boolean> {
    const stored = this.data.password;
    if (stored === null || typeof password !== 'string' || password.length > PASSWORD_MAX) return false;
    const expected = Buffer.from(stored.hash, 'base64');
    const actual = await scrypt(password, Buffer.from(stored.salt, 'base64'), expected.length, { N: stored.N, r: stored.r, p: stored.p, maxmem: 256 * 1024 * 1024 });
    return timingSafeEqual(actual, expected);
  }

  /** Starts a session. @returns the cookie value and its CSRF token */
  async createSession(): Promise<{ cookie: string; csrf: string; maxAge: number }> {
    this.dropExpired();
    const cookie = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const now = this.now();
    this.data.sessions.push({ id: sha256(cookie), csrf, createdAt: now, expires: now + SESSION_DAYS * 86_400_000 });
    // The oldest sessions go when there are too many.
    if (this.data.sessions.length > MAX_SESSIONS) this.data.sessions.splice(0, this.data.sessions.length - MAX_SESSIONS);
    await this.save();
    return { cookie, csrf, maxAge: SESSION_DAYS * 86_400 };
  }

  /** The session of a cookie value, or null. */
  session(cookie: string | undefined): { csrf: string } | null {
    if (typeof cookie !== 'string' || cookie === '' || cookie.length > 200) return null;
    const id = sha256(cookie);
    const s = this.data.sessions.find((x) => sameText(x.id, id));
    if (s === undefined || s.expires <= this.now()) return null;
    return { csrf: s.csrf };
  }

  /** Ends a session. */
  async deleteSession(cookie: string | undefined): Promise<void> {
    if (typeof cookie !== 'string') return;
    const id = sha256(cookie);
    const before = this.data.sessions.length;
    this.data.sessions = this.data.sessions.filter((s) => s.id !== id);
    if (this.data.sessions.length !== before) await this.save();
  }

  /**
   * Creates an API token. @returns it, shown this once
   *
   * @throws AuthInputError for a bad name or too many tokens
   */
  async createToken(name: unknown): Promise<{ id: string; name: string; token: string }> {
    if (typeof name !== 'string' || name.trim() === '' || name.length > 64) throw new AuthInputError('a token needs "name", 1 to 64 characters');
    if (this.data.tokens.length >= MAX_TOKENS) throw new AuthInputError(`at most ${MAX_TOKENS} tokens; delete one first`);
    const token = `rsp_${randomBytes(32).toString('base64url')}`;
    const id = randomBytes(6).toString('hex');
    this.data.tokens.push({ id, name: name.trim(), hash: sha256(token), createdAt: this.now(), lastUsed: null });
    await this.save();
    return { id, name: name.trim(), token };
  }

  /** The tokens (without their secrets). */
  tokens(): TokenInfo[] {
    return this.data.tokens.map(({ id, name, createdAt, lastUsed }) => ({ id, name, createdAt, lastUsed }));
  }

  /** Revokes a token. @returns false when there was none */
  async deleteToken(id: string): Promise<boolean> {
    const before = this.data.tokens.length;
    this.data.tokens = this.data.tokens.filter((t) => t.id !== id);
    if (this.data.tokens.length === before) return false;
    await this.save();
    return true;
  }

  /** The token's id when it is valid (its last use is noted), or null. */
  verifyToken(token: string | undefined): string | null {
    if (typeof token !== 'string' || !token.startsWith('rsp_') || token.length > 200) return null;
    const hash = sha256(token);
    const t = this.data.tokens.find((x) => sameText(x.hash, hash));
    if (t === undefined) return null;
    const now = this.now();
    // Noted in memory at once, on disk at most once a minute.
    if (t.lastUsed === null || now - t.lastUsed > 60_000) {
      t.lastUsed = now;
      this.lastUsedDirty = true;
      void this.save().catch(() => {});
    } else t.lastUsed = now;
    return t.id;
  }

  /** Writes pending changes (last uses of tokens). */
  async close(): Promise<void> {
    if (this.lastUsedDirty) await this.save().catch(() => {});
    await this.saving;
  }

  private dropExpired(): void {
    const now = this.now();
    this.data.sessions = this.data.sessions.filter((s) => s.expires > now);
  }

  /** Atomic: a temporary file, fsync, rename; one write at a time. */
  private save(): Promise<void> {
    const next = this.saving.then(async () => {
      this.lastUsedDirty = false;
      const tmp = `${this.file}.${process.pid}.tmp`;
      const handle = await open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(this.data, null, 1));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.file);
    });
    this.saving = next.catch((err: unknown) => this.logger.error('cannot save the web credentials', { file: this.file, error: err as Error }));
    return next;
  }
}

function checkPassword(password: unknown): asserts password is string {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN) throw new AuthInputError(`the password needs at least ${PASSWORD_MIN} characters`);
  if (password.length > PASSWORD_MAX) throw new AuthInputError(`the password can have at most ${PASSWORD_MAX} characters`);
}

/**
 * Failed logins per client address: more than `limit` in `windowMs` and
 * the address must wait.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit = 5,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait before the next attempt, 0 when one is allowed. */
  retryAfter(address: string): number {
    const list = this.recent(address);
    if (list.length < this.limit) return 0;
    return Math.max(1, Math.ceil(((list[0] as number) + this.windowMs - this.now()) / 1000));
  }

  /** Notes a failure. */
  fail(address: string): void {
    const list = this.recent(address);
    list.push(this.now());
    this.failures.set(address, list);
    // Bounded memory under a flood of addresses.
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string);
  }

  /** Forgets the failures of an address (after a success). */
  reset(address: string): void {
    this.failures.delete(address);
  }

  private recent(address: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (this.failures.get(address) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(address);
    else this.failures.set(address, list);
    return list;
  }
}
