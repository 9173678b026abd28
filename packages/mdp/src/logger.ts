/**
 * A small structured logger, shared by every RasPy process.
 *
 * Libraries never print: they take a {@link Logger} in their options and
 * default to {@link silentLogger}. Apps create one logger per process with
 * {@link createLogger} and hand children of it (`logger.child('broker')`) to
 * each component, so every line names its component.
 *
 * @module
 */

/** Severity of a log line, from the most to the least verbose. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/**
 * What RasPy libraries log through. Any object with these methods fits, so a
 * pino or winston logger can be adapted in a few lines.
 */
export interface Logger {
  /** Details useful when debugging a peer or the library. */
  debug(message: string, fields?: LogFields): void;
  /** Normal life events: started, connected, registered. */
  info(message: string, fields?: LogFields): void;
  /** Something went wrong but was handled: bad input dropped, peer expired. */
  warn(message: string, fields?: LogFields): void;
  /** Something failed that needs a person's attention. */
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `component` (and fields) to every line. */
  child(component: string, fields?: LogFields): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. Default `info`. */
  level?: LogLevel | 'silent';
  /** Component name put on every line. Default `raspy`. */
  component?: string;
  /**
   * `json`: one JSON object per line (for journald, files, log shippers);
   * `pretty`: `time level component message key=value` for people.
   * Default: `pretty` when the output is a terminal, else `json`.
   */
  format?: 'json' | 'pretty';
  /** Where lines go. Default: standard error. */
  write?: (line: string) => void;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

const LEVELS: Record<LogLevel | 'silent', number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 100,
};

/** Tells whether a string names a log level. */
export function isLogLevel(value: string): value is LogLevel | 'silent' {
  return Object.prototype.hasOwnProperty.call(LEVELS, value);
}

function fieldValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  if (typeof value === 'bigint') return value.toString();
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function jsonSafe(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) out[k] = { message: v.message, code: (v as { code?: unknown }).code };
    else if (typeof v === 'bigint') out[k] = v.toString();
    else if (Buffer.isBuffer(v)) out[k] = v.toString('hex');
    else out[k] = v;
  }
  return out;
}

/**
 * Creates a structured logger.
 *
 * @param options - level, component, format and output
 * @returns a {@link Logger}
 * @example
 * ```ts
 * const log = createLogger({ level: 'info', component: 'broker' });
 * log.info('listening', { endpoint: 'tcp://*:5514' });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const format = options.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = options.now ?? Date.now;

  const make = (component: string, base: LogFields): Logger => {
    const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
      if (LEVELS[level] < threshold) return;
      const all = fields === undefined ? base : { ...base, ...fields };
      const time = new Date(now()).toISOString();
      if (format === 'json') {
        write(JSON.stringify({ time, level, component, msg: message, ...jsonSafe(all) }));
      } else {
        let line = `${time} ${level.toUpperCase().padEnd(5)} [${component}] ${message}`;
        for (const [k, v] of Object.entries(all)) line += ` ${k}=${fieldValue(v)}`;
        write(line);
      }
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (name, fields) => make(name, fields === undefined ? base : { ...base, ...fields }),
    };
  };
  return make(options.component ?? 'raspy', {});
}

const noop = (): void => {};

/** A logger that drops everything: the default of every library object. */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
