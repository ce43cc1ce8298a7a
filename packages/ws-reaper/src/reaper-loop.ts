import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { REAPER_PID_FILE, sweep, tryLock } from '@ws/core';

const SWEEP_MS = 500;

export interface LoopOptions {
  home: string;
  env: NodeJS.ProcessEnv;
  once: boolean;
}

/**
 * The reaper's life: hold reaper.pid (the lock that makes it one per state
 * home), sweep every 500 ms, and leave after WS_REAPER_IDLE seconds with no
 * user anywhere. Returns false if another reaper holds the lock.
 */
export async function reaperLoop({ home, env, once }: LoopOptions): Promise<boolean> {
  const lockPath = join(home, REAPER_PID_FILE);
  let release = tryLock(lockPath);
  if (!release) return false;
  const log = (line: string) => appendFileSync(join(home, 'reaper.log'), `[${new Date().toISOString()}] ${line}\n`);
  const idleMs = (env.WS_REAPER_IDLE !== undefined && Number(env.WS_REAPER_IDLE) >= 0 ? Number(env.WS_REAPER_IDLE) : 60) * 1000;
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => (stopping = true));
  let idleSince = Date.now();
  try {
    for (;;) {
      const result = await sweep(home, { env, log });
      if (once || stopping) return true;
      if (result.liveUsers > 0 || result.waiting > 0) idleSince = Date.now();
      else if (Date.now() - idleSince >= idleMs) {
        // Let go of the lock first, then look once more: a user who registered
        // meanwhile saw no reaper and started one, or is seen here.
        release();
        release = undefined;
        const last = await sweep(home, { env, log });
        if (last.liveUsers === 0 && last.waiting === 0) return true;
        release = tryLock(lockPath);
        if (!release) return true;
        idleSince = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, SWEEP_MS));
    }
  } finally {
    release?.();
  }
}
