import {
  contextDirOf,
  contextIds,
  contextPaths,
  CONTEXT_SUBDIRS,
  diskUsage,
  emitEvent,
  hasLeft,
  fileBytes,
  judgeContext,
  listPorts,
  lstatOr,
  nixRoots,
  portReservationPath,
  readContext,
  readRoots,
  removeContext,
  removeDeadUsers,
  rmQuiet,
  rootsHolding,
  type ContextEntry,
  type GcKept,
  type PortListing,
  type Problem,
  type ContextRemoval,
} from '@ws/core';
import type { Run } from './collect.js';
import { portItem } from './sweep.js';

/**
 * Every context: its dead users go whatever happens to it; a file where one
 * of its directories belongs goes; then the verdict, and each removable one
 * is removed under its entry lock (removeContext). Returns the ids removed.
 */
export async function collectContexts(run: Run, kept: GcKept[]): Promise<Set<string>> {
  const candidates = planContexts(run, kept);
  await run.opts.hooks?.afterPlan?.();
  const removedIds = new Set<string>();
  for (const { entry, reasons } of candidates) if (removeOne(run, entry, reasons, kept)) removedIds.add(entry.id);
  return removedIds;
}

/** Reads every context, removes its dead users and misplaced files, and returns those that may go. */
function planContexts(run: Run, kept: GcKept[]): Array<{ entry: ContextEntry; reasons: string[] }> {
  const { home, dryRun, add, problem, rel } = run;
  const roots = readRoots(home, []);
  for (const r of roots) if (r.kind === 'invalid' || r.kind === 'outside') problem({ path: r.path, message: r.message ?? 'is not a root' });
  const allPorts = listPorts(home);
  const candidates: Array<{ entry: ContextEntry; reasons: string[] }> = [];
  const idsProblems: Problem[] = [];
  for (const id of contextIds(home, idsProblems)) {
    const dir = contextDirOf(home, id);
    const st = lstatOr(dir);
    if (!st) continue;
    if (!st.isDirectory()) {
      problem({ path: dir, message: 'is not a directory' });
      add({ kind: 'corrupt', path: rel(dir), bytes: fileBytes(dir), reason: 'a file where a context directory belongs' });
      if (!dryRun) rmQuiet(dir);
      continue;
    }
    const entry = readContext(home, id, { ports: allPorts.filter((r) => r.context === id), rootedBy: rootsHolding(roots, id), disk: false });
    for (const p of entry.problems) problem(p);
    removeUsers(run, entry);
    // ws's own directories that are files: removed, so that the next writer can make the directory.
    for (const sub of CONTEXT_SUBDIRS) {
      const path = contextPaths(dir)[sub];
      const sst = lstatOr(path);
      if (!sst || sst.isDirectory()) continue;
      run.counted.add(path);
      add({ kind: 'corrupt', path: rel(path), bytes: sst.isFile() ? sst.size : 0, reason: 'a file where a directory belongs', context: entry.name, root: entry.root, id });
      if (!dryRun) rmQuiet(path);
    }
    const verdict = judgeContext(entry, run.startedMs, run.opts.maxAgeMs);
    if (!verdict.reasons.length) continue;
    if (verdict.holders.length) {
      kept.push({ id, name: entry.name, root: entry.root, reason: verdict.reasons.join('; '), heldBy: verdict.holders });
      continue;
    }
    candidates.push({ entry, reasons: verdict.reasons });
  }
  for (const p of idsProblems) problem(p);
  return candidates;
}

/** The context's dead users (listUsers' verdict), each with a `user.leave` event when it is really removed. */
function removeUsers(run: Run, entry: ContextEntry): void {
  const { home, dryRun } = run;
  const gone = dryRun ? new Set(entry.deadUsers) : removeDeadUsers(home, entry.id, entry.deadUsers);
  for (const dead of entry.deadUsers) {
    if (!gone.has(dead)) continue;
    run.counted.add(dead.path);
    run.add({
      kind: 'user',
      path: run.rel(dead.path),
      bytes: dead.bytes,
      reason: dead.record ? 'its process is gone' : 'an unreadable user record',
      context: entry.name,
      root: entry.root,
      id: entry.id,
      pid: dead.record?.pid,
    });
    if (!dryRun && dead.record && !hasLeft(dead.record) && entry.record) {
      emitEvent(home, 'user.leave', entry.record, { pid: dead.record.pid, shell: dead.record.shell ?? null, tty: dead.record.tty ?? null, reason: 'gc' }, run.opts.env, run.now());
    }
  }
}

/** Removes one planned context (a dry run only reports it) with its Nix GC roots and port reservations. True if it went. */
function removeOne(run: Run, entry: ContextEntry, reasons: string[], kept: GcKept[]): boolean {
  const { home, dryRun } = run;
  let outcome: ContextRemoval;
  try {
    outcome = dryRun
      ? { removed: true }
      : removeContext(home, entry.id, reasons, { env: run.opts.env, maxAgeMs: run.opts.maxAgeMs, startedMs: run.startedMs, now: run.now, beforeRename: run.opts.hooks?.beforeRename });
  } catch (error) {
    run.problem({ path: entry.dir, message: `could not be removed: ${(error as Error).message}` });
    return false;
  }
  if (!outcome.removed) {
    if (outcome.kept) kept.push(outcome.kept);
    return false;
  }
  if (outcome.problem) run.problem(outcome.problem);
  const bytes = dryRun ? diskUsage(entry.dir, run.counted).bytes : outcome.bytes!;
  const label = { context: entry.name, root: entry.root, id: entry.id };
  run.add({ kind: 'context', path: run.rel(entry.dir), bytes, reason: (outcome.reasons ?? reasons).join('; '), ...label });
  for (const nix of dryRun ? nixRoots(entry.dir) : outcome.nix!) {
    run.add({ kind: 'nix-root', path: run.rel(nix.path), bytes: 0, reason: 'its context was removed: nix-collect-garbage may now free its target', target: nix.target, ...label });
  }
  const released: Array<PortListing & { bytes: number }> = dryRun ? entry.ports.map((r) => ({ ...r, bytes: fileBytes(portReservationPath(home, r.proto, r.port)) })) : outcome.ports!;
  for (const r of released) run.add(portItem(home, r, `its context ${entry.name} was removed`, r.bytes));
  return true;
}
