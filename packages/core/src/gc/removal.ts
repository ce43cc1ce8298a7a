import { chmodSync, linkSync, mkdirSync, readlinkSync, renameSync, rmSync, utimesSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { DeadUser } from '../inventory/context.js';
import { lstatOr, pathExists, readNames } from '../inventory/probe.js';
import type { RootEntry } from '../inventory/roots.js';
import { ensureDir, rmQuiet } from '../state/atomic.js';
import { liveHolder } from '../state/lock.js';
import { contextDirOf, contextPaths, homePaths, userRecordPath } from '../state/paths.js';
import { listUsers } from '../users/users.js';
import type { TrustCandidate } from './candidates.js';
import type { GcItem } from './item.js';
import { takeEntryLock } from './entry-lock.js';

// Removing what may go, safe against a writer that acts at the same moment:
// each thing is moved aside first, judged again where it lies, then deleted
// or put back (docs/state-home.md, "The protocol against a concurrent entry").

let asideCounter = 0;

/** A fresh place in .gc/ (`<label>.<pid>.<n>`): the next ws-gc deletes whatever a killed one left there. */
export function trashPath(home: string, label: string): string {
  const trash = homePaths(home).gcTrash;
  ensureDir(trash);
  return join(trash, `${label}.${process.pid}.${++asideCounter}`);
}

/** Removes a tree; read-only directories inside it (a Go module cache) are made writable first. */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch (error) {
    if (!['EACCES', 'EPERM', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  }
  const open = (p: string) => {
    if (!lstatOr(p)?.isDirectory()) return;
    try {
      chmodSync(p, 0o700);
    } catch {
      /* best effort */
    }
    for (const name of readNames(p)) open(join(p, name));
  };
  open(path);
  rmSync(path, { recursive: true, force: true });
}

/**
 * Moves `path` to `aside`, checks with `stillGone` that what was moved is
 * what was judged (a writer may have replaced it meanwhile), and deletes it;
 * else puts it back (link(2): never over a newer file). True if removed.
 */
function removeChecked(path: string, aside: string, stillGone: () => boolean): boolean {
  try {
    renameSync(path, aside);
  } catch {
    return false; // gone already: someone else's removal
  }
  const gone = stillGone();
  if (!gone) {
    try {
      linkSync(aside, path);
    } catch {
      /* a newer one is there: it wins */
    }
  }
  rmQuiet(aside);
  return gone;
}

/** A name beside `path` that readers skip (`.tmp.`). */
const besides = (path: string) => `${path}.tmp.gc.${process.pid}.${++asideCounter}`;

/**
 * One dead user record, moved into a directory of its own in .gc/ shaped
 * like a context (`users/<name>`), so that listUsers judges it there by the
 * same rule as everywhere: a live process that took the name meanwhile, or a
 * record being written (the hook's cached entry writes users/<pid> with a
 * plain redirection, without a lock), is put back.
 */
function removeDeadUser(home: string, dead: DeadUser): boolean {
  let holder: string;
  try {
    holder = trashPath(home, 'user');
    mkdirSync(dirname(userRecordPath(holder, dead.name)), { recursive: true, mode: 0o700 });
  } catch {
    return false;
  }
  try {
    return removeChecked(dead.path, userRecordPath(holder, dead.name), () => listUsers(holder).dead.some((d) => d.name === dead.name));
  } finally {
    removeTree(holder);
  }
}

/**
 * Removes a context's dead users under its entry lock, and gives users/ its
 * modification time back: that time is the context's last use, and noticing
 * a dead user is no use (markContextEntry, which sets it, takes the same
 * lock, so no entry's mark is undone). Returns those removed.
 */
export function removeDeadUsers(home: string, id: string, dead: DeadUser[]): Set<DeadUser> {
  const removed = new Set<DeadUser>();
  if (!dead.length) return removed;
  const release = takeEntryLock(home, id);
  if (!release) return removed; // an entry is in progress: next time
  try {
    const users = contextPaths(contextDirOf(home, id)).users;
    const before = lstatOr(users);
    for (const d of dead) if (removeDeadUser(home, d)) removed.add(d);
    if (before?.isDirectory() && removed.size) {
      try {
        utimesSync(users, before.atime, before.mtime);
      } catch {
        /* gone meanwhile */
      }
    }
  } finally {
    release();
  }
  return removed;
}

const readLinkOr = (path: string) => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
};

/** Removes a dangling root, unless it was made again (another link, or a target that is back). */
export function removeDanglingRoot(home: string, root: RootEntry): boolean {
  const aside = besides(root.path);
  return removeChecked(root.path, aside, () => readLinkOr(aside) === root.link && !pathExists(resolve(homePaths(home).roots, root.link ?? '')));
}

/** Removes a trust record, unless it was rewritten meanwhile (another inode) or its file is back. */
export function removeTrustRecord(home: string, item: TrustCandidate): boolean {
  const path = join(home, item.path);
  const aside = besides(path);
  return removeChecked(path, aside, () => lstatOr(aside)?.ino === item.ino && (item.target === undefined || !pathExists(item.target)));
}

/** Removes a lock file whose holder is gone, unless a live process took the lock over meanwhile (tryLock breaks a stale lock too). */
export function removeDeadLock(home: string, item: GcItem): boolean {
  const path = join(home, item.path);
  const aside = besides(path);
  return removeChecked(path, aside, () => liveHolder(aside) === undefined);
}
