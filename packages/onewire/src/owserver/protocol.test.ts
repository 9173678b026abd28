/**
 * The owserver codec without a network: request bytes, reply headers, and
 * the frame parser fed whole, byte by byte, merged, with pings and garbage.
 */
import { isOneWireError } from '../errors.js';
import {
  ControlFlag,
  HEADER_SIZE,
  MessageType,
  READ_SIZE,
  ReplyParser,
  RequestParser,
  decodeReplyHeader,
  decodeRequestHeader,
  describeReturnCode,
  dirRequest,
  encodePing,
  encodeReply,
  encodeReplyHeader,
  encodeRequest,
  isNotFound,
  nopRequest,
  parseDirAll,
  presenceRequest,
  readRequest,
  returnCodeName,
  validatePath,
  writeRequest,
  type ReplyFrame,
} from './protocol.js';

function words(buf: Buffer): number[] {
  return [0, 1, 2, 3, 4, 5].map((i) => buf.readInt32BE(i * 4));
}

function expectInvalid(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isOneWireError(caught, 'ERR_ONEWIRE_INVALID')).toBe(true);
  expect((caught as Error).message).toMatch(message);
}

function replies(frames: ReplyFrame[]): { rc: number; data: string }[] {
  return frames.flatMap((f) => (f.kind === 'reply' ? [{ rc: f.header.returnCode, data: f.data.toString('latin1') }] : []));
}

describe('requests', () => {
  test('a READ: six big-endian words, then the NUL-terminated path', () => {
    const msg = readRequest('/28.000028D70000/temperature', ControlFlag.OWNET | ControlFlag.PERSISTENCE);
    const path = '/28.000028D70000/temperature\0';
    expect(words(msg)).toEqual([0, path.length, MessageType.READ, 0x104, READ_SIZE, 0]);
    expect(msg.subarray(HEADER_SIZE).toString('latin1')).toBe(path);
    expect(msg.subarray(0, 8)).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0, path.length]));
  });

  test('a WRITE carries the data after the path and its length as size', () => {
    const msg = writeRequest('/28.000028D70000/alias', Buffer.from('kitchen'));
    expect(words(msg)).toEqual([0, '/28.000028D70000/alias\0kitchen'.length, MessageType.WRITE, ControlFlag.OWNET, 7, 0]);
    expect(msg.subarray(HEADER_SIZE).toString('latin1')).toBe('/28.000028D70000/alias\0kitchen');
  });

  test('DIRALL, DIR, PRESENCE, and a NOP without a path', () => {
    expect(words(dirRequest('/', ControlFlag.BUS_RET))).toEqual([0, 2, MessageType.DIRALL, ControlFlag.BUS_RET, 0, 0]);
    expect(words(dirRequest('/bus.0', 0, 'DIR'))).toEqual([0, 7, MessageType.DIR, 0, 0, 0]);
    expect(words(presenceRequest('/10.000010EF0100'))).toEqual([0, 17, MessageType.PRESENCE, ControlFlag.OWNET, 0, 0]);
    expect(nopRequest()).toEqual(Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0]), Buffer.alloc(8)]));
  });

  test('a request header decodes back to what was encoded; flags read as unsigned', () => {
    const msg = encodeRequest(MessageType.READ, '/x', { flags: 0xff000104, size: 12, offset: 3 });
    expect(decodeRequestHeader(msg)).toEqual({ version: 0, payloadLength: 3, type: 2, flags: 0xff000104, size: 12, offset: 3 });
  });

  test('the request parser of fake servers gets path and data back, across chunks', () => {
    const parser = new RequestParser();
    const both = Buffer.concat([writeRequest('/a/b', Buffer.from('xyz')), readRequest('/c')]);
    expect(parser.push(both.subarray(0, 30))).toEqual([]);
    const got = parser.push(both.subarray(30));
    expect(got.map((r) => [r.header.type, r.path, r.data.toString()])).toEqual([
      [MessageType.WRITE, '/a/b', 'xyz'],
      [MessageType.READ, '/c', ''],
    ]);
  });
});

describe('paths', () => {
  test.each([['/'], ['/28.000028D70000/temperature'], ['/uncached/bus.0/28.000028D70000'], ['/settings/units/temperature_scale'], ['/a..b']])(
    '%s is accepted',
    (path) => {
      expect(validatePath(path)).toBe(path);
    },
  );

  test.each([
    ['an empty path', '', /must start with '\/'/],
    ['a relative path', '28.000028D70000/temperature', /must start with '\/'/],
    ['a climb out', '/28.000028D70000/../../etc', /'\.\.' segment/],
    ['/..', '/..', /'\.\.' segment/],
    ['a NUL', '/a\0/b', /NUL or control/],
    ['a newline', '/a\nb', /NUL or control/],
    ['a non-ASCII letter', '/température', /non-ASCII/],
    ['a 1025-character path', `/${'a'.repeat(1024)}`, /longer than 1024/],
  ])('%s is refused', (_label, path, message) => {
    expectInvalid(() => validatePath(path), message);
    expectInvalid(() => readRequest(path), message);
  });
});

describe('reply frames', () => {
  const temp = encodeReply(12, '           4');
  const dir = encodeReply(0, '/28.000028D70000,/10.000010EF0100\0', { size: 33, offset: 32770 });

  test('a reply header has version, payload length, return value, flags, size, offset', () => {
    const header = { version: 0, payloadLength: 12, returnCode: -2, flags: 0x80000104, size: 12, offset: 7 };
    expect(decodeReplyHeader(encodeReplyHeader(header))).toEqual(header);
    expect(() => decodeReplyHeader(Buffer.alloc(23))).toThrow(RangeError);
  });

  test('a whole reply in one chunk', () => {
    const parser = new ReplyParser();
    const [frame, ...rest] = parser.push(temp);
    expect(rest).toEqual([]);
    expect(frame).toMatchObject({ kind: 'reply', header: { returnCode: 12, size: 12, payloadLength: 12 } });
    expect(frame?.kind === 'reply' && frame.data.toString()).toBe('           4');
    expect(parser.pending).toBe(0);
  });

  test('a reply fed one byte at a time comes out once, at its last byte', () => {
    const parser = new ReplyParser();
    const frames: ReplyFrame[] = [];
    for (let i = 0; i < dir.length; i++) {
      const got = parser.push(dir.subarray(i, i + 1));
      if (i < dir.length - 1) expect(got).toEqual([]);
      frames.push(...got);
    }
    expect(replies(frames)).toEqual([{ rc: 0, data: '/28.000028D70000,/10.000010EF0100' }]);
  });

  test('a reply split at every possible point', () => {
    for (let cut = 1; cut < temp.length; cut++) {
      const parser = new ReplyParser();
      expect(parser.push(temp.subarray(0, cut))).toEqual([]);
      expect(replies(parser.push(temp.subarray(cut)))).toEqual([{ rc: 12, data: '           4' }]);
    }
  });

  test('several replies and pings in one chunk, in order, and a partial one kept for later', () => {
    const parser = new ReplyParser();
    const stream = Buffer.concat([encodePing(), encodeReply(0, '/a\0', { size: 2 }), encodePing(), encodeReply(0, '/b\0', { size: 2 }), encodeReply(0), temp]);
    const frames = parser.push(stream.subarray(0, stream.length - 5));
    expect(frames.map((f) => f.kind)).toEqual(['ping', 'reply', 'ping', 'reply', 'reply']);
    expect(replies(frames)).toEqual([
      { rc: 0, data: '/a' },
      { rc: 0, data: '/b' },
      { rc: 0, data: '' },
    ]);
    expect(parser.pending).toBe(temp.length - 5);
    expect(replies(parser.push(stream.subarray(stream.length - 5)))).toEqual([{ rc: 12, data: '           4' }]);
  });

  test('a ping split across chunks, then the reply', () => {
    const parser = new ReplyParser();
    const ping = encodePing();
    expect(parser.push(ping.subarray(0, 10))).toEqual([]);
    const frames = parser.push(Buffer.concat([ping.subarray(10), temp.subarray(0, 30)]));
    expect(frames).toEqual([{ kind: 'ping', header: expect.objectContaining({ payloadLength: -1 }) }]);
    expect(replies(parser.push(temp.subarray(30)))).toEqual([{ rc: 12, data: '           4' }]);
  });

  test('the data is the first `size` bytes of the payload (PRESENCE pads 8 bytes with size 0)', () => {
    const parser = new ReplyParser();
    const presence = encodeReply(0, Buffer.from('2800002800d70011', 'hex'), { size: 0 });
    expect(replies(parser.push(presence))).toEqual([{ rc: 0, data: '' }]);
    // A size larger than the payload is not trusted.
    expect(replies(parser.push(encodeReply(3, 'abc', { size: 99 })))).toEqual([{ rc: 3, data: 'abc' }]);
  });

  test('an error reply has a negative return value and no payload', () => {
    expect(replies(new ReplyParser().push(encodeReply(-1)))).toEqual([{ rc: -1, data: '' }]);
  });

  test('a stream that is not owserver (an HTTP answer) is refused by its version word', () => {
    const parser = new ReplyParser();
    expect(() => parser.push(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'))).toThrow(/not an owserver reply: header version/);
    try {
      new ReplyParser().push(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
    } catch (err) {
      expect(isOneWireError(err, 'ERR_ONEWIRE_CONNECTION')).toBe(true);
    }
  });

  test('an absurd payload length is refused before anything is buffered', () => {
    const huge = encodeReplyHeader({ version: 0, payloadLength: 0x7fffffff, returnCode: 0, flags: 0, size: 0, offset: 0 });
    expect(() => new ReplyParser().push(huge)).toThrow(/2147483647 bytes of payload, more than the 1048576 accepted/);
    const small = new ReplyParser({ maxPayload: 8 });
    expect(() => small.push(encodeReply(9, '123456789'))).toThrow(/more than the 8 accepted/);
    expect(replies(new ReplyParser({ maxPayload: 8 }).push(encodeReply(8, '12345678')))).toHaveLength(1);
  });
});

describe('directory replies and return codes', () => {
  test('DIRALL entries are split at commas; the NUL and empty entries go', () => {
    expect(parseDirAll(Buffer.from('/28.000028D70000,/10.000010EF0100,/bus.0\0'))).toEqual(['/28.000028D70000', '/10.000010EF0100', '/bus.0']);
    expect(parseDirAll(Buffer.from('/28.000028D70000/,/10.000010EF0100/'))).toEqual(['/28.000028D70000/', '/10.000010EF0100/']);
    expect(parseDirAll(Buffer.from('\0'))).toEqual([]);
    expect(parseDirAll(Buffer.alloc(0))).toEqual([]);
  });

  test('return codes get errno names and meanings', () => {
    expect(describeReturnCode(-2)).toBe('ENOENT (no such path)');
    expect(describeReturnCode(-1)).toMatch(/^EPERM \(no such path/);
    expect(describeReturnCode(-95)).toMatch(/^EOPNOTSUPP .*not writable/);
    expect(describeReturnCode(-300)).toBe('error 300');
    expect(returnCodeName(-42)).toBe('ENOMSG');
    expect(returnCodeName(-300)).toBeUndefined();
  });

  test('-1 (owserver 3.x), -2 and -19 mean nothing at that path', () => {
    expect([-1, -2, -19, -5, -22, 0].map(isNotFound)).toEqual([true, true, true, false, false, false]);
  });
});
