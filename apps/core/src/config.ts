/**
 * Flags and environment of `raspy-core`. Pure, unit-tested.
 *
 * @module
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isLogLevel, type LogLevel } from '@raspy/mdp';
import { checkDataDir, defaultDataDir } from './data-dir.js';

/** What the core runs with. */
export interface CoreConfig {
  broker: string;
  dataDir: string;
  /** Set when the data directory is in a temporary folder (allowed when given explicitly, with a warning). */
  dataDirWarning: string | null;
  heartbeatInterval: number | undefined;
  logLevel: LogLevel | 'silent';
  logFormat: 'json' | 'pretty' | undefined;
}

export type ParseOutcome = { kind: 'run'; config: CoreConfig } | { kind: 'help' } | { kind: 'version' } | { kind: 'error'; message: string };

export const USAGE = `Usage: raspy-core [options]

Runs the RasPy core next to a broker: Titanic (durable requests, 9/TSP) and
the settings store (titanic.store).

Options (each has an environment variable; flags win):
  --broker <endpoint>       the broker                        RASPY_BROKER  (tcp://127.0.0.1:5514)
  --data <dir>              where Titanic and the settings live
                                                              RASPY_DATA    (~/.local/share/raspy)
  --heartbeat-interval <ms> must match the broker's           RASPY_HEARTBEAT_INTERVAL (2500)
  --log-level <level>       debug, info, warn, error, silent  RASPY_LOG_LEVEL (info)
  --log-format <format>     json or pretty                    RASPY_LOG_FORMAT (pretty on a terminal)
  -h, --help                show this help
  -v, --version             show the version
`;

/**
 * Parses argv (without node and the script) and the environment.
 *
 * @param argv - command-line arguments
 * @param env - environment variables
 * @param defaults - the default data directory (for tests)
 */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  defaults: { dataDir?: string | { error: string } } = {},
): ParseOutcome {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        broker: { type: 'string' },
        data: { type: 'string' },
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
  if (!/^(tcp|ipc|inproc):\/\/.+/.test(broker)) return { kind: 'error', message: `--broker must look like tcp://host:port, got "${broker}"` };

  let dataDir: string;
  let dataDirWarning: string | null = null;
  const explicit = (values.data as string | undefined) ?? env.RASPY_DATA;
  if (explicit !== undefined && explicit !== '') {
    // Given explicitly, a temporary folder is the user's choice: warn only.
    dataDir = resolve(explicit);
    const checked = checkDataDir(dataDir);
    if (typeof checked !== 'string') dataDirWarning = checked.error;
  } else {
    const d = defaults.dataDir ?? defaultDataDir(env);
    if (typeof d !== 'string') return { kind: 'error', message: d.error };
    dataDir = d;
  }

  const rawHb = (values['heartbeat-interval'] as string | undefined) ?? env.RASPY_HEARTBEAT_INTERVAL;
  let heartbeatInterval: number | undefined;
  if (rawHb !== undefined && rawHb !== '') {
    heartbeatInterval = Number(rawHb);
    if (!Number.isFinite(heartbeatInterval) || heartbeatInterval <= 0) {
      return { kind: 'error', message: `--heartbeat-interval must be a positive number of milliseconds, got "${rawHb}"` };
    }
  }
  const logLevel = (values['log-level'] as string | undefined) ?? env.RASPY_LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevel)) return { kind: 'error', message: `--log-level must be debug, info, warn, error or silent, got "${logLevel}"` };
  const logFormat = (values['log-format'] as string | undefined) ?? env.RASPY_LOG_FORMAT;
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'pretty') {
    return { kind: 'error', message: `--log-format must be json or pretty, got "${logFormat}"` };
  }
  return { kind: 'run', config: { broker, dataDir, dataDirWarning, heartbeatInterval, logLevel, logFormat } };
}
