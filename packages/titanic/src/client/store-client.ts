/**
 * Typed client of the settings store (`titanic.store`).
 *
 * @module
 */
import type { MdpClient } from '@raspy/mdp';
import { TitanicError } from '../errors.js';

/**
 * Reads and writes settings: JSON values under a namespace (such as
 * `core/scenarios`) and a key.
 *
 * @example
 * ```ts
 * const settings = new StoreClient(new MdpClient({ endpoint }));
 * await settings.set('pi1.sim/devices', 'kitchen-lamp', { name: 'Kitchen lamp', poll: 30 });
 * const lamp = await settings.get<{ name: string }>('pi1.sim/devices', 'kitchen-lamp');
 * ```
 */
export class StoreClient {
  /**
   * @param client - the MDP client to send through (not closed by this object)
   * @param service - the store's service name
   */
  constructor(
    private readonly client: MdpClient,
    private readonly service = 'titanic.store',
  ) {}

  /** The value of a key, or undefined when there is none. */
  async get<T = unknown>(namespace: string, key: string): Promise<T | undefined> {
    const r = await this.call('get', { namespace, key }, ['200', '404']);
    return r.status === '404' ? undefined : (r.payload as { value: T }).value;
  }

  /** Sets a key; resolves once the store has it on disk. */
  async set(namespace: string, key: string, value: unknown): Promise<void> {
    await this.call('set', { namespace, key, value }, ['200']);
  }

  /** Deletes a key; resolves true if it existed. */
  async delete(namespace: string, key: string): Promise<boolean> {
    return (await this.call('delete', { namespace, key }, ['200', '404'])).status === '200';
  }

  /** The keys of a namespace with their values. */
  async list<T = unknown>(namespace: string, prefix?: string): Promise<Record<string, T>> {
    const r = await this.call('list', prefix === undefined ? { namespace } : { namespace, prefix }, ['200']);
    return (r.payload as { entries: Record<string, T> }).entries;
  }

  /** The namespaces that hold keys. */
  async namespaces(): Promise<string[]> {
    return ((await this.call('list', {}, ['200'])).payload as { namespaces: string[] }).namespaces;
  }

  private async call(action: string, arg: object, expected: string[]): Promise<{ status: string; payload: unknown }> {
    const [statusFrame, json] = await this.client.request(this.service, action, JSON.stringify(arg));
    const status = statusFrame?.toString('latin1') ?? '';
    let payload: unknown = {};
    try {
      payload = json === undefined || json.length === 0 ? {} : JSON.parse(json.toString('utf8'));
    } catch {
      throw new TitanicError('ERR_TITANIC_REPLY', `${this.service} ${action}: the reply is not JSON`, { status });
    }
    if (!expected.includes(status)) {
      const message = (payload as { error?: unknown }).error;
      const code = status === '400' ? 'ERR_TITANIC_INVALID_ARGUMENT' : 'ERR_TITANIC_REPLY';
      throw new TitanicError(code, `${this.service} ${action}: ${status} ${typeof message === 'string' ? message : ''}`.trim(), { status });
    }
    return { status, payload };
  }
}
