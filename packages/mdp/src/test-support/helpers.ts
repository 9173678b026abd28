/**
 * MDP test helpers: a broker on an ephemeral port, waiting for workers. The
 * generic helpers come from @raspy/test-support.
 *
 * @module
 * @internal
 */
import { MdpBroker, type BrokerOptions } from '../index.js';
import { Cleanup, waitFor } from '@raspy/test-support';

export { Cleanup, deferred, memoryLogger, waitFor, within } from '@raspy/test-support';

/** Starts a broker on an ephemeral loopback port with fast test timings. */
export async function startBroker(
  cleanup: Cleanup,
  options: BrokerOptions = {},
): Promise<{ broker: MdpBroker; endpoint: string }> {
  const broker = cleanup.add(
    new MdpBroker({ endpoint: 'tcp://127.0.0.1:*', heartbeatInterval: 100, heartbeatLiveness: 3, requestTimeout: 2000, ...options }),
  );
  await broker.start();
  return { broker, endpoint: broker.endpoints[0] as string };
}

/** Waits until the broker has `count` workers for `service`. */
export function waitForWorkers(broker: MdpBroker, service: string, count = 1, timeout = 5000): Promise<void> {
  return waitFor(() => (broker.stats().services[service]?.workers ?? 0) === count, `${count} workers of ${service}`, timeout);
}

