/**
 * `raspy-house`: starts the broker (with the key/value tree), the core and a
 * simulated house as child processes, shows their logs as one stream, and
 * stops them together.
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
    // Each part in its own process group: a Ctrl-C in the terminal reaches
    // the house only, which stops the parts one by one, the last started
    // first. If the house dies, a part sees its stdin close and stops.
    const child = spawn(process.execPath, [appMain(pkg), ...args, '--log-format', 'json', '--log-level', config.logLevel], {
      stdio: ['pipe', 'inherit', 'pipe'],
      detached: true,
      env: { ...process.env, RASPY_STOP_WITH_PARENT: '1' },
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
    void (async () => {
      let failed = false;
      // Devices first (they say "offline" through the tree), the broker last.
      for (const p of [...parts].reverse()) {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const result = await Promise.race([p.exited, new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), 10_000)))]);
        clearTimeout(timer);
        if (result === 'late') {
          logger.warn(`${p.name} did not stop within 10 s, killing it`);
          p.child.kill('SIGKILL');
          await p.exited;
          failed = true;
        } else if (result !== 0 && result !== null) failed = true;
        p.child.stdin?.destroy();
      }
      process.exitCode = code !== 0 || failed ? 1 : 0;
      logger.info('house stopped');
    })();
  };
  let firstSignal = 0;
  const onSignal = (signal: string): void => {
    // npm and wrappers forward the terminal's signal too: a repeat within 2 s is the same request.
    if (firstSignal !== 0 && Date.now() - firstSignal < 2000) return;
    if (firstSignal !== 0) {
      logger.warn('second signal, killing everything');
      for (const p of parts) p.child.kill('SIGKILL');
      process.exit(1);
    }
    firstSignal = Date.now();
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
    const coreArgs = ['--broker', broker, '--data', join(config.dataDir, 'core'), '--host', 'pi1'];
    if (kv !== undefined) coreArgs.push('--kv', localAddress(kv.snapshot));
    if (config.simulated) {
      // The simulated house comes with example scenarios (imported on the first start)
      // and, unless a location is configured, a demo one for its sunset scenario.
      coreArgs.push('--examples', join(dirname(require.resolve('raspy-sim/package.json')), 'scenarios.json'));
      if (process.env.RASPY_LATITUDE === undefined) coreArgs.push('--latitude', '48.8566', '--longitude', '2.3522');
    }
    await start('core', 'raspy-core', coreArgs, (e) => e.msg === 'raspy-core running');
    if (stopping) return;
    if (config.simulated && kv !== undefined) {
      const simArgs = ['--broker', broker, '--kv', localAddress(kv.snapshot)];
      if (config.simFile !== undefined) simArgs.push('--config', config.simFile);
      await start('sim', 'raspy-sim', simArgs, (e) => e.msg === 'raspy-sim running');
      if (stopping) return;
    }
    let web: { url: string; urls: string[]; setupRequired: boolean } | undefined;
    if (config.web && kv !== undefined) {
      const webArgs = ['--broker', broker, '--kv', localAddress(kv.snapshot), '--core-host', 'pi1', '--data', config.dataDir, '--bind', config.webBind, '--port', String(config.webPort)];
      const webLines = await start('web', 'raspy-web', webArgs, (e) => e.msg === 'raspy-web running');
      web = webLines.find((e) => e.msg === 'raspy-web running') as typeof web;
      if (stopping) return;
    }
    logger.info('house running', {
      ...(web !== undefined ? { open: web.url } : {}),
      broker,
      kv: kv === undefined ? null : localAddress(kv.snapshot),
      data: config.dataDir,
      stop: 'Ctrl-C',
    });
    if (web !== undefined && config.logFormat === 'pretty') {
      // The one thing a person needs: where to go.
      process.stderr.write(`\n  RasPy is running. Open ${web.urls.join(' or ')} in a browser${web.setupRequired ? ' and create the admin password' : ''}.\n  Ctrl-C stops the house.\n\n`);
    }
  } catch (err) {
    logger.error('the house could not start', { error: err as Error });
    stop('start failed', 1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`raspy-house: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
