/**
 * Helpers for tests with real sockets, files and processes: deadlines
 * instead of sleeps, a registry that closes everything a test opened, and a
 * logger that keeps its lines.
 *
 * @module
 */

/** Fields of a log line. */
export type Fields = Record<string, unknown>;

/** The logger shape of every RasPy library. */
export interface TestLogger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  child(component: string, fields?: Fields): TestLogger;
}

/** Waits until `check` holds, polling, or fails after `timeout` ms with `what` in the message. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeout = 5000): Promise<void> {
  const deadline = performance.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Rejects if `promise` does not settle within `timeout` ms. */
export async function within<T>(promise: Promise<T>, timeout: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Things to stop or close after each test, in reverse order. */
export class Cleanup {
  private readonly items: (() => unknown)[] = [];

  add<T extends { stop?: () => unknown; close?: () => unknown }>(item: T): T {
    this.items.push(() => (item.stop ? item.stop() : item.close?.()));
    return item;
  }

  defer(fn: () => unknown): void {
    this.items.push(fn);
  }

  async run(): Promise<void> {
    for (const fn of this.items.splice(0).reverse()) await fn();
  }
}

/** A logger that keeps its lines, for assertions. */
export function memoryLogger(): TestLogger & { lines: { level: string; message: string; fields: Fields }[] } {
  const lines: { level: string; message: string; fields: Fields }[] = [];
  const make = (base: Fields): TestLogger => ({
    debug: (message, fields) => lines.push({ level: 'debug', message, fields: { ...base, ...fields } }),
    info: (message, fields) => lines.push({ level: 'info', message, fields: { ...base, ...fields } }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields: { ...base, ...fields } }),
    error: (message, fields) => lines.push({ level: 'error', message, fields: { ...base, ...fields } }),
    child: (component, fields) => make({ ...base, component, ...fields }),
  });
  return Object.assign(make({}), { lines });
}

/**
 * Runs `start` again while it fails with EADDRINUSE: a port released by a
 * socket closed in this process is freed by ZeroMQ's I/O thread a moment later.
 */
export async function whenPortFree<T>(start: () => Promise<T>, what: string, timeout = 5000): Promise<T> {
  const deadline = performance.now() + timeout;
  for (;;) {
    try {
      return await start();
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE' || performance.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on (taken from the OS, then released). */
export async function unusedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
