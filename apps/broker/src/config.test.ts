import { parseConfig } from './config.js';

describe('parseConfig', () => {
  test('defaults: tcp://*:5514, info, format decided by the terminal', () => {
    expect(parseConfig([], {})).toEqual({
      kind: 'run',
      config: {
        broker: { endpoint: ['tcp://*:5514'] },
        kv: { host: 'tcp://*', port: 5515, dataDir: undefined },
        logLevel: 'info',
        logFormat: undefined,
      },
    });
  });

  test('flags win over environment variables', () => {
    const out = parseConfig(['--heartbeat-interval', '1000', '--endpoint', 'tcp://127.0.0.1:6000', '--endpoint', 'ipc:///tmp/b'], {
      RASPY_HEARTBEAT_INTERVAL: '5000',
      RASPY_BROKER_ENDPOINT: 'tcp://*:7000',
      RASPY_MAX_QUEUE: '50',
      RASPY_LOG_LEVEL: 'debug',
      RASPY_LOG_FORMAT: 'json',
    });
    expect(out).toEqual({
      kind: 'run',
      config: {
        broker: { endpoint: ['tcp://127.0.0.1:6000', 'ipc:///tmp/b'], heartbeatInterval: 1000, maxQueuePerService: 50 },
        kv: { host: 'tcp://*', port: 5515, dataDir: undefined },
        logLevel: 'debug',
        logFormat: 'json',
      },
    });
  });

  test('key/value server: port, interface, data directory, or off', () => {
    const on = parseConfig(['--kv-port', '0', '--kv-host', 'tcp://127.0.0.1'], { RASPY_KV_DATA: '/var/lib/raspy/kv' });
    expect(on.kind === 'run' && on.config.kv).toEqual({ host: 'tcp://127.0.0.1', port: 0, dataDir: '/var/lib/raspy/kv' });
    const off = parseConfig(['--no-kv'], {});
    expect(off.kind === 'run' && off.config.kv).toBeNull();
    const envOff = parseConfig([], { RASPY_KV: 'off' });
    expect(envOff.kind === 'run' && envOff.config.kv).toBeNull();
    expect(parseConfig(['--kv-port', '65534'], {})).toMatchObject({ kind: 'error', message: expect.stringMatching(/up to 65533/) });
    expect(parseConfig(['--kv-host', 'tcp://*:5515'], {})).toMatchObject({ kind: 'error', message: expect.stringMatching(/no port/) });
  });

  test('comma-separated endpoints from the environment', () => {
    const out = parseConfig([], { RASPY_BROKER_ENDPOINT: 'tcp://*:1, tcp://*:2' });
    expect(out.kind === 'run' && out.config.broker.endpoint).toEqual(['tcp://*:1', 'tcp://*:2']);
  });

  test.each([
    [['--heartbeat-liveness', '2.5'], /positive integer/],
    [['--request-timeout=-1'], /positive number/],
    [['--max-pending', 'lots'], /positive integer, got "lots"/],
    [['--log-level', 'loud'], /--log-level must be/],
    [['--log-format', 'xml'], /--log-format must be/],
    [['--endpoint', '5514'], /tcp:\/\/host:port/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['positional'], /positional/i],
  ])('refuses %j with a clear message', (argv, message) => {
    const out = parseConfig(argv, {});
    expect(out.kind).toBe('error');
    expect(out.kind === 'error' && out.message).toMatch(message);
  });

  test('help and version', () => {
    expect(parseConfig(['-h'], {})).toEqual({ kind: 'help' });
    expect(parseConfig(['--version'], {})).toEqual({ kind: 'version' });
  });
});
