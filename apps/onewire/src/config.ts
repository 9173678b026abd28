/**
 * Flags of `raspy-onewire`. Pure, unit-tested.
 *
 * @module
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { isLogLevel, type LogLevel } from '@raspy/mdp';

/** Where the probes are read. */
export type SourceConfig = { kind: 'sysfs'; root: string } | { kind: 'owserver'; host: string; port: number };

/** What the 1-Wire server runs with. */
export interface OneWireConfig {
  source: SourceConfig;
  host: string;
  broker: string;
  kv: string;
  poll: number;
  heartbeatInterval: number | undefined;
  logLevel: LogLevel | 'silent';
  logFormat: 'json' | 'pretty' | undefined;
}

export type ParseOutcome = { kind: 'run'; config: OneWireConfig } | { kind: 'help' } | { kind: 'version' } | { kind: 'error'; message: string };

export const USAGE = `Usage: raspy-onewire [--sysfs DIR | --owserver HOST:PORT] [options]

Serves 1-Wire temperature probes (DS18B20 and family) as RasPy devices.

Source (one of):
  --sysfs <dir>             the kernel's w1 bus           RASPY_ONEWIRE_SYSFS  (/sys/bus/w1/devices)
  --owserver <host:port>    an OWFS owserver              RASPY_ONEWIRE_OWSERVER
Options:
  --host <id>               this board's host id          RASPY_HOST   (the machine's host name)
  --broker <endpoint>       the broker                    RASPY_BROKER (tcp://127.0.0.1:5514)
  --kv <endpoint>           the key/value server (P)      RASPY_KV     (tcp://127.0.0.1:5515)
  --poll <seconds>          default poll interval         RASPY_ONEWIRE_POLL (30)
  --heartbeat-interval <ms> must match the broker's       RASPY_HEARTBEAT_INTERVAL (2500)
  --log-level <level>       debug, info, warn, error, silent
  --log-format <format>     json or pretty
  -h, --help, -v, --version
`;

/** A host id from the machine's name: lower case, letters, digits and "-". */
export function hostIdFrom(name: string): string {
  const id = name.split('.')[0]!.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return id === '' ? 'pi' : id;
}

/** Parses argv and the environment. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, machine = hostname()): ParseOutcome {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        sysfs: { type: 'string' },
        owserver: { type: 'string' },
        host: { type: 'string' },
        broker: { type: 'string' },
        kv: { type: 'string' },
        poll: { type: 'string' },
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
  const sysfs = (values.sysfs as string | undefined) ?? env.RASPY_ONEWIRE_SYSFS;
  const owserver = (values.owserver as string | undefined) ?? env.RASPY_ONEWIRE_OWSERVER;
  if (sysfs !== undefined && owserver !== undefined) return { kind: 'error', message: 'give --sysfs or --owserver, not both' };
  let source: SourceConfig;
  if (owserver !== undefined) {
    const m = /^([^:\s]+):(\d{1,5})$/.exec(owserver);
    if (m === null || Number(m[2]) > 65535) return { kind: 'error', message: `--owserver must be host:port (e.g. localhost:4304), got "${owserver}"` };
    source = { kind: 'owserver', host: m[1] as string, port: Number(m[2]) };
  } else {
    source = { kind: 'sysfs', root: sysfs ?? '/sys/bus/w1/devices' };
  }
  const host = (values.host as string | undefined) ?? env.RASPY_HOST ?? hostIdFrom(machine);
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(host)) return { kind: 'error', message: `--host must be lower-case letters, digits and "-", got "${host}"` };
  const broker = (values.broker as string | undefined) ?? env.RASPY_BROKER ?? 'tcp://127.0.0.1:5514';
  const kv = (values.kv as string | undefined) ?? env.RASPY_KV ?? 'tcp://127.0.0.1:5515';
  for (const [flag, ep] of [['--broker', broker], ['--kv', kv]] as const) {
    if (!/^tcp:\/\/[^:]+:\d+$/.test(ep)) return { kind: 'error', message: `${flag} must look like tcp://host:port, got "${ep}"` };
  }
  const rawPoll = (values.poll as string | undefined) ?? env.RASPY_ONEWIRE_POLL ?? '30';
  const poll = Number(rawPoll);
  if (!Number.isInteger(poll) || poll < 1 || poll > 86_400) return { kind: 'error', message: `--poll must be whole seconds from 1 to 86400, got "${rawPoll}"` };
  const rawHb = (values['heartbeat-interval'] as string | undefined) ?? env.RASPY_HEARTBEAT_INTERVAL;
  const heartbeatInterval = rawHb === undefined || rawHb === '' ? undefined : Number(rawHb);
  if (heartbeatInterval !== undefined && (!Number.isFinite(heartbeatInterval) || heartbeatInterval <= 0)) {
    return { kind: 'error', message: `--heartbeat-interval must be a positive number of milliseconds, got "${rawHb}"` };
  }
  const logLevel = (values['log-level'] as string | undefined) ?? env.RASPY_LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevel)) return { kind: 'error', message: `--log-level must be debug, info, warn, error or silent, got "${logLevel}"` };
  const logFormat = (values['log-format'] as string | undefined) ?? env.RASPY_LOG_FORMAT;
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'pretty') return { kind: 'error', message: `--log-format must be json or pretty, got "${logFormat}"` };
  return { kind: 'run', config: { source, host, broker, kv, poll, heartbeatInterval, logLevel, logFormat } };
}
