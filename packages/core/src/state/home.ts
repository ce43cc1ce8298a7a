import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { xdgState } from 'xdg-basedir';
import { CliError, EX } from '../cli/errors.js';
import { ownStateHome, writeFileAtomic } from './atomic.js';

/** Version of the on-disk layout (docs/state-home.md). */
export const STATE_VERSION = 1;

/**
 * Where ws keeps everything: `$WS_STATE_HOME`, else `$XDG_STATE_HOME/ws`,
 * else `~/.local/state/ws`. Takes the environment as a parameter because
 * xdg-basedir reads process.env once, at import time.
 */
export function stateHomePath(env: NodeJS.ProcessEnv): string {
  if (env.WS_STATE_HOME) return env.WS_STATE_HOME;
  const base = env.XDG_STATE_HOME || (env.HOME ? join(env.HOME, '.local', 'state') : xdgState);
  if (!base) throw new CliError(EX.CANTCREAT, 'cannot find a state home: set WS_STATE_HOME or HOME');
  return join(base, 'ws');
}

/**
 * Returns the state home, creating it (mode 0700, with VERSION) if missing.
 * Refuses one that another user owns or that group/others can write: anyone
 * who can write there could make a shell run their code.
 */
export function ensureStateHome(env: NodeJS.ProcessEnv): string {
  const home = stateHomePath(env);
  checkStateHome(home);
  ownStateHome(home);
  if (!existsSync(join(home, 'VERSION'))) {
    try {
      mkdirSync(home, { recursive: true, mode: 0o700 });
      writeFileAtomic(join(home, 'VERSION'), `${STATE_VERSION}\n`, 0o644);
    } catch (error) {
      throw new CliError(EX.CANTCREAT, `cannot create state home ${home}: ${(error as Error).message}`);
    }
    checkStateHome(home);
  }
  return home;
}

/**
 * Throws (77) if the state home exists but is unsafe. A missing one is fine.
 * A symlink is accepted if what it points to is safe (a state home kept on
 * another disk): the target must be a directory the user owns that group
 * and others cannot write, like the state home itself.
 */
export function checkStateHome(home: string): void {
  let st;
  try {
    st = lstatSync(home);
  } catch {
    return;
  }
  let what = `state home ${home}`;
  if (st.isSymbolicLink()) {
    let target = '';
    try {
      target = realpathSync(home);
      st = statSync(home);
    } catch {
      throw new CliError(EX.NOPERM, `state home ${home} is a symlink to nothing (${readlinkOr(home)})`);
    }
    what = `state home ${home} (a symlink to ${target})`;
  }
  if (!st.isDirectory()) throw new CliError(EX.NOPERM, `${what} is not a directory`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new CliError(EX.NOPERM, `${what} is owned by uid ${st.uid}, not by you`);
  }
  if (st.mode & 0o022) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new CliError(EX.NOPERM, `${what} is writable by others (mode ${mode}); run: chmod 700 '${home}'`);
  }
}

const readlinkOr = (path: string) => {
  try {
    return readlinkSync(path);
  } catch {
    return '?';
  }
};

export const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Stable directory name of a context: readable basename plus a hash of the root. */
export function contextId(root: string): string {
  const slug = basename(root).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'root';
  return `${slug}-${sha256(root).slice(0, 12)}`;
}

export const contextDir = (home: string, root: string) => join(home, 'contexts', contextId(root));
