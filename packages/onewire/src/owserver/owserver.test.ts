/**
 * OwserverClient and OwserverSource against a real OWFS owserver, started by
 * each test on a free loopback port with simulated probes (`--tester`:
 * fixed ids and fixed readings).
 *
 * Needs /usr/bin/owserver (Debian: apt-get install owserver); RASPY_OWSERVER
 * overrides the path. Without it the suite is skipped, unless
 * RASPY_REQUIRE_OWSERVER=1 (CI), where it fails.
 */
import { Cleanup, memoryLogger, waitFor } from '@raspy/test-support';
import { isOneWireError, type OneWireError } from '../errors.js';
import { OwserverClient, type OwserverClientOptions } from './client.js';
import { OwserverSource } from './owserver-source.js';
import { OwserverProcess, owserverAvailable, owserverMissing } from './test-support/owserver-process.js';

if (!owserverAvailable && process.env.RASPY_REQUIRE_OWSERVER === '1') {
  test('owserver is installed (RASPY_REQUIRE_OWSERVER=1)', () => {
    throw new Error(`the owserver tests are required but cannot run: ${owserverMissing}`);
  });
}

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The tester's probes with one adapter, and what they always read. */
const DS18B20 = '/28.000028D70000';
const DS18S20 = '/10.000010EF0100';

async function owserver(args?: string[], port?: number): Promise<OwserverProcess> {
  return cleanup.add(await OwserverProcess.start(args, port));
}

function client(server: OwserverProcess, options: OwserverClientOptions = {}): OwserverClient {
  return cleanup.add(new OwserverClient({ port: server.port, timeout: 3000, ...options }));
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

// Skipped (not failed) without owserver, unless RASPY_REQUIRE_OWSERVER=1 (see the test above).
const describeOwserver = owserverAvailable ? describe : describe.skip;

describeOwserver('a real owserver (--tester=28,10)', () => {
  describe('OwserverClient', () => {
    test('dir lists the simulated probes, the bus and the system directories', async () => {
      const ow = client(await owserver());
      expect(await ow.dir()).toEqual([DS18B20, DS18S20, '/bus.0', '/uncached', '/settings', '/system', '/statistics', '/structure', '/simultaneous', '/alarm']);
      expect(await ow.dir('/', { bus: false })).toEqual([DS18B20, DS18S20]);
      expect(await ow.dir('/bus.0')).toEqual(['/bus.0/interface', `/bus.0${DS18B20}`, `/bus.0${DS18S20}`, '/bus.0/simultaneous', '/bus.0/alarm']);
      const properties = await ow.dir(DS18B20);
      expect(properties).toEqual(
        expect.arrayContaining([`${DS18B20}/temperature`, `${DS18B20}/temperature9`, `${DS18B20}/temperature12`, `${DS18B20}/type`, `${DS18B20}/alias`]),
      );
    });

    test('read gives the right-aligned value, readText the trimmed one: 4 and 1.7 °C', async () => {
      const ow = client(await owserver());
      expect((await ow.read(`${DS18B20}/temperature`)).toString()).toBe('           4');
      expect(await ow.readText(`${DS18B20}/temperature`)).toBe('4');
      expect(await ow.readText(`${DS18S20}/temperature`)).toBe('1.7');
      expect(await ow.readText(`/uncached${DS18B20}/temperature12`)).toBe('4');
      expect(await ow.readText(`${DS18B20}/type`)).toBe('DS18B20');
      expect(await ow.readText(`${DS18S20}/address`)).toBe('10000010EF01009F');
    });

    test('presence: the root, a probe, a property yes; an absent probe or property no', async () => {
      const ow = client(await owserver());
      expect(await ow.presence('/')).toBe(true);
      expect(await ow.presence(DS18B20)).toBe(true);
      expect(await ow.presence(`${DS18S20}/temperature`)).toBe(true);
      expect(await ow.presence('/28.0000052FD3C1')).toBe(false);
      expect(await ow.presence(`${DS18B20}/humidity`)).toBe(false);
    });

    test('a path that does not exist: ERR_ONEWIRE_SERVER with owserver 3.x return code -1; a directory: -21', async () => {
      const ow = client(await owserver());
      const missing = await failure(ow.read('/28.0000052FD3C1/temperature'));
      expect(missing.code).toBe('ERR_ONEWIRE_SERVER');
      expect(missing.returnCode).toBe(-1);
      expect(missing.message).toMatch(/^owserver at 127\.0\.0\.1:\d+ answered READ \/28.0000052FD3C1\/temperature with -1: EPERM \(no such path/);
      expect((await failure(ow.dir('/nope'))).returnCode).toBe(-1);
      const dir = await failure(ow.read(DS18B20));
      expect([dir.returnCode, dir.message]).toEqual([-21, expect.stringMatching(/EISDIR/)]);
    });

    test('write: a writable property takes the value; a read-only one and a bad value are clean server errors', async () => {
      const ow = client(await owserver());
      await ow.write(`${DS18B20}/alias`, 'kitchen');
      expect(await ow.readText(`${DS18B20}/alias`)).toBe('kitchen');
      // owserver puts the alias in place of the id in its listings.
      expect(await ow.dir('/', { bus: false })).toEqual(['/kitchen', DS18S20]);
      expect(await ow.readText('/kitchen/temperature')).toBe('4');

      const readOnly = await failure(ow.write(`${DS18B20}/type`, 'DS1822'));
      expect([readOnly.code, readOnly.returnCode]).toEqual(['ERR_ONEWIRE_SERVER', -95]);
      expect(readOnly.message).toMatch(/EOPNOTSUPP/);
      const badValue = await failure(ow.write(`${DS18B20}/temphigh`, 'hot'));
      expect([badValue.code, badValue.returnCode]).toEqual(['ERR_ONEWIRE_SERVER', -22]);

      await ow.write(`${DS18B20}/alias`, Buffer.alloc(0));
      expect(await ow.dir('/', { bus: false })).toEqual([DS18B20, DS18S20]);
    });

    test('owserver grants persistence: one connection serves many requests', async () => {
      const logger = memoryLogger();
      const ow = client(await owserver(), { logger });
      for (let i = 0; i < 5; i++) expect(await ow.readText(`${DS18B20}/temperature`)).toBe('4');
      await ow.dir();
      await ow.presence(DS18S20);
      expect(logger.lines.filter((l) => l.message === 'connecting')).toHaveLength(1);
      // A WRITE opens its own.
      await ow.write(`${DS18B20}/alias`, 'x');
      expect(logger.lines.filter((l) => l.message === 'connecting')).toHaveLength(2);
    });

    test('the kept connection is let go after idleTimeout, so owserver can stop on SIGTERM', async () => {
      const server = await owserver();
      const logger = memoryLogger();
      const ow = client(server, { logger, idleTimeout: 50 });
      expect(await ow.readText(`${DS18S20}/temperature`)).toBe('1.7');
      await waitFor(() => logger.lines.some((l) => /after its idle timeout/.test(l.message)), 'the idle timeout', 2000);
      await server.stop('SIGTERM', 10_000);
      // 0: it exited by itself, not by the SIGKILL that follows an ignored SIGTERM.
      expect(server.code).toBe(0);
    });

    test('without persistence, one connection per request still works', async () => {
      const logger = memoryLogger();
      const ow = client(await owserver(), { logger, persistent: false });
      for (let i = 0; i < 3; i++) expect(await ow.readText(`${DS18S20}/temperature`)).toBe('1.7');
      expect(logger.lines.filter((l) => l.message === 'connecting')).toHaveLength(3);
    });

    test('--pingcrazy: the keep-alive pings owserver sends before each reply are skipped', async () => {
      const logger = memoryLogger();
      const ow = client(await owserver(['--tester=28,10', '--pingcrazy']), { logger });
      expect(await ow.readText(`${DS18B20}/temperature`)).toBe('4');
      expect(await ow.dir('/', { bus: false })).toEqual([DS18B20, DS18S20]);
      expect(logger.lines.filter((l) => l.message.startsWith('keep-alive ping')).length).toBeGreaterThanOrEqual(2);
    });

    test('--no_dirall: dir falls back to DIR (one message per entry)', async () => {
      const logger = memoryLogger();
      const ow = client(await owserver(['--tester=28,10', '--no_dirall']), { logger });
      expect(await ow.dir('/', { bus: false })).toEqual([DS18B20, DS18S20]);
      expect(await ow.dir('/bus.0')).toEqual(['/bus.0/interface', `/bus.0${DS18B20}`, `/bus.0${DS18S20}`, '/bus.0/simultaneous', '/bus.0/alarm']);
      expect(logger.lines.filter((l) => /refuses DIRALL/.test(l.message))).toHaveLength(1);
    });

    test('owserver killed mid-session: the next request is ERR_ONEWIRE_CONNECTION; restarted, the client works again', async () => {
      const server = await owserver();
      const ow = client(server);
      expect(await ow.readText(`${DS18B20}/temperature`)).toBe('4');
      // The client now holds a kept connection; the server dies under it.
      await server.stop('SIGKILL');

      const down = await failure(ow.readText(`${DS18B20}/temperature`));
      expect(down.code).toBe('ERR_ONEWIRE_CONNECTION');
      expect(down.message).toContain(`127.0.0.1:${server.port}`);
      expect((await failure(ow.dir())).code).toBe('ERR_ONEWIRE_CONNECTION');

      await owserver(undefined, server.port);
      expect(await ow.readText(`${DS18B20}/temperature`)).toBe('4');
      expect(await ow.presence(DS18S20)).toBe(true);
      // Before the new server stops: owserver ignores SIGTERM while a kept connection is open.
      await ow.close();
    });
  });

  describe('OwserverSource', () => {
    test('lists the tester DS18B20 and DS18S20 on /bus.0 and reads 4 and 1.7 °C', async () => {
      const server = await owserver();
      const source = cleanup.add(new OwserverSource({ port: server.port }));
      expect([source.kind, source.location]).toEqual(['owserver', `127.0.0.1:${server.port}`]);
      expect(await source.list()).toEqual([
        { id: '10-000010ef0100', family: '10', chip: 'DS18S20', bus: '/bus.0' },
        { id: '28-000028d70000', family: '28', chip: 'DS18B20', bus: '/bus.0' },
      ]);
      expect(await source.read('28-000028d70000')).toEqual({ ok: true, celsius: 4 });
      expect(await source.read('10-000010ef0100')).toEqual({ ok: true, celsius: 1.7 });
      expect(await source.resolution('28-000028d70000')).toBeNull();
    });

    test('a probe that is not there is missing', async () => {
      const source = cleanup.add(new OwserverSource({ port: (await owserver()).port }));
      expect(await source.read('28-0000052fd3c1')).toEqual({ ok: false, reason: 'missing', message: expect.stringContaining('EPERM (no such path') });
    });

    test('an alias does not hide a probe: the listing is taken under /unaliased', async () => {
      const server = await owserver();
      const ow = client(server);
      await ow.write(`${DS18B20}/alias`, 'kitchen');
      const source = cleanup.add(new OwserverSource({ port: server.port }));
      expect((await source.list()).map((p) => p.id)).toEqual(['10-000010ef0100', '28-000028d70000']);
      expect(await source.read('28-000028d70000')).toEqual({ ok: true, celsius: 4 });
    });

    test('readings are in °C even when owserver defaults to Fahrenheit (-F)', async () => {
      const server = await owserver(['--tester=28,10', '-F']);
      const source = cleanup.add(new OwserverSource({ port: server.port }));
      expect(await source.read('28-000028d70000')).toEqual({ ok: true, celsius: 4 });
      expect(await source.read('10-000010ef0100')).toEqual({ ok: true, celsius: 1.7 });
    });

    test('two adapters: every probe once, on its bus', async () => {
      const server = await owserver(['--tester=28,10', '--tester=22,3B']);
      const source = cleanup.add(new OwserverSource({ port: server.port }));
      const probes = await source.list();
      expect(probes).toEqual([
        { id: '10-010010ef0100', family: '10', chip: 'DS18S20', bus: '/bus.0' },
        { id: '28-010028d70000', family: '28', chip: 'DS18B20', bus: '/bus.0' },
        { id: '22-000022dd0000', family: '22', chip: 'DS1822', bus: '/bus.1' },
        { id: '3b-00003bc40100', family: '3b', chip: 'DS1825', bus: '/bus.1' },
      ]);
      const readings = await Promise.all(probes.map((p) => source.read(p.id)));
      expect(readings).toEqual([
        { ok: true, celsius: 1.8 },
        { ok: true, celsius: 4.1 },
        { ok: true, celsius: 3.4 },
        { ok: true, celsius: 6 },
      ]);
    });

    test('owserver down: list throws ERR_ONEWIRE_CONNECTION, read is unreadable; back up, both work', async () => {
      const server = await owserver();
      const source = cleanup.add(new OwserverSource({ port: server.port }));
      expect(await source.read('28-000028d70000')).toEqual({ ok: true, celsius: 4 });
      await server.stop('SIGKILL');
      await expect(source.list()).rejects.toMatchObject({ code: 'ERR_ONEWIRE_CONNECTION' });
      expect(await source.read('28-000028d70000')).toEqual({ ok: false, reason: 'unreadable', message: expect.stringContaining('ECONNREFUSED') });
      await owserver(undefined, server.port);
      expect(await source.list()).toHaveLength(2);
      expect(await source.read('10-000010ef0100')).toEqual({ ok: true, celsius: 1.7 });
      await source.close();
    });
  });
});
