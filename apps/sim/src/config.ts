/**
 * Flags of `raspy-sim`. Pure, unit-tested.
 *
 * @module
 */
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isLogLevel, type LogLevel } from '@raspy/mdp';

/** What the simulated house runs with. */
export interface SimConfig {
  /** The house file (JSON: host, server, devices). */
  file: string;
  broker: string;
  kv: string;
  /** Overrides the file's host id. */
  host: string | undefined;
  heartbeatInterval: number | undefined;
  logLevel: LogLevel | 'silent';
  logFormat: 'json' | 'pretty' | undefined;
}

export type ParseOutcome = { kind: 'run'; config: SimConfig } | { kind: 'help' } | { kind: 'version' } | { kind: 'error'; message: string };

export const USAGE = `Usage: raspy-sim [options]

Runs a simulated house: a device server whose devices (sensors, lights, a TV,
a camera) are described in a JSON file.

Options (each has an environment variable; flags win):
  --config <file>           the house file                    RASPY_SIM_CONFIG (house.json of this app)
  --broker <endpoint>       the broker                        RASPY_BROKER     (tcp://127.0.0.1:5514)
  --kv <endpoint>           the key/value server (port P)     RASPY_KV         (tcp://127.0.0.1:5515)
  --host <id>               host id, instead of the file's    RASPY_HOST
  --heartbeat-interval <ms> must match the broker's           RASPY_HEARTBEAT_INTERVAL (2500)
  --log-level <level>       debug, info, warn, error, silent  RASPY_LOG_LEVEL (info)
  --log-format <format>     json or pretty                    RASPY_LOG_FORMAT (pretty on a terminal)
  -h, --help                show this help
  -v, --version             show the version
`;

/** The house file shipped with the app. */
export function defaultHouseFile(mainFile: string): string {
  return join(dirname(mainFile), '..', 'house.json');
}

/** Parses argv and the environment. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, defaultFile: string): ParseOutcome {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        broker: { type: 'string' },
        kv: { type: 'string' },
        host: { type: 'string' },
        'heartbeat-interval': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }));
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const broker = (values.broker as string | undefined) ?? env.RASPY_BROKER ?? 'tcp://127.0.0.1:5514';
  const kv = (values.kv as string | undefined) ?? env.RASPY_KV ?? 'tcp://127.0.0.1:5515';
  for (const [flag, ep] of [['--broker', broker], ['--kv', kv]] as const) {
    if (!/^tcp:\/\/[^:]+:\d+$/.test(ep)) return { kind: 'error', message: `${flag} must look like tcp://host:port, got "${ep}"` };
  }
  const host = (values.host as string | undefined) ?? env.RASPY_HOST;
  if (host !== undefined && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(host)) return { kind: 'error', message: `--host must be lower-case letters, digits and "-", got "${host}"` };
  const rawHb = (values['heartbeat-interval'] as string | undefined) ?? env.RASPY_HEARTBEAT_INTERVAL;
  const heartbeatInterval = rawHb === undefined || rawHb === '' ? undefined : Number(rawHb);
  if (heartbeatInterval !== undefined && (!Number.isFinite(heartbeatInterval) || heartbeatInterval <= 0)) {
    return { kind: 'error', message: `--heartbeat-interval must be a positive number of milliseconds, got "${rawHb}"` };
  }
  const logLevel = (values['log-level'] as string | undefined) ?? env.RASPY_LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevel)) return { kind: 'error', message: `--log-level must be debug, info, warn, error or silent, got "${logLevel}"` };
  const logFormat = (values['log-format'] as string | undefined) ?? env.RASPY_LOG_FORMAT;
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'pretty') return { kind: 'error', message: `--log-format must be json or pretty, got "${logFormat}"` };
  const file = resolve((values.config as string | undefined) ?? env.RASPY_SIM_CONFIG ?? defaultFile);
  return { kind: 'run', config: { file, broker, kv, host, heartbeatInterval, logLevel, logFormat } };
}
