import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { isAlive, processName, processStartTime, processTty } from '../process/proc.js';
import { contextPaths, userRecordPath } from '../state/paths.js';

/** contexts/<id>/users/<pid>: a process registered as using the context. */
export interface UserRecord {
  pid: number;
  start: string;
  shell?: string;
  tty?: string;
  joined: string;
  /** Set by a shell that left without a process (the departure record): no longer a user. */
  left?: string;
}

const usersDir = (contextDir: string) => contextPaths(contextDir).users;

/**
 * contexts/<id>/needs-unload: present from a user's registration until an
 * unload starts. It is what tells the reaper that a context whose file has
 * since been blocked (its users left it) still has an unload to run.
 */
export const needsUnloadPath = (contextDir: string) => contextPaths(contextDir).needsUnload;

/**
 * Registers `pid` as a user of the context. Returns the record if it is a new
 * user, undefined if it already was one (or the process is gone).
 */
export function registerUser(contextDir: string, pid: number, now = new Date()): UserRecord | undefined {
  const path = userRecordPath(contextDir, pid);
  const start = processStartTime(pid);
  if (start === undefined) return undefined;
  if (!existsSync(needsUnloadPath(contextDir))) writeFileAtomic(needsUnloadPath(contextDir), `${now.toISOString()}\n`);
  const existing = readUserRecord(path);
  if (existing && existing.start === start && existing.left === undefined) return undefined;
  const record: UserRecord = { pid, start, shell: processName(pid), tty: processTty(pid), joined: now.toISOString() };
  writeFileAtomic(path, `${JSON.stringify(record)}\n`);
  return record;
}

/** Removes `pid` from the context's users; returns its record if it was one. */
export function unregisterUser(contextDir: string, pid: number): UserRecord | undefined {
  const path = userRecordPath(contextDir, pid);
  const existing = readUserRecord(path);
  rmQuiet(path);
  return existing;
}

export interface UserListing {
  live: UserRecord[];
  /** Records whose process is gone (or whose PID was recycled), and corrupt ones. */
  dead: Array<{ name: string; record?: UserRecord }>;
}

/**
 * A user record as read from disk: undefined if missing, torn or not a
 * record. The one parser of `users/<pid>` files.
 */
export function readUserRecord(path: string): UserRecord | undefined {
  const record = readJson<UserRecord>(path);
  return record && typeof record === 'object' && Number.isInteger(record.pid) && record.pid > 0 && typeof record.start === 'string' ? record : undefined;
}

/**
 * The one liveness rule for users: the very process recorded (PID and start
 * time) is alive. A recycled PID is a dead user.
 */
export const isLiveUser = (record: UserRecord) => isAlive(record);

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
    const path = userRecordPath(contextDir, name);
    const record = readUserRecord(path);
    // A departure record (`left`) is a user who is gone, like a dead one.
    if (record && record.left === undefined && isLiveUser(record)) listing.live.push(record);
    else if (!record && isYoung(path)) {
      // The hook's cached entry writes its record with a plain `printf >` (no
      // process to rename with): it may be mid-write. Unreadable and under
      // 2 s old is not yet dead.
      continue;
    } else listing.dead.push({ name, record });
  }
  listing.live.sort((a, b) => a.pid - b.pid);
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
