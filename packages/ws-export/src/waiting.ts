import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatHolder, isAlive, parseHolder, processStartTime, readText, rmQuiet, writeFileAtomic } from '@ws/core';

/**
 * `cache/waiting/<pid>`: a shell that was given the last good environment
 * while a build ran. When it applies a later result it is shown that
 * build's output (a foreground build shows it anyway), and with live apply
 * the build's driver signals it (SIGUSR1) the moment the build is over.
 * The record is `PID START` (state/lock.ts), then `live` on a second line if
 * the shell's hook applies results from a signal handler.
 */
const waitingDir = (cacheDir: string) => join(cacheDir, 'waiting');

/** The shell a record names: its first line (a whole record read as one holder never matched a live shell). */
const readWaiting = (path: string) => parseHolder(readText(path)?.split('\n', 1)[0]);

export function markWaiting(cacheDir: string, pid: number, live: boolean): void {
  const start = processStartTime(pid);
  if (start === undefined) return;
  writeFileAtomic(join(waitingDir(cacheDir), String(pid)), `${formatHolder({ pid, start })}${live ? 'live\n' : ''}`);
}

/**
 * True if `pid` was waiting (and is the same process): its record, or the one
 * the build's driver renamed `<pid>.signalled` when it signalled the shell.
 * Both are removed.
 */
export function takeWaiting(cacheDir: string, pid: number): boolean {
  let waited = false;
  for (const name of [String(pid), `${pid}.signalled`]) {
    const path = join(waitingDir(cacheDir), name);
    const holder = readWaiting(path);
    rmQuiet(path);
    waited ||= holder !== undefined && holder.pid === pid && isAlive(holder);
  }
  return waited;
}

/** Drops records of shells that are gone (cheap: called when a build starts). */
export function pruneWaiting(cacheDir: string): void {
  let names: string[];
  try {
    names = readdirSync(waitingDir(cacheDir));
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(waitingDir(cacheDir), name);
    const holder = readWaiting(path);
    if (!holder || !isAlive(holder)) rmQuiet(path);
  }
}

/** How many lines of a build's output a waiting shell is shown; the rest is in `ws-export log`. */
export const SHOWN_LOG_LINES = 20;

/** The last lines of the build log, with a pointer to the rest. */
export function boundedLog(log: string | undefined, max = SHOWN_LOG_LINES): string {
  if (!log) return '';
  const lines = log.endsWith('\n') ? log.slice(0, -1).split('\n') : log.split('\n');
  if (lines.length <= max) return `${lines.join('\n')}\n`;
  return `ws: … ${lines.length - max} earlier line(s): ws-export log\n${lines.slice(-max).join('\n')}\n`;
}
