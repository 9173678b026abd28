// A w1 sysfs tree of DS18B20 probes for onewire.mjs, laid out as the kernel
// lays it out (and as packages/onewire/src/sysfs/test-support/w1-fixture.ts
// makes it for the tests): the real directories under
// `sys/devices/w1_bus_masterN/<slave>/`, each master with its
// `w1_master_slaves`, and `sys/bus/w1/devices/` (the root to read) holding
// links to the masters and slaves. Scratchpads carry real Dallas CRCs.
//
// Each probe directory has `w1_slave` and `resolution` (12), as a kernel with
// the resolution attribute (Linux 5.9+) has; there is no `temperature` file,
// so SysfsSource.read() reads `w1_slave`, and TemperatureProbe's resolution
// comes from the `resolution` file instead of a second `w1_slave` read (see
// "Seen while benchmarking" in README.md).
//
// `slow: true` makes every `w1_slave` a named pipe (mkfifo), to be served by
// onewire-fifo-server.mjs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Dallas/Maxim CRC-8 (x^8 + x^5 + x^4 + 1, reflected), as the kernel checks it. */
export function crc8(bytes) {
  let crc = 0;
  for (const byte of bytes) {
    let b = byte;
    for (let i = 0; i < 8; i++) {
      const mix = (crc ^ b) & 1;
      crc >>= 1;
      if (mix) crc ^= 0x8c;
      b >>= 1;
    }
  }
  return crc;
}

const hex = (bytes) => bytes.map((b) => `${b.toString(16).padStart(2, '0')} `).join('');

/** A DS18B20 scratchpad (12 bits) for a temperature rounded to 1/16 °C, with its CRC. */
export function ds18b20Scratchpad(celsius, config = 0x7f) {
  const raw = Math.round(celsius * 16) & 0xffff;
  const bytes = [raw & 0xff, raw >> 8, 0x4b, 0x46, config, 0xff, 0x10 - (raw & 0x0f), 0x10];
  return [...bytes, crc8(bytes)];
}

/** A good `w1_slave` as the kernel's w1_slave_show prints it. */
export function w1Slave(celsius) {
  const pad = ds18b20Scratchpad(celsius);
  const raw = (pad[1] << 8) | pad[0];
  const signed = raw >= 0x8000 ? raw - 0x10000 : raw;
  const t = Math.trunc((signed * 1000) / 16);
  return `${hex(pad)}: crc=${pad[8].toString(16).padStart(2, '0')} YES\n${hex(pad)}t=${t}\n`;
}

/** The temperature of probe `i` at reading `k` (never 85 °C, never 0 °C). */
export function celsiusOf(i, k = 0) {
  return 18 + i * 0.5 + 0.0625 * (k % 8);
}

/**
 * Makes the tree in a new temp directory.
 *
 * @returns {{ dir, root, spareDir, probes: { id, master, index, file }[] }}
 *   `root` for SysfsSource, `file` the real path of each probe's w1_slave,
 *   `spareDir` an empty directory on the same file system (spare FIFOs).
 */
export function buildTree({ probes = 16, masters = 2, slow = false, prefix = 'raspy-onewire-bench-' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    const root = join(dir, 'sys', 'bus', 'w1', 'devices');
    const devices = join(dir, 'sys', 'devices');
    const spareDir = join(dir, 'spare');
    mkdirSync(root, { recursive: true });
    mkdirSync(spareDir);
    const list = [];
    const perMaster = Math.ceil(probes / masters);
    for (let m = 1; m <= masters; m++) {
      const master = `w1_bus_master${m}`;
      mkdirSync(join(devices, master), { recursive: true });
      symlinkSync(join('..', '..', '..', 'devices', master), join(root, master));
      const names = [];
      for (let j = 0; j < perMaster && list.length < probes; j++) {
        const index = list.length;
        const id = `28-0000${(0x0b1e00 + index * 0x111).toString(16).padStart(8, '0')}`;
        const slaveDir = join(devices, master, id);
        mkdirSync(slaveDir);
        writeFileSync(join(slaveDir, 'resolution'), '12\n');
        const file = join(slaveDir, 'w1_slave');
        if (!slow) writeFileSync(file, w1Slave(celsiusOf(index)));
        symlinkSync(join('..', '..', '..', 'devices', master, id), join(root, id));
        names.push(id);
        list.push({ id, master, index, file });
      }
      writeFileSync(join(devices, master, 'w1_master_slaves'), names.length === 0 ? 'not found.\n' : names.map((n) => `${n}\n`).join(''));
    }
    if (slow) mkfifos(list.map((p) => p.file));
    return { dir, root, spareDir, probes: list };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Makes named pipes (Node has no mkfifo): one mkfifo process for all of them. */
export function mkfifos(paths) {
  if (paths.length === 0) return;
  const r = spawnSync('mkfifo', ['-m', '0644', ...paths], { encoding: 'utf8' });
  if (r.error) throw new Error(`mkfifo: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`mkfifo exited with ${r.status}: ${r.stderr.trim()}`);
}
