import {
  decodeClientReply,
  decodeClientRequest,
  decodePeerMessage,
  decodeWorkerMessage,
  encodeClientReply,
  encodeClientRequest,
  encodeWorkerMessage,
  type WorkerMessage,
} from '../index.js';

const b = (s: string): Buffer => Buffer.from(s);
const byte = (n: number): Buffer => Buffer.from([n]);
const E = Buffer.alloc(0);
const hex = (frames: Buffer[]): string[] => frames.map((f) => f.toString('hex'));

describe('client commands', () => {
  test('v0.1 REQUEST is ["", "MDPC01", service, body...] byte for byte', () => {
    expect(hex(encodeClientRequest(1, 'echo', [b('a'), b('b')]))).toEqual(hex([E, b('MDPC01'), b('echo'), b('a'), b('b')]));
  });

  test('v0.2 REQUEST is ["MDPC02", 0x01, service, body...]', () => {
    expect(hex(encodeClientRequest(2, 'echo', [b('a')]))).toEqual(hex([b('MDPC02'), byte(1), b('echo'), b('a')]));
  });

  test('replies: v0.1 REPLY, v0.2 PARTIAL 0x02 and FINAL 0x03', () => {
    expect(hex(encodeClientReply(1, 'svc', [b('x')]))).toEqual(hex([E, b('MDPC01'), b('svc'), b('x')]));
    expect(hex(encodeClientReply(2, 'svc', [b('x')], false))).toEqual(hex([b('MDPC02'), byte(2), b('svc'), b('x')]));
    expect(hex(encodeClientReply(2, 'svc', [b('x')], true))).toEqual(hex([b('MDPC02'), byte(3), b('svc'), b('x')]));
    expect(() => encodeClientReply(1, 'svc', [b('x')], false)).toThrow(/no partial/);
  });

  test.each([1, 2] as const)('v0.%s request and reply decode to what was encoded', (version) => {
    const req = decodeClientRequest(encodeClientRequest(version, 'pi1.sim.devices', [b('list'), E]));
    expect(req).toEqual({ ok: true, value: { version, service: 'pi1.sim.devices', body: [b('list'), E] } });
    const rep = decodeClientReply(encodeClientReply(version, 'pi1.sim.devices', [b('200')]));
    expect(rep).toEqual({ ok: true, value: { version, service: 'pi1.sim.devices', body: [b('200')], final: true } });
  });

  test('a v0.2 PARTIAL decodes as not final', () => {
    const rep = decodeClientReply([b('MDPC02'), byte(2), b('cam'), b('chunk')]);
    expect(rep.ok && rep.value.final).toBe(false);
  });

  test('encoding refuses an empty body and bad service names', () => {
    expect(() => encodeClientRequest(2, 'echo', [])).toThrow(expect.objectContaining({ code: 'ERR_MDP_INVALID_ARGUMENT' }));
    expect(() => encodeClientRequest(2, '', [b('x')])).toThrow(/empty/);
    expect(() => encodeClientRequest(2, 'a\nb', [b('x')])).toThrow(/control byte 0x0a/);
    expect(() => encodeClientRequest(2, 'x'.repeat(256), [b('x')])).toThrow(/256 bytes/);
  });

  test.each<[string, Buffer[], RegExp]>([
    ['no frames', [], /got nothing/],
    ['wrong header', [b('MDPX01'), byte(1), b('s'), b('x')], /MDPC01.*MDPC02/],
    ['v0.1 without the empty frame', [b('MDPC01'), b('s'), b('x')], /MDPC01/],
    ['v0.1 header missing after empty frame', [E, b('MDPW01'), b('s'), b('x')], /expected header "MDPC01"/],
    ['v0.2 FINAL sent by a client', [b('MDPC02'), byte(3), b('s'), b('x')], /REQUEST \(0x01\)/],
    ['v0.2 two-byte command', [b('MDPC02'), b('\x01\x01'), b('s'), b('x')], /REQUEST/],
    ['no service', [b('MDPC02'), byte(1)], /no service name/],
    ['empty service', [b('MDPC02'), byte(1), E, b('x')], /service name is empty/],
    ['no body', [b('MDPC02'), byte(1), b('s')], /no body frame/],
    ['service with invalid UTF-8', [b('MDPC02'), byte(1), Buffer.from([0xc3, 0x28]), b('x')], /UTF-8/],
  ])('a request with %s is refused with a reason', (_what, frames, reason) => {
    const r = decodeClientRequest(frames);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('ERR_MDP_PROTOCOL');
      expect(r.error.message).toMatch(reason);
    }
  });

  test('reply decoding refuses unknown commands and headers', () => {
    expect(decodeClientReply([b('MDPC02'), byte(1), b('s'), b('x')]).ok).toBe(false);
    expect(decodeClientReply([b('MDPW02'), byte(3), b('s'), b('x')]).ok).toBe(false);
    expect(decodeClientReply([E, b('MDPC02'), b('s')]).ok).toBe(false);
  });
});

describe('worker commands', () => {
  const client = Buffer.from([0, 0x80, 0, 0x41, 0xa7]);

  test('v0.1 commands byte for byte (7/MDP)', () => {
    expect(hex(encodeWorkerMessage({ command: 'ready', version: 1, service: 'echo' }))).toEqual(hex([E, b('MDPW01'), byte(1), b('echo')]));
    expect(hex(encodeWorkerMessage({ command: 'request', version: 1, client, body: [b('x')] }))).toEqual(
      hex([E, b('MDPW01'), byte(2), client, E, b('x')]),
    );
    expect(hex(encodeWorkerMessage({ command: 'final', version: 1, client, body: [b('y')] }))).toEqual(
      hex([E, b('MDPW01'), byte(3), client, E, b('y')]),
    );
    expect(hex(encodeWorkerMessage({ command: 'heartbeat', version: 1 }))).toEqual(hex([E, b('MDPW01'), byte(4)]));
    expect(hex(encodeWorkerMessage({ command: 'disconnect', version: 1 }))).toEqual(hex([E, b('MDPW01'), byte(5)]));
  });

  test('v0.2 commands byte for byte (18/MDP)', () => {
    expect(hex(encodeWorkerMessage({ command: 'ready', version: 2, service: 'echo' }))).toEqual(hex([b('MDPW02'), byte(1), b('echo')]));
    expect(hex(encodeWorkerMessage({ command: 'request', version: 2, client, body: [b('x')] }))).toEqual(hex([b('MDPW02'), byte(2), client, E, b('x')]));
    expect(hex(encodeWorkerMessage({ command: 'partial', version: 2, client, body: [b('p')] }))).toEqual(hex([b('MDPW02'), byte(3), client, E, b('p')]));
    expect(hex(encodeWorkerMessage({ command: 'final', version: 2, client, body: [b('f')] }))).toEqual(hex([b('MDPW02'), byte(4), client, E, b('f')]));
    expect(hex(encodeWorkerMessage({ command: 'heartbeat', version: 2 }))).toEqual(hex([b('MDPW02'), byte(5)]));
    expect(hex(encodeWorkerMessage({ command: 'disconnect', version: 2 }))).toEqual(hex([b('MDPW02'), byte(6)]));
  });

  test('v0.1 has no PARTIAL', () => {
    expect(() => encodeWorkerMessage({ command: 'partial', version: 2, client, body: [b('p')] } as WorkerMessage)).not.toThrow();
    expect(() => encodeWorkerMessage({ command: 'partial', version: 1, client, body: [b('p')] } as unknown as WorkerMessage)).toThrow(
      /no partial/,
    );
  });

  const fromWorker: WorkerMessage[] = [
    { command: 'ready', version: 1, service: 'a.b' },
    { command: 'ready', version: 2, service: 'a.b' },
    { command: 'final', version: 1, client, body: [b('1'), E] },
    { command: 'final', version: 2, client, body: [b('1')] },
    { command: 'partial', version: 2, client, body: [b('1')] },
    { command: 'heartbeat', version: 1 },
    { command: 'heartbeat', version: 2 },
    { command: 'disconnect', version: 1 },
    { command: 'disconnect', version: 2 },
  ];
  test.each(fromWorker)('worker→broker $command v0.$version round-trips', (msg) => {
    expect(decodeWorkerMessage(encodeWorkerMessage(msg), 'from-worker')).toEqual({ ok: true, value: msg });
    expect(decodePeerMessage(encodeWorkerMessage(msg))).toEqual({ ok: true, value: { peer: 'worker', ...msg } });
  });

  test.each([1, 2] as const)('broker→worker REQUEST v0.%s round-trips and is refused from a worker', (version) => {
    const msg: WorkerMessage = { command: 'request', version, client, body: [b('q')] };
    expect(decodeWorkerMessage(encodeWorkerMessage(msg), 'from-broker')).toEqual({ ok: true, value: msg });
    const r = decodeWorkerMessage(encodeWorkerMessage(msg), 'from-worker');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message).toMatch(/not sent by a worker/);
  });

  test('a broker never receives READY or FINAL from its own side', () => {
    const r = decodeWorkerMessage(encodeWorkerMessage({ command: 'ready', version: 2, service: 's' }), 'from-broker');
    expect(!r.ok && r.error.message).toMatch(/not sent by a broker/);
  });

  test.each<[string, Buffer[], RegExp]>([
    ['unknown command byte', [b('MDPW02'), byte(9)], /unknown MDPW02 command/],
    ['v0.1 PARTIAL byte (does not exist)', [E, b('MDPW01'), byte(6)], /unknown MDPW01 command/],
    ['READY without service', [b('MDPW02'), byte(1)], /READY has 2 frames, expected 3/],
    ['READY with extra frames', [E, b('MDPW01'), byte(1), b('s'), b('x')], /READY has 5 frames, expected 4/],
    ['HEARTBEAT with a body', [b('MDPW02'), byte(5), b('x')], /HEARTBEAT has 3 frames/],
    ['FINAL without delimiter', [b('MDPW02'), byte(4), b('c'), b('x'), b('y')], /empty delimiter/],
    ['FINAL with an empty address', [b('MDPW02'), byte(4), E, E, b('y')], /address frame is empty/],
    ['FINAL with a 256-byte address', [b('MDPW02'), byte(4), Buffer.alloc(256, 1), E, b('y')], /256 bytes/],
    ['FINAL without body', [b('MDPW02'), byte(4), b('c'), E], /no body frame/],
    ['REPLY without anything', [E, b('MDPW01'), byte(3)], /address frame is missing/],
    ['READY of an mmi-like bad name', [b('MDPW02'), byte(1), Buffer.from([1])], /control byte/],
  ])('a worker message with %s is refused', (_what, frames, reason) => {
    const r = decodeWorkerMessage(frames, 'from-worker');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message).toMatch(reason);
  });
});

describe('decodePeerMessage (what a broker reads)', () => {
  test('tells clients from workers in both versions', () => {
    const v1c = decodePeerMessage([E, b('MDPC01'), b('s'), b('x')]);
    const v2c = decodePeerMessage([b('MDPC02'), byte(1), b('s'), b('x')]);
    expect(v1c.ok && v1c.value.peer).toBe('client');
    expect(v2c.ok && v2c.value.peer).toBe('client');
    expect(v1c.ok && v1c.value.version).toBe(1);
    expect(v2c.ok && v2c.value.version).toBe(2);
  });

  test.each<[string, Buffer[]]>([
    ['nothing', []],
    ['one empty frame', [E]],
    ['garbage', [Buffer.from('\xff\xfe\x00garbage', 'latin1')]],
    ['MDPC02 after an empty frame', [E, b('MDPC02'), byte(1), b('s'), b('x')]],
    ['MDPW02 after an empty frame', [E, b('MDPW02'), byte(5)]],
    ['MDPW01 without the empty frame', [b('MDPW01'), byte(4)]],
    ['MDPC01 without the empty frame', [b('MDPC01'), b('s'), b('x')]],
    ['a lower-case header', [b('mdpc02'), byte(1), b('s'), b('x')]],
  ])('refuses %s', (_what, frames) => {
    const r = decodePeerMessage(frames);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.code).toBe('ERR_MDP_PROTOCOL');
  });

  test('never throws on random input', () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pool = [E, b('MDPC01'), b('MDPC02'), b('MDPW01'), b('MDPW02'), byte(1), byte(2), byte(3), byte(4), byte(5), byte(6), b('svc')];
    for (let i = 0; i < 5000; i++) {
      const frames = Array.from({ length: rand(7) }, () =>
        rand(3) === 0 ? Buffer.from(Array.from({ length: rand(8) }, () => rand(256))) : (pool[rand(pool.length)] as Buffer),
      );
      expect(() => decodePeerMessage(frames)).not.toThrow();
    }
  });
});
