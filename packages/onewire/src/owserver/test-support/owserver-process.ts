/**
 * A real OWFS owserver for tests, run as a child process on a free loopback
 * port: started, waited for (until it answers a NOP), stopped (and waited
 * for). `/usr/bin/owserver` comes with Debian's `owserver` package;
 * RASPY_OWSERVER overrides the path.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { unusedPort } from '@raspy/test-support';
import { OwserverClient } from '../client.js';

/** The owserver binary the tests run. */
export const OWSERVER = process.env.RASPY_OWSERVER ?? '/usr/bin/owserver';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether {@link OWSERVER} can be run here. */
export const owserverAvailable = executable(OWSERVER);

/** Why the real-owserver tests cannot run, for messages. */
export const owserverMissing = `${OWSERVER} is not an executable; install Debian's owserver package (apt-get install owserver) or set RASPY_OWSERVER`;

/** One owserver process. */
export class OwserverProcess {
  /** What it wrote on stderr (and stdout). */
  output = '';
  /** Exit code once it exited (null for a signal); undefined while it runs. */
  code: number | null | undefined = undefined;
  /** Settles when the process has exited. */
  readonly exited: Promise<number | null>;
  private readonly proc: ChildProcess;

  private constructor(
    readonly port: number,
    readonly args: readonly string[],
  ) {
    this.proc = spawn(OWSERVER, ['--foreground', '--error_level=0', '--error_print=2', '-p', `127.0.0.1:${port}`, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout?.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    this.proc.stderr?.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    this.exited = new Promise((resolve) => {
      const done = (code: number | null): void => {
        if (this.code !== undefined) return;
        this.code = code;
        resolve(code);
      };
      this.proc.once('exit', (code) => done(code));
      this.proc.once('error', (err) => {
        this.output += String(err);
        done(-1);
      });
    });
  }

  /** `127.0.0.1:port`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /**
   * Starts owserver with `args` (default: the tester's DS18B20 and DS18S20)
   * and waits until it answers.
   *
   * @param args - owserver's device options
   * @param port - a port to listen on; default a free one (tried again on another if taken)
   * @param timeout - how long it may take to answer, ms
   */
  static async start(args: readonly string[] = ['--tester=28,10'], port?: number, timeout = 10_000): Promise<OwserverProcess> {
    for (let attempt = 1; ; attempt++) {
      const server = new OwserverProcess(port ?? (await unusedPort()), args);
      try {
        await server.ready(timeout);
        return server;
      } catch (err) {
        await server.stop();
        // Another process may take the free port between our look and owserver's bind.
        if (port !== undefined || attempt >= 3 || server.code === undefined) throw err;
      }
    }
  }

  /** Waits until owserver answers a NOP, or fails when it exits or `timeout` passes. */
  private async ready(timeout: number): Promise<void> {
    const client = new OwserverClient({ port: this.port, timeout: 500, persistent: false });
    const deadline = performance.now() + timeout;
    try {
      for (;;) {
        if (this.code !== undefined) {
          throw new Error(`owserver ${this.args.join(' ')} on port ${this.port} exited (${this.code}) before answering: ${this.output.trim()}`);
        }
        try {
          await client.ping();
          return;
        } catch (err) {
          if (performance.now() > deadline) {
            throw new Error(`owserver on port ${this.port} did not answer within ${timeout} ms: ${String(err)}; output: ${this.output.trim()}`);
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await client.close();
    }
  }

  /**
   * Stops owserver and waits for it to exit. Idempotent. owserver does not
   * exit on SIGTERM while a client keeps a persistent connection open: it
   * gets SIGKILL after `grace` ms. SIGKILL at once simulates a crash.
   *
   * @param signal - SIGTERM (default) or SIGKILL
   * @param grace - ms before SIGKILL follows SIGTERM
   */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', grace = 2000): Promise<void> {
    if (this.code === undefined) {
      this.proc.kill(signal);
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), grace);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
