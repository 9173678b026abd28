/**
 * `raspy-sim`: a device server for a simulated house. This file is the model
 * a third party copies for a device server of their own: read a
 * configuration, make the devices from a registry, run a DeviceServer, stop
 * on a signal. Everything else lives in the libraries.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { DeviceRegistry, DeviceServer, registerSimulatedDevices, validateServerConfig } from '@raspy/devices';
import { createLogger } from '@raspy/mdp';
import { defaultHouseFile, parseConfig, USAGE } from './config.js';

const require = createRequire(import.meta.url);
const version = (require('../package.json') as { version: string }).version;

async function main(): Promise<void> {
  const outcome = parseConfig(process.argv.slice(2), process.env, defaultHouseFile(fileURLToPath(import.meta.url)));
  if (outcome.kind === 'help') return void process.stdout.write(USAGE);
  if (outcome.kind === 'version') return void process.stdout.write(`raspy-sim ${version}\n`);
  if (outcome.kind === 'error') {
    process.stderr.write(`raspy-sim: ${outcome.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { config } = outcome;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, component: 'raspy-sim' });

  // 1. The configuration: which host and server, which devices.
  let house;
  try {
    house = validateServerConfig(JSON.parse(await readFile(config.file, 'utf8')), config.file);
  } catch (err) {
    logger.error('cannot use the house file', { file: config.file, error: err as Error });
    process.exitCode = 1;
    return;
  }
  // 2. The devices, made by the kinds registered at start-up (add your own here).
  const registry = registerSimulatedDevices(new DeviceRegistry());
  let devices;
  try {
    devices = house.devices.map((d) => registry.create(d));
  } catch (err) {
    logger.error('invalid device in the house file', { file: config.file, error: err as Error });
    process.exitCode = 1;
    return;
  }
  // 3. The server: MDP service, key/value publishing, availability, stored configuration.
  const server = new DeviceServer({
    host: config.host ?? house.host,
    server: house.server,
    devices,
    broker: config.broker,
    kv: config.kv,
    heartbeatInterval: config.heartbeatInterval,
    logger,
  });
  // 4. Stop cleanly on Ctrl-C or SIGTERM (devices show as offline at once).
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
  await server.start();
  // Run by raspy-house: stop when it goes away (its end of our stdin closes).
  if (process.env.RASPY_STOP_WITH_PARENT === '1') {
    process.stdin.on('end', () => stop('parent gone')).on('error', () => stop('parent gone'));
    process.stdin.resume();
  }
  if (!stopping) logger.info('raspy-sim running', { version, pid: process.pid, service: server.service, devices: devices.length });
}

main().catch((err: unknown) => {
  process.stderr.write(`raspy-sim: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
