import { join } from 'node:path';
import { appendText, knob, REAPER_PID_FILE, sweep, tryLock } from '@ws/core';

const SWEEP_MS = 500;

export interface LoopOptions {
  home: string;
  env: NodeJS.ProcessEnv;
  once: boolean;
  /** Aborted when the reaper is told to stop (cli.ts: SIGTERM, SIGINT, SIGHUP). */
  stop: AbortSignal;
}

/**
 * The reaper's life: hold reaper.pid (the lock that makes it one per state
 * home), sweep every 500 ms (sooner when a grace period ends before then),
 * and leave after WS_REAPER_IDLE seconds with no user anywhere. Unloads run
 * alongside the sweeps, so slow hooks never delay noticing a dead user.
 * Returns false if another reaper holds the lock.
 */
export async function reaperLoop({ home, env, once, stop }: LoopOptions): Promise<boolean> {
  const lockPath = join(home, REAPER_PID_FILE);
  let release = tryLock(lockPath);
  if (!release) return false;
  // Never fatal: a log line lost (a full disk, a broken reaper.log) must not stop the unloads.
  const log = (line: string) => {
    try {
      appendText(join(home, 'reaper.log'), `[${new Date().toISOString()}] ${line}\n`);
    } catch {
      /* lost */
    }
  };
  const idleMs = knob(env, 'WS_REAPER_IDLE') * 1000;
  let idleSince = Date.now();
  // --once waits for its unloads; the loop lets them run while it goes on sweeping.
  const inFlight = once ? undefined : new Map<string, Promise<void>>();
  try {
    for (;;) {
      const result = await sweep(home, { env, log, inFlight });
      if (once) return true;
      if (stop.aborted) {
        // Hooks run in their own process groups and the journal records them: a
        // successor resumes what is left. Waiting here keeps the log complete.
        await Promise.allSettled(inFlight?.values() ?? []);
        return true;
      }
      if (result.liveUsers > 0 || result.waiting > 0) idleSince = Date.now();
      else if (Date.now() - idleSince >= idleMs) {
        // Let go of the lock first, then look once more: a user who registered
        // meanwhile saw no reaper and started one, or is seen here.
        release();
        release = undefined;
        const last = await sweep(home, { env, log, inFlight });
        if (last.liveUsers === 0 && last.waiting === 0) return true;
        release = tryLock(lockPath);
        if (!release) return true;
        idleSince = Date.now();
      }
      const wake = result.nextDue === undefined ? SWEEP_MS : Math.min(SWEEP_MS, Math.max(10, result.nextDue - Date.now()));
      await new Promise((resolve) => setTimeout(resolve, wake));
    }
  } finally {
    release?.();
  }
}
