/**
 * `raspy-house`: starts the broker (with the key/value tree) and the core as
 * child processes, shows their logs as one stream, and stops them together.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger, type Logger, type LogLevel } from '@raspy/mdp';
import { localAddress, parseConfig, USAGE } from './config.js';

const require = createRequire(import.meta.url);

interface Part {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

function appMain(pkg: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'dist', 'main.js');
}

async function main(): Promise<void> {
  const outcome = parseConfig(process.argv.slice(2), process.env, process.stderr.isTTY);
  if (outcome.kind === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (outcome.kind === 'error') {
    process.stderr.write(`raspy-house: ${outcome.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { config } = outcome;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, component: 'house' });
  const parts: Part[] = [];
  let stopping = false;

  /** Re-emits a child's JSON log line through this process's logger. */
  const relay = (name: string, line: string, onEntry: (entry: Record<string, unknown>) => void): void => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      logger.child(name).info(line);
      return;
    }
    onEntry(entry);
    const { time: _time, level, component, msg, ...fields } = entry;
    const log: Logger = logger.child(typeof component === 'string' ? component : name);
    const method = (['debug', 'info', 'warn', 'error'] as LogLevel[]).includes(level as LogLevel) ? (level as LogLevel) : 'info';
    log[method](String(msg), fields);
  };

  const start = (name: string, pkg: string, args: string[], ready: (entry: Record<string, unknown>) => boolean): Promise<Record<string, unknown>[]> => {
    const child = spawn(process.execPath, [appMain(pkg), ...args, '--log-format', 'json', '--log-level', config.logLevel], {
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    parts.push({ name, child, exited });
    const seen: Record<string, unknown>[] = [];
    return new Promise((resolve, reject) => {
      let isReady = false;
      createInterface({ input: child.stderr! }).on('line', (line) =>
        relay(name, line, (entry) => {
          seen.push(entry);
          if (!isReady && ready(entry)) {
            isReady = true;
            resolve(seen);
          }
        }),
      );
      void exited.then((code) => {
        if (!isReady) reject(new Error(`${name} exited with ${code} while starting`));
        else if (!stopping) {
          logger.error(`${name} stopped unexpectedly, stopping the house`, { code });
          stop('child exit', 1);
        }
      });
    });
  };

  const stop = (reason: string, code = 0): void => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping the house', { reason });
    for (const p of parts) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    void Promise.all(parts.map((p) => p.exited)).then((codes) => {
      const failed = codes.some((c) => c !== 0 && c !== null);
      process.exitCode = code !== 0 || failed ? 1 : 0;
      logger.info('house stopped');
    });
  };
  let signals = 0;
  const onSignal = (signal: string): void => {
    if (++signals > 1) {
      logger.warn('second signal, killing everything');
      for (const p of parts) p.child.kill('SIGKILL');
      process.exit(1);
    }
    stop(signal);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  try {
    const brokerLines = await start(
      'broker',
      'raspy-broker',
      ['--endpoint', config.endpoint, '--kv-port', String(config.kvPort), '--kv-data', join(config.dataDir, 'kv')],
      (e) => e.msg === 'raspy-broker running',
    );
    const mdp = brokerLines.find((e) => e.msg === 'broker listening') as { endpoints: string[] };
    const kv = brokerLines.find((e) => e.msg === 'key/value server listening') as { snapshot: string } | undefined;
    const broker = localAddress(mdp.endpoints[0] as string);
    if (stopping) return;
    await start('core', 'raspy-core', ['--broker', broker, '--data', join(config.dataDir, 'core')], (e) => e.msg === 'raspy-core running');
    if (stopping) return;
    logger.info('house running', {
      broker,
      kv: kv === undefined ? null : localAddress(kv.snapshot),
      data: config.dataDir,
      stop: 'Ctrl-C',
    });
  } catch (err) {
    logger.error('the house could not start', { error: err as Error });
    stop('start failed', 1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`raspy-house: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
