/**
 * Flags and environment of `raspy-web`. Pure, unit-tested.
 *
 * @module
 */
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkDataDir, defaultDataDir } from '@raspy/devices';
import { isLogLevel, type LogLevel } from '@raspy/mdp';

/** What the web app runs with. */
export interface WebConfig {
  /** Address to listen on (`0.0.0.0` for every interface). */
  bind: string;
  port: number;
  broker: string;
  /** The key/value server (port P). */
  kv: string;
  /** The host id of the core (its services are `<host>.core.*`); found through the broker when not given. */
  coreHost: string | undefined;
  /** Where the password hash, sessions and API tokens are kept. */
  dataDir: string;
  dataDirWarning: string | null;
  /** The admin password from the configuration (`RASPY_ADMIN_PASSWORD`): replaces the stored one at start. */
  adminPassword: string | undefined;
  logLevel: LogLevel | 'silent';
  logFormat: 'json' | 'pretty' | undefined;
}

export type ParseOutcome = { kind: 'run'; config: WebConfig } | { kind: 'help' } | { kind: 'version' } | { kind: 'error'; message: string };

export const USAGE = `Usage: raspy-web [options]

Serves the RasPy web app: the live house in a browser, a JSON API and a
WebSocket of changes (see API.md).

Options (each has an environment variable; flags win):
  --bind <address>          address to listen on              RASPY_WEB_BIND (0.0.0.0)
  --port <port>             port to listen on                 RASPY_WEB_PORT (8514)
  --broker <endpoint>       the broker                        RASPY_BROKER   (tcp://127.0.0.1:5514)
  --kv <endpoint>           the key/value server (port P)     RASPY_KV       (tcp://127.0.0.1:5515)
  --core-host <id>          the core's host id                RASPY_CORE_HOST (found through the broker)
  --data <dir>              where the password hash, sessions and tokens live
                                                              RASPY_DATA     (~/.local/share/raspy, then web/)
  --log-level <level>       debug, info, warn, error, silent  RASPY_LOG_LEVEL (info)
  --log-format <format>     json or pretty                    RASPY_LOG_FORMAT (pretty on a terminal)
  -h, --help                show this help
  -v, --version             show the version

The admin password is created in the browser on the first visit, or taken
from RASPY_ADMIN_PASSWORD (at least 10 characters; it replaces the stored one).
`;

/**
 * Parses argv (without node and the script) and the environment.
 *
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
        bind: { type: 'string' },
        port: { type: 'string' },
        broker: { type: 'string' },
        kv: { type: 'string' },
        'core-host': { type: 'string' },
        data: { type: 'string' },
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

  const bind = (values.bind as string | undefined) ?? env.RASPY_WEB_BIND ?? '0.0.0.0';
  if (!/^[A-Za-z0-9.:-]+$/.test(bind)) return { kind: 'error', message: `--bind must be an address such as 0.0.0.0, 127.0.0.1 or ::, got "${bind}"` };
  const rawPort = (values.port as string | undefined) ?? env.RASPY_WEB_PORT ?? '8514';
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) return { kind: 'error', message: `--port must be a port number (0 picks a free one), got "${rawPort}"` };
  const broker = (values.broker as string | undefined) ?? env.RASPY_BROKER ?? 'tcp://127.0.0.1:5514';
  if (!/^(tcp|ipc|inproc):\/\/.+/.test(broker)) return { kind: 'error', message: `--broker must look like tcp://host:port, got "${broker}"` };
  const kv = (values.kv as string | undefined) ?? env.RASPY_KV ?? 'tcp://127.0.0.1:5515';
  if (!/^tcp:\/\/[^:]+:\d+$/.test(kv)) return { kind: 'error', message: `--kv must look like tcp://host:port, got "${kv}"` };
  const coreHost = (values['core-host'] as string | undefined) ?? env.RASPY_CORE_HOST;
  if (coreHost !== undefined && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(coreHost)) {
    return { kind: 'error', message: `--core-host must be lower-case letters, digits and "-", got "${coreHost}"` };
  }

  let dataDir: string;
  let dataDirWarning: string | null = null;
  const explicit = (values.data as string | undefined) ?? env.RASPY_DATA;
  if (explicit !== undefined && explicit !== '') {
    dataDir = join(resolve(explicit), 'web');
    const checked = checkDataDir(dataDir);
    if (typeof checked !== 'string') dataDirWarning = checked.error;
  } else {
    const d = defaults.dataDir ?? defaultDataDir(env);
    if (typeof d !== 'string') return { kind: 'error', message: d.error };
    dataDir = join(d, 'web');
  }

  const adminPassword = env.RASPY_ADMIN_PASSWORD === '' ? undefined : env.RASPY_ADMIN_PASSWORD;
  if (adminPassword !== undefined && adminPassword.length < 10) return { kind: 'error', message: 'RASPY_ADMIN_PASSWORD must have at least 10 characters' };
  const logLevel = (values['log-level'] as string | undefined) ?? env.RASPY_LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevel)) return { kind: 'error', message: `--log-level must be debug, info, warn, error or silent, got "${logLevel}"` };
  const logFormat = (values['log-format'] as string | undefined) ?? env.RASPY_LOG_FORMAT;
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'pretty') return { kind: 'error', message: `--log-format must be json or pretty, got "${logFormat}"` };
  return { kind: 'run', config: { bind, port, broker, kv, coreHost, dataDir, dataDirWarning, adminPassword, logLevel, logFormat } };
}
