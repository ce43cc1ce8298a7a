import { createHash } from 'node:crypto';
import { closeSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { xdgState } from 'xdg-basedir';
import { CliError, EX } from '../cli/errors.js';
import { rmQuiet, writeFileAtomic } from './atomic.js';
import { isAlive, processStartTime, sleepSync } from '../process/proc.js';

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

/** Throws (77) if the state home exists but is unsafe. A missing one is fine. */
export function checkStateHome(home: string): void {
  let st;
  try {
    st = lstatSync(home);
  } catch {
    return;
  }
  if (!st.isDirectory()) throw new CliError(EX.NOPERM, `state home ${home} is not a directory`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new CliError(EX.NOPERM, `state home ${home} is owned by uid ${st.uid}, not by you`);
  }
  if (st.mode & 0o022) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new CliError(EX.NOPERM, `state home ${home} is writable by others (mode ${mode}); run: chmod 700 '${home}'`);
  }
}

export const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Stable directory name of a context: readable basename plus a hash of the root. */
export function contextId(root: string): string {
  const slug = basename(root).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'root';
  return `${slug}-${sha256(root).slice(0, 12)}`;
}

export const contextDir = (home: string, root: string) => join(home, 'contexts', contextId(root));

/**
 * A lock file that a SIGKILLed holder cannot leave behind for good: it holds
 * the holder's PID and start time, and a lock whose holder is dead is taken
 * over. Returns a release function, or undefined if the lock stayed busy.
 */
export function tryLock(path: string, waitMs = 0): (() => void) | undefined {
  const me = `${process.pid} ${processStartTime(process.pid) ?? ''}\n`;
  const deadline = Date.now() + waitMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, me);
      closeSync(fd);
      return () => rmQuiet(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
        continue;
      }
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (holderIsDead(path)) {
      breakStaleLock(path);
      continue;
    }
    if (Date.now() >= deadline) return undefined;
    sleepSync(delay);
  }
}

/** Like tryLock, but a lock still busy after `waitMs` is a temporary failure (75). */
export function lock(path: string, waitMs = 10_000): () => void {
  const release = tryLock(path, waitMs);
  if (!release) throw new CliError(EX.TEMPFAIL, `lock ${path} is busy; try again`);
  return release;
}

function holderIsDead(path: string): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false; // released meanwhile: just retry
  }
  const [pid, start] = text.trim().split(' ');
  if (!pid) {
    // Created but not yet written, or torn by a crash: stale once it is old.
    try {
      return Date.now() - statSync(path).mtimeMs > 2000;
    } catch {
      return false;
    }
  }
  return !isAlive({ pid: Number(pid), start: start ?? '' });
}

/** Moves the stale lock aside atomically, so two processes breaking it cannot both win. */
function breakStaleLock(path: string): void {
  const aside = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  // If a live process took the lock between our check and the rename, give it
  // back, unless yet another process holds the path by now (link never overwrites).
  if (!holderIsDead(aside)) {
    try {
      linkSync(aside, path);
    } catch {
      /* the path is taken again: that holder keeps it, this one retries */
    }
  }
  rmQuiet(aside);
}
