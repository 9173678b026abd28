/**
 * Where RasPy programs keep their data by default (raspy-core, raspy-web,
 * and a device server of yours that keeps files): the user's data folder,
 * never a temporary one (a Pi's /tmp is often RAM and is emptied at boot).
 *
 * @module
 */
import { homedir, platform, tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';

/**
 * The default data directory: `$XDG_DATA_HOME/raspy` or `~/.local/share/raspy`
 * on Linux, `~/Library/Application Support/raspy` on macOS,
 * `%LOCALAPPDATA%\raspy` on Windows.
 *
 * @param env - the environment to read `XDG_DATA_HOME` / `LOCALAPPDATA` from (usually `process.env`)
 * @param os - the platform (default: this one)
 * @param home - the home directory (default: this user's; null when there is none)
 * @returns the directory, or an error text when there is no usable home
 *
 * @example
 * ```ts
 * import { defaultDataDir } from '@raspy/devices';
 *
 * const dir = defaultDataDir(process.env);
 * if (typeof dir !== 'string') throw new Error(dir.error);
 * ```
 */
export function defaultDataDir(
  env: Readonly<Record<string, string | undefined>>,
  os: string = platform(),
  home: string | null = safeHome(),
): string | { error: string } {
  let dir: string | undefined;
  if (os === 'win32') dir = env.LOCALAPPDATA !== undefined ? join(env.LOCALAPPDATA, 'raspy') : undefined;
  else if (os === 'darwin') dir = home !== null ? join(home, 'Library', 'Application Support', 'raspy') : undefined;
  else if (env.XDG_DATA_HOME !== undefined && isAbsolute(env.XDG_DATA_HOME)) dir = join(env.XDG_DATA_HOME, 'raspy');
  else dir = home !== null ? join(home, '.local', 'share', 'raspy') : undefined;
  if (dir === undefined) return { error: 'there is no home directory to keep data in; give one with --data' };
  return checkDataDir(dir);
}

/**
 * Refuses a data directory inside the temporary folder.
 *
 * @param dir - the directory asked for (relative to the working directory, or absolute)
 * @param tmp - the temporary folder (default: this system's)
 * @returns the absolute directory, or an error text
 */
export function checkDataDir(dir: string, tmp = tmpdir()): string | { error: string } {
  const abs = resolve(dir);
  const rel = relative(resolve(tmp), abs);
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
    return { error: `the data directory ${abs} is inside ${tmp}, which may be emptied at boot; choose another with --data` };
  }
  return abs;
}

function safeHome(): string | null {
  try {
    const h = homedir();
    return h === '' ? null : h;
  } catch {
    return null;
  }
}
