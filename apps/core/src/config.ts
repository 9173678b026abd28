/**
 * Flags and environment of `raspy-core`. Pure, unit-tested.
 *
 * @module
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkDataDir, defaultDataDir } from '@raspy/devices';
import { isLogLevel, type LogLevel } from '@raspy/mdp';

/** What the core runs with. */
export interface CoreConfig {
  broker: string;
  /** The key/value server (port P). */
  kv: string;
  /** This house's host id: the scenario services are `<host>.core.scenarios` and `<host>.core.cron`. */
  host: string;
  /** For sun triggers. */
  location: { latitude: number; longitude: number } | undefined;
  /** For time conditions and cron jobs. */
  timezone: string | undefined;
  /** A scenario bundle imported on the first start. */
  examples: string | undefined;
  dataDir: string;
  /** Days of device history kept (0 records nothing). */
  historyDays: number;
  /** Most megabytes of device history kept; the oldest days go first. */
  historyMaxMb: number;
  /** Set when the data directory is in a temporary folder (allowed when given explicitly, with a warning). */
  dataDirWarning: string | null;
  heartbeatInterval: number | undefined;
  logLevel: LogLevel | 'silent';
  logFormat: 'json' | 'pretty' | undefined;
}

/** A host id from the machine's name: lower case, letters, digits and "-". */
export function hostIdFrom(name: string): string {
  const id = (name.split('.')[0] ?? '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return id === '' ? 'pi' : id;
}

export type ParseOutcome = { kind: 'run'; config: CoreConfig } | { kind: 'help' } | { kind: 'version' } | { kind: 'error'; message: string };

export const USAGE = `Usage: raspy-core [options]

Runs the RasPy core next to a broker: Titanic (durable requests, 9/TSP), the
settings store (titanic.store), cron jobs and scenarios.

Options (each has an environment variable; flags win):
  --broker <endpoint>       the broker                        RASPY_BROKER  (tcp://127.0.0.1:5514)
  --data <dir>              where Titanic and the settings live
                                                              RASPY_DATA    (~/.local/share/raspy)
  --kv <endpoint>           the key/value server (port P)     RASPY_KV      (tcp://127.0.0.1:5515)
  --host <id>               this house's host id              RASPY_HOST    (the machine's name)
  --latitude <deg>          the house's location, for         RASPY_LATITUDE
  --longitude <deg>         sunrise and sunset triggers       RASPY_LONGITUDE
  --timezone <zone>         for time conditions and cron      RASPY_TIMEZONE (the system's)
  --examples <file>         scenarios imported on first start RASPY_SCENARIO_EXAMPLES
  --history-days <n>        days of device history kept, 0 off RASPY_HISTORY_DAYS (7)
  --history-max-mb <n>      most megabytes of history kept    RASPY_HISTORY_MAX_MB (100)
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
  defaults: { dataDir?: string | { error: string }; machine?: string } = {},
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
        kv: { type: 'string' },
        host: { type: 'string' },
        latitude: { type: 'string' },
        longitude: { type: 'string' },
        timezone: { type: 'string' },
        examples: { type: 'string' },
        'history-days': { type: 'string' },
        'history-max-mb': { type: 'string' },
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

  const kv = (values.kv as string | undefined) ?? env.RASPY_KV ?? 'tcp://127.0.0.1:5515';
  if (!/^tcp:\/\/[^:]+:\d+$/.test(kv)) return { kind: 'error', message: `--kv must look like tcp://host:port, got "${kv}"` };
  const host = (values.host as string | undefined) ?? env.RASPY_HOST ?? hostIdFrom(defaults.machine ?? hostname());
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(host)) return { kind: 'error', message: `--host must be lower-case letters, digits and "-", got "${host}"` };
  const rawLat = (values.latitude as string | undefined) ?? env.RASPY_LATITUDE;
  const rawLon = (values.longitude as string | undefined) ?? env.RASPY_LONGITUDE;
  let location: CoreConfig['location'];
  if (rawLat !== undefined || rawLon !== undefined) {
    const latitude = Number(rawLat);
    const longitude = Number(rawLon);
    if (rawLat === undefined || rawLon === undefined || !Number.isFinite(latitude) || !Number.isFinite(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180) {
      return { kind: 'error', message: `--latitude and --longitude go together: degrees, -90..90 and -180..180, got "${rawLat}" and "${rawLon}"` };
    }
    location = { latitude, longitude };
  }
  const timezone = (values.timezone as string | undefined) ?? env.RASPY_TIMEZONE;
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      return { kind: 'error', message: `--timezone "${timezone}" is not a time zone known to this system (e.g. Europe/Paris)` };
    }
  }
  const examples = (values.examples as string | undefined) ?? env.RASPY_SCENARIO_EXAMPLES;
  const rawDays = (values['history-days'] as string | undefined) ?? env.RASPY_HISTORY_DAYS ?? '7';
  const historyDays = Number(rawDays);
  if (!Number.isInteger(historyDays) || historyDays < 0 || historyDays > 3650) {
    return { kind: 'error', message: `--history-days must be a whole number of days from 0 to 3650, got "${rawDays}"` };
  }
  const rawMb = (values['history-max-mb'] as string | undefined) ?? env.RASPY_HISTORY_MAX_MB ?? '100';
  const historyMaxMb = Number(rawMb);
  if (!Number.isFinite(historyMaxMb) || historyMaxMb <= 0) {
    return { kind: 'error', message: `--history-max-mb must be a positive number of megabytes, got "${rawMb}"` };
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
  return {
    kind: 'run',
    config: { broker, kv, host, location, timezone, examples: examples === '' ? undefined : examples, dataDir, historyDays, historyMaxMb, dataDirWarning, heartbeatInterval, logLevel, logFormat },
  };
}
