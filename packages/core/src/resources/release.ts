import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { emitEvent } from '../events/emit.js';
import { knob } from '../env/knobs.js';
import { readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { ensureLockDir, liveHolder, tryLock } from '../state/lock.js';
import { homePaths, resourceDirPaths, resourcePaths } from '../state/paths.js';
import { liveHolders, pruneHolders, readHolders } from './holders.js';
import { isResourceHash } from './inputs.js';
import { quarantine } from './quarantine.js';
import { rootsByHash } from './roots.js';
import { runLogged, stopLeftover } from './run.js';
import { buildsOf, deleteTree, emptyTrash, readInputs, readResourceRecord, type ResourceRecord } from './store.js';

export interface ReleaseOptions {
  env: NodeJS.ProcessEnv;
  /** Why: `no holder` (the reaper), `released` (ws-resource release), `gc`, `unload`. */
  reason: string;
  now?: () => Date;
  /** Release the resources it held too, when nothing else holds them (default true). */
  cascade?: boolean;
}

export type ReleaseOutcome = 'released' | 'held' | 'busy' | 'failed' | 'absent';

/** The environment a release command gets: INIT's (env.json), `$out`, and the hash. */
function releaseEnv(dir: string, env: NodeJS.ProcessEnv, hash: string): NodeJS.ProcessEnv {
  const saved = readJson<Record<string, string>>(resourceDirPaths(dir).env);
  const base: NodeJS.ProcessEnv = saved && typeof saved === 'object' ? { ...saved } : { ...env };
  return { ...base, out: resourceDirPaths(dir).out, WS_RESOURCE_HASH: hash, WS_RESOURCE_RELEASE: '1' };
}

/**
 * Runs the release command of the resource-shaped directory `dir` (if it
 * has one): `bash -c CMD` with `$out` set, cwd = out, a timeout of
 * WS_UNLOAD_TIMEOUT seconds. Returns why it failed, or undefined.
 */
export async function runRelease(dir: string, hash: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const command = readInputs(resourceDirPaths(dir).inputs)?.release;
  if (!command) return undefined;
  const paths = resourceDirPaths(dir);
  const result = await runLogged('bash', ['-c', command], {
    cwd: paths.out,
    env: releaseEnv(dir, env, hash),
    log: paths.log,
    pidFile: paths.initPid,
    timeoutMs: knob(env, 'WS_UNLOAD_TIMEOUT') * 1000,
    label: `release: ${command}`,
  });
  rmQuiet(paths.initPid);
  if (result.error) return result.error;
  if (result.timedOut) return `the release timed out after ${knob(env, 'WS_UNLOAD_TIMEOUT')} s`;
  if (result.signal) return `the release was killed by ${result.signal}`;
  return result.status === 0 ? undefined : `the release exited with status ${result.status}`;
}

const sourceOf = (record: { context: ResourceRecord['context'] } | undefined) => ({ context: record?.context?.name ?? '', root: record?.context?.root ?? '' });

/**
 * Releases the resource `hash` if nothing holds or roots it: under its lock
 * (so no holder can be added meanwhile) it is marked `releasing`, its
 * release command runs, and it is deleted (`resource.release`); a failed
 * release moves it to quarantine/ (`resource.fail`, phase release). A
 * release that was killed midway is resumed by the next one. The resources
 * it held are released afterwards if nothing else holds them.
 */
export async function releaseIfFree(home: string, hash: string, opts: ReleaseOptions): Promise<ReleaseOutcome> {
  const now = opts.now ?? (() => new Date());
  const paths = resourcePaths(home, hash);
  ensureLockDir(paths.lock);
  const unlock = tryLock(paths.lock);
  if (!unlock) return 'busy';
  let outcome: ReleaseOutcome;
  try {
    outcome = await releaseLocked(home, hash, opts, now);
  } finally {
    unlock();
  }
  if (outcome === 'released' && opts.cascade !== false) await releaseHeldBy(home, hash, opts);
  return outcome;
}

/** The release itself; the caller holds the resource's lock. */
export async function releaseLocked(home: string, hash: string, opts: ReleaseOptions, now: () => Date): Promise<ReleaseOutcome> {
  const paths = resourcePaths(home, hash);
  const record = readResourceRecord(paths.record);
  if (!record) return 'absent';
  if (record.state === 'ready') {
    if (rootsByHash(home).has(hash) || liveHolders(home, paths.dir).length) return 'held';
    writeFileAtomic(paths.record, `${JSON.stringify({ ...record, state: 'releasing' })}\n`);
  }
  stopLeftover(paths.initPid); // a release whose runner was killed
  const failed = await runRelease(paths.dir, hash, opts.env);
  const source = sourceOf(record);
  if (failed) {
    const dir = quarantine(paths.dir, { home, hash, phase: 'release', reason: failed, code: failureCodeOf(paths.dir), context: record.context, env: opts.env, now: now() });
    emitEvent(home, 'resource.fail', source, { hash, phase: 'release', code: failureCodeOf(dir), reason: failed, quarantine: dir }, opts.env, now());
    return 'failed';
  }
  pruneHolders(home, paths.dir);
  deleteTree(home, paths.dir);
  emitEvent(home, 'resource.release', source, { hash, path: paths.out, reason: opts.reason }, opts.env, now());
  return 'released';
}

/** `--failure CODE` of the call that made it (kept in inputs.json beside the hashed inputs). */
const failureCodeOf = (dir: string) => readJson<{ failure?: string | null }>(resourceDirPaths(dir).inputs)?.failure ?? null;

const listNames = (dir: string) => {
  try {
    return readdirSync(dir).filter((n) => isResourceHash(n));
  } catch {
    return [];
  }
};

/** After `hash` is gone: the resources it held (its INIT asked for them) go too, unless something else holds them. */
async function releaseHeldBy(home: string, hash: string, opts: ReleaseOptions): Promise<void> {
  for (const other of listNames(homePaths(home).resources)) {
    const dir = resourcePaths(home, other).dir;
    if (!readHolders(home, dir).some((h) => h.key === `resource-${hash}`)) continue;
    rmQuiet(join(resourceDirPaths(dir).holders, `resource-${hash}`));
    await releaseIfFree(home, other, opts);
  }
}

/**
 * Drops the holds of a context (contexts/<id>/) on every resource and
 * quarantine, and releases the resources nothing else holds now. Called by
 * the unload, after its hooks. Returns how many holds were dropped.
 */
export async function releaseContextHolds(home: string, contextDir: string, opts: ReleaseOptions): Promise<number> {
  const key = `context-${basename(contextDir)}`;
  const freed: string[] = [];
  for (const area of [homePaths(home).resources, homePaths(home).quarantine]) {
    for (const hash of listNames(area)) {
      const file = join(resourceDirPaths(join(area, hash)).holders, key);
      if (readHolders(home, join(area, hash)).every((h) => h.key !== key)) continue;
      rmQuiet(file);
      if (area === homePaths(home).resources) freed.push(hash);
    }
  }
  for (const hash of freed) await releaseIfFree(home, hash, opts);
  return freed.length;
}

/** Builds whose builder is gone (not the live holder of the lock): stop what they left running, delete them. */
export function removeDeadBuilds(home: string, dryRun = false): string[] {
  const removed: string[] = [];
  for (const dir of buildsOf(home)) {
    const [hash, pid] = basename(dir).split('.');
    if (liveHolder(resourcePaths(home, hash).lock)?.pid === Number(pid)) continue;
    removed.push(dir);
    if (dryRun) continue;
    stopLeftover(resourceDirPaths(dir).initPid);
    deleteTree(home, dir);
  }
  return removed;
}

/**
 * The reaper's pass over resources/ (one call per sweep): releases every
 * resource nothing holds or roots — in the background when `inFlight` is
 * given (keyed by the resource directory), else waiting for each — and
 * cleans what killed builds left. Returns how many resources need the
 * reaper to stay: held by a live process, or being released.
 */
export async function sweepResources(
  home: string,
  opts: { env: NodeJS.ProcessEnv; now?: () => Date; log?: (line: string) => void; inFlight?: Map<string, Promise<void>> },
): Promise<number> {
  let pending = 0;
  try {
    const hashes = listNames(homePaths(home).resources);
    emptyTrash(home);
    removeDeadBuilds(home);
    if (!hashes.length) return pending; // the common case: one failed readdir per sweep and area
    const roots = rootsByHash(home);
    for (const hash of hashes) {
      const dir = resourcePaths(home, hash).dir;
      if (opts.inFlight?.has(dir)) {
        pending++;
        continue;
      }
      const record = readResourceRecord(resourcePaths(home, hash).record);
      if (!record) continue; // corrupt: `ws-resource list` reports it, the next identical call rebuilds it
      if (record.state === 'ready') {
        if (roots.has(hash)) continue;
        const live = liveHolders(home, dir);
        if (live.length) {
          if (live.some((h) => h.holder?.kind === 'pid')) pending++;
          continue;
        }
      }
      const run = releaseIfFree(home, hash, { env: opts.env, reason: 'no holder', now: opts.now }).then(
        (outcome) => void (outcome === 'released' || outcome === 'failed' ? opts.log?.(`resource ${hash}: ${outcome}`) : undefined),
        (error) => opts.log?.(`resource ${hash}: release failed: ${(error as Error).message}`),
      );
      if (opts.inFlight) {
        pending++;
        opts.inFlight.set(dir, run.finally(() => opts.inFlight?.delete(dir)));
      } else await run;
    }
  } catch (error) {
    opts.log?.(`resources: ${(error as Error).message}`);
  }
  return pending;
}
