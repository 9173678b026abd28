/**
 * Runs a parsed command: opens the clients it needs (only those), hands
 * them to the command, and closes them whatever happens.
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { DevicesClient } from '@raspy/devices';
import { KvClient } from '@raspy/kv';
import { MdpClient } from '@raspy/mdp';
import { devicesCommand } from './commands/devices.js';
import { getCommand } from './commands/get.js';
import { servicesCommand } from './commands/services.js';
import { setCommand } from './commands/set.js';
import { watchCommand, watchScope } from './commands/watch.js';
import type { GlobalOptions, Invocation } from './config.js';
import { CliError } from './errors.js';
import type { Output } from './output.js';

/** How long closing one client may take before the command ends anyway, ms. */
const CLOSE_WAIT = 300;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * Runs one command.
 *
 * @param invocation - the command and its arguments
 * @param options - broker, key/value server, timeout, json
 * @param out - where to write
 * @param signal - aborts a watch (Ctrl-C)
 * @throws whatever the command throws; `explain` (errors.ts) turns it into a line
 */
export async function run(invocation: Invocation, options: GlobalOptions, out: Output, signal: AbortSignal): Promise<void> {
  const closers: (() => Promise<void>)[] = [];
  // One attempt per request: a command line answers or says why, it does not
  // retry behind the person's back (and a set is not sent twice).
  const mdp = (): MdpClient => {
    const client = new MdpClient({ endpoint: options.broker, timeout: options.timeout, retries: 0 });
    closers.push(() => client.close());
    return client;
  };
  const kv = async (subtree: string): Promise<KvClient> => {
    const client = new KvClient({ servers: options.kv, subtree });
    closers.push(() => client.close());
    try {
      await client.start({ timeout: options.timeout });
    } catch (err) {
      throw new CliError('ERR_CLI_FAILED', `cannot reach the key/value tree at ${options.kv} — is the house running? (npm start)`, { cause: err });
    }
    return client;
  };
  try {
    const json = options.json;
    switch (invocation.command) {
      case 'devices':
        await devicesCommand(
          { devices: new DevicesClient(mdp()), tree: async () => (await kv('/device/')).entries(), out },
          { json },
        );
        break;
      case 'get':
        await getCommand({ devices: new DevicesClient(mdp()), out, writeFile: (path, data) => writeFile(path, data) }, invocation, {
          json,
          timeout: options.timeout,
        });
        break;
      case 'set':
        await setCommand({ devices: new DevicesClient(mdp()), out }, invocation, { json });
        break;
      case 'watch': {
        const client = await kv(watchScope(invocation.path).subtree);
        await watchCommand({ kv: client, out, now: Date.now, signal }, { path: invocation.path, server: options.kv }, { json });
        break;
      }
      case 'services':
        await servicesCommand({ mdp: mdp(), out }, { json });
        break;
    }
  } finally {
    // Bounded: a key/value client that never reached its server takes up to
    // its server timeout (3 s) to close, and the process exits right after.
    for (const close of closers.reverse()) await Promise.race([close().catch(() => {}), delay(CLOSE_WAIT)]);
  }
}
