/**
 * Flags of `raspy-house`. Pure, unit-tested.
 *
 * @module
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isLogLevel, type LogLevel } from '@raspy/mdp';

/** What the house runs with. */
export interface HouseConfig {
  /** Data folder; the broker keeps `kv/` in it, the core `core/`. */
  dataDir: string;
  /** Where the broker binds. */
  endpoint: string;
  /** Key/value snapshot port (0: any three free ports). */
  kvPort: number;
  logLevel: LogLevel | 'silent';
  logFormat: 'json' | 'pretty';
  /** Run the simulated house (raspy-sim). */
  simulated: boolean;
  /** The simulated house's file, instead of the one shipped with raspy-sim. */
  simFile: string | undefined;
  /** Run the web app (raspy-web). */
  web: boolean;
  /** Where the web app listens. */
  webBind: string;
  /** The web app's port (0: any free one). */
  webPort: number;
}

export type ParseOutcome = { kind: 'run'; config: HouseConfig } | { kind: 'help' } | { kind: 'error'; message: string };

export const USAGE = `Usage: raspy-house [options]

Runs a whole RasPy house on this machine, each part in its own process: the
broker with the key/value tree (raspy-broker), the core (raspy-core), a
simulated house of devices (raspy-sim) and the web app (raspy-web), whose
address it prints. Ctrl-C stops everything.

Options:
  --data <dir>          data folder (kv/ and core/ inside)   RASPY_HOUSE_DATA  (.raspy)
  --endpoint <ep>       where the broker binds                RASPY_BROKER_ENDPOINT (tcp://*:5514)
  --kv-port <port>      key/value snapshot port (0: any free) RASPY_KV_PORT (5515)
  --sim <file>          the simulated house's file            RASPY_SIM_CONFIG (raspy-sim's house.json)
  --no-sim              no simulated devices                  RASPY_SIM=off
  --web-port <port>     the web app's port (0: any free)      RASPY_WEB_PORT (8514)
  --web-bind <address>  where the web app listens             RASPY_WEB_BIND (0.0.0.0)
  --no-web              no web app                            RASPY_WEB=off
  --log-level <level>   debug, info, warn, error, silent      RASPY_LOG_LEVEL (info)
  --log-format <format> json or pretty                        RASPY_LOG_FORMAT (pretty on a terminal)
  -h, --help            show this help
`;

/** Parses argv and the environment. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, isTTY = false): ParseOutcome {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        data: { type: 'string' },
        endpoint: { type: 'string' },
        'kv-port': { type: 'string' },
        sim: { type: 'string' },
        'no-sim': { type: 'boolean' },
        'web-port': { type: 'string' },
        'web-bind': { type: 'string' },
        'no-web': { type: 'boolean' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
  if (values.help) return { kind: 'help' };
  const endpoint = (values.endpoint as string | undefined) ?? env.RASPY_BROKER_ENDPOINT ?? 'tcp://*:5514';
  if (!/^tcp:\/\/[^:]+:(\d+|\*)$/.test(endpoint)) return { kind: 'error', message: `--endpoint must look like tcp://interface:port, got "${endpoint}"` };
  const rawPort = (values['kv-port'] as string | undefined) ?? env.RASPY_KV_PORT ?? '5515';
  const kvPort = Number(rawPort);
  if (!Number.isInteger(kvPort) || kvPort < 0 || kvPort > 65533) return { kind: 'error', message: `--kv-port must be a port number up to 65533, or 0, got "${rawPort}"` };
  const logLevel = (values['log-level'] as string | undefined) ?? env.RASPY_LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevel)) return { kind: 'error', message: `--log-level must be debug, info, warn, error or silent, got "${logLevel}"` };
  const format = (values['log-format'] as string | undefined) ?? env.RASPY_LOG_FORMAT ?? (isTTY ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') return { kind: 'error', message: `--log-format must be json or pretty, got "${format}"` };
  const dataDir = resolve((values.data as string | undefined) ?? env.RASPY_HOUSE_DATA ?? '.raspy');
  const simulated = values['no-sim'] !== true && !/^(off|false|0|no)$/i.test(env.RASPY_SIM ?? '');
  const simRaw = (values.sim as string | undefined) ?? env.RASPY_SIM_CONFIG;
  const simFile = simRaw === undefined || simRaw === '' ? undefined : resolve(simRaw);
  const web = values['no-web'] !== true && !/^(off|false|0|no)$/i.test(env.RASPY_WEB ?? '');
  const rawWebPort = (values['web-port'] as string | undefined) ?? env.RASPY_WEB_PORT ?? '8514';
  const webPort = Number(rawWebPort);
  if (!Number.isInteger(webPort) || webPort < 0 || webPort > 65_535) return { kind: 'error', message: `--web-port must be a port number, or 0, got "${rawWebPort}"` };
  const webBind = (values['web-bind'] as string | undefined) ?? env.RASPY_WEB_BIND ?? '0.0.0.0';
  if (!/^[A-Za-z0-9.:-]+$/.test(webBind)) return { kind: 'error', message: `--web-bind must be an address such as 0.0.0.0 or 127.0.0.1, got "${webBind}"` };
  return { kind: 'run', config: { dataDir, endpoint, kvPort, logLevel, logFormat: format, simulated, simFile, web, webBind, webPort } };
}

/** The address a local process connects to, for an endpoint the broker bound (`tcp://0.0.0.0:5514` → `tcp://127.0.0.1:5514`). */
export function localAddress(bound: string): string {
  return bound.replace(/^tcp:\/\/(0\.0\.0\.0|\*|\[::\])(?=:)/, 'tcp://127.0.0.1');
}
