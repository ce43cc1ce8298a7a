import { statSync } from 'node:fs';
import { join } from 'node:path';
import { appendText, ensureReaper, forgetUsers, isNoSpace, knob, REAPER_PID_FILE, runningReaper, sweep, tryLock } from '@ws/core';

const SWEEP_MS = 500;
/** How long the worker stays with nothing to do before it hands back to the watcher. */
const WORKER_LINGER_MS = 1500;
/** The worker's own lock: one at a time, whoever started it. */
export const WORKER_LOCK_FILE = 'reaper.worker';

export interface LoopOptions {
  home: string;
  env: NodeJS.ProcessEnv;
  once: boolean;
  /**
   * Started by the watcher (docs/unload.md, "The watcher"): holds reaper.worker
   * instead of reaper.pid, and exits as soon as nothing is left to do but
   * watch users.
   */
  worker?: boolean;
  /** Aborted when the reaper is told to stop (cli.ts: SIGTERM, SIGINT, SIGHUP). */
  stop: AbortSignal;
}

/**
 * The Node reaper's life: hold its lock (reaper.pid, or reaper.worker for a
 * worker), sweep every 500 ms (sooner when a grace period ends before then),
 * and leave after WS_REAPER_IDLE seconds with no user anywhere — a worker as
 * soon as no grace period, unload, service or held resource needs it.
 * Unloads run alongside the sweeps, so slow hooks never delay noticing a
 * dead user. Returns false if another reaper (worker) holds the lock.
 */
export async function reaperLoop({ home, env, once, worker, stop }: LoopOptions): Promise<boolean> {
  const lockPath = join(home, worker ? WORKER_LOCK_FILE : REAPER_PID_FILE);
  let release = takeLock(lockPath, home, worker);
  if (!release) return false;
  // Never fatal: a log line lost (a full disk, a broken reaper.log) must not stop the unloads.
  const log = (line: string) => {
    try {
      appendText(join(home, 'reaper.log'), `[${new Date().toISOString()}] ${line}\n`);
    } catch {
      /* lost */
    }
  };
  const idleMs = worker ? WORKER_LINGER_MS : knob(env, 'WS_REAPER_IDLE') * 1000;
  let idleSince = Date.now();
  // --once waits for its unloads; the loop lets them run while it goes on sweeping.
  const inFlight = once ? undefined : new Map<string, Promise<void>>();
  // The watcher touches reaper.poke when woken while a worker runs: a departure
  // record rewrites a file in place, which the cached listings would not see.
  const poke = join(home, 'reaper.poke');
  let poked = statSync(poke, { throwIfNoEntry: false })?.mtimeMs;
  try {
    for (;;) {
      const result = await sweep(home, { env, log, inFlight });
      if (once) return true;
      // A worker whose watcher was killed starts a new one (which leaves the work to it).
      if (worker && runningReaper(home) === undefined) ensureReaper(home, env);
      if (stop.aborted) {
        // Hooks run in their own process groups and the journal records them: a
        // successor resumes what is left. Waiting here keeps the log complete.
        await Promise.allSettled(inFlight?.values() ?? []);
        return true;
      }
      const busy = worker ? result.waiting > 0 || result.supervising > 0 || Boolean(inFlight?.size) : result.liveUsers > 0 || result.waiting > 0;
      if (busy) idleSince = Date.now();
      else if (Date.now() - idleSince >= idleMs) {
        // Let go of the lock first, then look once more: a user who registered
        // meanwhile saw no reaper and started one, or is seen here.
        release();
        release = undefined;
        const last = await sweep(home, { env, log, inFlight });
        const stay = worker ? last.waiting > 0 || last.supervising > 0 : last.liveUsers > 0 || last.waiting > 0;
        if (!stay) {
          if (worker && runningReaper(home) === undefined) ensureReaper(home, env);
          return true;
        }
        release = tryLock(lockPath);
        if (!release) return true;
        idleSince = Date.now();
      }
      const wake = result.nextDue === undefined ? SWEEP_MS : Math.min(SWEEP_MS, Math.max(10, result.nextDue - Date.now()));
      await new Promise((resolve) => setTimeout(resolve, wake));
      const mtime = statSync(poke, { throwIfNoEntry: false })?.mtimeMs;
      if (mtime !== poked) {
        poked = mtime;
        forgetUsers();
      }
    }
  } finally {
    release?.();
  }
}

/**
 * The loop's lock. On a full disk the lock (a file holding our PID) cannot be
 * written: a worker that its live watcher started goes on without it (the
 * watcher starts one worker at a time; unloads and hooks keep their own
 * exclusion), so dead users are still removed and nothing waits for space.
 */
function takeLock(path: string, home: string, worker: boolean | undefined): (() => void) | undefined {
  try {
    return tryLock(path);
  } catch (error) {
    if (worker && isNoSpace(error) && runningReaper(home) === process.ppid) return () => undefined;
    throw error;
  }
}
