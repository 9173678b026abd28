/**
 * `raspy-web`: the web app, until SIGINT or SIGTERM.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { createLogger } from '@raspy/mdp';
import { Auth } from './auth.js';
import { parseConfig, USAGE } from './config.js';
import { House } from './house.js';
import { createWebServer, versions } from './server.js';

const require = createRequire(import.meta.url);
const version = (require('../package.json') as { version: string }).version;

/** The URLs people can open: localhost, and the machine's addresses when bound to all. */
function urls(bind: string, port: number): string[] {
  const all = bind === '0.0.0.0' || bind === '::';
  const out = [`http://${all ? 'localhost' : bind.includes(':') ? `[${bind}]` : bind}:${port}/`];
  if (all) {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') out.push(`http://${a.address}:${port}/`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const outcome = parseConfig(process.argv.slice(2), process.env);
  if (outcome.kind === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (outcome.kind === 'version') {
    process.stdout.write(`raspy-web ${version}\n`);
    return;
  }
  if (outcome.kind === 'error') {
    process.stderr.write(`raspy-web: ${outcome.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { config } = outcome;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, component: 'raspy-web' });
  if (config.dataDirWarning !== null) logger.warn(config.dataDirWarning);

  let auth: Auth;
  try {
    auth = await Auth.open(config.dataDir, { logger: logger.child('auth') });
    if (config.adminPassword !== undefined) await auth.setPassword(config.adminPassword);
  } catch (err) {
    logger.error('cannot read the web credentials', { error: (err as Error).message, dataDir: config.dataDir });
    process.exitCode = 1;
    return;
  }
  const house = new House({ broker: config.broker, kv: config.kv, ...(config.coreHost !== undefined ? { coreHost: config.coreHost } : {}), logger });
  const app = await createWebServer({ house, auth, logger, versions: { 'raspy-web': version, ...versions() } });

  let stopping: Promise<void> | null = null;
  let firstSignal = 0;
  const stop = (signal: string): void => {
    if (stopping !== null && Date.now() - firstSignal < 2000) return;
    if (stopping !== null) {
      logger.warn('second signal, exiting now', { signal });
      process.exit(1);
    }
    logger.info('stopping', { signal });
    firstSignal = Date.now();
    stopping = (async () => {
      // WebSockets are closed by the server's close (they'd keep it open otherwise).
      await app.close();
      await house.close();
      await auth.close();
    })().then(
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
    await house.start();
    await app.listen({ host: config.bind, port: config.port });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    logger.error(e.code === 'EADDRINUSE' ? `port ${config.port} is in use (another raspy-web?); choose another with --port` : 'cannot start the web app', { error: e.message });
    process.exitCode = 1;
    await app.close().catch(() => {});
    await house.close().catch(() => {});
    await auth.close();
    process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
    return;
  }
  if (stopping !== null) return;
  if (process.env.RASPY_STOP_WITH_PARENT === '1') {
    process.stdin.on('end', () => stop('parent gone')).on('error', () => stop('parent gone'));
    process.stdin.resume();
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const list = urls(config.bind, port);
  logger.info('raspy-web running', { version, pid: process.pid, url: list[0], urls: list, setupRequired: auth.setupRequired, broker: config.broker, kv: config.kv });
}

main().catch((err: unknown) => {
  process.stderr.write(`raspy-web: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
