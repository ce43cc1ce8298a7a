import { join } from 'node:path';
import type { ContextEntry } from '../inventory/context.js';
import { pathExists } from '../inventory/probe.js';
import { formatAge } from './duration.js';

// Whether a context may go, and what holds it: ws-gc's judgement of one
// context entry, made once in the plan and again under the entry lock.

export interface Verdict {
  /** Why it may go; empty: it stays anyway. */
  reasons: string[];
  /** What holds it; non-empty: it stays. */
  holders: string[];
}

/** A use this close before the collection started counts as during it. */
const ENTRY_MARGIN_MS = 1;
/** States in which a context's unload has not run yet. */
const ACTIVE_STATES = new Set(['ready', 'building', 'stale', 'error']);
/** A context whose recorded file is gone lives on while its root still has one of these. */
const WORKSPACE_NAMES = ['.workspace', '.envrc'];

const plural = (n: number, word: string) => `${word}${n > 1 ? 's' : ''}`;

/**
 * Why a context may be removed (its root or workspace file is gone; with
 * `maxAgeMs`, it is unused longer than that), and what, if anything, holds
 * it. `startedMs`: when the collection started (a use since then holds it).
 */
export function judgeContext(c: ContextEntry, now: number, maxAgeMs: number | undefined, startedMs?: number): Verdict {
  const reasons: string[] = [];
  if (c.root === undefined) {
    // context.json is missing or corrupt and nothing names the root: only age can tell.
    const idle = now - Math.max(c.lastUsedMs ?? 0, c.newestMs);
    if (maxAgeMs !== undefined && idle > maxAgeMs) reasons.push(`unused for ${formatAge(idle)}, root unknown (context.json ${c.record ? 'unusable' : 'missing or corrupt'})`);
  } else if (c.rootExists === false) {
    reasons.push('its root is gone');
  } else if (c.fileExists === false && !WORKSPACE_NAMES.some((name) => pathExists(join(c.root!, name)))) {
    reasons.push('its workspace file is gone');
  }
  if (c.root !== undefined && maxAgeMs !== undefined) {
    const last = c.lastUsedMs ?? c.newestMs;
    if (now - last > maxAgeMs) reasons.push(`unused for ${formatAge(now - last)}`);
  }
  const holders: string[] = [];
  if (c.users.length) holders.push(`${c.users.length} live ${plural(c.users.length, 'user')} (PID ${c.users.map((u) => u.pid).join(', ')})`);
  if (c.registering.length) holders.push(`${c.registering.length > 1 ? `${c.registering.length} user records` : 'a user record'} being written (${c.registering.map((n) => `users/${n}`).join(', ')})`);
  const running = c.services.filter((s) => s.running);
  if (running.length) holders.push(`running ${plural(running.length, 'service')} ${running.map((s) => s.name).join(', ')}`);
  if (c.rootedBy.length) holders.push(`${plural(c.rootedBy.length, 'root')} ${c.rootedBy.map((r) => `roots/${r}`).join(', ')}`);
  if (c.building) holders.push('a build of its workspace file is running');
  if (c.unloadPending) holders.push('an unload is unfinished (ws-reaper resumes it)');
  else if (ACTIVE_STATES.has(c.state) && (c.hooks > 0 || c.unloadDue)) holders.push("its unload has not run yet (ws-reaper runs it; or 'ws-on-unload --run-now')");
  // The margin absorbs the float rounding of mtimeMs (ms times set by utimes come back a hair lower).
  if (startedMs !== undefined && (c.lastUsedMs ?? 0) >= startedMs - ENTRY_MARGIN_MS) holders.push('it was entered during the collection');
  return { reasons, holders };
}
