/**
 * Command-line flags and environment variables of `raspy-broker`, parsed
 * into broker options. Pure: no I/O, so every rule is unit-tested.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { isLogLevel, type BrokerOptions, type LogLevel } from '@raspy/mdp';

/** Where and how the key/value server runs; null when it is off. */
export interface KvAppConfig {
  host: string;
  port: number;
  dataDir: string | undefined;
}

/** What the broker app runs with. */
export interface BrokerAppConfig {
  broker: BrokerOptions & { endpoint: string[] };
  kv: KvAppConfig | null;
  logLevel: LogLevel | 'silent';
  logFormat: 'json' | 'pretty' | undefined;
}

/** Outcome of parsing: a config, a request for help/version, or an error for the user. */
export type ParseOutcome =
  | { kind: 'run'; config: BrokerAppConfig }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'error'; message: string };

export const USAGE = `Usage: raspy-broker [options]

Runs the RasPy Majordomo broker (MDP v0.1 and v0.2 on one socket, with MMI)
and the key/value tree server (Clone, 12/CHP) next to it.

Options (each has an environment variable; flags win):
  --endpoint <ep>           bind address, repeatable          RASPY_BROKER_ENDPOINT (comma-separated)
                            default tcp://*:5514
  --heartbeat-interval <ms> heartbeat interval                RASPY_HEARTBEAT_INTERVAL   (2500)
  --heartbeat-liveness <n>  missed heartbeats before a worker is dead
                                                              RASPY_HEARTBEAT_LIVENESS   (3)
  --request-timeout <ms>    how long a request waits for a worker
                                                              RASPY_REQUEST_TIMEOUT      (10000)
  --max-queue <n>           most requests waiting per service RASPY_MAX_QUEUE            (1000)
  --max-pending <n>         most requests waiting in all      RASPY_MAX_PENDING          (100000)
  --kv-host <addr>          key/value server interface        RASPY_KV_HOST              (tcp://*)
  --kv-port <port>          key/value snapshot port P (P+1, P+2 follow; 0: any free)
                                                              RASPY_KV_PORT              (5515)
  --kv-data <dir>           keep the key/value tree in this directory across restarts
                                                              RASPY_KV_DATA              (none)
  --no-kv                   do not run the key/value server   RASPY_KV=off
  --log-level <level>       debug, info, warn, error, silent  RASPY_LOG_LEVEL            (info)
  --log-format <format>     json or pretty                    RASPY_LOG_FORMAT  (pretty on a terminal)
  -h, --help                show this help
  -v, --version             show the version
`;

const NUMERIC = {
  'heartbeat-interval': { env: 'RASPY_HEARTBEAT_INTERVAL', key: 'heartbeatInterval', integer: false },
  'heartbeat-liveness': { env: 'RASPY_HEARTBEAT_LIVENESS', key: 'heartbeatLiveness', integer: true },
  'request-timeout': { env: 'RASPY_REQUEST_TIMEOUT', key: 'requestTimeout', integer: false },
  'max-queue': { env: 'RASPY_MAX_QUEUE', key: 'maxQueuePerService', integer: true },
  'max-pending': { env: 'RASPY_MAX_PENDING', key: 'maxPendingRequests', integer: true },
} as const;

/**
 * Parses argv (without node and the script) and the environment.
 *
 * @param argv - command-line arguments
 * @param env - environment variables
 * @returns what to do
 */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseOutcome {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        endpoint: { type: 'string', multiple: true },
        'heartbeat-interval': { type: 'string' },
        'heartbeat-liveness': { type: 'string' },
        'request-timeout': { type: 'string' },
        'max-queue': { type: 'string' },
        'max-pending': { type: 'string' },
        'kv-host': { type: 'string' },
        'kv-port': { type: 'string' },
        'kv-data': { type: 'string' },
        'no-kv': { type: 'boolean' },
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

  const endpoints =
    (values.endpoint as string[] | undefined) ??
    (env.RASPY_BROKER_ENDPOINT ?? 'tcp://*:5514')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  for (const ep of endpoints) {
    if (!/^(tcp|ipc|inproc):\/\/.+/.test(ep)) {
      return { kind: 'error', message: `--endpoint must look like tcp://host:port or ipc://path, got "${ep}"` };
    }
  }
  if (endpoints.length === 0) return { kind: 'error', message: 'at least one --endpoint is needed' };

  const broker: BrokerOptions & { endpoint: string[] } = { endpoint: endpoints };
  for (const [flag, { env: name, key, integer }] of Object.entries(NUMERIC)) {
    const raw = (values[flag] as string | undefined) ?? env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      return { kind: 'error', message: `--${flag} (${name}) must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"` };
    }
    broker[key] = n;
  }

  let kv: KvAppConfig | null = null;
  const kvOff = values['no-kv'] === true || /^(off|false|0|no)$/i.test(env.RASPY_KV ?? '');
  if (!kvOff) {
    const host = (values['kv-host'] as string | undefined) ?? env.RASPY_KV_HOST ?? 'tcp://*';
    if (!/^tcp:\/\/[^:/]+$/.test(host)) {
      return { kind: 'error', message: `--kv-host must look like tcp://interface (no port), got "${host}"` };
    }
    const rawPort = (values['kv-port'] as string | undefined) ?? env.RASPY_KV_PORT ?? '5515';
    const port = Number(rawPort);
    if (!Number.isInteger(port) || port < 0 || port > 65533) {
      return { kind: 'error', message: `--kv-port (RASPY_KV_PORT) must be a port number up to 65533, or 0, got "${rawPort}"` };
    }
    const dataDir = (values['kv-data'] as string | undefined) ?? env.RASPY_KV_DATA;
    kv = { host, port, dataDir: dataDir === '' ? undefined : dataDir };
  }

  const logLevel = (values['log-level'] as string | undefined) ?? env.RASPY_LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevel)) {
    return { kind: 'error', message: `--log-level must be debug, info, warn, error or silent, got "${logLevel}"` };
  }
  const logFormat = (values['log-format'] as string | undefined) ?? env.RASPY_LOG_FORMAT;
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'pretty') {
    return { kind: 'error', message: `--log-format must be json or pretty, got "${logFormat}"` };
  }
  return { kind: 'run', config: { broker, kv, logLevel, logFormat } };
}
