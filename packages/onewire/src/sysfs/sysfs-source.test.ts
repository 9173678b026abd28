import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Cleanup, deferred, memoryLogger, within } from '@raspy/test-support';
import { isOneWireError } from '../errors.js';
import type { TemperatureReading } from '../source.js';
import { SysfsSource, type SysfsSourceOptions } from './sysfs-source.js';
import {
  POWER_ON_SCRATCHPAD,
  W1Fixture,
  ZERO_W1_SLAVE,
  crcFailW1Slave,
  goodW1Slave,
  w1Slave,
} from './test-support/w1-fixture.js';

const POWER_ON = w1Slave(POWER_ON_SCRATCHPAD);
const DS18B20 = '28-0000052fd3c1';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function fixture(): Promise<W1Fixture> {
  const fx = await W1Fixture.create();
  cleanup.defer(() => fx.remove());
  return fx;
}

function source(fx: W1Fixture, options: SysfsSourceOptions = {}): SysfsSource {
  return cleanup.add(new SysfsSource({ root: fx.root, sleep: async () => {}, ...options }));
}

function expectBad(reading: TemperatureReading, reason: string): void {
  expect(reading).toMatchObject({ ok: false, reason });
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isOneWireError(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
}

describe('SysfsSource.list', () => {
  it('lists the temperature probes of every bus master, once, with their master', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: goodW1Slave(20) });
    await fx.slave(1, '10-000802b5d1a2', { w1_slave: goodW1Slave(20) });
    await fx.slave(1, '01-000012345678');
    await fx.slave(2, '3B-0000000a0b0c', { w1_slave: goodW1Slave(20) });
    await fx.slave(2, '42-000000a1b2c3', { w1_slave: goodW1Slave(20) });
    await fx.slave(2, '29-000000112233');
    await fx.slave(2, '05-000000445566');
    await fx.slave(2, '26-000000778899');
    await fx.slave(10, '22-000000abcdef', { w1_slave: goodW1Slave(20) });
    await fx.master(3);
    const bus = source(fx);

    expect(bus.kind).toBe('sysfs');
    expect(bus.location).toBe(fx.root);
    expect(await bus.list()).toEqual([
      { id: '10-000802b5d1a2', family: '10', chip: 'DS18S20', bus: 'w1_bus_master1' },
      { id: DS18B20, family: '28', chip: 'DS18B20', bus: 'w1_bus_master1' },
      { id: '3b-0000000a0b0c', family: '3b', chip: 'DS1825', bus: 'w1_bus_master2' },
      { id: '42-000000a1b2c3', family: '42', chip: 'DS28EA00', bus: 'w1_bus_master2' },
      { id: '22-000000abcdef', family: '22', chip: 'DS1822', bus: 'w1_bus_master10' },
    ]);
  });

  it('is empty on a bus with no slaves ("not found.")', async () => {
    const fx = await fixture();
    await fx.master(1);
    expect(await source(fx).list()).toEqual([]);
  });

  it('still finds the probes of a master whose slave list cannot be read, through their links', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: goodW1Slave(20) });
    await fx.slave(2, '28-000000000002', { w1_slave: goodW1Slave(20) });
    const list = join(fx.dir, 'sys', 'devices', 'w1_bus_master2', 'w1_master_slaves');
    await rm(list);
    await mkdir(list); // EISDIR on read
    const log = memoryLogger();
    const bus = source(fx, { logger: log });

    expect(await bus.list()).toEqual([
      { id: DS18B20, family: '28', chip: 'DS18B20', bus: 'w1_bus_master1' },
      { id: '28-000000000002', family: '28', chip: 'DS18B20', bus: 'w1_bus_master2' },
    ]);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ component: 'onewire-sysfs', master: 'w1_bus_master2', code: 'EISDIR' }) }));
  });

  it('fails with ERR_ONEWIRE_IO when there is no w1 directory', async () => {
    const fx = await fixture();
    await expectCode(new SysfsSource({ root: join(fx.dir, 'nowhere') }).list(), 'ERR_ONEWIRE_IO');
  });
});

describe('SysfsSource.read', () => {
  it('reads w1_slave in °C, negative temperatures too', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: goodW1Slave(23.125) });
    await fx.slave(1, '28-000000000002', { w1_slave: goodW1Slave(-1.25) });
    await fx.slave(1, '28-000000000003', { w1_slave: goodW1Slave(-55) });
    const bus = source(fx);

    expect(await bus.read(DS18B20)).toEqual({ ok: true, celsius: 23.125 });
    expect(await bus.read('28-000000000002')).toEqual({ ok: true, celsius: -1.25 });
    expect(await bus.read('28-000000000003')).toEqual({ ok: true, celsius: -55 });
  });

  it('accepts the id in upper case or in owserver form', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: goodW1Slave(23.125) });
    const bus = source(fx);
    expect(await bus.read('28-0000052FD3C1')).toEqual({ ok: true, celsius: 23.125 });
    expect(await bus.read('28.0000052FD3C1')).toEqual({ ok: true, celsius: 23.125 });
  });

  it('prefers the temperature attribute over w1_slave', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: goodW1Slave(23.125), temperature: '19500\n' });
    await fx.slave(1, '28-000000000002', { temperature: '-10062\n' });
    const bus = source(fx);
    expect(await bus.read(DS18B20)).toEqual({ ok: true, celsius: 19.5 });
    expect(await bus.read('28-000000000002')).toEqual({ ok: true, celsius: -10.062 });
  });

  it('reports the bad readings of the temperature attribute', async () => {
    const fx = await fixture();
    await fx.slave(1, '28-000000000001', { temperature: '' }); // the kernel's failed read
    await fx.slave(1, '28-000000000002', { temperature: 'garbage\n' });
    await fx.slave(1, '28-000000000003', { temperature: '127937\n' }); // beyond 125 °C
    await fx.slave(1, '28-000000000004', { w1_slave: goodW1Slave(20) });
    await mkdir(join(fx.slaveDir('28-000000000004'), 'temperature')); // EISDIR
    const bus = source(fx);
    expectBad(await bus.read('28-000000000001'), 'unreadable');
    expectBad(await bus.read('28-000000000002'), 'truncated');
    expectBad(await bus.read('28-000000000003'), 'truncated');
    expectBad(await bus.read('28-000000000004'), 'unreadable');
  });

  it('checks a 0 °C from the temperature attribute against the scratchpad', async () => {
    const fx = await fixture();
    await fx.slave(1, '28-000000000001', { temperature: '0\n', w1_slave: ZERO_W1_SLAVE }); // shorted line
    await fx.slave(1, '28-000000000002', { temperature: '0\n', w1_slave: goodW1Slave(0) }); // real 0 °C
    await fx.slave(1, '28-000000000003', { temperature: '0\n' }); // nothing to check with
    const bus = source(fx);
    expectBad(await bus.read('28-000000000001'), 'zero');
    expect(await bus.read('28-000000000002')).toEqual({ ok: true, celsius: 0 });
    expect(await bus.read('28-000000000003')).toEqual({ ok: true, celsius: 0 });
  });

  it('never reports a bad w1_slave as a temperature', async () => {
    const fx = await fixture();
    const cases: [string, string, string][] = [
      ['28-000000000001', crcFailW1Slave(), 'crc'],
      ['28-000000000002', ZERO_W1_SLAVE, 'zero'],
      ['28-000000000003', '72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n', 'truncated'],
      ['28-000000000004', 'garbage\n', 'truncated'],
      ['28-000000000005', '', 'unreadable'],
      ['28-000000000006', goodW1Slave(127.9375), 'truncated'], // a clone's 0x07ff: beyond 125 °C
    ];
    for (const [name, text] of cases) await fx.slave(1, name, { w1_slave: text });
    const bus = source(fx);
    for (const [name, , reason] of cases) expectBad(await bus.read(name), reason);
  });

  it('reads 85 °C again and reports the second value when it differs', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: POWER_ON });
    const waits: number[] = [];
    const bus = source(fx, {
      sleep: async (ms) => {
        waits.push(ms);
        await fx.write(DS18B20, 'w1_slave', goodW1Slave(21.5));
      },
    });
    expect(await bus.read(DS18B20)).toEqual({ ok: true, celsius: 21.5 });
    expect(waits).toEqual([750]);
  });

  it('says power-on for 85 °C twice in a row, after rereadDelay', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: POWER_ON });
    await fx.slave(1, '28-000000000002', { temperature: '85000\n' });
    const waits: number[] = [];
    const bus = source(fx, { rereadDelay: 94, sleep: async (ms) => void waits.push(ms) });
    expectBad(await bus.read(DS18B20), 'power-on');
    expectBad(await bus.read('28-000000000002'), 'power-on');
    expect(waits).toEqual([94, 94]);
  });

  it('judges the re-read like any read', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: POWER_ON });
    const bus = source(fx, { sleep: () => fx.write(DS18B20, 'w1_slave', crcFailW1Slave()) });
    expectBad(await bus.read(DS18B20), 'crc');
  });

  it('says unreadable when w1_slave cannot be read, missing when it is a dangling link', async () => {
    const fx = await fixture();
    const dirA = await fx.slave(1, '28-000000000001');
    await mkdir(join(dirA, 'w1_slave')); // EISDIR
    const dirB = await fx.slave(1, '28-000000000002');
    await symlink(join(dirB, 'gone'), join(dirB, 'w1_slave'));
    const bus = source(fx);
    const unreadable = await bus.read('28-000000000001');
    expectBad(unreadable, 'unreadable');
    if (!unreadable.ok) expect(unreadable.message).toContain('EISDIR');
    expectBad(await bus.read('28-000000000002'), 'missing');
  });

  it('follows a probe dropping off the bus and coming back', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: goodW1Slave(23.125) });
    await fx.slave(1, '28-000000000002', { w1_slave: goodW1Slave(19) });
    const bus = source(fx);
    expect((await bus.list()).map((p) => p.id)).toEqual(['28-000000000002', DS18B20]);

    await fx.unplug(DS18B20);
    const gone = await bus.read(DS18B20);
    expectBad(gone, 'missing');
    if (!gone.ok) expect(gone.message).toContain(DS18B20);
    expect((await bus.list()).map((p) => p.id)).toEqual(['28-000000000002']);
    expect(await bus.read('28-000000000002')).toEqual({ ok: true, celsius: 19 });

    await fx.slave(2, DS18B20, { w1_slave: goodW1Slave(24) });
    expect(await bus.read(DS18B20)).toEqual({ ok: true, celsius: 24 });
    expect(await bus.list()).toContainEqual({ id: DS18B20, family: '28', chip: 'DS18B20', bus: 'w1_bus_master2' });
  });

  it('says missing for a probe never seen', async () => {
    const fx = await fixture();
    await fx.master(1);
    expectBad(await source(fx).read(DS18B20), 'missing');
  });

  it('finds a probe whose name on disk is upper case, listed or not', async () => {
    const fx = await fixture();
    await fx.slave(1, '3B-0000000A0B0C', { w1_slave: goodW1Slave(30.5) });
    expect(await source(fx).read('3b-0000000a0b0c')).toEqual({ ok: true, celsius: 30.5 });
    const listed = source(fx);
    expect((await listed.list()).map((p) => p.id)).toEqual(['3b-0000000a0b0c']);
    expect(await listed.read('3b-0000000a0b0c')).toEqual({ ok: true, celsius: 30.5 });
  });

  it('rejects hostile ids before touching any file', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: goodW1Slave(20), resolution: '12\n' });
    // A trap where `root/../../etc/passwd` leads: any read through it would give a temperature.
    const trap = join(fx.root, '..', '..', 'etc', 'passwd');
    await mkdir(trap, { recursive: true });
    await writeFile(join(trap, 'w1_slave'), goodW1Slave(66));
    await writeFile(join(trap, 'resolution'), '12\n');
    const bus = source(fx);
    const hostile: unknown[] = ['../../etc/passwd', `${DS18B20}/../../../etc/passwd`, `../${DS18B20}`, `${DS18B20}\u0000`, '28-0000052fd3c1 ', '', '..', '/', 42, null, undefined];
    for (const id of hostile) {
      await expectCode(bus.read(id as string), 'ERR_ONEWIRE_INVALID');
      await expectCode(bus.resolution(id as string), 'ERR_ONEWIRE_INVALID');
      await expectCode(bus.setResolution(id as string, 9), 'ERR_ONEWIRE_INVALID');
    }
    expect(await bus.read(DS18B20)).toEqual({ ok: true, celsius: 20 });
  });

  it('reads 16 probes at the same time', async () => {
    const fx = await fixture();
    const ids = Array.from({ length: 16 }, (_, i) => `28-0000000000${(i + 1).toString(16).padStart(2, '0')}`);
    for (const [i, id] of ids.entries()) await fx.slave(1 + (i % 2), id, { w1_slave: POWER_ON });
    // Every read waits for its 85 °C re-read at this gate, which opens only
    // once all 16 wait there: reads done one after another never get it open.
    const gate = deferred();
    let waiting = 0;
    const bus = source(fx, {
      sleep: async () => {
        waiting += 1;
        if (waiting === ids.length) {
          await Promise.all(ids.map((id, i) => fx.write(id, 'w1_slave', goodW1Slave(10 + i / 16))));
          gate.resolve();
        }
        await gate.promise;
      },
    });
    const readings = await within(Promise.all(ids.map((id) => bus.read(id))), 5000, '16 reads waiting together');
    expect(readings).toEqual(ids.map((_, i) => ({ ok: true, celsius: Math.trunc((10 + i / 16) * 1000) / 1000 })));
  });

  it('logs bad readings at debug under its component', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: ZERO_W1_SLAVE });
    const log = memoryLogger();
    await source(fx, { logger: log }).read(DS18B20);
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 'debug', fields: expect.objectContaining({ component: 'onewire-sysfs', probe: DS18B20, reason: 'zero' }) }),
    );
  });
});

describe('SysfsSource.resolution', () => {
  it('reads the resolution attribute, else the configuration register, else null', async () => {
    const fx = await fixture();
    await fx.slave(1, '28-000000000001', { resolution: '12\n', w1_slave: goodW1Slave(20, 0x1f) });
    await fx.slave(1, '28-000000000002', { w1_slave: goodW1Slave(20, 0x5f) });
    await fx.slave(1, '28-000000000003', { resolution: '-5\n', w1_slave: goodW1Slave(20, 0x3f) });
    await fx.slave(1, '28-000000000004', { w1_slave: ZERO_W1_SLAVE });
    await fx.slave(1, '28-000000000005', { w1_slave: crcFailW1Slave() });
    await fx.slave(1, '10-000802b5d1a2', { w1_slave: goodW1Slave(20) });
    await fx.slave(1, '22-000000000006', { resolution: '9\n' });
    const bus = source(fx);
    expect(await bus.resolution('28-000000000001')).toBe(12);
    expect(await bus.resolution('28-000000000002')).toBe(11);
    expect(await bus.resolution('28-000000000003')).toBe(10);
    expect(await bus.resolution('28-000000000004')).toBeNull();
    expect(await bus.resolution('28-000000000005')).toBeNull();
    expect(await bus.resolution('10-000802b5d1a2')).toBeNull();
    expect(await bus.resolution('22-000000000006')).toBe(9);
    expect(await bus.resolution('28-00000000000f')).toBeNull();
  });
});

describe('SysfsSource.setResolution', () => {
  it('writes the resolution attribute and reads it back', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { resolution: '12\n', w1_slave: goodW1Slave(20) });
    const bus = source(fx);
    await bus.setResolution(DS18B20, 9);
    expect(await bus.resolution(DS18B20)).toBe(9);
    await bus.setResolution(DS18B20, 11);
    expect(await bus.resolution(DS18B20)).toBe(11);
  });

  it('fails with ERR_ONEWIRE_IO where the kernel has no resolution attribute, the probe is gone, or the write does not take', async () => {
    const fx = await fixture();
    await fx.slave(1, '28-000000000001', { w1_slave: goodW1Slave(20) });
    const dir = await fx.slave(1, '28-000000000002', { w1_slave: goodW1Slave(20) });
    await symlink('/dev/null', join(dir, 'resolution')); // takes any write, reads back nothing
    const bus = source(fx);
    await expectCode(bus.setResolution('28-000000000001', 10), 'ERR_ONEWIRE_IO');
    await expectCode(bus.setResolution('28-00000000000f', 10), 'ERR_ONEWIRE_IO');
    await expectCode(bus.setResolution('28-000000000002', 10), 'ERR_ONEWIRE_IO');
    await expect(bus.setResolution('28-000000000001', 10)).rejects.toThrow(/no resolution attribute/);
  });

  it('refuses bad bits and the fixed-resolution DS18S20', async () => {
    const fx = await fixture();
    await fx.slave(1, '10-000802b5d1a2', { resolution: '12\n' });
    await fx.slave(1, DS18B20, { resolution: '12\n' });
    const bus = source(fx);
    for (const bits of [8, 13, 10.5, Number.NaN]) await expectCode(bus.setResolution(DS18B20, bits as 9), 'ERR_ONEWIRE_INVALID');
    await expectCode(bus.setResolution('10-000802b5d1a2', 10), 'ERR_ONEWIRE_INVALID');
    expect(await bus.resolution(DS18B20)).toBe(12);
  });
});

describe('SysfsSource.close', () => {
  it('is idempotent, and every call after it throws ERR_ONEWIRE_CLOSED', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: goodW1Slave(20), resolution: '12\n' });
    const bus = source(fx);
    await bus.close();
    await bus.close();
    await expectCode(bus.read(DS18B20), 'ERR_ONEWIRE_CLOSED');
    await expectCode(bus.list(), 'ERR_ONEWIRE_CLOSED');
    await expectCode(bus.resolution(DS18B20), 'ERR_ONEWIRE_CLOSED');
    await expectCode(bus.setResolution(DS18B20, 10), 'ERR_ONEWIRE_CLOSED');
  });

  it('cuts short the wait of an 85 °C re-read', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: POWER_ON });
    const waiting = deferred();
    const bus = source(fx, {
      rereadDelay: 60_000,
      sleep: (ms, signal) => {
        waiting.resolve();
        return delay(ms, undefined, { signal });
      },
    });
    const settled = expectCode(bus.read(DS18B20), 'ERR_ONEWIRE_CLOSED');
    await within(waiting.promise, 5000, 'the read to wait before its re-read');
    await bus.close();
    await within(settled, 2000, 'the read to end after close');
  });

  it('cuts short the default timer too', async () => {
    const fx = await fixture();
    await fx.slave(1, DS18B20, { w1_slave: POWER_ON });
    const bus = new SysfsSource({ root: fx.root, rereadDelay: 60_000 });
    const settled = expectCode(bus.read(DS18B20), 'ERR_ONEWIRE_CLOSED');
    await bus.close();
    await within(settled, 2000, 'the read to end after close');
  });

  it('rejects bad options', async () => {
    await expectCode(Promise.resolve().then(() => new SysfsSource({ root: '' })), 'ERR_ONEWIRE_INVALID');
    await expectCode(Promise.resolve().then(() => new SysfsSource({ rereadDelay: -1 })), 'ERR_ONEWIRE_INVALID');
  });
});
