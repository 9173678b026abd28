/**
 * OwserverClient against scripted servers on node:net: keep-alive pings,
 * replies cut in pieces or merged, silence (timeouts), refused and dropped
 * connections, kept connections, the DIR fallback, and close(). The same
 * client against a real owserver is in owserver.test.ts.
 */
import type { Socket } from 'node:net';
import { Cleanup, memoryLogger, unusedPort, waitFor, within } from '@raspy/test-support';
import { isOneWireError, type OneWireError, type OneWireErrorCode } from '../errors.js';
import { OwserverClient, type OwserverClientOptions } from './client.js';
import { ControlFlag, MessageType, encodePing, encodeReply, encodeReplyHeader } from './protocol.js';
import { FakeOwserver, writeInPieces, type FakeHandler } from './test-support/fake-owserver.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const TEMP = '           4';
const KEEP = ControlFlag.OWNET | ControlFlag.PERSISTENCE;

async function fake(handler: FakeHandler): Promise<FakeOwserver> {
  return cleanup.add(await FakeOwserver.start(handler));
}

function client(port: number, options: OwserverClientOptions = {}): OwserverClient {
  return cleanup.add(new OwserverClient({ port, timeout: 2000, ...options }));
}

/** Answers every request with `reply` and closes, as owserver does without persistence. */
function answer(reply: (type: number, path: string) => Buffer): FakeHandler {
  return (req, socket) => {
    socket.end(reply(req.type, req.path));
  };
}

async function failure(promise: Promise<unknown>): Promise<OneWireError> {
  try {
    await promise;
  } catch (err) {
    if (isOneWireError(err)) return err;
    throw err;
  }
  throw new Error('expected a OneWireError, the promise resolved');
}

function expectCode(err: OneWireError, code: OneWireErrorCode): void {
  expect({ code: err.code, message: err.message }).toEqual({ code, message: expect.any(String) });
}

describe('requests and replies', () => {
  test('read, readText, write, presence and ping send the right messages and flags', async () => {
    const server = await fake(
      answer((type, path) => {
        if (type === MessageType.READ) return encodeReply(12, TEMP);
        if (type === MessageType.PRESENCE) return path === '/28.000028D70000' ? encodeReply(0, Buffer.alloc(8), { size: 0 }) : encodeReply(-1);
        return encodeReply(0);
      }),
    );
    const ow = client(server.port, { persistent: false });
    expect((await ow.read('/28.000028D70000/temperature')).toString()).toBe(TEMP);
    expect(await ow.readText('/28.000028D70000/temperature')).toBe('4');
    await ow.write('/28.000028D70000/alias', 'kitchen');
    expect(await ow.presence('/28.000028D70000')).toBe(true);
    expect(await ow.presence('/28.0000052FD3C1')).toBe(false);
    await ow.ping();
    expect(server.requests.map((r) => [r.type, r.path, r.data.toString()])).toEqual([
      [MessageType.READ, '/28.000028D70000/temperature', ''],
      [MessageType.READ, '/28.000028D70000/temperature', ''],
      [MessageType.WRITE, '/28.000028D70000/alias', 'kitchen'],
      [MessageType.PRESENCE, '/28.000028D70000', ''],
      [MessageType.PRESENCE, '/28.0000052FD3C1', ''],
      [MessageType.NOP, '', ''],
    ]);
    // Celsius and the /10.67C6697351FF name format are the zero values of their fields; OWNET always set.
    expect(server.requests.every((r) => r.header.flags === ControlFlag.OWNET)).toBe(true);
    expect(server.requests[2]?.header.size).toBe(7);
  });

  test('dir sends DIRALL with BUS_RET unless bus is false, and splits the reply', async () => {
    const server = await fake(answer(() => encodeReply(0, '/28.000028D70000,/10.000010EF0100,/bus.0\0', { size: 40 })));
    const ow = client(server.port);
    expect(await ow.dir()).toEqual(['/28.000028D70000', '/10.000010EF0100', '/bus.0']);
    await ow.dir('/bus.0', { bus: false });
    expect(server.requests.map((r) => [r.type, r.path, r.header.flags & ControlFlag.BUS_RET])).toEqual([
      [MessageType.DIRALL, '/', ControlFlag.BUS_RET],
      [MessageType.DIRALL, '/bus.0', 0],
    ]);
  });

  test('a negative return code is ERR_ONEWIRE_SERVER with returnCode and the errno name', async () => {
    const server = await fake(answer((type) => encodeReply(type === MessageType.WRITE ? -95 : -2)));
    const ow = client(server.port);
    const read = await failure(ow.read('/nope'));
    expectCode(read, 'ERR_ONEWIRE_SERVER');
    expect(read.returnCode).toBe(-2);
    expect(read.message).toBe(`owserver at 127.0.0.1:${server.port} answered READ /nope with -2: ENOENT (no such path)`);
    const write = await failure(ow.write('/28.000028D70000/type', 'x'));
    expect(write.returnCode).toBe(-95);
    expect(write.message).toMatch(/WRITE \/28.000028D70000\/type with -95: EOPNOTSUPP/);
    expect((await failure(ow.dir('/nope'))).returnCode).toBe(-2);
  });

  test('a bad path is refused before any connection', async () => {
    const server = await fake(answer(() => encodeReply(0)));
    const ow = client(server.port);
    for (const attempt of [ow.read('28.000028D70000'), ow.dir('/a/../b'), ow.write('/a\0b', 'x'), ow.presence('')]) {
      expectCode(await failure(attempt), 'ERR_ONEWIRE_INVALID');
    }
    expect(server.connections).toBe(0);
  });
});

describe('framing', () => {
  test('keep-alive pings are skipped and a reply cut in pieces is put together', async () => {
    const server = await fake(async (_req, socket) => {
      await writeInPieces(socket, encodePing(), [5]);
      socket.write(encodePing());
      // Cut inside the header, at its end, and inside the payload.
      await writeInPieces(socket, encodeReply(12, TEMP), [3, 10, 24, 30]);
      socket.end();
    });
    const logger = memoryLogger();
    const ow = client(server.port, { logger });
    expect(await ow.readText('/28.000028D70000/temperature')).toBe('4');
    expect(logger.lines.filter((l) => l.message.startsWith('keep-alive ping'))).toHaveLength(2);
  });

  test('a DIR listing whose replies come all in one packet', async () => {
    const server = await fake((req, socket) => {
      if (req.type === MessageType.DIRALL) return void socket.end(encodeReply(-42));
      socket.end(
        Buffer.concat([
          encodeReply(0, '/28.000028D70000\0', { size: 16 }),
          encodePing(),
          encodeReply(0, '/10.000010EF0100\0', { size: 16 }),
          encodeReply(0, '', { offset: 32770 }),
        ]),
      );
    });
    expect(await client(server.port).dir('/')).toEqual(['/28.000028D70000', '/10.000010EF0100']);
  });

  test('a DIR listing whose replies come byte by byte', async () => {
    const server = await fake(async (req, socket) => {
      if (req.type === MessageType.DIRALL) return void socket.end(encodeReply(-42));
      const all = Buffer.concat([encodeReply(0, '/a\0', { size: 2 }), encodeReply(0, '/b\0', { size: 2 }), encodeReply(0)]);
      await writeInPieces(socket, all, [...Array(all.length - 1).keys()].map((i) => i + 1).filter((i) => i % 7 === 0));
      socket.end();
    });
    expect(await client(server.port).dir('/')).toEqual(['/a', '/b']);
  });

  test('an error ends a DIR listing', async () => {
    const server = await fake((req, socket) => {
      if (req.type === MessageType.DIRALL) return void socket.end(encodeReply(-42));
      socket.end(Buffer.concat([encodeReply(0, '/a\0', { size: 2 }), encodeReply(-5)]));
    });
    const err = await failure(client(server.port).dir('/bus.0'));
    expect(err.returnCode).toBe(-5);
    expect(err.message).toMatch(/DIR \/bus.0 with -5: EIO/);
  });

  test('a server that does not know DIRALL (ENOMSG): DIR instead, and from then on', async () => {
    const server = await fake((req, socket) => {
      if (req.type === MessageType.DIRALL) return void socket.end(encodeReply(-42));
      socket.end(Buffer.concat([encodeReply(0, `${req.path === '/' ? '' : req.path}/x\0`), encodeReply(0)]));
    });
    const logger = memoryLogger();
    const ow = client(server.port, { logger });
    expect(await ow.dir('/')).toEqual(['/x']);
    expect(await ow.dir('/bus.0')).toEqual(['/bus.0/x']);
    expect(server.requests.map((r) => r.type)).toEqual([MessageType.DIRALL, MessageType.DIR, MessageType.DIR]);
    expect(logger.lines.some((l) => l.level === 'info' && /refuses DIRALL/.test(l.message))).toBe(true);
  });

  test('bytes that are not owserver replies: ERR_ONEWIRE_CONNECTION', async () => {
    const server = await fake(answer(() => Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const err = await failure(client(server.port).read('/x'));
    expectCode(err, 'ERR_ONEWIRE_CONNECTION');
    expect(err.message).toMatch(/not an owserver reply/);
  });

  test('an absurd payload length is refused without waiting for the bytes', async () => {
    const server = await fake((_req, socket) => {
      socket.write(encodeReplyHeader({ version: 0, payloadLength: 200_000_000, returnCode: 0, flags: 0, size: 0, offset: 0 }));
    });
    const err = await failure(within(client(server.port).read('/x'), 1000, 'the refusal'));
    expectCode(err, 'ERR_ONEWIRE_CONNECTION');
    expect(err.message).toMatch(/200000000 bytes of payload/);
  });
});

describe('connections', () => {
  test('nothing listening: ERR_ONEWIRE_CONNECTION naming host:port', async () => {
    const port = await unusedPort();
    const err = await failure(client(port).read('/x'));
    expectCode(err, 'ERR_ONEWIRE_CONNECTION');
    expect(err.message).toBe(
      `cannot connect to owserver at 127.0.0.1:${port}: connection refused (ECONNREFUSED); is owserver running and listening there (owserver -p 127.0.0.1:${port})?`,
    );
    expect((err.cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  test('a server that accepts and never answers: ERR_ONEWIRE_TIMEOUT after the timeout, the connection closed', async () => {
    let open: Socket | undefined;
    const server = await fake((_req, socket) => {
      open = socket;
    });
    const ow = client(server.port, { timeout: 200 });
    const started = performance.now();
    const err = await failure(ow.read('/28.000028D70000/temperature'));
    const elapsed = performance.now() - started;
    expectCode(err, 'ERR_ONEWIRE_TIMEOUT');
    expect(err.message).toBe(
      `owserver at 127.0.0.1:${server.port} did not answer READ /28.000028D70000/temperature within 200 ms; check that owserver is running and its bus responds, or raise the timeout`,
    );
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1500);
    expect(open).toBeDefined();
    await waitFor(() => server.open === 0, 'the server side to close', 2000);
  });

  test('pings do not extend the deadline, and the message says the server was busy', async () => {
    const server = await fake(async (_req, socket) => {
      while (!socket.destroyed) {
        socket.write(encodePing());
        await new Promise((r) => setTimeout(r, 30));
      }
    });
    const err = await failure(client(server.port, { timeout: 200 }).read('/slow'));
    expectCode(err, 'ERR_ONEWIRE_TIMEOUT');
    expect(err.message).toMatch(/within 200 ms \(it sent \d+ keep-alive pings: it is busy/);
  });

  test('the server closes before replying: ERR_ONEWIRE_CONNECTION', async () => {
    const server = await fake((_req, socket) => {
      socket.end(encodeReply(12, TEMP).subarray(0, 20));
    });
    const err = await failure(client(server.port).read('/x'));
    expectCode(err, 'ERR_ONEWIRE_CONNECTION');
    expect(err.message).toBe(`owserver at 127.0.0.1:${server.port} closed the connection before replying to READ /x (the reply was cut short)`);
  });

  test('persistence granted: one connection for several requests, and the flag asked for', async () => {
    const server = await fake((_req, socket) => {
      socket.write(encodeReply(12, TEMP, { flags: KEEP }));
    });
    const ow = client(server.port);
    for (let i = 0; i < 3; i++) expect(await ow.readText('/x')).toBe('4');
    expect(server.connections).toBe(1);
    expect(server.requests.every((r) => (r.header.flags & ControlFlag.PERSISTENCE) !== 0)).toBe(true);
  });

  test('a kept connection unused for idleTimeout is closed; idleTimeout 0 keeps none', async () => {
    const server = await fake((_req, socket) => {
      socket.write(encodeReply(12, TEMP, { flags: KEEP }));
    });
    const logger = memoryLogger();
    const ow = client(server.port, { logger, idleTimeout: 30 });
    await ow.read('/x');
    expect(server.open).toBe(1);
    await waitFor(() => server.open === 0, 'the idle connection to close', 2000);
    expect(logger.lines.some((l) => l.message === 'closed the kept connection after its idle timeout')).toBe(true);
    await ow.read('/x');
    expect(server.connections).toBe(2);

    const none = client(server.port, { idleTimeout: 0 });
    await none.read('/x');
    await none.read('/x');
    expect(server.connections).toBe(4);
  });

  test('bytes after the reply: the connection is not kept', async () => {
    const server = await fake((_req, socket) => {
      socket.write(Buffer.concat([encodeReply(12, TEMP, { flags: KEEP }), encodeReply(0, '', { flags: KEEP })]));
    });
    const ow = client(server.port);
    expect(await ow.readText('/x')).toBe('4');
    expect(await ow.readText('/x')).toBe('4');
    expect(server.connections).toBe(2);
  });

  test('persistence not granted: a connection per request', async () => {
    const server = await fake(answer(() => encodeReply(12, TEMP)));
    const ow = client(server.port);
    for (let i = 0; i < 3; i++) await ow.read('/x');
    expect(server.connections).toBe(3);
  });

  test('persistent: false does not ask for it', async () => {
    const server = await fake(answer(() => encodeReply(12, TEMP)));
    await client(server.port, { persistent: false }).read('/x');
    expect(server.requests[0]?.header.flags).toBe(ControlFlag.OWNET);
  });

  test('concurrent requests each get a connection, and all are answered', async () => {
    const server = await fake(async (req, socket) => {
      await new Promise((r) => setTimeout(r, 20));
      socket.write(encodeReply(req.path.length, req.path, { flags: KEEP }));
    });
    const ow = client(server.port);
    const paths = ['/a', '/bb', '/ccc', '/dddd'];
    expect(await Promise.all(paths.map((p) => ow.readText(p)))).toEqual(paths);
    expect(server.connections).toBe(4);
    // One was kept; the next request uses it.
    await ow.read('/e');
    expect(server.connections).toBe(4);
  });

  test('a kept connection the server closes while idle is forgotten; the next request opens a new one', async () => {
    const server = await fake((_req, socket) => {
      socket.write(encodeReply(12, TEMP, { flags: KEEP }));
      setTimeout(() => socket.end(), 10);
    });
    const logger = memoryLogger();
    const ow = client(server.port, { logger });
    await ow.read('/x');
    await waitFor(() => logger.lines.some((l) => /closed the kept connection/.test(l.message)), 'the client to see the end', 2000);
    expect(await ow.readText('/x')).toBe('4');
    expect(server.connections).toBe(2);
  });

  test('a kept connection dropped as the next request goes out: sent again once on a new connection', async () => {
    const server = await fake((req, socket) => {
      // The first connection answers once, then drops the second request unanswered.
      if (req.connection === 1 && server.requests.filter((r) => r.connection === 1).length > 1) return void socket.destroy();
      socket.write(encodeReply(12, TEMP, { flags: KEEP }));
    });
    const ow = client(server.port);
    await ow.read('/x');
    expect(await ow.readText('/y')).toBe('4');
    expect(server.requests.map((r) => [r.path, r.connection])).toEqual([
      ['/x', 1],
      ['/y', 1],
      ['/y', 2],
    ]);
  });

  test('a WRITE never goes on a kept connection, so it is never sent twice', async () => {
    const server = await fake((req, socket) => {
      if (req.type === MessageType.WRITE) return void socket.destroy();
      socket.write(encodeReply(12, TEMP, { flags: KEEP }));
    });
    const ow = client(server.port);
    await ow.read('/x');
    expectCode(await failure(ow.write('/28.000028D70000/alias', 'a')), 'ERR_ONEWIRE_CONNECTION');
    expect(server.requests.filter((r) => r.type === MessageType.WRITE).map((r) => r.connection)).toEqual([2]);
  });

  test('after a failed request the next one connects again', async () => {
    let calls = 0;
    const server = await fake((_req, socket) => {
      if (++calls === 1) return void socket.destroy();
      socket.end(encodeReply(12, TEMP));
    });
    const ow = client(server.port);
    expectCode(await failure(ow.read('/x')), 'ERR_ONEWIRE_CONNECTION');
    expect(await ow.readText('/x')).toBe('4');
  });
});

describe('close', () => {
  test('a request under way fails with ERR_ONEWIRE_CLOSED, later ones too; close is idempotent', async () => {
    const server = await fake(() => undefined);
    const ow = client(server.port, { timeout: 5000 });
    const pending = failure(ow.read('/x'));
    await waitFor(() => server.requests.length > 0, 'the request to arrive', 2000);
    await ow.close();
    expectCode(await pending, 'ERR_ONEWIRE_CLOSED');
    expectCode(await failure(ow.read('/x')), 'ERR_ONEWIRE_CLOSED');
    await ow.close();
  });

  test('close releases the kept connection', async () => {
    const server = await fake((_req, socket) => {
      socket.write(encodeReply(0, '', { flags: KEEP }));
    });
    const ow = client(server.port);
    await ow.ping();
    expect(server.open).toBe(1);
    await ow.close();
    await waitFor(() => server.open === 0, 'the server to see the kept connection close', 2000);
    expect(server.connections).toBe(1);
  });

  test('options are checked', () => {
    expect(() => new OwserverClient({ port: 0 })).toThrow(/port must be an integer from 1 to 65535/);
    expect(() => new OwserverClient({ port: 70000 })).toThrow(/port must be/);
    expect(() => new OwserverClient({ timeout: 0 })).toThrow(/timeout must be a positive number/);
    expect(() => new OwserverClient({ idleTimeout: -1 })).toThrow(/idleTimeout must be a number of ms >= 0/);
    expect(new OwserverClient({ host: '::1' }).address).toBe('[::1]:4304');
    expect(new OwserverClient().address).toBe('127.0.0.1:4304');
  });
});
