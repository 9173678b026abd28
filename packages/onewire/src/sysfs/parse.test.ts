import {
  crc8,
  isPowerOnValue,
  isTemperatureFamily,
  judgeSample,
  normaliseProbeId,
  parseMasterSlaves,
  parseResolutionFile,
  parseSlaveName,
  parseTemperatureFile,
  parseW1Slave,
  resolutionFromScratchpad,
  type SysfsSample,
} from './parse.js';
import { POWER_ON_SCRATCHPAD, ZERO_W1_SLAVE, crcFailW1Slave, ds18b20Scratchpad, goodW1Slave, w1Slave } from './test-support/w1-fixture.js';

const GOOD = '72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n';

function expectBad(sample: SysfsSample, reason: string): void {
  expect(sample.ok).toBe(false);
  if (!sample.ok) {
    expect(sample.reason).toBe(reason);
    expect(sample.message.length).toBeGreaterThan(20);
  }
}

describe('crc8', () => {
  it('matches the CRCs of real scratchpads', () => {
    expect(crc8([0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10])).toBe(0x57);
    expect(crc8(POWER_ON_SCRATCHPAD.slice(0, 8))).toBe(0x1c);
    expect(crc8([0, 0, 0, 0, 0, 0, 0, 0])).toBe(0);
  });
});

describe('slave names and ids', () => {
  it('reads kernel slave names, any case, into lower-case ids', () => {
    expect(parseSlaveName('28-0000052fd3c1')).toEqual({ id: '28-0000052fd3c1', family: '28' });
    expect(parseSlaveName('3B-0000052FD3C1')).toEqual({ id: '3b-0000052fd3c1', family: '3b' });
    expect(parseSlaveName('w1_bus_master1')).toBeNull();
    expect(parseSlaveName('28-0000052fd3c')).toBeNull();
    expect(parseSlaveName('28-0000052fd3c1/')).toBeNull();
  });

  it('knows the temperature families, any case', () => {
    for (const f of ['10', '22', '28', '3b', '3B', '42']) expect(isTemperatureFamily(f)).toBe(true);
    for (const f of ['01', '05', '26', '29', 'constructor', '__proto__']) expect(isTemperatureFamily(f)).toBe(false);
  });

  it('normalises caller ids and refuses anything else', () => {
    expect(normaliseProbeId('28-0000052fd3c1')).toBe('28-0000052fd3c1');
    expect(normaliseProbeId('28-0000052FD3C1')).toBe('28-0000052fd3c1');
    expect(normaliseProbeId('28.0000052FD3C1')).toBe('28-0000052fd3c1');
    for (const hostile of ['../../etc/passwd', '28-0000052fd3c1/../x', '28-000005/../..', '28_0000052fd3c1', '28-0000052fd3g1', ' 28-0000052fd3c1', '28-0000052fd3c1\n', '', '..', 42, null, undefined, {}]) {
      expect(normaliseProbeId(hostile)).toBeNull();
    }
  });

  it('parses w1_master_slaves, with "not found." for an empty bus', () => {
    expect(parseMasterSlaves('28-0000052fd3c1\n10-000802b5d1a2\n01-000012345678\n')).toEqual(['28-0000052fd3c1', '10-000802b5d1a2', '01-000012345678']);
    expect(parseMasterSlaves('not found.\n')).toEqual([]);
    expect(parseMasterSlaves('')).toEqual([]);
  });
});

describe('parseW1Slave', () => {
  it('reads a good two-line file', () => {
    expect(parseW1Slave(GOOD)).toEqual({ ok: true, millidegrees: 23125, scratchpad: [0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10, 0x57] });
    expect(goodW1Slave(23.125)).toBe(GOOD);
  });

  it('reads negative temperatures', () => {
    const sample = parseW1Slave(goodW1Slave(-1.25));
    expect(sample).toMatchObject({ ok: true, millidegrees: -1250 });
    expect(judgeSample('28', sample)).toEqual({ ok: true, celsius: -1.25 });
    expect(judgeSample('28', parseW1Slave(goodW1Slave(-10.0625)))).toEqual({ ok: true, celsius: -10.062 });
  });

  it('says crc for a NO verdict', () => {
    expectBad(parseW1Slave(crcFailW1Slave()), 'crc');
  });

  it('says crc when YES is printed over bytes that do not check', () => {
    expectBad(parseW1Slave(GOOD.replace(/^72/, '73')), 'crc');
  });

  it('says zero for an all-zero scratchpad with a valid CRC', () => {
    expectBad(parseW1Slave(ZERO_W1_SLAVE), 'zero');
  });

  it('keeps a genuine 0 °C with a real scratchpad', () => {
    const sample = parseW1Slave(goodW1Slave(0));
    expect(judgeSample('28', sample)).toEqual({ ok: true, celsius: 0 });
  });

  it('returns 85 °C as a value to be read again', () => {
    const sample = parseW1Slave(w1Slave(POWER_ON_SCRATCHPAD));
    expect(sample).toMatchObject({ ok: true, millidegrees: 85000 });
    expect(isPowerOnValue(sample)).toBe(true);
    expect(isPowerOnValue(parseW1Slave(goodW1Slave(84.9375)))).toBe(false);
  });

  it('says unreadable for the empty file the kernel returns on a failed read', () => {
    expectBad(parseW1Slave(''), 'unreadable');
    expectBad(parseW1Slave('\n'), 'unreadable');
  });

  it('says truncated for cut or malformed content', () => {
    const [line1] = GOOD.split('\n');
    for (const text of [
      `${line1}\n`,
      GOOD.replace('t=23125', 't='),
      GOOD.replace('t=23125', 't=abc'),
      GOOD.replace(' t=23125', ''),
      GOOD.replace('crc=57 YES', 'crc=57'),
      GOOD.replace('72 01 4b 46 7f ff 0e 10 57 : crc', '72 01 4b 46 7f ff 0e 10 : crc'),
      GOOD.slice(0, 60),
      `${GOOD}${GOOD}`,
      'garbage\n\u0000\u0001\n',
      'hello world',
    ]) {
      expectBad(parseW1Slave(text), 'truncated');
    }
  });
});

describe('parseTemperatureFile', () => {
  it('reads millidegrees', () => {
    expect(parseTemperatureFile('23125\n')).toEqual({ ok: true, millidegrees: 23125, scratchpad: null });
    expect(parseTemperatureFile('-1250\n')).toEqual({ ok: true, millidegrees: -1250, scratchpad: null });
  });

  it('says unreadable when empty and truncated when malformed', () => {
    expectBad(parseTemperatureFile(''), 'unreadable');
    for (const text of ['23.125\n', 't=23125\n', '23125\n23125\n', 'abc', '- 5\n', '1e5\n']) expectBad(parseTemperatureFile(text), 'truncated');
  });
});

describe('judgeSample', () => {
  it('turns millidegrees into °C with 3 decimals', () => {
    expect(judgeSample('28', { ok: true, millidegrees: 23125, scratchpad: null })).toEqual({ ok: true, celsius: 23.125 });
    expect(judgeSample('28', { ok: true, millidegrees: -55000, scratchpad: null })).toEqual({ ok: true, celsius: -55 });
    expect(judgeSample('28', { ok: true, millidegrees: 125000, scratchpad: null })).toEqual({ ok: true, celsius: 125 });
  });

  it('refuses values outside the chip range as truncated', () => {
    for (const millidegrees of [127937, 125063, -55063, -127000, 4000000]) {
      const reading = judgeSample('28', { ok: true, millidegrees, scratchpad: null });
      expect(reading).toMatchObject({ ok: false, reason: 'truncated' });
      if (!reading.ok) expect(reading.message).toContain('DS18B20');
    }
    // The DS28EA00 measures −40..+85 °C only.
    expect(judgeSample('42', { ok: true, millidegrees: -45000, scratchpad: null })).toMatchObject({ ok: false, reason: 'truncated' });
    expect(judgeSample('42', { ok: true, millidegrees: 85000, scratchpad: null })).toEqual({ ok: true, celsius: 85 });
  });

  it('passes bad samples through', () => {
    expect(judgeSample('28', { ok: false, reason: 'crc', message: 'x' })).toEqual({ ok: false, reason: 'crc', message: 'x' });
  });
});

describe('resolution', () => {
  it('reads the resolution attribute', () => {
    expect(parseResolutionFile('12\n')).toBe(12);
    expect(parseResolutionFile('9\n')).toBe(9);
    expect(parseResolutionFile('-5\n')).toBeNull();
    expect(parseResolutionFile('')).toBeNull();
    expect(parseResolutionFile('8\n')).toBeNull();
    expect(parseResolutionFile('twelve')).toBeNull();
  });

  it('decodes the configuration register', () => {
    expect(resolutionFromScratchpad('28', ds18b20Scratchpad(20, 0x1f))).toBe(9);
    expect(resolutionFromScratchpad('28', ds18b20Scratchpad(20, 0x3f))).toBe(10);
    expect(resolutionFromScratchpad('22', ds18b20Scratchpad(20, 0x5f))).toBe(11);
    expect(resolutionFromScratchpad('3b', ds18b20Scratchpad(20, 0x7f))).toBe(12);
    expect(resolutionFromScratchpad('28', [0, 0, 0, 0, 0, 0, 0, 0, 0])).toBeNull();
    expect(resolutionFromScratchpad('28', ds18b20Scratchpad(20, 0xff))).toBeNull();
    expect(resolutionFromScratchpad('10', ds18b20Scratchpad(20, 0x7f))).toBeNull();
    expect(resolutionFromScratchpad('28', [1, 2, 3])).toBeNull();
  });
});
