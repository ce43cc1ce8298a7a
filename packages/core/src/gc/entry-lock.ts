import { ensureDir } from '../state/atomic.js';
import { utimesSync } from 'node:fs';
import { contextId } from '../state/home.js';
import { tryLock } from '../state/lock.js';
import { contextDirOf, contextLockPath, contextPaths } from '../state/paths.js';

// A context's entry lock, `locks/context-<id>` (docs/state-home.md, "The
// protocol against a concurrent entry"): ws-export takes it on every load,
// ws-gc while it checks a context and moves it away. Deliberately apart from
// the rest of gc, so that an entering command bundles only this.

/** How long either side waits for the other: a held lock is held for milliseconds. */
export const CONTEXT_LOCK_WAIT_MS = 2_000;

/** Takes context `id`'s entry lock, waiting up to 2 s; undefined if it stayed busy. */
export const takeEntryLock = (home: string, id: string) => tryLock(contextLockPath(home, id), CONTEXT_LOCK_WAIT_MS);

/**
 * Marks a context as entered, for an entering command (ws-export) to call
 * before it writes anything into contexts/<id>/: under the context's entry
 * lock, makes sure contexts/<id>/users/ exists and sets its mtime to now.
 * ws-gc checks the context again under the same lock before it moves it
 * away, and keeps one used since its run started; an entry that comes after
 * the move finds no directory and starts a new one. Never throws: a busy
 * lock (a stuck collector) only loses the protection, not the prompt.
 */
export function markContextEntry(home: string, root: string, now = new Date()): void {
  markContextIdEntry(home, contextId(root), now);
}

/** markContextEntry for context `id` (a shared context's, docs/contexts.md). */
export function markContextIdEntry(home: string, id: string, now = new Date()): void {
  const release = takeEntryLock(home, id);
  try {
    const users = contextPaths(contextDirOf(home, id)).users;
    ensureDir(users);
    utimesSync(users, now, now);
  } catch {
    /* best effort */
  } finally {
    release?.();
  }
}
