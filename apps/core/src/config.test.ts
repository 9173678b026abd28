import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from './config.js';

describe('parseConfig', () => {
  test('defaults', () => {
    expect(parseConfig([], {}, { dataDir: '/home/pi/.local/share/raspy', machine: 'Pi1.local' })).toEqual({
      kind: 'run',
      config: {
        broker: 'tcp://127.0.0.1:5514',
        kv: 'tcp://127.0.0.1:5515',
        host: 'pi1',
        location: undefined,
        timezone: undefined,
        examples: undefined,
        dataDir: '/home/pi/.local/share/raspy',
        dataDirWarning: null,
        historyDays: 7,
        historyMaxMb: 100,
        heartbeatInterval: undefined,
        logLevel: 'info',
        logFormat: undefined,
      },
    });
  });

  test('flags and environment; an explicit temporary data folder is allowed with a warning', () => {
    const out = parseConfig(['--broker', 'tcp://pi1:5514', '--heartbeat-interval', '1000'], { RASPY_DATA: join(tmpdir(), 'mine'), RASPY_LOG_LEVEL: 'warn' });
    expect(out).toMatchObject({
      kind: 'run',
      config: { broker: 'tcp://pi1:5514', dataDir: join(tmpdir(), 'mine'), heartbeatInterval: 1000, logLevel: 'warn', dataDirWarning: expect.stringMatching(/emptied at boot/) },
    });
  });

  test('location, time zone and examples', () => {
    const out = parseConfig(['--latitude', '48.85', '--longitude', '2.35', '--timezone', 'Europe/Paris', '--examples', '/x.json', '--host', 'house'], {}, { dataDir: '/d' });
    expect(out).toMatchObject({ kind: 'run', config: { location: { latitude: 48.85, longitude: 2.35 }, timezone: 'Europe/Paris', examples: '/x.json', host: 'house' } });
    expect(parseConfig(['--latitude', '48.85'], {}, { dataDir: '/d' })).toMatchObject({ kind: 'error', message: expect.stringMatching(/go together/) });
    expect(parseConfig(['--timezone', 'Mars/Base'], {}, { dataDir: '/d' })).toMatchObject({ kind: 'error', message: expect.stringMatching(/not a time zone/) });
  });

  test.each([
    [['--broker', 'pi1:5514'], /tcp:\/\/host:port/],
    [['--heartbeat-interval', 'often'], /positive number/],
    [['--log-level', 'chatty'], /--log-level/],
    [['--history-days', '1.5'], /--history-days/],
    [['--history-days', '-1'], /--history-days/],
    [['--history-max-mb', '0'], /--history-max-mb/],
    [['--nope'], /Unknown option/],
  ])('refuses %j', (argv, message) => {
    const out = parseConfig(argv, {}, { dataDir: '/x' });
    expect(out).toMatchObject({ kind: 'error', message: expect.stringMatching(message) });
  });

  test('no home and no --data: a clear error', () => {
    expect(parseConfig([], {}, { dataDir: { error: 'there is no home directory to keep data in; give one with --data' } })).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/--data/),
    });
  });
});
