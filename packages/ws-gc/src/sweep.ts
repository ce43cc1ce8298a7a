import {
  coldLeftovers,
  deadLocks,
  deadReaders,
  eventsMax,
  fileBytes,
  followersBehind,
  homePaths,
  homeRelative,
  listPorts,
  lstatOr,
  misplacedFiles,
  portLeftovers,
  portReservationPath,
  prunePorts,
  readRoots,
  removeDanglingRoot,
  removeDeadLock,
  removeTree,
  removeTrustRecord,
  rmQuiet,
  rotateEvents,
  rotationHardLimit,
  trashLeftovers,
  trustCandidates,
  type GcItem,
  type PortListing,
} from '@ws/core';
import { join } from 'node:path';
import type { Run } from './collect.js';

// The steps of a collection besides contexts: each finds its candidates with
// a scanner of @ws/core, removes them (not in a dry run) and reports them.

export const portReason = (r: PortListing) => (r.context ? `its context ${r.context} is gone` : 'its hold expired and its holder is gone');

export const portItem = (home: string, r: PortListing, reason: string, bytes: number): GcItem => ({
  kind: 'port',
  path: homeRelative(home, portReservationPath(home, r.proto, r.port)),
  bytes,
  reason,
  context: r.name ?? undefined,
  root: r.root ?? undefined,
  id: r.context ?? undefined,
  proto: r.proto,
  port: r.port,
  key: r.key,
});

/** Files where ws keeps directories (treated as missing: the next writer rebuilds the directory), and what a killed collector left in .gc/. */
export function sweepMisplaced(run: Run): void {
  const { home, dryRun } = run;
  for (const p of misplacedFiles(home)) {
    run.problem(p);
    run.add({ kind: 'corrupt', path: run.rel(p.path), bytes: fileBytes(p.path), reason: 'a file where a directory belongs' });
    if (!dryRun) rmQuiet(p.path);
  }
  const trash = homePaths(home).gcTrash;
  const st = lstatOr(trash);
  if (st && !st.isDirectory()) {
    run.add({ kind: 'corrupt', path: run.rel(trash), bytes: fileBytes(trash), reason: 'a file where a directory belongs' });
    if (!dryRun) rmQuiet(trash);
  }
  // Holding gc.lock (not in a dry run), nothing in .gc/ is in use.
  for (const item of trashLeftovers(home, !dryRun)) {
    run.add(item);
    if (!dryRun) removeTree(join(home, item.path));
  }
}

/** Port reservations nobody holds any more (not those released with a removed context), and temporaries of dead allocations. */
export function sweepPorts(run: Run, removedIds: Set<string>): void {
  const { home, now } = run;
  const leftovers = portLeftovers(home, now().getTime());
  const stale = listPorts(home, now()).filter((r) => r.stale && !(r.context && removedIds.has(r.context)));
  const sizes = new Map(stale.map((r) => [`${r.proto}-${r.port}`, fileBytes(portReservationPath(home, r.proto, r.port))]));
  const sizeOf = (r: PortListing) => sizes.get(`${r.proto}-${r.port}`) ?? 0;
  if (run.dryRun) {
    for (const r of stale) run.add(portItem(home, r, portReason(r), sizeOf(r)));
    for (const item of leftovers) run.add(item);
  } else {
    for (const r of prunePorts(home, now())) run.add(portItem(home, r, portReason(r), sizeOf(r)));
    for (const item of leftovers) if (!lstatOr(join(home, item.path))) run.add(item);
  }
}

/** Roots whose target is gone. */
export function sweepRoots(run: Run): void {
  for (const r of readRoots(run.home, [])) {
    if (r.kind !== 'dangling') continue;
    if (run.dryRun || removeDanglingRoot(run.home, r)) run.add({ kind: 'root', path: run.rel(r.path), bytes: 0, reason: 'its target is gone', target: r.target });
  }
}

/** Trust records of files that no longer exist, and unreadable ones. */
export function sweepTrust(run: Run): void {
  for (const item of trustCandidates(run.home, run.now().getTime())) {
    const { ino: _ino, ...shown } = item;
    if (run.dryRun || removeTrustRecord(run.home, item)) run.add(shown);
  }
}

/**
 * Lock files of holders that are gone. Swept before the contexts: removing a
 * context takes its entry lock, which takes a stale one over, so a dry run
 * and the real run would otherwise not find the same.
 */
export function sweepDeadLocks(run: Run): void {
  for (const item of deadLocks(run.home, run.now().getTime())) {
    if (run.dryRun || removeDeadLock(run.home, item)) run.add(item);
  }
}

/** Registrations of event followers that are gone. */
export function sweepDeadFollowers(run: Run): void {
  for (const item of deadReaders(run.home, run.now().getTime())) {
    if (!run.dryRun) rmQuiet(join(run.home, item.path));
    run.add(item);
  }
}

/** The cold path's scratch files of shells that are gone. */
export function sweepColdLeftovers(run: Run): void {
  for (const item of coldLeftovers(run.home, run.now().getTime())) {
    if (!run.dryRun) rmQuiet(join(run.home, item.path));
    run.add(item);
  }
}

/** The event log beyond its size limit: rotating replaces events.jsonl.1, whose bytes are recovered. */
export function sweepEvents(run: Run): void {
  const paths = homePaths(run.home);
  const events = lstatOr(paths.events);
  const max = eventsMax(run.opts.env);
  if (!events?.isFile() || events.size <= max) return;
  const old = lstatOr(paths.eventsRotated);
  const due = events.size > rotationHardLimit(max) || followersBehind(run.home, events) === 0;
  const rotated = run.dryRun ? due : rotateEvents(run.home, max);
  if (rotated && old?.isFile()) {
    run.add({ kind: 'events', path: run.rel(paths.eventsRotated), bytes: old.size, reason: `events.jsonl passed WS_EVENTS_MAX (${max} bytes): rotated, the older generation dropped` });
  }
}
