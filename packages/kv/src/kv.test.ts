/**
 * Server and clients over real sockets on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer, Publisher } from 'zeromq';
import { Cleanup, memoryLogger, waitFor, whenPortFree, within } from '@raspy/test-support';
import { KvClient, KvServer, encodeSequence, isKvError, type KvChange, type KvClientOptions, type KvServerOptions } from './index.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function startServer(options: KvServerOptions = {}): Promise<KvServer> {
  const server = cleanup.add(new KvServer({ host: 'tcp://127.0.0.1', port: 0, ...options }));
  await server.start();
  return server;
}

async function startClient(server: KvServer | KvServer['endpoints'], options: KvClientOptions = {}): Promise<KvClient> {
  const servers = server instanceof KvServer ? server.endpoints : server;
  const client = cleanup.add(new KvClient({ servers, serverTimeout: 1500, ...options }));
  await client.start();
  return client;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'raspy-kv-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const text = (entries: [string, Buffer][]): [string, string][] => entries.map(([k, v]) => [k, v.toString()]);
const serverText = (s: KvServer, prefix = ''): [string, string][] => text(s.entries(prefix)).sort((a, b) => (a[0] < b[0] ? -1 : 1));

describe('replication', () => {
  test('a client sees its subtree only: snapshot, then live updates and deletes', async () => {
    const server = await startServer();
    server.set('/a/x', '1');
    server.set('/b/y', '2');
    const client = await startClient(server, { subtree: '/a/' });
    expect(text(client.entries())).toEqual([['/a/x', '1']]);
    const seen: string[] = [];
    client.on('change', (c) => seen.push(`${c.key}=${c.value?.toString() ?? '(deleted)'}`));
    await client.set('/a/z', '3');
    expect(client.get('/a/z')?.toString()).toBe('3');
    server.set('/b/y', 'ignored');
    server.set('/a/x', '');
    await waitFor(() => client.get('/a/x') === undefined, 'the delete of /a/x');
    expect(seen).toEqual(['/a/z=3', '/a/x=(deleted)']);
    expect(server.get('/b/y')?.toString()).toBe('ignored');
  });

  test('writers racing the snapshot: every client ends equal to the server, each change seen once and in order', async () => {
    const server = await startServer();
    const keys = 20;
    const rounds = 150;
    const clients: { client: KvClient; seen: Map<string, number[]> }[] = [];
    const resyncs: string[] = [];
    let round = 0;
    // The writer publishes as fast as the event loop lets it, while clients join.
    const writer = (async () => {
      for (round = 1; round <= rounds; round++) {
        for (let k = 0; k < keys; k++) server.set(`/race/k${k}`, String(round));
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 6; i++) {
      await waitFor(() => round >= i * 20, `round ${i * 20}`);
      const client = cleanup.add(new KvClient({ servers: server.endpoints, subtree: '/race/' }));
      const seen = new Map<string, number[]>();
      client.on('change', (c: KvChange) => {
        const list = seen.get(c.key) ?? [];
        list.push(Number(c.value?.toString()));
        seen.set(c.key, list);
      });
      client.on('resync', (reason) => resyncs.push(reason));
      clients.push({ client, seen });
      await client.start();
    }
    await writer;
    server.set('/race/done', String(rounds + 1));
    for (const { client, seen } of clients) {
      await waitFor(() => client.get('/race/done') !== undefined, 'the last update');
      expect(text(client.entries())).toEqual(serverText(server, '/race/'));
      for (const [key, values] of seen) {
        // Strictly increasing: nothing applied twice, nothing going back.
        for (let i = 1; i < values.length; i++) expect([key, values[i]! > values[i - 1]!]).toEqual([key, true]);
      }
    }
    // One snapshot per client: nobody had to resynchronise.
    expect(resyncs).toEqual([]);
    expect(server.stats().snapshots).toBe(6);
  });

  test('a 10,000-key snapshot', async () => {
    const server = await startServer();
    for (let i = 0; i < 10_000; i++) server.set(`/big/${String(i).padStart(5, '0')}`, `value-${i}`);
    const client = await startClient(server, { subtree: '/big/' });
    expect(client.size).toBe(10_000);
    expect(client.get('/big/09999')?.toString()).toBe('value-9999');
    expect(client.sequence).toBe(10_000);
  });

  test('JSON values and the changes() iterator', async () => {
    const server = await startServer();
    const client = await startClient(server, { subtree: '/device/' });
    const iterator = client.changes('/device/pi1/');
    await client.setJson('/device/pi2/x', { value: 0 });
    await client.setJson('/device/pi1/t1/temperature', { value: 21.5, unit: '°C' });
    const first = await within(iterator.next(), 2000, 'a change');
    expect(first.value?.key).toBe('/device/pi1/t1/temperature');
    expect(client.getJson('/device/pi1/t1/temperature')).toEqual({ value: 21.5, unit: '°C' });
    await iterator.return?.();
    server.set('/device/pi1/bad', 'not json');
    await waitFor(() => client.get('/device/pi1/bad') !== undefined, 'the bad value');
    expect(() => client.getJson('/device/pi1/bad')).toThrow(expect.objectContaining({ code: 'ERR_KV_PROTOCOL' }));
  });

  test('a change iterator that falls behind ends with ERR_KV_OVERFLOW instead of growing', async () => {
    const server = await startServer();
    const client = await startClient(server);
    const iterator = client.changes('', { maxBuffered: 5 });
    for (let i = 0; i < 10; i++) server.set(`/o/${i}`, 'x');
    await waitFor(() => client.size === 10, 'ten keys');
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const c of { [Symbol.asyncIterator]: () => iterator }) got.push(c.key);
      })(),
    ).rejects.toMatchObject({ code: 'ERR_KV_OVERFLOW' });
    expect(got).toHaveLength(5);
  });
});

describe('ephemeral keys', () => {
  test('a key with ttl disappears when it runs out, everywhere, unless it is set again', async () => {
    const server = await startServer();
    const client = await startClient(server, { subtree: '/alive/' });
    await client.set('/alive/a', 'x', { ttl: 0.4 });
    await client.set('/alive/b', 'x', { ttl: 0.4 });
    expect(server.stats().ephemeralKeys).toBe(2);
    const deleted = new Promise<number>((resolve) =>
      client.on('change', (c) => {
        if (c.key === '/alive/a' && c.value === undefined) resolve(performance.now());
      }),
    );
    // Refresh b while a runs out.
    const refresher = setInterval(() => void client.set('/alive/b', 'x', { ttl: 0.4 }).catch(() => {}), 100);
    cleanup.defer(() => clearInterval(refresher));
    await within(deleted, 3000, 'the expiry of /alive/a');
    expect(client.get('/alive/b')?.toString()).toBe('x');
    clearInterval(refresher);
    await waitFor(() => client.get('/alive/b') === undefined, 'the expiry of /alive/b');
    expect(server.stats()).toMatchObject({ keys: 0, ephemeralKeys: 0 });
  });
});

describe('restarts', () => {
  test('without a data directory: clients notice and converge to the new, empty server', async () => {
    const first = await startServer();
    first.set('/h/a', '1');
    first.set('/h/b', '2');
    const client = await startClient(first, { subtree: '/h/' });
    const endpoints = first.endpoints;
    const resynced = new Promise<string>((resolve) => client.once('resync', resolve));
    await first.stop();
    const second = cleanup.add(new KvServer({ endpoints }));
    await whenPortFree(() => second.start(), 'the ports of the first server');
    second.set('/h/c', '3');
    await within(resynced, 5000, 'a resync');
    await waitFor(() => client.ready && client.get('/h/c') !== undefined && client.get('/h/a') === undefined, 'the client to converge');
    expect(text(client.entries())).toEqual([['/h/c', '3']]);
  });

  test('with a data directory: the tree survives and the sequence keeps increasing', async () => {
    const dir = tempDir();
    const first = await startServer({ dataDir: dir });
    first.set('/p/keep', 'kept');
    first.set('/p/gone', 'x');
    first.set('/p/gone', '');
    first.set('/p/temp', 'ephemeral', { ttl: 60 });
    const client = await startClient(first, { subtree: '/p/' });
    const before = client.sequence;
    const endpoints = first.endpoints;
    await first.stop();
    const second = cleanup.add(new KvServer({ endpoints, dataDir: dir }));
    await whenPortFree(() => second.start(), 'the ports of the first server');
    expect(serverText(second)).toEqual([['/p/keep', 'kept']]);
    second.set('/p/after', 'restart');
    await waitFor(() => client.get('/p/after') !== undefined, 'the update after the restart', 6000);
    expect(client.sequence).toBeGreaterThan(before);
    expect(text(client.entries())).toEqual([
      ['/p/after', 'restart'],
      ['/p/keep', 'kept'],
    ]);
  });

  test('a second server on the same data directory is refused', async () => {
    const dir = tempDir();
    await startServer({ dataDir: dir });
    const other = new KvServer({ host: 'tcp://127.0.0.1', port: 0, dataDir: dir });
    await expect(other.start()).rejects.toMatchObject({ code: 'ERR_KV_STORAGE', message: expect.stringMatching(/already open|in use/) });
  });

  test('a client with two servers moves to the second when the first is gone', async () => {
    const a = await startServer();
    const b = await startServer();
    a.set('/f/where', 'a');
    b.set('/f/where', 'b');
    const client = await startClient(a, { servers: [a.endpoints, b.endpoints], subtree: '/f/' });
    expect(client.get('/f/where')?.toString()).toBe('a');
    await a.stop();
    await waitFor(() => client.ready && client.get('/f/where')?.toString() === 'b', 'the move to server b', 8000);
    await client.set('/f/written', 'to b');
    expect(b.get('/f/written')?.toString()).toBe('to b');
  });
});

describe('duplicate UUIDs', () => {
  test('a KVSET refused for the key limit is not remembered: sent again later, it is applied', async () => {
    const server = await startServer({ maxKeys: 1 });
    server.set('/x/a', '1');
    const probe = await startClient(server, { subtree: '/x/' });
    const pub = cleanup.add(new Publisher({ linger: 0 }));
    pub.connect(server.endpoints.collector);
    await waitFor(async () => {
      await pub.send(['/x/a', encodeSequence(0), '', '', 'connected']);
      return probe.get('/x/a')?.toString() === 'connected';
    }, 'the raw publisher to be connected');
    const uuid = Buffer.alloc(16, 7);
    const E = Buffer.alloc(0);
    await pub.send(['/x/b', encodeSequence(0), uuid, E, '2']);
    await waitFor(() => server.stats().dropped === 1, 'the refusal');
    server.set('/x/a', '');
    await pub.send(['/x/b', encodeSequence(0), uuid, E, '2']);
    await waitFor(() => probe.get('/x/b') !== undefined, 'the second KVSET to be applied');
    expect(server.get('/x/b')?.toString()).toBe('2');
  });
});

describe('lifecycle', () => {
  test('stop() while start() is under way: the server starts, then stops and releases its data directory', async () => {
    const dir = tempDir();
    const server = new KvServer({ host: 'tcp://127.0.0.1', port: 0, dataDir: dir });
    const started = server.start();
    await server.stop();
    await started;
    const again = await startServer({ dataDir: dir });
    expect(again.stats().keys).toBe(0);
  });
});

describe('errors and bad input', () => {
  test('set() refuses bad keys and values before sending, and times out without a server', async () => {
    const server = await startServer();
    const client = await startClient(server);
    await expect(client.set('', 'x')).rejects.toMatchObject({ code: 'ERR_KV_INVALID_ARGUMENT' });
    await expect(client.set('HUGZ', 'x')).rejects.toMatchObject({ code: 'ERR_KV_INVALID_ARGUMENT' });
    await expect(client.set('/k', Buffer.alloc(2 * 1024 * 1024))).rejects.toMatchObject({ code: 'ERR_KV_INVALID_ARGUMENT' });
    await expect(client.set('/k', 'x', { ttl: -1 })).rejects.toMatchObject({ code: 'ERR_KV_INVALID_ARGUMENT' });
    await server.stop();
    const err = await client.set('/k', 'x', { timeout: 300 }).catch((e: unknown) => e);
    expect(isKvError(err, 'ERR_KV_TIMEOUT')).toBe(true);
    await client.close();
    await expect(client.set('/k', 'x')).rejects.toMatchObject({ code: 'ERR_KV_CLOSED' });
  });

  test('start() gives up with ERR_KV_TIMEOUT when no server answers', async () => {
    const server = await startServer();
    const endpoints = server.endpoints;
    await server.stop();
    const client = cleanup.add(new KvClient({ servers: endpoints, serverTimeout: 200 }));
    await expect(client.start({ timeout: 800 })).rejects.toMatchObject({ code: 'ERR_KV_TIMEOUT' });
  });

  test('malformed KVSETs and snapshot requests are dropped and logged; the server keeps serving', async () => {
    const log = memoryLogger();
    const server = await startServer({ logger: log, maxValueBytes: 100 });
    server.set('/safe/key', 'untouched');
    const pub = cleanup.add(new Publisher({ linger: 0 }));
    pub.connect(server.endpoints.collector);
    // Wait until the collector's subscription reached us: a valid KVSET gets through.
    const probe = await startClient(server, { subtree: '/probe/' });
    await waitFor(async () => {
      await pub.send(['/probe/x', encodeSequence(0), '', '', 'y']);
      return probe.get('/probe/x') !== undefined;
    }, 'the raw publisher to be connected');
    const E = Buffer.alloc(0);
    const bad: (Buffer | string)[][] = [
      ['/safe/key'],
      ['/safe/key', 'short', E, E, 'v'],
      ['/safe/key', encodeSequence(0), 'not-a-uuid', E, 'v'],
      ['/safe/key', encodeSequence(0), E, 'ttl=soon\n', 'v'],
      ['/safe/key', encodeSequence(0), E, 'garbage', 'v'],
      ['/safe/key', encodeSequence(0), E, E, Buffer.alloc(101)],
      ['KTHXBAI', encodeSequence(0), E, E, 'v'],
      [Buffer.from([0xff, 0xfe]), encodeSequence(0), E, E, 'v'],
    ];
    for (let i = 0; i < 200; i++) await pub.send(bad[i % bad.length] as Buffer[]);
    const dealer = cleanup.add(new Dealer({ linger: 0 }));
    dealer.connect(server.endpoints.snapshot);
    for (const frames of [['ICANHAZ?'], ['GIMME', ''], ['ICANHAZ?', 'no/slash'], ['ICANHAZ?', '/ok/', 'extra']]) await dealer.send(frames);
    await waitFor(() => server.stats().dropped >= 204, 'every bad message to be dropped');
    expect(server.get('/safe/key')?.toString()).toBe('untouched');
    const client = await startClient(server, { subtree: '/safe/' });
    expect(text(client.entries())).toEqual([['/safe/key', 'untouched']]);
    // Logged, but not 204 lines.
    expect(log.lines.filter((l) => l.level === 'warn').length).toBeLessThan(30);
  });
});
