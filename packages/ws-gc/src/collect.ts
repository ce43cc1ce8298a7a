import { rmdirSync } from 'node:fs';
import { checkStateHome, ownStateHome, CliError, collectResources, emitEvent, EX, homePaths, homeRelative, lstatOr, stateHomePath, tryLock, type GcItem, type Problem } from '@ws/core';
import { collectContexts } from './contexts.js';
import type { GcOptions, GcResult } from './result.js';
import { sweepColdLeftovers, sweepDeadFollowers, sweepDeadLocks, sweepEvents, sweepMisplaced, sweepPorts, sweepRoots, sweepTrust } from './sweep.js';

// ws-gc's policy: what it removes, in which order, and what it reports. The
// mechanisms (reading the state home, judging, moving aside and removing
// safely) are in @ws/core (inventory/, gc/).

/** One run's bookkeeping, shared by its steps. */
export interface Run {
  home: string;
  opts: GcOptions;
  dryRun: boolean;
  now: () => Date;
  /** When the collection started: a use since then keeps a context. */
  startedMs: number;
  add: (item: GcItem) => void;
  problem: (p: Problem) => void;
  /** A path relative to the state home, as items show it. */
  rel: (path: string) => string;
  /** Files already counted in an item: a context's size leaves them out (the dry run must add up like the real one). */
  counted: Set<string>;
}

/**
 * Collects garbage in the state home of `opts.env` (SPEC §4 ws-gc): dead
 * users' registrations; contexts whose root or workspace file is gone, or
 * unused longer than `maxAgeMs`, that nothing holds; port reservations of
 * removed contexts and of dead allocations; dangling roots; Nix GC roots of
 * removed contexts; trust records of files that are gone; the event log
 * beyond its limit; leftovers of killed writers. With `dryRun` nothing is
 * changed and the result says what would go. One collector at a time (75).
 */
export async function collectGarbage(opts: GcOptions): Promise<GcResult> {
  const now = opts.now ?? (() => new Date());
  const dryRun = opts.dryRun ?? false;
  const home = stateHomePath(opts.env);
  checkStateHome(home);
  ownStateHome(home); // planted links in it are never followed (state/atomic.ts)
  const result: GcResult = { dryRun, home, removed: [], kept: [], problems: [], bytes: 0 };
  if (!lstatOr(home)) return result;
  const release = dryRun ? undefined : tryLock(homePaths(home).gcLock);
  if (!dryRun && !release) throw new CliError(EX.TEMPFAIL, 'another ws-gc is running in this state home; try again later');
  try {
    await collect(home, opts, dryRun, now, result);
  } finally {
    release?.();
  }
  result.bytes = result.removed.reduce((sum, item) => sum + item.bytes, 0);
  if (!dryRun && result.removed.length) {
    const counts: Record<string, number> = {};
    for (const item of result.removed) counts[item.kind] = (counts[item.kind] ?? 0) + 1;
    emitEvent(home, 'gc', { context: '', root: '' }, { removed: result.removed.length, bytes: result.bytes, kinds: counts }, opts.env, now());
  }
  return result;
}

/** The steps, in order: what is misplaced and dead locks first, then contexts with their users, so that what goes with a context is not reported twice. */
async function collect(home: string, opts: GcOptions, dryRun: boolean, now: () => Date, result: GcResult): Promise<void> {
  const problems = new Map<string, Problem>();
  const run: Run = {
    home,
    opts,
    dryRun,
    now,
    startedMs: now().getTime(),
    add: (item) => result.removed.push(item),
    problem: (p) => problems.set(`${p.path}\0${p.message}`, p),
    rel: (path) => homeRelative(home, path),
    counted: new Set(),
  };
  sweepMisplaced(run);
  sweepDeadLocks(run);
  const removedIds = await collectContexts(run, result.kept);
  sweepPorts(run, removedIds);
  // Resources nothing holds or roots (their release runs first); before the roots, whose targets they may be.
  for (const item of await collectResources(home, { env: opts.env, dryRun, now, problem: run.problem })) run.add(item);
  sweepRoots(run);
  sweepTrust(run);
  sweepDeadFollowers(run);
  sweepColdLeftovers(run);
  sweepEvents(run);
  if (!dryRun) {
    try {
      rmdirSync(homePaths(home).gcTrash);
    } catch {
      /* not empty or not there */
    }
  }
  result.problems = [...problems.values()];
}
