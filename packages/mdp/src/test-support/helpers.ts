/**
 * Helpers for tests with real sockets: ephemeral endpoints, deadlines, and a
 * registry that closes everything a test opened.
 *
 * @module
 * @internal
 */
import { MdpBroker, type BrokerOptions, type Logger, type LogFields } from '../index.js';

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

/** Starts a broker on an ephemeral loopback port with fast test timings. */
export async function startBroker(
  cleanup: Cleanup,
  options: BrokerOptions = {},
): Promise<{ broker: MdpBroker; endpoint: string }> {
  const broker = cleanup.add(
    new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100, heartbeatLiveness: 3, requestTimeout: 2000, ...options }),
  );
  await broker.start();
  return { broker, endpoint: broker.endpoints[0] as string };
}

/** Waits until the broker has `count` workers for `service`. */
export function waitForWorkers(broker: MdpBroker, service: string, count = 1, timeout = 5000): Promise<void> {
  return waitFor(() => (broker.stats().services[service]?.workers ?? 0) === count, `${count} workers of ${service}`, timeout);
}

/** A logger that keeps its lines, for assertions. */
export function memoryLogger(): Logger & { lines: { level: string; message: string; fields: LogFields }[] } {
  const lines: { level: string; message: string; fields: LogFields }[] = [];
  const make = (base: LogFields): Logger => ({
    debug: (message, fields) => lines.push({ level: 'debug', message, fields: { ...base, ...fields } }),
    info: (message, fields) => lines.push({ level: 'info', message, fields: { ...base, ...fields } }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields: { ...base, ...fields } }),
    error: (message, fields) => lines.push({ level: 'error', message, fields: { ...base, ...fields } }),
    child: (component, fields) => make({ ...base, component, ...fields }),
  });
  return Object.assign(make({}), { lines });
}
