import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { isAlive, processName, processStartTime, processTty } from '../process/proc.js';

/** contexts/<id>/users/<pid>: a process registered as using the context. */
export interface UserRecord {
  pid: number;
  start: string;
  shell?: string;
  tty?: string;
  joined: string;
}

const usersDir = (contextDir: string) => join(contextDir, 'users');

/**
 * contexts/<id>/needs-unload: present from a user's registration until an
 * unload starts. It is what tells the reaper that a context whose file has
 * since been blocked (its users left it) still has an unload to run.
 */
export const needsUnloadPath = (contextDir: string) => join(contextDir, 'needs-unload');

/**
 * Registers `pid` as a user of the context. Returns the record if it is a new
 * user, undefined if it already was one (or the process is gone).
 */
export function registerUser(contextDir: string, pid: number, now = new Date()): UserRecord | undefined {
  const path = join(usersDir(contextDir), String(pid));
  const start = processStartTime(pid);
  if (start === undefined) return undefined;
  if (!existsSync(needsUnloadPath(contextDir))) writeFileAtomic(needsUnloadPath(contextDir), `${now.toISOString()}\n`);
  const existing = readJson<UserRecord>(path);
  if (existing && existing.start === start) return undefined;
  const record: UserRecord = { pid, start, shell: processName(pid), tty: processTty(pid), joined: now.toISOString() };
  writeFileAtomic(path, `${JSON.stringify(record)}\n`);
  return record;
}

/** Removes `pid` from the context's users; returns its record if it was one. */
export function unregisterUser(contextDir: string, pid: number): UserRecord | undefined {
  const path = join(usersDir(contextDir), String(pid));
  const existing = readJson<UserRecord>(path);
  rmQuiet(path);
  return existing;
}

export interface UserListing {
  live: UserRecord[];
  /** Records whose process is gone (or whose PID was recycled), and corrupt ones. */
  dead: Array<{ name: string; record?: UserRecord }>;
}

/** Reads every user record of a context and splits them into live and dead. */
export function listUsers(contextDir: string): UserListing {
  const listing: UserListing = { live: [], dead: [] };
  let names: string[] = [];
  try {
    names = readdirSync(usersDir(contextDir));
  } catch {
    return listing;
  }
  for (const name of names) {
    if (name.includes('.tmp.')) continue;
    const record = readJson<UserRecord>(join(usersDir(contextDir), name));
    const valid = record && Number.isInteger(record.pid) && typeof record.start === 'string';
    if (valid && isAlive(record)) listing.live.push(record);
    else if (!valid && isYoung(join(usersDir(contextDir), name))) {
      // The hook's cached entry writes its record with a plain `printf >`: it may
      // be mid-write. Unreadable and under 2 s old is not yet dead.
      continue;
    } else listing.dead.push({ name, record: valid ? record : undefined });
  }
  return listing;
}

export function ensureUsersDir(contextDir: string): void {
  mkdirSync(usersDir(contextDir), { recursive: true, mode: 0o700 });
}

function isYoung(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs < 2000;
  } catch {
    return false;
  }
}
