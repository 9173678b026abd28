import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDataDir, defaultDataDir } from './index.js';

describe('data directory', () => {
  test('defaults to the user data folder of each system', () => {
    expect(defaultDataDir({}, 'linux', '/home/pi')).toBe('/home/pi/.local/share/raspy');
    expect(defaultDataDir({ XDG_DATA_HOME: '/data' }, 'linux', '/home/pi')).toBe('/data/raspy');
    expect(defaultDataDir({ XDG_DATA_HOME: 'relative' }, 'linux', '/home/pi')).toBe('/home/pi/.local/share/raspy');
    expect(defaultDataDir({}, 'darwin', '/Users/ann')).toBe('/Users/ann/Library/Application Support/raspy');
    expect(defaultDataDir({}, 'linux', null)).toEqual({ error: expect.stringMatching(/give one with --data/) });
  });

  test('never in the temporary folder by default', () => {
    expect(defaultDataDir({ XDG_DATA_HOME: join(tmpdir(), 'x') }, 'linux', '/home/pi')).toEqual({ error: expect.stringMatching(/emptied at boot/) });
    expect(checkDataDir(join(tmpdir(), 'a', 'b'))).toEqual({ error: expect.any(String) });
    expect(checkDataDir('/var/lib/raspy')).toBe('/var/lib/raspy');
  });
});
