/**
 * The README's example is run as a user would run it, against the built package.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

function block(after: string, lang: string): string {
  const start = readme.indexOf(after);
  expect(start).toBeGreaterThanOrEqual(0);
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme.slice(start));
  if (match === null) throw new Error(`no ${lang} block after "${after}"`);
  return match[1] as string;
}

test('the README example runs and prints what the README says', () => {
  const code = block('## Example', 'js');
  const expected = block('It prints:', 'text');
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: join(__dirname, '..'),
    // Plain text, as in the README, even when the test runner forces colours.
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(out.stderr).toBe('');
  expect(out.status).toBe(0);
  expect(out.stdout).toBe(expected);
});
