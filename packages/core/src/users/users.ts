import { existsSync, statSync } from 'node:fs';
import { ensureDir, readDirNames, readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { isAlive, processName, processStartTime, processTty } from '../process/proc.js';
import { contextPaths, userRecordPath } from '../state/paths.js';

/** contexts/<id>/users/<pid>: a process registered as using the context. */
export interface UserRecord {
  pid: number;
  start: string;
  shell?: string;
  tty?: string;
  joined: string;
  /**
   * Set by a shell that left the context without a process (docs/state-home.md
   * "Leaving without a process"): it rewrote its own record with this time.
   * Such a record is not a user: listUsers puts it in `dead` (with `left`),
   * so it is removed and the grace starts as for an exited shell, and nobody
   * emits a second user.leave for it (the shell did).
   */
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
  // A record that says the shell left is no registration: it is overwritten.
  if (existing && existing.start === start && !hasLeft(existing)) return undefined;
  const record: UserRecord = { pid, start, shell: processName(pid), tty: processTty(pid), joined: now.toISOString() };
  writeFileAtomic(path, `${JSON.stringify(record)}\n`);
  return record;
}

/**
 * Removes `pid` from the context's users; returns its record if it was one
 * (not one that says it left: that shell already emitted its user.leave).
 */
export function unregisterUser(contextDir: string, pid: number): UserRecord | undefined {
  const path = userRecordPath(contextDir, pid);
  const existing = readUserRecord(path);
  rmQuiet(path);
  return existing && !hasLeft(existing) ? existing : undefined;
}

/** The record says its shell left (a `left` time): not a user. */
export const hasLeft = (record: UserRecord) => typeof record.left === 'string';

export interface UserListing {
  live: UserRecord[];
  /**
   * Records whose process is gone (or whose PID was recycled), corrupt ones,
   * and those whose shell left (`left`: its user.leave is already emitted).
   */
  dead: Array<{ name: string; record?: UserRecord; left?: boolean }>;
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
  // users/ as a planted symlink lists nothing (readDirNames): no record outside is read.
  for (const name of readDirNames(usersDir(contextDir))) {
    if (name.includes('.tmp.')) continue;
    const path = userRecordPath(contextDir, name);
    const record = readUserRecord(path);
    if (record && hasLeft(record)) listing.dead.push({ name, record, left: true });
    else if (record && isLiveUser(record)) listing.live.push(record);
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
  ensureDir(usersDir(contextDir));
}

function isYoung(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs < 2000;
  } catch {
    return false;
  }
}
