/**
 * Client side of Titanic (9/TSP): store a request, ask for its reply,
 * close it; `call()` does the three, waiting for the reply.
 *
 * @module
 */
import { MdpClient, toFrames, type FrameLike } from '@raspy/mdp';
import { TitanicError } from '../errors.js';
import { parseUuid } from '../internal/uuid.js';

/** What `titanic.reply` said. */
export type TitanicReply =
  | { readonly status: 'done'; readonly body: Buffer[] }
  | { readonly status: 'pending' }
  | { readonly status: 'unknown' };

/** Options of {@link TitanicClient.wait}. */
export interface WaitOptions {
  /** Give up after this many ms. Default 60000. */
  timeout?: number;
  /** Delay before the first poll, then between polls (doubling up to 1000 ms). Default 50. */
  interval?: number;
  /** Stops waiting. */
  signal?: AbortSignal;
}

function status(frames: Buffer[], action: string): string {
  const s = frames[0]?.toString('latin1') ?? '';
  if (!/^\d{3}/.test(s)) throw new TitanicError('ERR_TITANIC_REPLY', `${action}: expected a status frame, got ${JSON.stringify(s.slice(0, 40))}`);
  return s.slice(0, 3);
}

/**
 * A client of Titanic over an MDP client you own.
 *
 * @example
 * ```ts
 * const titanic = new TitanicClient(new MdpClient({ endpoint }));
 * // Survives the pump's server being offline, and a restart of Titanic:
 * const uuid = await titanic.request('pi1.garden.devices', 'set', '{"device":"pump","command":"power","value":true}');
 * const reply = await titanic.wait(uuid, { timeout: 600_000 });
 * await titanic.close(uuid);
 * ```
 */
export class TitanicClient {
  /** @param client - the MDP client to send through (not closed by this object) */
  constructor(private readonly client: MdpClient) {}

  /**
   * Stores a request for `service`; resolves with its id once Titanic has it on disk.
   *
   * @throws TitanicError `ERR_TITANIC_REPLY` when Titanic refuses (bad service name: 400; storage failure: 500)
   */
  async request(service: string, ...body: FrameLike[]): Promise<string> {
    const reply = await this.client.request('titanic.request', service, ...toFrames(body));
    const code = status(reply, 'titanic.request');
    const uuid = parseUuid(reply[1]);
    if (code !== '200' || uuid === null) {
      throw new TitanicError('ERR_TITANIC_REPLY', `titanic.request refused: ${code} ${reply[1]?.toString('utf8') ?? ''}`.trim(), { status: code });
    }
    return uuid;
  }

  /** Asks for a request's reply: done (with the body), pending, or unknown. */
  async reply(uuid: string): Promise<TitanicReply> {
    const reply = await this.client.request('titanic.reply', uuid);
    switch (status(reply, 'titanic.reply')) {
      case '200':
        return { status: 'done', body: reply.slice(1) };
      case '300':
        return { status: 'pending' };
      case '400':
        return { status: 'unknown' };
      default:
        throw new TitanicError('ERR_TITANIC_REPLY', `titanic.reply answered ${reply[0]?.toString('utf8')}`, { status: reply[0]?.toString('latin1') });
    }
  }

  /** Forgets a request and its reply (always succeeds, also for an unknown id). */
  async close(uuid: string): Promise<void> {
    await this.client.request('titanic.close', uuid);
  }

  /**
   * Polls until the reply is there.
   *
   * @returns the reply body
   * @throws TitanicError `ERR_TITANIC_UNKNOWN` (closed or never stored), `ERR_TITANIC_TIMEOUT`
   */
  async wait(uuid: string, options: WaitOptions = {}): Promise<Buffer[]> {
    const deadline = performance.now() + (options.timeout ?? 60_000);
    let delay = options.interval ?? 50;
    // A request just stored is not executed yet: asking at once would only
    // cost a round trip through the broker.
    await new Promise((r) => setTimeout(r, delay));
    for (;;) {
      options.signal?.throwIfAborted();
      const r = await this.reply(uuid);
      if (r.status === 'done') return r.body;
      if (r.status === 'unknown') throw new TitanicError('ERR_TITANIC_UNKNOWN', `Titanic does not know request ${uuid} (closed, or never stored)`);
      const left = deadline - performance.now();
      if (left <= 0) throw new TitanicError('ERR_TITANIC_TIMEOUT', `request ${uuid} has no reply after ${options.timeout ?? 60_000} ms`);
      await new Promise((r) => setTimeout(r, Math.min(delay, left)));
      delay = Math.min(1000, delay * 2);
    }
  }

  /**
   * Stores a request, waits for its reply, closes it, and returns the reply.
   *
   * @param options - how long to wait
   */
  async call(service: string, body: readonly FrameLike[], options: WaitOptions = {}): Promise<Buffer[]> {
    const uuid = await this.request(service, ...body);
    const reply = await this.wait(uuid, options);
    await this.close(uuid);
    return reply;
  }
}
