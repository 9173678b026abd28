/**
 * A published package that can't be loaded is the worst bug we can ship.
 * This packs every library under packages/ with `npm pack`, installs the
 * tarballs into a scratch project the way a user would, then loads each one
 * with `require` and with `import`, type-checks both module kinds, and runs
 * a real round trip through the installed @raspy/mdp.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const packagesDir = join(root, 'packages');
const libraries = readdirSync(packagesDir)
  .filter((d) => existsSync(join(packagesDir, d, 'package.json')))
  .map((d) => {
    const manifest = JSON.parse(readFileSync(join(packagesDir, d, 'package.json'), 'utf8')) as { name: string; private?: boolean };
    return { dir: join(packagesDir, d), name: manifest.name, private: manifest.private === true };
  })
  .filter((p) => !p.private);

let scratch = '';
const tarballs: Record<string, string> = {};

function node(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, args, { cwd: scratch, encoding: 'utf8', input, timeout: 60_000 });
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'raspy-consumer-'));
  for (const lib of libraries) {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: lib.dir, encoding: 'utf8' });
    const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
    if (info === undefined) throw new Error(`npm pack printed nothing for ${lib.name}`);
    tarballs[lib.name] = join(scratch, info.filename);
  }
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...Object.values(tarballs)], {
    cwd: scratch,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
});

afterAll(() => {
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

test('there is at least one library to check', () => {
  expect(libraries.map((l) => l.name)).toContain('@raspy/mdp');
});

describe.each(libraries.map((l) => [l.name, l] as const))('%s', (name, lib) => {
  test('the tarball holds the builds, types and README, and no sources or tests', () => {
    const listing = execFileSync('tar', ['-tzf', tarballs[name] as string], { encoding: 'utf8' }).split('\n');
    for (const file of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'README.md', 'package.json']) {
      expect(listing).toContain(`package/${file}`);
    }
    expect(listing.filter((f) => /\.test\.|\/src\//.test(f))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(lib.dir, 'package.json'), 'utf8'));
    expect(manifest.exports['.'].import.types).toBe('./dist/index.d.ts');
    expect(manifest.exports['.'].require.types).toBe('./dist/index.d.cts');
  });

  test('require() and import() load it and export the same names', () => {
    const cjs = node(['-e', `process.stdout.write(JSON.stringify(Object.keys(require(${JSON.stringify(name)})).sort()))`]);
    expect(cjs.stderr).toBe('');
    const esm = node([
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(name)}); process.stdout.write(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort()))`,
    ]);
    expect(esm.stderr).toBe('');
    const cjsNames = JSON.parse(cjs.stdout) as string[];
    expect(cjsNames.length).toBeGreaterThan(0);
    expect(JSON.parse(esm.stdout)).toEqual(cjsNames);
  });

  test('TypeScript resolves its types from both an ES module and a CommonJS file', () => {
    const dir = mkdtempSync(join(scratch, 'types-'));
    writeFileSync(join(dir, 'esm.mts'), `import * as lib from ${JSON.stringify(name)};\nexport const names: string[] = Object.keys(lib);\n`);
    writeFileSync(join(dir, 'cjs.cts'), `import lib = require(${JSON.stringify(name)});\nexport const names: string[] = Object.keys(lib);\n`);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
      cwd: scratch,
      encoding: 'utf8',
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });
});

test('the installed @raspy/mdp works end to end from CommonJS and ESM (native zeromq included)', () => {
  const script = (load: string): string => `
    ${load}
    const broker = new MdpBroker({ endpoint: 'tcp://127.0.0.1:*' });
    await broker.start();
    const endpoint = broker.endpoints[0];
    const worker = new MdpWorker({ endpoint, service: 'echo', handler: (f) => ['ok', ...f] });
    await worker.start();
    const client = new MdpClient({ endpoint, timeout: 5000 });
    const reply = await client.request('echo', 'hi');
    await client.close(); await worker.stop(); await broker.stop();
    process.stdout.write(reply.map(String).join(','));
  `;
  const cjs = node(['-e', `(async () => { ${script("const { MdpBroker, MdpClient, MdpWorker } = require('@raspy/mdp');")} })()`]);
  expect(cjs.stderr).toBe('');
  expect(cjs.stdout).toBe('ok,hi');
  const esm = node(['--input-type=module', '-e', script("import { MdpBroker, MdpClient, MdpWorker } from '@raspy/mdp';")]);
  expect(esm.stderr).toBe('');
  expect(esm.stdout).toBe('ok,hi');
});
