/**
 * `raspy-broker`: runs the Majordomo broker until SIGINT or SIGTERM.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { MdpBroker, createLogger } from '@raspy/mdp';
import { KvServer } from '@raspy/kv';
import { parseConfig, USAGE } from './config.js';

const require = createRequire(import.meta.url);
const version = (require('../package.json') as { version: string }).version;

async function main(): Promise<void> {
  const outcome = parseConfig(process.argv.slice(2), process.env);
  if (outcome.kind === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (outcome.kind === 'version') {
    process.stdout.write(`raspy-broker ${version}\n`);
    return;
  }
  if (outcome.kind === 'error') {
    process.stderr.write(`raspy-broker: ${outcome.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { config } = outcome;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, component: 'raspy-broker' });
  const broker = new MdpBroker({ ...config.broker, logger: logger.child('broker') });
  const kv = config.kv === null ? null : new KvServer({ ...config.kv, logger: logger.child('kv') });

  // Signals are handled from the start, so one that comes while starting
  // still stops everything cleanly.
  let stopping: Promise<void> | null = null;
  let firstSignal = 0;
  const stop = (signal: string): void => {
    // npm and wrappers forward the terminal's signal too: a repeat within 2 s is the same request.
    if (stopping !== null && Date.now() - firstSignal < 2000) return;
    if (stopping !== null) {
      logger.warn('second signal, exiting now', { signal });
      process.exit(1);
    }
    logger.info('stopping', { signal });
    firstSignal = Date.now();
    stopping = Promise.all([broker.stop(), kv?.stop()]).then(
      () => {
        logger.info('bye');
        process.stdin.destroy();
      },
      (err: unknown) => {
        logger.error('error while stopping', { error: err as Error });
        process.exitCode = 1;
        process.stdin.destroy();
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  try {
    await broker.start();
  } catch (err) {
    logger.error('cannot start the broker', { error: err as Error, endpoints: config.broker.endpoint });
    process.exitCode = 1;
    process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
    return;
  }
  try {
    if (stopping === null) await kv?.start();
  } catch (err) {
    logger.error('cannot start the key/value server', { error: err as Error, port: config.kv?.port, dataDir: config.kv?.dataDir });
    await broker.stop();
    process.exitCode = 1;
    process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
    return;
  }
  if (stopping !== null) return;
  // Run by raspy-house: stop when it goes away (its end of our stdin closes).
  if (process.env.RASPY_STOP_WITH_PARENT === '1') {
    process.stdin.on('end', () => stop('parent gone')).on('error', () => stop('parent gone'));
    process.stdin.resume();
  }
  logger.info('raspy-broker running', { version, pid: process.pid });
}

main().catch((err: unknown) => {
  process.stderr.write(`raspy-broker: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
