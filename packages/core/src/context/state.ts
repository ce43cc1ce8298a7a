import { statSync } from 'node:fs';
import { readText } from '../state/atomic.js';
import { liveHolder } from '../state/lock.js';
import { cachePaths } from '../state/paths.js';
import { listServices, type ServiceInfo } from '../services/services.js';
import { readContextRecord, type ContextRecord, type ContextState } from './record.js';

/** A context's state as shown to people: the recorded one, made true (docs/state-home.md). */
export type ShownState = ContextState | 'degraded';

/** A build directory just made, whose owner is not recorded yet (ws-export writes it right after the spawn). */
function settingUp(buildDir: string): boolean {
  const mtime = statSync(buildDir, { throwIfNoEntry: false })?.mtimeMs;
  return mtime !== undefined && Date.now() - mtime < 2000;
}

/** Service states that mean "should be running, is not". */
const FAILED = new Set(['exited', 'failed', 'backoff']);

/**
 * The one definition of a context's state, used by ws-list, ws-prompt and the
 * event snapshot. context.json's `state` is what the last ws-export saw; it
 * is corrected by what is true now:
 * - `building` only while the build's process is alive; a build that
 *   finished since is `ready` or `error` by its exit status, one that died
 *   without finishing is `stale` (the next prompt builds again);
 * - `ready` with a service that should run and does not (exited, failed,
 *   restarting after a crash) is `degraded`.
 */
export function contextState(contextDir: string, record: ContextRecord | undefined = readContextRecord(contextDir), services?: ServiceInfo[]): ShownState | undefined {
  if (!record) return undefined;
  let state: ShownState = record.state;
  if (state === 'building') {
    const paths = cachePaths(contextDir);
    const status = readText(paths.buildStatus);
    if (status !== undefined) state = Number(status.trim().split(' ')[0]) === 0 ? 'ready' : 'error';
    else if (!liveHolder(paths.buildOwner) && !settingUp(paths.build)) state = 'stale';
  }
  if (state === 'ready' && (services ?? listServices(contextDir)).some((s) => FAILED.has(s.shown))) state = 'degraded';
  return state;
}
