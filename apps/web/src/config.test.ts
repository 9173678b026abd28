import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from './config.js';

test('defaults', () => {
  expect(parseConfig([], {}, { dataDir: '/home/pi/.local/share/raspy' })).toEqual({
    kind: 'run',
    config: {
      bind: '0.0.0.0',
      port: 8514,
      broker: 'tcp://127.0.0.1:5514',
      kv: 'tcp://127.0.0.1:5515',
      coreHost: undefined,
      dataDir: '/home/pi/.local/share/raspy/web',
      dataDirWarning: null,
      adminPassword: undefined,
      logLevel: 'info',
      logFormat: undefined,
    },
  });
});

test('flags win over the environment; an explicit temporary folder is allowed with a warning', () => {
  const out = parseConfig(['--port', '8080', '--bind', '127.0.0.1', '--core-host', 'pi2'], { RASPY_WEB_PORT: '9000', RASPY_DATA: join(tmpdir(), 'x'), RASPY_ADMIN_PASSWORD: 'a long enough one' });
  expect(out).toMatchObject({
    kind: 'run',
    config: { port: 8080, bind: '127.0.0.1', coreHost: 'pi2', dataDir: join(tmpdir(), 'x', 'web'), dataDirWarning: expect.stringMatching(/emptied at boot/), adminPassword: 'a long enough one' },
  });
  expect(parseConfig(['--help'], {})).toEqual({ kind: 'help' });
  expect(parseConfig(['-v'], {})).toEqual({ kind: 'version' });
});

test.each([
  [['--port', 'http'], {}, /--port/],
  [['--port', '70000'], {}, /--port/],
  [['--bind', 'a b'], {}, /--bind/],
  [['--broker', 'pi1:5514'], {}, /--broker/],
  [['--kv', 'tcp://pi1'], {}, /--kv/],
  [['--core-host', 'Pi 1'], {}, /--core-host/],
  [['--log-level', 'loud'], {}, /--log-level/],
  [['--log-format', 'xml'], {}, /--log-format/],
  [['--what'], {}, /Unknown option/],
  [[], { RASPY_ADMIN_PASSWORD: 'short' }, /at least 10/],
] as const)('refuses %j %j', (argv, env, message) => {
  expect(parseConfig(argv, env, { dataDir: '/d' })).toMatchObject({ kind: 'error', message: expect.stringMatching(message) });
});

test('no home and no --data: a clear error', () => {
  expect(parseConfig([], {}, { dataDir: { error: 'there is no home directory to keep data in; give one with --data' } })).toMatchObject({ kind: 'error', message: /no home/ });
});
