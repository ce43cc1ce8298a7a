import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, fstatSync, linkSync, lstatSync, openSync, readdirSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { readContextRecord, type ContextRecord } from '../context/record.js';
import { emitEvent } from '../events/emit.js';
import { readText, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { clearStaleLock, liveHolder } from '../state/lock.js';
import { contextDirOf, contextPaths, homePaths, userRecordPath } from '../state/paths.js';
import { locateBinary } from '../process/locate.js';
import { withoutInheritedFds } from '../process/proc.js';
import { needsSupervision, superviseServices } from '../services/services.js';
import { sweepResources } from '../resources/release.js';
import { runUnload, unloadPending } from '../unload/run.js';
import { hasLeft, isLiveUser, listUsers, readUserRecord, type UserListing, type UserRecord } from '../users/users.js';
import { knob } from '../env/knobs.js';
import watcherScript from './watcher.bash';

/** The reaper's pid file and lock, relative to the state home (= homePaths(home).reaperPid). */
export const REAPER_PID_FILE = 'reaper.pid';

/** The live reaper of a state home, if any (reaper.pid holds `PID START`, and is its lock). */
export function runningReaper(home: string): number | undefined {
  return liveHolder(homePaths(home).reaperPid)?.pid;
}

/** The watcher's FIFO (docs/unload.md): a line written to it makes the reaper look now. */
export const REAPER_WAKE_FILE = 'reaper.wake';

/**
 * Starts the reaper unless one is running: detached in its own session, so
 * closing the terminal does not kill it. On Linux what stays resident is the
 * watcher (watcher.bash, builtins only), which starts the Node reaper
 * (`ws-reaper --worker`) only when there is work; elsewhere the Node reaper
 * itself. Racing starters are fine: all but one lose the lock and exit at
 * once. With `wake`, a running reaper is told to look now (a new service to
 * supervise, a resource to watch).
 */
export function ensureReaper(home: string, env: NodeJS.ProcessEnv, opts: { wake?: boolean } = {}): void {
  if (runningReaper(home) !== undefined) {
    if (opts.wake) wakeReaper(home);
    return;
  }
  const binary = locateBinary('ws-reaper', env);
  if (!binary) return;
  // A lock left by a killed reaper is moved aside here: the watcher only creates one.
  clearStaleLock(homePaths(home).reaperPid);
  try {
    const [command, args] = withoutInheritedFds(...reaperCommand(binary, env));
    const child = spawn(command, args, {
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

/** watcher.bash without its ## lines (notes for its readers, not for bash). */
const WATCHER = watcherScript
  .split('\n')
  .filter((line) => !line.startsWith('##'))
  .join('\n');

/** The resident reaper's command line: the watcher on Linux, else the Node reaper. */
export function reaperCommand(binary: string, env: NodeJS.ProcessEnv): [string, string[]] {
  if (process.platform !== 'linux') return [process.execPath, [binary, '--node']];
  return ['bash', ['--noprofile', '--norc', '-c', WATCHER, 'ws-reaper', process.execPath, binary, String(Math.ceil(knob(env, 'WS_REAPER_IDLE')))]];
}

/**
 * Writes one line to reaper.wake if it is a FIFO (never blocks: opened
 * read-write and non-blocking; a full pipe drops the line, the watcher is
 * awake then anyway). The departure protocol's wake-up, from Node.
 */
export function wakeReaper(home: string, line = home): void {
  const path = `${home}/${REAPER_WAKE_FILE}`;
  try {
    if (!lstatSync(path).isFIFO()) return;
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    try {
      writeSync(fd, `${line}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* no watcher: the next start sweeps everything */
  }
}

/** Forget the cached user listings: the next sweep reads every record (the watcher was woken). */
export function forgetUsers(): void {
  userCache.clear();
}

export interface SweepResult {
  liveUsers: number;
  /** Contexts with no users that wait for their grace period or an unload. */
  waiting: number;
  /** When the earliest grace period ends (ms since the epoch), so the caller can wake up then. */
  nextDue?: number;
  /** Contexts with services to supervise (running, starting, stopping, in backoff): the Node reaper stays for them. */
  supervising: number;
}

export interface SweepOptions {
  env: NodeJS.ProcessEnv;
  now?: () => Date;
  /** Where problems go (the reaper's log). */
  log?: (line: string) => void;
  /**
   * Unloads in progress, by context directory. With it, sweep starts unloads
   * and returns without waiting for them (slow hooks of one context must not
   * delay noticing dead users of another); without it, it waits for each.
   */
  inFlight?: Map<string, Promise<void>>;
}

const graceMs = (env: NodeJS.ProcessEnv) => knob(env, 'WS_UNLOAD_GRACE') * 1000;

/**
 * One pass over the state home: drop dead users (a recycled PID is dead),
 * start the grace period of contexts that lost their last user, and unload
 * those whose grace is over or whose unload was interrupted. Everything it
 * knows comes from the state home, so a restarted reaper continues.
 */
export async function sweep(home: string, opts: SweepOptions): Promise<SweepResult> {
  sweepNumber++;
  forgetUsersOnEvents(home);
  const now = opts.now ?? (() => new Date());
  const result: SweepResult = { liveUsers: 0, waiting: 0, supervising: 0 };
  let ids: string[];
  try {
    ids = readdirSync(homePaths(home).contexts);
  } catch {
    ids = []; // no contexts yet; resources may still need a sweep
  }
  for (const id of ids) {
    const dir = contextDirOf(home, id);
    try {
      await sweepContext(home, dir, opts, now, result);
    } catch (error) {
      // One broken context (a stray file in contexts/, a corrupt entry) must
      // never stop the others from unloading.
      logOnce(home, opts, `skipping ${dir}: ${(error as Error).message}`);
    }
  }
  // Resources nothing holds any more are released; one held by a live process keeps the reaper.
  try {
    result.waiting += await sweepResources(home, opts);
  } catch (error) {
    // A full disk (or a broken entry) there must not kill the reaper either: the next sweep retries.
    logOnce(home, opts, `resources: ${(error as Error).message}; retrying`);
    result.waiting++;
  }
  return result;
}

const logged = new Set<string>();
/**
 * Logs a standing problem once per state home, not once per sweep: the
 * reaper's workers come and go, so "once" also looks at the end of reaper.log.
 */
function logOnce(home: string, opts: SweepOptions, line: string): void {
  if (logged.has(line)) return;
  logged.add(line);
  if (tailOf(homePaths(home).reaperLog, 64 * 1024).includes(`] ${line}\n`)) return;
  opts.log?.(line);
}

/** The last `bytes` of a file ('' if it cannot be read). */
function tailOf(path: string, bytes: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const size = fstatSync(fd).size;
    const buffer = Buffer.alloc(Math.min(size, bytes));
    readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let sweepNumber = 0;

async function sweepContext(home: string, dir: string, opts: SweepOptions, now: () => Date, result: SweepResult): Promise<void> {
  // lstat: contexts/<id> as a planted symlink is corrupt state, skipped (its hooks are never run).
  if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error('not a directory');
  const paths = contextPaths(dir);
  // Restarts crashed services (--restart); not in a context being unloaded.
  const has = entries(dir);
  if (!opts.inFlight?.has(dir) && has.services) {
    await superviseServices(home, dir, opts.env);
    if (needsSupervision(dir)) result.supervising++;
  }
  let users = cachedUsers(dir);
  // Before acting on "no users", look again without the cache.
  if (users.live.length === 0) users = listUsers(dir);
  if (users.live.length > 0 && users.dead.length === 0) {
    result.liveUsers += users.live.length;
    if (has.idleSince && !unloadPending(dir)) rmQuiet(paths.idleSince);
    if (!has.unloadRun) return;
  }
  const record = readContextRecord(dir);
  for (const dead of users.dead) {
    if (dead.left) {
      // The shell that left is alive and may be back already (its cached entry rewrites the record).
      if (!removeLeftRecord(userRecordPath(dir, dead.name))) {
        const back = readUserRecord(userRecordPath(dir, dead.name));
        if (back && !hasLeft(back) && isLiveUser(back)) users.live.push(back);
        continue;
      }
    } else rmQuiet(userRecordPath(dir, dead.name));
    if (!dead.record) opts.log?.(`removed corrupt user record ${dir}/users/${dead.name}`);
    // A shell that left without a process emitted its own user.leave.
    if (record && !dead.left) emitEvent(home, 'user.leave', record, { pid: dead.record?.pid ?? Number(dead.name), reason: 'exited' }, opts.env, now());
  }
  result.liveUsers += users.live.length;
  const idleMarker = paths.idleSince;
  // An interrupted unload is finished first, users or not: its hooks were promised to run.
  const pending = unloadPending(dir);
  if (!pending && users.live.length > 0) {
    rmQuiet(idleMarker);
    return;
  }
  if (!pending && !needsUnload(dir, record)) return;
  if (opts.inFlight?.has(dir)) {
    result.waiting++;
    return;
  }
  const due = idleSince(idleMarker, now) + graceMs(opts.env);
  if (!pending && now().getTime() < due) {
    result.waiting++;
    result.nextDue = Math.min(result.nextDue ?? Infinity, due);
    return;
  }
  const unload = unloadContext(home, dir, idleMarker, pending, opts, now);
  if (opts.inFlight) {
    result.waiting++;
    opts.inFlight.set(
      dir,
      unload.finally(() => opts.inFlight?.delete(dir)),
    );
  } else {
    await unload;
  }
}

/**
 * Removes a record that says its shell left, unless the shell came back
 * meanwhile: moved aside (readers skip `.tmp.`), read again, and put back
 * with link(2) if it no longer says so (never over a newer record).
 */
function removeLeftRecord(path: string): boolean {
  const aside = `${path}.tmp.reaper.${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return false;
  }
  const record = readUserRecord(aside);
  const left = !record || hasLeft(record);
  if (!left) {
    try {
      linkSync(aside, path);
    } catch {
      /* a newer record is there: it wins */
    }
  }
  rmQuiet(aside);
  return left;
}

const entryCache = new Map<string, { mtimeMs: number; services: boolean; idleSince: boolean; unloadRun: boolean }>();

/** Which of services/, idle-since, unload-run/ a context dir holds: one stat while the dir is unchanged. */
function entries(dir: string): { services: boolean; idleSince: boolean; unloadRun: boolean } {
  const mtimeMs = statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  let entry = entryCache.get(dir);
  if (!entry || entry.mtimeMs !== mtimeMs) {
    entry = {
      mtimeMs,
      services: existsSync(contextPaths(dir).services),
      idleSince: existsSync(contextPaths(dir).idleSince),
      unloadRun: existsSync(contextPaths(dir).unloadRun),
    };
    entryCache.set(dir, entry);
  }
  return entry;
}
const userCache = new Map<string, { mtimeMs: number; records: Map<string, UserRecord | undefined> }>();
let eventsSeen = '';

/**
 * A shell that leaves without a process rewrites its own record in place
 * (`printf >`: users/ keeps its mtime, so the cache below would not see it)
 * and then appends its user.leave to events.jsonl: one stat of that file per
 * sweep tells the cache to read the records again.
 */
function forgetUsersOnEvents(home: string): void {
  const st = statSync(homePaths(home).events, { throwIfNoEntry: false });
  const seen = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '';
  if (seen !== eventsSeen) userCache.clear();
  eventsSeen = seen;
}

/**
 * The users of a context, cheaply: records are re-read only when the users
 * directory changed (a registration or removal renames or creates a file in
 * it); liveness is the one rule of users.ts (PID and start time) every
 * second sweep (a recycled PID within 1 s), kill(pid, 0) in between (a
 * dead one within half a second) — reading 300 stat files at every sweep
 * doubled the idle reaper's CPU. Only a
 * speed-up: "no users" is always confirmed by an uncached listUsers before
 * anything runs.
 */
function cachedUsers(dir: string): UserListing {
  const users = contextPaths(dir).users;
  const st = statSync(users, { throwIfNoEntry: false });
  if (!st) return { live: [], dead: [] };
  let entry = userCache.get(dir);
  if (!entry || entry.mtimeMs !== st.mtimeMs) {
    const listing = listUsers(dir);
    const records = new Map<string, UserRecord | undefined>();
    for (const record of listing.live) records.set(String(record.pid), record);
    entry = { mtimeMs: st.mtimeMs, records };
    userCache.set(dir, entry);
    if (listing.dead.length) return listing;
  }
  const listing: UserListing = { live: [], dead: [] };
  for (const [name, record] of entry.records) {
    // The one rule (PID and start time) every second sweep, so a recycled PID is
    // noticed within 1 s; in between a kill(pid, 0), which notices a death.
    const alive = record && (sweepNumber % 2 === 0 ? isLiveUser(record) : pidExists(record.pid));
    if (alive) listing.live.push(record);
    else listing.dead.push({ name, record });
  }
  if (listing.dead.length) userCache.delete(dir);
  return listing;
}

/**
 * Loaded since its last unload: a user registered (needs-unload), or the
 * context record says so (a state home written before that marker existed).
 */
function needsUnload(dir: string, record: ContextRecord | undefined): boolean {
  if (!record) return false;
  if (existsSync(contextPaths(dir).needsUnload)) return true;
  // A root of a shared context: its users, hooks and services are the shared context's (docs/contexts.md).
  if (typeof record.context === 'string') return false;
  return record.state !== 'unloaded' && record.state !== 'blocked';
}

/** When the context was first seen without users (contexts/<id>/idle-since), recording now if not yet. */
function idleSince(marker: string, now: () => Date): number {
  const since = Date.parse(readText(marker)?.trim() ?? '');
  if (Number.isFinite(since)) return since;
  const at = now();
  writeFileAtomic(marker, `${at.toISOString()}\n`);
  return at.getTime();
}

async function unloadContext(home: string, dir: string, idleMarker: string, pending: boolean, opts: SweepOptions, now: () => Date): Promise<void> {
  const reason = pending ? 'resumed' : 'last user left';
  try {
    const result = await runUnload(home, dir, { env: opts.env, reason, now });
    if (result) opts.log?.(`unloaded ${dir} (${reason}): ${result.hooks} hook(s), ${result.failed} failed`);
  } catch (error) {
    // Retried at the next sweeps (the journal keeps what already ran); said once while it keeps failing.
    logOnce(home, opts, `unload of ${dir} failed: ${(error as Error).message}; retrying`);
  }
  rmQuiet(idleMarker);
}
