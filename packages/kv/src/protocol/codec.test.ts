import {
  DEFAULT_LIMITS,
  checkKey,
  checkSubtree,
  decodeIcanhaz,
  decodeKvMessage,
  decodeSequence,
  encodeHugz,
  encodeIcanhaz,
  encodeKthxbai,
  encodeKvMessage,
  encodeSequence,
  formatProperties,
  parseProperties,
} from '../index.js';

const b = (s: string): Buffer => Buffer.from(s);
const hex = (frames: Buffer[]): string[] => frames.map((f) => f.toString('hex'));
const E = Buffer.alloc(0);

describe('12/CHP frames, byte for byte', () => {
  test('sequence is 8 bytes big-endian', () => {
    expect(encodeSequence(1).toString('hex')).toBe('0000000000000001');
    expect(encodeSequence(0x0102030405).toString('hex')).toBe('0000000102030405');
    expect(decodeSequence(Buffer.from('00000000000000ff', 'hex'))).toBe(255);
    expect(decodeSequence(Buffer.from('ff', 'hex'))).toBeNull();
    expect(decodeSequence(Buffer.from('ffffffffffffffff', 'hex'))).toBeNull();
  });

  test('ICANHAZ, KTHXBAI and HUGZ', () => {
    expect(hex(encodeIcanhaz('/device/'))).toEqual(hex([b('ICANHAZ?'), b('/device/')]));
    expect(hex(encodeIcanhaz(''))).toEqual(hex([b('ICANHAZ?'), E]));
    expect(hex(encodeKthxbai(42, '/a/'))).toEqual(hex([b('KTHXBAI'), encodeSequence(42), E, E, b('/a/')]));
    expect(hex(encodeHugz())).toEqual(hex([b('HUGZ'), Buffer.alloc(8), E, E, E]));
  });

  test('KVPUB with uuid and properties', () => {
    const uuid = Buffer.alloc(16, 0xab);
    const frames = encodeKvMessage({ key: '/a/b', sequence: 7, uuid, properties: { ttl: '30', who: 'x=y' }, value: b('v') });
    expect(hex(frames)).toEqual(hex([b('/a/b'), encodeSequence(7), uuid, b('ttl=30\nwho=x=y\n'), b('v')]));
    expect(decodeKvMessage(frames)).toEqual({
      ok: true,
      value: { key: '/a/b', sequence: 7, uuid, properties: { ttl: '30', who: 'x=y' }, value: b('v') },
    });
  });

  test('properties: empty, round trip, and refusals', () => {
    expect(formatProperties({})).toEqual(E);
    expect(parseProperties(E)).toEqual({ ok: true, value: {} });
    expect(parseProperties(b('a=1\nb=\n'))).toEqual({ ok: true, value: { a: '1', b: '' } });
    for (const bad of ['a=1', '=1\n', 'noequals\n', 'a=1\na=2\n', '__proto__=x\n']) {
      expect(parseProperties(b(bad)).ok).toBe(false);
    }
    expect(() => formatProperties({ 'a=b': '1' })).toThrow(/bad property name/);
    expect(() => formatProperties({ a: 'x\ny' })).toThrow(/newline/);
  });
});

describe('validation', () => {
  test('keys', () => {
    expect(checkKey(b('/device/pi1/sim/t1/temperature'))).toBeNull();
    expect(checkKey(E)).toMatch(/empty/);
    expect(checkKey(b('/a\n'))).toMatch(/control byte 0x0a/);
    expect(checkKey(b('HUGZ'))).toMatch(/protocol command/);
    expect(checkKey(b('KTHXBAI'))).toMatch(/protocol command/);
    expect(checkKey(Buffer.alloc(DEFAULT_LIMITS.maxKeyBytes + 1, 0x61))).toMatch(/more than 1024/);
    expect(checkKey(Buffer.from([0x2f, 0xc3, 0x28]))).toMatch(/UTF-8/);
  });

  test('subtrees', () => {
    for (const ok of ['', '/a/', '/device/pi1/']) expect(checkSubtree(ok)).toBeNull();
    for (const bad of ['/', 'a/', '/a', '/a//', 'device', '/a/\n/']) expect(checkSubtree(bad)).not.toBeNull();
  });

  test.each<[string, Buffer[], RegExp]>([
    ['four frames', [b('/k'), encodeSequence(1), E, E], /5 frames, got 4/],
    ['a short sequence', [b('/k'), b('1'), E, E, b('v')], /8 bytes/],
    ['a 3-byte uuid', [b('/k'), encodeSequence(1), b('abc'), E, b('v')], /UUID/],
    ['bad properties', [b('/k'), encodeSequence(1), E, b('ttl'), b('v')], /properties/],
    ['an empty key', [E, encodeSequence(1), E, E, b('v')], /key is empty/],
    ['a reserved key', [b('HUGZ'), encodeSequence(0), E, E, E], /protocol command/],
    ['an oversized value', [b('/k'), encodeSequence(1), E, E, Buffer.alloc(11)], /11 bytes, more than 10/],
  ])('a message with %s is refused', (_what, frames, reason) => {
    const r = decodeKvMessage(frames, { maxKeyBytes: 100, maxValueBytes: 10 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.code).toBe('ERR_KV_PROTOCOL');
    expect(!r.ok && r.error.message).toMatch(reason);
  });

  test('a client reading the server lets HUGZ and KTHXBAI through', () => {
    expect(decodeKvMessage(encodeHugz(), DEFAULT_LIMITS, { commands: true }).ok).toBe(true);
    expect(decodeKvMessage(encodeKthxbai(3, ''), DEFAULT_LIMITS, { commands: true }).ok).toBe(true);
  });

  test('ICANHAZ decoding', () => {
    expect(decodeIcanhaz([b('ICANHAZ?'), b('/a/')])).toEqual({ ok: true, value: '/a/' });
    expect(decodeIcanhaz([b('ICANHAZ?')]).ok).toBe(false);
    expect(decodeIcanhaz([b('GIMME'), b('')]).ok).toBe(false);
    expect(decodeIcanhaz([b('ICANHAZ?'), b('no-slashes')]).ok).toBe(false);
  });
});
