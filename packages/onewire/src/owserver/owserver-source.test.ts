/**
 * OwserverSource against a scripted owserver: how listings become probes,
 * and how each kind of answer becomes a reading (85 °C, missing, errors,
 * garbage). The same source against a real owserver is in owserver.test.ts.
 */
import { Cleanup, waitFor } from '@raspy/test-support';
import { isOneWireError } from '../errors.js';
import { OwserverClient } from './client.js';
import { OwserverSource, type OwserverSourceOptions } from './owserver-source.js';
import { MessageType, encodeReply } from './protocol.js';
import { FakeOwserver, type FakeHandler } from './test-support/fake-owserver.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function fake(handler: FakeHandler): Promise<FakeOwserver> {
  return cleanup.add(await FakeOwserver.start(handler));
}

function source(port: number, options: OwserverSourceOptions = {}): OwserverSource {
  return cleanup.add(new OwserverSource({ port, timeout: 1000, rereadDelay: 1, ...options }));
}

/** A server whose directories and values come from tables; other paths answer -1 as owserver 3.x does. */
function table(dirs: Record<string, string[]>, values: Record<string, string | number | string[]> = {}): FakeHandler {
  const reads = new Map<string, number>();
  return (req, socket) => {
    if (req.type === MessageType.DIRALL) {
      const entries = dirs[req.path];
      return void socket.end(entries ? encodeReply(0, `${entries.join(',')}\0`) : encodeReply(-1));
    }
    if (req.type === MessageType.READ) {
      let value = values[req.path];
      if (Array.isArray(value)) {
        const n = reads.get(req.path) ?? 0;
        reads.set(req.path, n + 1);
        value = value[Math.min(n, value.length - 1)];
      }
      if (typeof value === 'number') return void socket.end(encodeReply(value));
      if (value === 'hang') return;
      return void socket.end(value === undefined ? encodeReply(-1) : encodeReply(value.length, value));
    }
    socket.end(encodeReply(-42));
  };
}

const ROOT = [
  '/unaliased/28.000028D70000',
  '/unaliased/10.000010EF0100',
  '/unaliased/bus.0',
  '/unaliased/uncached',
  '/unaliased/settings',
  '/unaliased/system',
  '/unaliased/statistics',
  '/unaliased/structure',
  '/unaliased/simultaneous',
  '/unaliased/alarm',
];
const BUS0 = ['/unaliased/bus.0/interface', '/unaliased/bus.0/28.000028D70000', '/unaliased/bus.0/10.000010EF0100', '/unaliased/bus.0/simultaneous', '/unaliased/bus.0/alarm'];

describe('list', () => {
  test('the probes under each bus, with their chip; system directories left out', async () => {
    const server = await fake(table({ '/unaliased': ROOT, '/unaliased/bus.0': BUS0 }));
    expect(await source(server.port).list()).toEqual([
      { id: '10-000010ef0100', family: '10', chip: 'DS18S20', bus: '/bus.0' },
      { id: '28-000028d70000', family: '28', chip: 'DS18B20', bus: '/bus.0' },
    ]);
    expect(server.paths).toEqual(['/unaliased', '/unaliased/bus.0']);
    expect(server.requests.every((r) => r.type === MessageType.DIRALL)).toBe(true);
  });

  test('several adapters: each probe once, on its bus, by bus number; other families ignored; trailing slashes accepted', async () => {
    const server = await fake(
      table({
        '/unaliased': ['/unaliased/22.000022DD0000/', '/unaliased/3B.00003BC40100/', '/unaliased/28.010028D70000/', '/unaliased/05.4AEC29CDBAAB/', '/unaliased/bus.1/', '/unaliased/bus.0/', '/unaliased/42.0000421A0B00'],
        '/unaliased/bus.0': ['/unaliased/bus.0/28.010028D70000/', '/unaliased/bus.0/05.4AEC29CDBAAB/', '/unaliased/bus.0/interface/'],
        '/unaliased/bus.1': ['/unaliased/bus.1/22.000022DD0000/', '/unaliased/bus.1/3b.00003bc40100/', '/unaliased/bus.1/28.010028D70000'],
      }),
    );
    expect(await source(server.port).list()).toEqual([
      { id: '28-010028d70000', family: '28', chip: 'DS18B20', bus: '/bus.0' },
      { id: '22-000022dd0000', family: '22', chip: 'DS1822', bus: '/bus.1' },
      { id: '3b-00003bc40100', family: '3b', chip: 'DS1825', bus: '/bus.1' },
      // Only at the root: a probe no bus directory listed.
      { id: '42-0000421a0b00', family: '42', chip: 'DS28EA00', bus: '/' },
    ]);
  });

  test('a server without /unaliased: the plain listing, and no second try', async () => {
    const server = await fake(table({ '/': ['/28.000028D70000', '/10.000010EF0100'] }));
    const ow = source(server.port);
    expect((await ow.list()).map((p) => [p.id, p.bus])).toEqual([
      ['10-000010ef0100', '/'],
      ['28-000028d70000', '/'],
    ]);
    await ow.list();
    expect(server.paths).toEqual(['/unaliased', '/', '/']);
  });

  test('no server: list throws ERR_ONEWIRE_CONNECTION', async () => {
    const server = await fake(() => undefined);
    const port = server.port;
    await server.close();
    await expect(source(port).list()).rejects.toMatchObject({ code: 'ERR_ONEWIRE_CONNECTION', message: expect.stringContaining(`127.0.0.1:${port}`) });
  });
});

describe('read', () => {
  const T28 = '/28.000028D70000/temperature';
  const U28 = '/uncached/28.000028D70000/temperature';

  test('a number is a temperature in °C with 3 decimals; ids in either form', async () => {
    const server = await fake(table({}, { [T28]: '     21.5625', '/10.000010EF0100/temperature': '   -10.12345' }));
    const ow = source(server.port);
    expect(await ow.read('28-000028d70000')).toEqual({ ok: true, celsius: 21.563 });
    expect(await ow.read('28.000028D70000')).toEqual({ ok: true, celsius: 21.563 });
    expect(await ow.read('10-000010EF0100')).toEqual({ ok: true, celsius: -10.123 });
    expect(server.paths).toEqual([T28, T28, '/10.000010EF0100/temperature']);
  });

  test('85 °C is read again, uncached, after the delay; a real value then is kept', async () => {
    const server = await fake(table({}, { [T28]: '          85', [U28]: '     21.5' }));
    const delays: number[] = [];
    const ow = source(server.port, { rereadDelay: 750, sleep: async (ms) => void delays.push(ms) });
    expect(await ow.read('28-000028d70000')).toEqual({ ok: true, celsius: 21.5 });
    expect(delays).toEqual([750]);
    expect(server.paths).toEqual([T28, U28]);
  });

  test('85 °C twice is power-on', async () => {
    const server = await fake(table({}, { [T28]: '          85', [U28]: '          85' }));
    const reading = await source(server.port).read('28-000028d70000');
    expect(reading).toEqual({ ok: false, reason: 'power-on', message: expect.stringMatching(/^85 °C twice, 1 ms apart: the power-on value/) });
  });

  test('85.0625 is a temperature, not the power-on value', async () => {
    const server = await fake(table({}, { [T28]: '     85.0625' }));
    expect(await source(server.port).read('28-000028d70000')).toEqual({ ok: true, celsius: 85.063 });
    expect(server.paths).toEqual([T28]);
  });

  test('a probe the server does not find (-1 of owserver 3.x, ENOENT, ENODEV) is missing', async () => {
    const server = await fake(table({}, { [T28]: -1, '/28.0000052FD3C1/temperature': -2, '/22.000000000001/temperature': -19 }));
    const ow = source(server.port);
    for (const id of ['28-000028d70000', '28-0000052fd3c1', '22-000000000001']) {
      const reading = await ow.read(id);
      expect(reading).toMatchObject({ ok: false, reason: 'missing' });
    }
    expect(await ow.read('28-0000052fd3c1')).toEqual({
      ok: false,
      reason: 'missing',
      message: `28-0000052fd3c1 is not on the buses of owserver 127.0.0.1:${server.port} (/28.0000052FD3C1/temperature: ENOENT (no such path)); check its wiring`,
    });
  });

  test('other server errors, timeouts and dropped connections are unreadable', async () => {
    const server = await fake(table({}, { [T28]: -5, '/10.000010EF0100/temperature': 'hang' }));
    const ow = source(server.port, { timeout: 100 });
    expect(await ow.read('28-000028d70000')).toEqual({ ok: false, reason: 'unreadable', message: expect.stringMatching(/-5: EIO/) });
    expect(await ow.read('10-000010ef0100')).toEqual({ ok: false, reason: 'unreadable', message: expect.stringMatching(/did not answer READ .* within 100 ms/) });
    await server.close();
    expect(await ow.read('28-000028d70000')).toEqual({ ok: false, reason: 'unreadable', message: expect.stringMatching(/cannot connect to owserver/) });
  });

  test('text that is not a number, or outside the chip range, is truncated', async () => {
    const server = await fake(table({}, { [T28]: '   12.5abc', '/28.000028D70001/temperature': '', '/28.000028D70002/temperature': '     130', '/42.000028D70002/temperature': '    86' }));
    const ow = source(server.port);
    expect(await ow.read('28-000028d70000')).toEqual({ ok: false, reason: 'truncated', message: expect.stringContaining('"12.5abc"') });
    expect(await ow.read('28-000028d70001')).toMatchObject({ ok: false, reason: 'truncated' });
    expect(await ow.read('28-000028d70002')).toEqual({ ok: false, reason: 'truncated', message: expect.stringContaining("130 °C is outside the DS18B20's range -55..125") });
    expect(await ow.read('42-000028d70002')).toMatchObject({ ok: false, reason: 'truncated' });
  });

  test('ids are checked before any path is built', async () => {
    const server = await fake(table({}));
    const ow = source(server.port);
    for (const id of ['../../settings', '28-000028d7000', '28-000028d70000/../x', '28_000028d70000', '', 42 as unknown as string]) {
      await expect(ow.read(id)).rejects.toMatchObject({ code: 'ERR_ONEWIRE_INVALID' });
      await expect(ow.resolution(id)).rejects.toMatchObject({ code: 'ERR_ONEWIRE_INVALID' });
    }
    expect(server.connections).toBe(0);
  });
});

describe('resolution and close', () => {
  test('resolution is null: owserver does not tell it', async () => {
    const server = await fake(table({}));
    expect(await source(server.port).resolution('28-000028d70000')).toBeNull();
    expect(server.connections).toBe(0);
  });

  test('kind and location', async () => {
    const ow = new OwserverSource({ host: 'pi.local', port: 4305 });
    expect([ow.kind, ow.location]).toEqual(['owserver', 'pi.local:4305']);
    expect(() => new OwserverSource({ rereadDelay: -1 })).toThrow(/rereadDelay must be a number of ms >= 0/);
    await ow.close();
  });

  test('close during the 85 °C wait: ERR_ONEWIRE_CLOSED, then every call', async () => {
    const server = await fake(table({}, { '/28.000028D70000/temperature': '85' }));
    const ow = source(server.port, { rereadDelay: 60_000, sleep: undefined });
    const reading = ow.read('28-000028d70000').catch((err: unknown) => err);
    await waitFor(() => server.requests.length === 1, 'the first read');
    await ow.close();
    const err = await reading;
    expect(isOneWireError(err, 'ERR_ONEWIRE_CLOSED')).toBe(true);
    await expect(ow.list()).rejects.toMatchObject({ code: 'ERR_ONEWIRE_CLOSED' });
    await expect(ow.read('28-000028d70000')).rejects.toMatchObject({ code: 'ERR_ONEWIRE_CLOSED' });
    await ow.close();
  });

  test('a client passed in is used and left open', async () => {
    const server = await fake(table({}, { '/28.000028D70000/temperature': '4' }));
    const client = cleanup.add(new OwserverClient({ port: server.port }));
    const ow = new OwserverSource({ client });
    expect(await ow.read('28-000028d70000')).toEqual({ ok: true, celsius: 4 });
    await ow.close();
    expect(await client.readText('/28.000028D70000/temperature')).toBe('4');
  });
});
