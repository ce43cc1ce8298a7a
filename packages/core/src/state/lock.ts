import { linkSync, lstatSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { CliError, EX } from '../cli/errors.js';
import { isAlive, processStartTime, sleepSync, type ProcessId } from '../process/proc.js';
import { aimedAt, ensureDir, readText, rmQuiet, writeFileAtomic } from './atomic.js';

/**
 * Lock files and other "holder" files (reaper.pid, a build's owner) hold
 * `PID START\n`: the holder's PID and process start time. This module is the
 * one place that writes, parses and judges them.
 */
export const formatHolder = (id: ProcessId) => `${id.pid} ${id.start}\n`;

/** Parses `PID START`; undefined for an empty, torn or foreign file. */
export function parseHolder(text: string | undefined): ProcessId | undefined {
  const [pid, start, extra] = (text ?? '').trim().split(' ');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0 || !start || extra !== undefined) return undefined;
  return { pid: n, start };
}

/** The holder recorded in `path`, if the file exists and is well-formed. */
export function readHolder(path: string): ProcessId | undefined {
  return parseHolder(readText(path));
}

/** The live holder of `path` (same PID and start time), if any. */
export function liveHolder(path: string): ProcessId | undefined {
  const holder = readHolder(path);
  return holder && isAlive(holder) ? holder : undefined;
}

/** This process as a holder. */
export function selfHolder(): ProcessId {
  return { pid: process.pid, start: processStartTime(process.pid) ?? '' };
}

/** An empty lock file this young may be a writer's that creates, then writes (older versions did). */
const TORN_GRACE_MS = 2000;

/**
 * Is the lock at `path` free to be taken over? Its holder is dead (or its PID
 * recycled); or it holds garbage; or it is empty and older than 2 s.
 * A file that vanished meanwhile is not stale: the caller just retries.
 */
function isStale(path: string): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  // A directory, FIFO or symlink where a lock file belongs is nobody's lock:
  // corrupt state, taken over (never read: a FIFO would block).
  if (!st.isFile()) return true;
  const text = readText(path);
  if (text === undefined) return false;
  const holder = parseHolder(text);
  if (holder) return !isAlive(holder);
  // Garbage is nobody's lock; an empty file may be a crashed or older writer's.
  if (text.trim() !== '') return true;
  try {
    return Date.now() - statSync(path).mtimeMs > TORN_GRACE_MS;
  } catch {
    return false;
  }
}

let tempCounter = 0;

/**
 * A lock that a SIGKILLed holder cannot leave behind for good. The whole
 * record is written to a temporary sibling and hard-linked to the lock's
 * name (link(2) fails if it exists), so the lock file is never seen empty or
 * half-written. A lock whose holder is dead is taken over. Returns a release
 * function, or undefined if the lock stayed busy for `waitMs`.
 */
export function tryLock(path: string, waitMs = 0): (() => void) | undefined {
  const me = formatHolder(selfHolder());
  const deadline = Date.now() + waitMs;
  const temp = `${path}.tmp.${process.pid}.${++tempCounter}`;
  try {
    writeFileAtomic(temp, me);
  } catch (error) {
    throw aimedAt(error, temp, path); // the lock, not its temporary record
  }
  try {
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      try {
        linkSync(temp, path);
        return () => rmQuiet(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      if (isStale(path)) {
        breakStaleLock(path);
        continue;
      }
      if (Date.now() >= deadline) return undefined;
      sleepSync(delay);
    }
  } finally {
    rmQuiet(temp);
  }
}

/** Like tryLock, but a lock still busy after `waitMs` is a temporary failure (75). */
export function lock(path: string, waitMs = 10_000): () => void {
  const release = tryLock(path, waitMs);
  if (!release) throw new CliError(EX.TEMPFAIL, `lock ${path} is busy; try again`);
  return release;
}

/** Removes the lock at `path` if it is stale (its holder dead), safely against racing breakers and takers. */
export function clearStaleLock(path: string): void {
  if (isStale(path)) breakStaleLock(path);
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
  if (!isStale(aside)) {
    try {
      linkSync(aside, path);
    } catch {
      /* the path is taken again: that holder keeps it, this one retries */
    }
  }
  rmQuiet(aside);
}

/** Makes sure the directory a lock lives in exists (mode 0700). */
export const ensureLockDir = (path: string) => ensureDir(dirname(path));
