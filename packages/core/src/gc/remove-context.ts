import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { readContext, readContextUsers } from '../inventory/context.js';
import { diskUsage, fileBytes, lstatOr, readNames, type Problem } from '../inventory/probe.js';
import { readRoots, rootsHolding } from '../inventory/roots.js';
import { readServiceRows } from '../inventory/service-rows.js';
import { listPorts, releasePorts, type PortListing } from '../ports/ports.js';
import { contextDirOf, portReservationPath } from '../state/paths.js';
import { nixRoots } from './candidates.js';
import { takeEntryLock } from './entry-lock.js';
import type { GcKept } from './item.js';
import { judgeContext } from './judge.js';
import { removeTree, trashPath } from './removal.js';

// Removing one context so that a shell entering it at the same moment is
// never lost and no half directory is left behind (docs/state-home.md, "The
// protocol against a concurrent entry").

export interface RemoveContextOptions {
  env: NodeJS.ProcessEnv;
  maxAgeMs?: number;
  /** When the collection started: a use since then keeps the context. */
  startedMs: number;
  now: () => Date;
  /** Test seam: holding the lock, after the last check, right before the rename. */
  beforeRename?: (dir: string) => void;
}

export interface ContextRemoval {
  removed: boolean;
  kept?: GcKept;
  reasons?: string[];
  bytes?: number;
  nix?: Array<{ path: string; target: string }>;
  ports?: Array<PortListing & { bytes: number }>;
  problem?: Problem;
}

/**
 * Removes context `id`, which the plan judged removable for `planned`:
 * 1. take its entry lock (busy: keep it this time);
 * 2. read it again and judge again (an entry before the lock shows as a user
 *    or a use newer than the collection's start);
 * 3. rename contexts/<id> to .gc/<id>.<pid>.<n> (atomic);
 * 4. look into the moved directory once more: a writer that takes no lock
 *    (the cached entry of the shell hook writes users/<pid> directly) may
 *    have registered a user between 2 and 3 — then move it back;
 * 5. release its port reservations, still under the lock;
 * 6. release the lock, then delete the moved directory.
 */
export function removeContext(home: string, id: string, planned: string[], opts: RemoveContextOptions): ContextRemoval {
  // Read again now: a root made or a port claimed since the plan counts.
  const portsOf = () => listPorts(home).filter((r) => r.context === id);
  const dir = contextDirOf(home, id);
  const release = takeEntryLock(home, id);
  if (!release) {
    const entry = readContext(home, id, { disk: false });
    return { removed: false, kept: { id, name: entry.name, root: entry.root, reason: planned.join('; '), heldBy: ['its entry lock is busy (an entry is in progress)'] } };
  }
  let aside: string | undefined;
  let outcome: ContextRemoval;
  try {
    if (!lstatOr(dir)?.isDirectory()) return { removed: false };
    const entry = readContext(home, id, { ports: portsOf(), rootedBy: rootsHolding(readRoots(home), id), disk: false });
    const verdict = judgeContext(entry, opts.now().getTime(), opts.maxAgeMs, opts.startedMs);
    const kept = (heldBy: string[]): ContextRemoval => ({ removed: false, kept: { id, name: entry.name, root: entry.root, reason: planned.join('; '), heldBy } });
    // Something changed since the plan (an entry, a new root, a service): what holds it now is reported.
    if (verdict.holders.length) return kept(verdict.holders);
    if (!verdict.reasons.length) return kept(['it no longer qualifies (its root or workspace file is back, or it was used)']);
    const bytes = diskUsage(dir).bytes;
    const nix = nixRoots(dir);
    opts.beforeRename?.(dir);
    aside = trashPath(home, id);
    renameSync(dir, aside);
    const late = lateHolders(aside);
    if (late.length) {
      restore(aside, dir);
      aside = undefined;
      return kept(late);
    }
    const sizes = new Map(portsOf().map((r) => [`${r.proto}-${r.port}`, fileBytes(portReservationPath(home, r.proto, r.port))]));
    const ports = releasePorts(home, id, undefined, { env: opts.env, now: opts.now() }).map((r) => ({ ...r, stale: true, bytes: sizes.get(`${r.proto}-${r.port}`) ?? 0 }));
    outcome = { removed: true, reasons: verdict.reasons, bytes, nix, ports };
  } finally {
    release();
  }
  if (aside) {
    try {
      removeTree(aside);
    } catch (error) {
      // Moved away already, so no command sees it; the next run deletes what is left.
      outcome.problem = { path: aside, message: `could not be deleted (the next ws-gc tries again): ${(error as Error).message}` };
    }
  }
  return outcome;
}

/**
 * What holds a moved-away context directory after all, read by the same
 * readers as everywhere: live users, user records being written, running services.
 */
function lateHolders(aside: string): string[] {
  const users = readContextUsers(aside);
  const holders = users.live.map((u) => `a user registered during the collection (PID ${u.pid})`);
  for (const name of users.registering) holders.push(`a user registering during the collection (users/${name} is being written)`);
  for (const s of readServiceRows(aside, [])) if (s.running) holders.push(`service ${s.name} started during the collection`);
  return holders;
}

/**
 * Puts a moved context back. If a writer made a new contexts/<id>/ meanwhile
 * (one that takes no lock), the old directory's entries it lacks are moved
 * into it, users/ merged record by record: nothing of either is lost.
 */
function restore(aside: string, dir: string): void {
  try {
    renameSync(aside, dir);
    return;
  } catch {
    /* a new one is there: merge */
  }
  const merge = (from: string, to: string) => {
    for (const name of readNames(from)) {
      const src = join(from, name);
      const dst = join(to, name);
      const dstStat = lstatOr(dst);
      if (!dstStat) {
        try {
          renameSync(src, dst);
        } catch {
          /* keep going */
        }
      } else if (dstStat.isDirectory() && lstatOr(src)?.isDirectory()) merge(src, dst);
    }
  };
  merge(aside, dir);
  removeTree(aside);
}
