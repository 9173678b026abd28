/**
 * `raspy-onewire`: the 1-Wire temperature probes of this board as RasPy
 * devices, until SIGINT or SIGTERM.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { createLogger } from '@raspy/mdp';
import { OneWireServer, OwserverSource, SysfsSource, type TemperatureSource } from '@raspy/onewire';
import { parseConfig, USAGE } from './config.js';

const require = createRequire(import.meta.url);
const version = (require('../package.json') as { version: string }).version;

async function main(): Promise<void> {
  const outcome = parseConfig(process.argv.slice(2), process.env);
  if (outcome.kind === 'help') return void process.stdout.write(USAGE);
  if (outcome.kind === 'version') return void process.stdout.write(`raspy-onewire ${version}\n`);
  if (outcome.kind === 'error') {
    process.stderr.write(`raspy-onewire: ${outcome.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { config } = outcome;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, component: 'raspy-onewire' });
  const source: TemperatureSource =
    config.source.kind === 'sysfs'
      ? new SysfsSource({ root: config.source.root, logger })
      : new OwserverSource({ host: config.source.host, port: config.source.port, logger });
  const server = new OneWireServer({
    host: config.host,
    source,
    broker: config.broker,
    kv: config.kv,
    poll: config.poll,
    heartbeatInterval: config.heartbeatInterval,
    logger,
  });
  let stopping = false;
  let firstSignal = 0;
  const stop = (signal: string): void => {
    // npm and wrappers forward the terminal's signal too: a repeat within 2 s is the same request.
    if (stopping && Date.now() - firstSignal < 2000) return;
    if (stopping) process.exit(1);
    stopping = true;
    firstSignal = Date.now();
    logger.info('stopping', { signal });
    server.stop().then(
      () => logger.info('bye'),
      (err: unknown) => {
        logger.error('error while stopping', { error: err as Error });
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  await server.start();
  if (!stopping) {
    logger.info('raspy-onewire running', {
      version,
      pid: process.pid,
      service: server.server.service,
      source: `${source.kind} ${source.location}`,
      probes: server.server.describe().length,
    });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`raspy-onewire: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
