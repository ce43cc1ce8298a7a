import { existsSync, renameSync } from 'node:fs';
import { CliError, EX } from '../cli/errors.js';
import { emitEvent } from '../events/emit.js';
import { readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { resourceDirPaths, resourcePaths } from '../state/paths.js';
import { callContext, obtainResource, retryRelease, waitLock, type Obtained } from './build.js';
import { addHolder, type Holder } from './holders.js';
import { deleteTree, readFailureRecord, readInputs, type ResourceRecord } from './store.js';

export interface QuarantineActionOptions {
  home: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Who holds the resource that retry or resolve makes (besides the quarantine's own holders). */
  holder: Holder;
  now?: () => Date;
}

/** The quarantine of `hash`, or 66. */
function quarantineOf(home: string, hash: string): string {
  const dir = resourcePaths(home, hash).quarantine;
  if (!existsSync(dir)) throw new CliError(EX.NOINPUT, `resource ${hash} is not quarantined`);
  return dir;
}

/**
 * `retry`: a failed INIT runs again as the recorded call (same INIT,
 * arguments, seed, targets, release, directory and environment; the hash is
 * computed again, so a fixed INIT script makes the resource of the fixed
 * script). A failed release runs its release again. On success the
 * quarantine is gone.
 */
export async function retryQuarantine(hash: string, opts: QuarantineActionOptions): Promise<Obtained | undefined> {
  const dir = quarantineOf(opts.home, hash);
  const paths = resourceDirPaths(dir);
  const now = opts.now ?? (() => new Date());
  if (readFailureRecord(paths.failure)?.phase === 'release') {
    const unlock = await waitLock(resourcePaths(opts.home, hash).lock);
    try {
      await retryRelease(opts.home, hash, opts.env, now);
    } finally {
      unlock();
    }
    return undefined;
  }
  const inputs = readInputs(paths.inputs) as (ReturnType<typeof readInputs> & { cwd?: string; failure?: string | null }) | undefined;
  if (!inputs) throw new CliError(EX.DATAERR, `${paths.inputs} is missing or corrupt: nothing to retry (discard it: ${paths.discard})`);
  const saved = readJson<Record<string, string>>(paths.env);
  const env = saved && typeof saved === 'object' ? saved : opts.env;
  return obtainResource({
    home: opts.home,
    env,
    cwd: typeof inputs.cwd === 'string' ? inputs.cwd : opts.cwd,
    argv: inputs.argv,
    seed: inputs.seed ?? undefined,
    sequence: inputs.transient ?? undefined,
    targets: inputs.targets,
    release: inputs.release ?? undefined,
    failure: inputs.failure ?? undefined,
    holder: opts.holder,
    retry: true,
    retryOf: dir,
    now,
  });
}

/**
 * `resolve`: a failed INIT's out/, as it is now (fixed by hand), becomes the
 * resource — no target check, INIT does not run. A failed release is marked
 * done: the quarantine is deleted.
 */
export async function resolveQuarantine(hash: string, opts: QuarantineActionOptions): Promise<Obtained | undefined> {
  const dir = quarantineOf(opts.home, hash);
  const q = resourceDirPaths(dir);
  const now = opts.now ?? (() => new Date());
  const target = resourcePaths(opts.home, hash);
  const unlock = await waitLock(target.lock);
  try {
    const failure = readFailureRecord(q.failure);
    const source = { context: failure?.context?.name ?? '', root: failure?.context?.root ?? '' };
    if (failure?.phase === 'release') {
      deleteTree(opts.home, dir);
      emitEvent(opts.home, 'resource.release', source, { hash, path: target.out, reason: 'resolved' }, opts.env, now());
      return undefined;
    }
    if (existsSync(target.dir)) throw new CliError(EX.CANTCREAT, `resource ${hash} exists already; discard the quarantine instead: ${q.discard}`);
    if (!existsSync(q.out)) throw new CliError(EX.DATAERR, `${q.out} is missing: nothing to accept (retry or discard it)`);
    const context = failure?.context ?? callContext(opts.env);
    const record: ResourceRecord = { v: 1, hash, state: 'ready', created: now().toISOString(), duration_ms: 0, context };
    writeFileAtomic(q.record, `${JSON.stringify(record, null, 2)}\n`);
    addHolder(dir, opts.holder);
    for (const file of [q.failure, q.retry, q.resolve, q.discard]) rmQuiet(file);
    renameSync(dir, target.dir);
    emitEvent(opts.home, 'resource.init', source, { hash, path: target.out, cached: false, duration_ms: 0, resolved: true }, opts.env, now());
    return { hash, path: target.out, cached: false };
  } finally {
    unlock();
  }
}

/** `discard`: deletes the quarantine; the next identical call runs INIT again. */
export async function discardQuarantine(hash: string, opts: { home: string }): Promise<string> {
  const dir = quarantineOf(opts.home, hash);
  const unlock = await waitLock(resourcePaths(opts.home, hash).lock);
  try {
    deleteTree(opts.home, dir);
  } finally {
    unlock();
  }
  return dir;
}
