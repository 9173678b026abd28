import { DEFAULT_BROKER, DEFAULT_KV, DEFAULT_TIMEOUT, helpText, parseCommandLine, watchPath } from './config.js';

const defaults = { broker: DEFAULT_BROKER, kv: DEFAULT_KV, timeout: DEFAULT_TIMEOUT, json: false };

describe('parseCommandLine', () => {
  test('each command with its arguments and the defaults', () => {
    expect(parseCommandLine(['devices'], {})).toEqual({ kind: 'run', options: defaults, invocation: { command: 'devices' } });
    expect(parseCommandLine(['services', '--json'], {})).toEqual({ kind: 'run', options: { ...defaults, json: true }, invocation: { command: 'services' } });
    expect(parseCommandLine(['get', 'pi1/sim/lamp'], {})).toMatchObject({ invocation: { command: 'get', id: 'pi1/sim/lamp', name: undefined, out: undefined } });
    expect(parseCommandLine(['get', 'pi1/sim/cam', 'snapshot', '-o', 'a.png'], {})).toMatchObject({
      invocation: { command: 'get', id: 'pi1/sim/cam', name: 'snapshot', out: 'a.png' },
    });
    expect(parseCommandLine(['set', 'pi1/sim/lamp', 'power', 'on'], {})).toMatchObject({
      invocation: { command: 'set', id: 'pi1/sim/lamp', name: 'power', value: 'on' },
    });
    expect(parseCommandLine(['watch'], {})).toMatchObject({ invocation: { command: 'watch', path: '/device/' } });
  });

  test('global options go anywhere; flags win over RASPY_BROKER and RASPY_KV', () => {
    const env = { RASPY_BROKER: 'tcp://pi1.local:5514', RASPY_KV: 'tcp://pi1.local:5515' };
    expect(parseCommandLine(['devices'], env)).toMatchObject({ options: { broker: 'tcp://pi1.local:5514', kv: 'tcp://pi1.local:5515' } });
    expect(parseCommandLine(['--broker', 'tcp://10.0.0.2:6000', 'devices', '--kv', 'tcp://10.0.0.2:6001', '--timeout', '800'], env)).toMatchObject({
      options: { broker: 'tcp://10.0.0.2:6000', kv: 'tcp://10.0.0.2:6001', timeout: 800 },
    });
    // Empty variables are as good as unset.
    expect(parseCommandLine(['devices'], { RASPY_BROKER: '', RASPY_KV: '' })).toMatchObject({ options: { broker: DEFAULT_BROKER, kv: DEFAULT_KV } });
  });

  test('negative numbers are values, with or without "--"', () => {
    expect(parseCommandLine(['set', 'pi1/sim/heater', 'offset', '-2.5'], {})).toMatchObject({ invocation: { value: '-2.5' } });
    expect(parseCommandLine(['set', 'pi1/sim/heater', 'offset', '--', '-2'], {})).toMatchObject({ invocation: { value: '-2' } });
    expect(parseCommandLine(['set', 'pi1/sim/heater', 'offset', '-.5'], {})).toMatchObject({ invocation: { value: '-.5' } });
    expect(parseCommandLine(['devices', '--timeout', '-5'], {})).toEqual({
      kind: 'error',
      message: '--timeout must be a positive whole number of milliseconds, got "-5"',
      command: 'devices',
    });
  });

  test('help and version, overall and per command', () => {
    expect(parseCommandLine([], {})).toEqual({ kind: 'error', message: 'a command is needed', command: undefined });
    expect(parseCommandLine(['--help'], {})).toEqual({ kind: 'help', command: undefined });
    expect(parseCommandLine(['-h'], {})).toEqual({ kind: 'help', command: undefined });
    expect(parseCommandLine(['get', '--help'], {})).toEqual({ kind: 'help', command: 'get' });
    expect(parseCommandLine(['set', '-h', 'whatever'], {})).toEqual({ kind: 'help', command: 'set' });
    expect(parseCommandLine(['help'], {})).toEqual({ kind: 'help', command: undefined });
    expect(parseCommandLine(['help', 'watch'], {})).toEqual({ kind: 'help', command: 'watch' });
    expect(parseCommandLine(['-v'], {})).toEqual({ kind: 'version' });
    expect(parseCommandLine(['--version'], {})).toEqual({ kind: 'version' });
    expect(helpText()).toMatch(/^Usage: raspy <command>/);
    expect(helpText('get')).toMatch(/^Usage: raspy get <device-id> \[command\][\s\S]*--broker <endpoint>/);
  });

  test('usage errors say what is wrong, with the command for the help hint', () => {
    const error = (argv: string[]): unknown => parseCommandLine(argv, {});
    expect(error(['frobnicate'])).toEqual({ kind: 'error', message: 'no command "frobnicate"; commands: devices, get, set, watch, services', command: undefined });
    expect(error(['help', 'me'])).toMatchObject({ kind: 'error', message: 'no command "me"; commands: devices, get, set, watch, services' });
    expect(error(['get'])).toEqual({ kind: 'error', message: 'usage: raspy get <device-id> [command]', command: 'get' });
    expect(error(['devices', 'now'])).toEqual({ kind: 'error', message: 'usage: raspy devices; unexpected "now"', command: 'devices' });
    expect(error(['set', 'pi1/sim/lamp', 'power'])).toMatchObject({ message: 'usage: raspy set <device-id> <command> <value>' });
    expect(error(['get', 'lamp'])).toMatchObject({ message: expect.stringMatching(/^a device id is <host>\/<server>\/<device>/), command: 'get' });
    expect(error(['get', 'Pi1/sim/lamp'])).toMatchObject({ message: expect.stringMatching(/^a device id is/) });
    expect(error(['devices', '--colour'])).toMatchObject({ kind: 'error', message: expect.stringMatching(/Unknown option '--colour'/), command: 'devices' });
    expect(error(['devices', '--timeout'])).toMatchObject({ kind: 'error', message: expect.stringMatching(/--timeout/) });
    expect(error(['devices', '--timeout', '1.5'])).toMatchObject({ message: '--timeout must be a positive whole number of milliseconds, got "1.5"' });
    expect(error(['services', '--out', 'x'])).toMatchObject({ message: '--out is an option of get only' });
    expect(error(['get', 'pi1/sim/cam', '--out', 'x'])).toMatchObject({ message: '--out needs a command: raspy get <device-id> <command> --out FILE' });
    expect(error(['devices', '--broker', 'pi1:5514'])).toMatchObject({ message: '--broker (RASPY_BROKER) must look like tcp://host:port, got "pi1:5514"' });
    expect(error(['devices', '--kv', 'tcp://pi1'])).toMatchObject({ message: expect.stringMatching(/^--kv \(RASPY_KV\) must look like tcp:\/\/host:port/) });
    expect(error(['watch', '/device//x'])).toMatchObject({ message: expect.stringMatching(/^the subtree must be a key path/) });
  });
});

describe('watchPath', () => {
  test('key paths as they are, device ids under /device/', () => {
    expect(watchPath('/device/')).toBe('/device/');
    expect(watchPath('/')).toBe('/');
    expect(watchPath('/server/pi1/sim')).toBe('/server/pi1/sim');
    expect(watchPath('pi1/sim/lamp')).toBe('/device/pi1/sim/lamp');
    expect(watchPath('pi1/')).toBe('/device/pi1/');
    expect(watchPath('//')).toEqual({ error: expect.stringMatching(/^the subtree must be a key path/) });
  });
});
