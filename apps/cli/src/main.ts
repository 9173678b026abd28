/**
 * `raspy`: the RasPy command line. Parses the command line, runs the
 * command, and turns any failure into one line on stderr and an exit
 * status (0 done, 1 failed, 2 bad usage).
 *
 * @module
 */
import { createRequire } from 'node:module';
import { helpText, parseCommandLine } from './config.js';
import { explain } from './errors.js';
import { processOutput } from './output.js';
import { run } from './run.js';

const require = createRequire(import.meta.url);
const version = (require('../package.json') as { version: string }).version;

async function main(): Promise<number> {
  const outcome = parseCommandLine(process.argv.slice(2), process.env);
  switch (outcome.kind) {
    case 'help':
      process.stdout.write(helpText(outcome.command));
      return 0;
    case 'version':
      process.stdout.write(`raspy ${version}\n`);
      return 0;
    case 'error':
      process.stderr.write(`raspy: ${outcome.message} (see raspy ${outcome.command === undefined ? '' : `${outcome.command} `}--help)\n`);
      return 2;
    case 'run':
      break;
  }
  const { invocation, options } = outcome;

  // Ctrl-C ends a watch cleanly (exit 0); anything else it interrupts (130).
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (invocation.command === 'watch' && !stop.signal.aborted) stop.abort(signal);
    else process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  // `raspy watch | head` closes the pipe: that is the reader's way to say stop.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });

  try {
    await run(invocation, options, processOutput(), stop.signal);
    return 0;
  } catch (err) {
    const { message, exitCode } = explain(err, options);
    process.stderr.write(`raspy: ${message}\n`);
    if (process.env.RASPY_DEBUG) process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    return exitCode;
  }
}

main().then(
  (code) => exit(code),
  (err: unknown) => {
    process.stderr.write(`raspy: ${(err as Error).message ?? String(err)}\n`);
    exit(1);
  },
);

/**
 * Exits once stdout and stderr are flushed. Explicitly: a client that is
 * still closing (see run.ts) must not keep the person waiting.
 */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
