/**
 * The command line of `raspy`: global options, the command and its
 * arguments, parsed into what to run. Pure: no I/O, so every rule is
 * unit-tested; help texts live here too, next to the flags they describe.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { parseDeviceId } from '@raspy/devices';
import { checkSubtree } from '@raspy/kv';

/** The commands of `raspy`. */
export const COMMANDS = ['devices', 'get', 'set', 'watch', 'services'] as const;

/** One of {@link COMMANDS}. */
export type CommandName = (typeof COMMANDS)[number];

/** Options every command takes. */
export interface GlobalOptions {
  /** Broker endpoint, `tcp://host:5514`. */
  broker: string;
  /** Key/value server (snapshot port), `tcp://host:5515`. */
  kv: string;
  /** How long one request (or the key/value snapshot) may take, ms. */
  timeout: number;
  /** JSON output for scripts instead of text for people. */
  json: boolean;
}

/** A command with its arguments, checked. */
export type Invocation =
  | { command: 'devices' }
  | { command: 'get'; id: string; name: string | undefined; out: string | undefined }
  | { command: 'set'; id: string; name: string; value: string }
  | { command: 'watch'; path: string }
  | { command: 'services' };

/** Outcome of parsing: what to run, a request for help or the version, or a usage error. */
export type ParseOutcome =
  | { kind: 'run'; options: GlobalOptions; invocation: Invocation }
  | { kind: 'help'; command: CommandName | undefined }
  | { kind: 'version' }
  | { kind: 'error'; message: string; command: CommandName | undefined };

export const DEFAULT_BROKER = 'tcp://127.0.0.1:5514';
export const DEFAULT_KV = 'tcp://127.0.0.1:5515';
export const DEFAULT_TIMEOUT = 3000;

const GLOBAL_OPTIONS = `Global options:
  --broker <endpoint>   the broker, RASPY_BROKER          (default ${DEFAULT_BROKER})
  --kv <endpoint>       the key/value tree, RASPY_KV      (default ${DEFAULT_KV})
  --timeout <ms>        how long a request may take       (default ${DEFAULT_TIMEOUT})
  --json                JSON for scripts instead of text for people
  -h, --help            help (also: raspy <command> --help)
  -v, --version         the version
`;

/** The overall help. */
export const USAGE = `Usage: raspy <command> [arguments] [options]

Talks to a RasPy house: its devices, its key/value tree, its broker.

Commands:
  devices                         every device of every server, with its state and values
  get <device-id> [command]       one reading, or all of a device's readings
  set <device-id> <command> <value>
                                  set a command (the value is checked against its schema)
  watch [subtree]                 follow the key/value tree (default /device/) until Ctrl-C
  services                        the broker's services, with workers and queued requests

${GLOBAL_OPTIONS}
Exit status: 0 done, 1 failed (unreachable, refused, timed out), 2 bad usage.
`;

const COMMAND_USAGE: Record<CommandName, string> = {
  devices: `Usage: raspy devices [--json]

Every device of every device server: id, type, name, state and current
values. The state comes from the key/value tree: online, offline (stopped
cleanly) or lost (its server stopped answering). Devices of servers that are
gone are listed too, as the tree last saw them.
`,
  get: `Usage: raspy get <device-id> [command] [--out FILE] [--json]

Without a command: every reading of the device (and of its subdevices).
With one: that reading. A bytes command (a camera's snapshot) needs
--out FILE, or --out - to pipe the bytes (never to a terminal).

  -o, --out <file>      where to write a bytes value ("-": standard output)

Examples:
  raspy get pi1/sim/kitchen-temp
  raspy get pi1/sim/kitchen-temp temperature --json
  raspy get pi1/sim/door-camera snapshot --out door.png
`,
  set: `Usage: raspy set <device-id> <command> <value> [--json]

Sets a command and prints the reading now in effect. The value is read with
the command's schema: on/off/true/false for bool, numbers for int and real,
one of the listed values for enum, JSON for json. A negative number goes
after "--": raspy set pi1/sim/heater offset -- -2.

Examples:
  raspy set pi1/sim/hall-light power on
  raspy set pi1/sim/hall-light level 40
`,
  watch: `Usage: raspy watch [subtree] [--json]

Follows the key/value tree: one line per change (time, key, value) until
Ctrl-C. The subtree is a key path (/device/pi1/), a key (/server/pi1/sim) or
a device id (pi1/sim/hall-light, short for /device/pi1/sim/hall-light).
Default /device/. With --json, one JSON object per line. A value renewed
with only a new timestamp (availability refreshes every 2 s, a sensor
reading the same again) is not a change and is not shown.
`,
  services: `Usage: raspy services [--json]

The services registered with the broker now, with their workers (idle ones
among them) and the requests waiting for a worker.
`,
};

/**
 * The help text of a command, or the overall help.
 *
 * @param command - a command, or undefined for the overall help
 * @returns the text to print
 */
export function helpText(command?: CommandName): string {
  return command === undefined ? USAGE : `${COMMAND_USAGE[command]}\n${GLOBAL_OPTIONS}`;
}

/** Arguments that look like negative numbers are values, not options (`set … -- -2` works too). */
const NEGATIVE = /^-(\d|\.\d)/;
/** A private-use character parseArgs never sees as an option prefix. */
const SHIELD = '\u{E000}';

const ARITY: Record<CommandName, [min: number, max: number, usage: string]> = {
  devices: [0, 0, 'raspy devices'],
  get: [1, 2, 'raspy get <device-id> [command]'],
  set: [3, 3, 'raspy set <device-id> <command> <value>'],
  watch: [0, 1, 'raspy watch [subtree]'],
  services: [0, 0, 'raspy services'],
};

function isCommand(name: string | undefined): name is CommandName {
  return (COMMANDS as readonly string[]).includes(name ?? '');
}

/**
 * Parses argv (without node and the script) and the environment.
 *
 * @param argv - command-line arguments
 * @param env - environment variables (RASPY_BROKER, RASPY_KV)
 * @returns what to do
 */
export function parseCommandLine(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseOutcome {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  const shielded = argv.map((a) => (NEGATIVE.test(a) ? SHIELD + a : a));
  const unshield = (s: string): string => (s.startsWith(SHIELD) ? s.slice(SHIELD.length) : s);
  // The command, if it comes first, names the help to show with an error.
  const first = argv.find((a) => !a.startsWith('-'));
  const guess = isCommand(first) ? first : undefined;
  try {
    const parsed = parseArgs({
      args: shielded,
      strict: true,
      allowPositionals: true,
      options: {
        broker: { type: 'string' },
        kv: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        out: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
    values = Object.fromEntries(
      Object.entries(parsed.values).map(([k, v]) => [k, typeof v === 'string' ? unshield(v) : (v as boolean | undefined)]),
    );
    positionals = parsed.positionals.map(unshield);
  } catch (err) {
    return { kind: 'error', message: (err as Error).message.replaceAll(SHIELD, ''), command: guess };
  }

  const [command, ...args] = positionals;
  if (command === 'help') {
    const topic = args[0];
    if (topic === undefined) return { kind: 'help', command: undefined };
    if (!isCommand(topic)) return { kind: 'error', message: `no command "${topic}"; commands: ${COMMANDS.join(', ')}`, command: undefined };
    return { kind: 'help', command: topic };
  }
  if (values.version === true && command === undefined) return { kind: 'version' };
  if (command !== undefined && !isCommand(command)) {
    return { kind: 'error', message: `no command "${command}"; commands: ${COMMANDS.join(', ')}`, command: undefined };
  }
  if (values.help === true) return { kind: 'help', command };
  if (values.version === true) return { kind: 'version' };
  if (command === undefined) return { kind: 'error', message: 'a command is needed', command: undefined };

  const fail = (message: string): ParseOutcome => ({ kind: 'error', message, command });
  const [min, max, usage] = ARITY[command];
  if (args.length < min || args.length > max) {
    const extra = args.length > max ? `; unexpected ${JSON.stringify(args[max])}` : '';
    return fail(`usage: ${usage}${extra}`);
  }
  if (values.out !== undefined && command !== 'get') return fail('--out is an option of get only');

  const broker = (values.broker as string | undefined) ?? nonEmpty(env.RASPY_BROKER) ?? DEFAULT_BROKER;
  if (!/^(tcp:\/\/[^/]+:\d+|ipc:\/\/.+)$/.test(broker)) {
    return fail(`--broker (RASPY_BROKER) must look like tcp://host:port, got "${broker}"`);
  }
  const kv = (values.kv as string | undefined) ?? nonEmpty(env.RASPY_KV) ?? DEFAULT_KV;
  if (!/^tcp:\/\/[^/]+:\d+$/.test(kv)) {
    return fail(`--kv (RASPY_KV) must look like tcp://host:port (the snapshot port; the next two follow), got "${kv}"`);
  }
  const rawTimeout = values.timeout as string | undefined;
  const timeout = rawTimeout === undefined ? DEFAULT_TIMEOUT : Number(rawTimeout);
  if (!Number.isInteger(timeout) || timeout <= 0) return fail(`--timeout must be a positive whole number of milliseconds, got "${rawTimeout}"`);
  const options: GlobalOptions = { broker, kv, timeout, json: values.json === true };

  const checkId = (id: string): string | null => {
    try {
      parseDeviceId(id);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  };
  let invocation: Invocation;
  switch (command) {
    case 'devices':
    case 'services':
      invocation = { command };
      break;
    case 'get': {
      const [id, name] = args as [string, string | undefined];
      const bad = checkId(id);
      if (bad !== null) return fail(bad);
      const out = values.out as string | undefined;
      if (out !== undefined && name === undefined) return fail('--out needs a command: raspy get <device-id> <command> --out FILE');
      if (out === '') return fail('--out needs a file name, or - for standard output');
      invocation = { command, id, name, out };
      break;
    }
    case 'set': {
      const [id, name, value] = args as [string, string, string];
      const bad = checkId(id);
      if (bad !== null) return fail(bad);
      invocation = { command, id, name, value };
      break;
    }
    case 'watch': {
      const path = watchPath(args[0] ?? '/device/');
      if (typeof path !== 'string') return fail(path.error);
      invocation = { command, path };
      break;
    }
  }
  return { kind: 'run', options, invocation };
}

/**
 * Turns what a user typed after `watch` into a key path: `/…` as is, a
 * device id under `/device/`.
 *
 * @returns the path (a subtree when it ends with "/", else a key), or an error
 */
export function watchPath(text: string): string | { error: string } {
  const path = text.startsWith('/') ? text : `/device/${text}`;
  // The part up to the last "/" is what the key/value client replicates.
  const subtree = path.slice(0, path.lastIndexOf('/') + 1);
  const reason = subtree === '/' ? null : checkSubtree(subtree);
  if (reason !== null || /\/\//.test(path)) {
    return { error: `the subtree must be a key path such as /device/pi1/ or a device id such as pi1/sim/lamp, got "${text}"` };
  }
  return path;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
