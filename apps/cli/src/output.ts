/**
 * Where commands write: lines for stdout, warnings for stderr, raw bytes.
 * Commands get an {@link Output} instead of touching `process`, so tests
 * read what they wrote.
 *
 * @module
 */

/** What a command writes to. */
export interface Output {
  /** Writes one line of results (stdout). */
  print(line: string): void;
  /** Writes one line for the person, not the results: a warning, progress (stderr). */
  warn(line: string): void;
  /** Writes raw bytes to stdout (a snapshot piped on); resolves once written. */
  writeBytes(data: Buffer): Promise<void>;
  /** Whether stdout is a terminal (no binary goes there). */
  readonly isTTY: boolean;
}

/** The process's own stdout and stderr. */
export function processOutput(): Output {
  return {
    print: (line) => void process.stdout.write(`${line}\n`),
    warn: (line) => void process.stderr.write(`${line}\n`),
    writeBytes: (data) =>
      new Promise((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve()))),
    isTTY: process.stdout.isTTY === true,
  };
}
