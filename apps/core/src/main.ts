/**
 * `raspy-core`: Titanic and the settings store against a broker, until
 * SIGINT or SIGTERM.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createLogger } from '@raspy/mdp';
import { readFile } from 'node:fs/promises';
import { HistoryService, HistoryStore, recordDevices } from '@raspy/devices';
import { KvClient } from '@raspy/kv';
import { ScenarioService } from '@raspy/scenarios';
import { StoreService, TitanicServer } from '@raspy/titanic';
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
    process.stdout.write(`raspy-core ${version}\n`);
    return;
  }
  if (outcome.kind === 'error') {
    process.stderr.write(`raspy-core: ${outcome.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { config } = outcome;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, component: 'raspy-core' });
  if (config.dataDirWarning !== null) logger.warn(config.dataDirWarning);
  const titanic = new TitanicServer({
    broker: config.broker,
    dataDir: join(config.dataDir, 'titanic'),
    heartbeatInterval: config.heartbeatInterval,
    logger: logger.child('titanic'),
  });
  const store = new StoreService({
    broker: config.broker,
    dataDir: join(config.dataDir, 'store'),
    heartbeatInterval: config.heartbeatInterval,
    logger: logger.child('store'),
  });

  let examples: unknown;
  if (config.examples !== undefined) {
    try {
      examples = JSON.parse(await readFile(config.examples, 'utf8'));
    } catch (err) {
      logger.warn('example scenarios not read', { file: config.examples, error: err as Error });
    }
  }
  const scenarios = new ScenarioService({
    host: config.host,
    broker: config.broker,
    kv: config.kv,
    ...(config.location === undefined ? {} : { location: config.location }),
    ...(config.timezone === undefined ? {} : { timezone: config.timezone }),
    ...(examples === undefined ? {} : { examples }),
    heartbeatInterval: config.heartbeatInterval,
    logger,
  });

  // The tree: device readings for the history; the core's own figures under /system/.
  const kv = new KvClient({ servers: config.kv, subtree: '/device/', logger: logger.child('kv') });
  const startedAt = Date.now();
  const publishSystem = (): void => {
    kv.setJson(`/system/${config.host}/core`, { version, node: process.version, pid: process.pid, startedAt, titanic: titanic.stats(), ts: Date.now() }, { ttl: 15 }).catch(() => {});
  };
  let systemTimer: NodeJS.Timeout | undefined;

  // The history of device values: recorded from the tree, served as <host>.core.history.
  const history =
    config.historyDays === 0
      ? null
      : (() => {
          const store = new HistoryStore({
            dir: join(config.dataDir, 'history'),
            retentionDays: config.historyDays,
            maxBytes: config.historyMaxMb * 1024 * 1024,
            logger: logger.child('history'),
          });
          const service = new HistoryService({
            broker: config.broker,
            service: `${config.host}.core.history`,
            store,
            heartbeatInterval: config.heartbeatInterval,
            logger: logger.child('history'),
          });
          let unrecord = (): void => {};
          return {
            async start(): Promise<void> {
              await store.start();
              unrecord = recordDevices(kv, store);
              await service.start();
            },
            async stop(): Promise<void> {
              unrecord();
              await service.stop();
              await store.stop();
            },
          };
        })();
  const stopHistory = async (): Promise<void> => {
    clearInterval(systemTimer);
    await history?.stop();
    await kv.close();
  };

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
    stopping = scenarios.stop().then(() => Promise.all([titanic.stop(), store.stop(), stopHistory()])).then(
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
    await titanic.start();
    await store.start();
    await scenarios.start();
    await history?.start();
    // The key/value server may come later: the client keeps trying.
    kv.start({ timeout: 5000 }).then(publishSystem, (err: unknown) => logger.warn('key/value server not reachable yet', { error: err as Error }));
    systemTimer = setInterval(publishSystem, 5000);
  } catch (err) {
    logger.error('cannot start the core', { error: err as Error, dataDir: config.dataDir });
    process.exitCode = 1;
    await Promise.allSettled([scenarios.stop(), titanic.stop(), store.stop(), stopHistory()]);
    process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
    return;
  }
  if (stopping !== null) return;
  // Run by raspy-house: stop when it goes away (its end of our stdin closes).
  if (process.env.RASPY_STOP_WITH_PARENT === '1') {
    process.stdin.on('end', () => stop('parent gone')).on('error', () => stop('parent gone'));
    process.stdin.resume();
  }
  logger.info('raspy-core running', { version, pid: process.pid, broker: config.broker, dataDir: config.dataDir, host: config.host });
}

main().catch((err: unknown) => {
  process.stderr.write(`raspy-core: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
