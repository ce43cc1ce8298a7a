import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sleepSync } from '../process/proc.js';
import { cachePaths } from '../state/paths.js';
import { liveHolder } from '../state/lock.js';

// A cold entry (docs/hook.md "The cold path") answers the shell before its
// bookkeeping is done: `ws-export adopt`, detached, then registers the unload
// hooks, writes the context record and starts the reaper. Its holder record,
// `cache/adopted/<shell pid>.adopting`, says it is still at work.

/** How long a command waits for an adopt before it goes on without it. */
export const ADOPT_WAIT_MS = 10_000;

/** The holder record of the adopt that a cold entry of shell `pid` started (cold.bash writes it). */
export const adoptingPath = (contextDir: string, pid: number) => join(cachePaths(contextDir).adopted, `${pid}.adopting`);

/** Polls every 10 ms while `busy()`, at most `maxMs`. */
function waitWhile(busy: () => boolean, maxMs: number): void {
  const deadline = Date.now() + maxMs;
  while (busy() && Date.now() < deadline) sleepSync(10);
}

/** Waits, at most `maxMs`, while the adopt of shell `pid`'s cold entry is alive. */
export function waitForAdopt(contextDir: string, pid: number, maxMs = ADOPT_WAIT_MS): void {
  const path = adoptingPath(contextDir, pid);
  waitWhile(() => liveHolder(path) !== undefined, maxMs);
}

/**
 * Waits, at most `maxMs`, while any adopt in the context is alive: a command
 * typed right after a cold entry (ws-on-unload --list, --run-now) acts on
 * the context as the entry left it, hooks and record included.
 */
export function waitForAdoptions(contextDir: string, maxMs = ADOPT_WAIT_MS): void {
  const dir = cachePaths(contextDir).adopted;
  waitWhile(() => {
    try {
      return readdirSync(dir).some((name) => name.endsWith('.adopting') && liveHolder(join(dir, name)) !== undefined);
    } catch {
      return false;
    }
  }, maxMs);
}
