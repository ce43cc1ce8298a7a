import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readContextRecord } from './context-record.js';
import { emitEvent } from './events.js';
import { readText, rmQuiet, writeFileAtomic } from './fs-atomic.js';
import { locateBinary } from './locate.js';
import { isAlive } from './proc.js';
import { runUnload, unloadPending } from './unload.js';
import { listUsers } from './users.js';

export const REAPER_PID_FILE = 'reaper.pid';

/** The live reaper of a state home, if any (reaper.pid holds `PID START`, and is its lock). */
export function runningReaper(home: string): number | undefined {
  const [pid, start] = (readText(join(home, REAPER_PID_FILE)) ?? '').trim().split(' ');
  return pid && isAlive({ pid: Number(pid), start: start ?? '' }) ? Number(pid) : undefined;
}

/**
 * Starts the reaper unless one is running: detached in its own session, so
 * closing the terminal does not kill it. Racing starters are fine: all but
 * one lose the lock and exit at once.
 */
export function ensureReaper(home: string, env: NodeJS.ProcessEnv): void {
  if (runningReaper(home) !== undefined) return;
  const binary = locateBinary('ws-reaper', env);
  if (!binary) return;
  try {
    const child = spawn(process.execPath, [binary, '--foreground'], {
      detached: true,
      stdio: 'ignore',
      env: { ...env, WS_STATE_HOME: home },
      cwd: '/',
    });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    /* the next registration tries again */
  }
}

export interface SweepResult {
  liveUsers: number;
  /** Contexts with no users that wait for their grace period or an unload. */
  waiting: number;
}

export interface SweepOptions {
  env: NodeJS.ProcessEnv;
  now?: () => Date;
  /** Where problems go (the reaper's log). */
  log?: (line: string) => void;
}

const graceMs = (env: NodeJS.ProcessEnv) => (env.WS_UNLOAD_GRACE !== undefined && Number(env.WS_UNLOAD_GRACE) >= 0 ? Number(env.WS_UNLOAD_GRACE) : 2) * 1000;

/**
 * One pass over the state home: drop dead users (a recycled PID is dead),
 * start the grace period of contexts that lost their last user, and unload
 * those whose grace is over or whose unload was interrupted. Everything it
 * knows comes from the state home, so a restarted reaper continues.
 */
export async function sweep(home: string, opts: SweepOptions): Promise<SweepResult> {
  const now = opts.now ?? (() => new Date());
  const result: SweepResult = { liveUsers: 0, waiting: 0 };
  let ids: string[];
  try {
    ids = readdirSync(join(home, 'contexts'));
  } catch {
    return result;
  }
  for (const id of ids) {
    const dir = join(home, 'contexts', id);
    const users = listUsers(dir);
    const record = readContextRecord(dir);
    for (const dead of users.dead) {
      rmQuiet(join(dir, 'users', dead.name));
      if (!dead.record) opts.log?.(`removed corrupt user record ${dir}/users/${dead.name}`);
      if (record) emitEvent(home, 'user.leave', record, { pid: dead.record?.pid ?? Number(dead.name), reason: 'exited' }, opts.env, now());
    }
    result.liveUsers += users.live.length;
    const idleMarker = join(dir, 'idle-since');
    if (users.live.length > 0) {
      rmQuiet(idleMarker);
      continue;
    }
    const pending = unloadPending(dir);
    if (!pending && (!record || record.state === 'unloaded' || record.state === 'blocked')) continue;
    let since: number;
    try {
      since = statSync(idleMarker).mtimeMs;
    } catch {
      writeFileAtomic(idleMarker, `${now().toISOString()}\n`);
      since = now().getTime();
    }
    if (pending || now().getTime() - since >= graceMs(opts.env)) {
      try {
        await runUnload(home, dir, { env: opts.env, reason: pending ? 'resumed' : 'last user left', now });
      } catch (error) {
        opts.log?.(`unload of ${dir} failed: ${(error as Error).message}`);
      }
      rmQuiet(idleMarker);
    } else {
      result.waiting++;
    }
  }
  return result;
}
