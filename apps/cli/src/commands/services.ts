/**
 * `raspy services`: the services the broker knows now (`mmi.discovery`),
 * with their workers and queued requests (`mmi.stats`).
 *
 * @module
 */
import type { BrokerStats, MdpClient, ServiceStats } from '@raspy/mdp';
import { CliError } from '../errors.js';
import { table } from '../format.js';
import type { Output } from '../output.js';

/** What `raspy services` needs. */
export interface ServicesDeps {
  readonly mdp: Pick<MdpClient, 'request'>;
  readonly out: Output;
}

/** One service with its figures. */
export interface ServiceRow extends ServiceStats {
  readonly service: string;
}

/**
 * Lists the services: a table for people, a JSON array with `--json`.
 *
 * @throws CliError `ERR_CLI_FAILED` when the broker does not answer MMI as expected
 * @throws MdpError when the broker cannot be reached
 */
export async function servicesCommand(deps: ServicesDeps, options: { json: boolean }): Promise<void> {
  const [status, ...names] = await deps.mdp.request('mmi.discovery', '');
  if (String(status) !== '200') throw new CliError('ERR_CLI_FAILED', `the broker answered mmi.discovery with ${String(status)}: ${names.map(String).join(' ')}`);
  const [statsStatus, statsJson] = await deps.mdp.request('mmi.stats');
  let stats: BrokerStats;
  try {
    if (String(statsStatus) !== '200') throw new Error(`status ${String(statsStatus)}`);
    stats = JSON.parse(String(statsJson)) as BrokerStats;
  } catch (err) {
    throw new CliError('ERR_CLI_FAILED', `the broker's mmi.stats answer is not usable (${(err as Error).message}); is it a RasPy broker?`);
  }
  const rows = serviceRows(names.map(String), stats);
  if (options.json) {
    deps.out.print(JSON.stringify(rows, null, 2));
    return;
  }
  if (rows.length === 0) {
    deps.out.print('No services: no worker is registered with the broker.');
    return;
  }
  const lines = table(
    ['SERVICE', 'WORKERS', 'IDLE', 'QUEUED'],
    rows.map((r) => [r.service, String(r.workers), String(r.idle), String(r.queued)]),
  );
  for (const line of lines) deps.out.print(line);
}

/**
 * Joins the discovered names with their figures (zeros for a service the
 * statistics do not know yet), sorted by name.
 */
export function serviceRows(names: readonly string[], stats: Pick<BrokerStats, 'services'>): ServiceRow[] {
  const zero: ServiceStats = { workers: 0, idle: 0, queued: 0, requests: 0, replies: 0, errors: 0 };
  return [...names].sort().map((service) => ({ service, ...zero, ...stats.services?.[service] }));
}
