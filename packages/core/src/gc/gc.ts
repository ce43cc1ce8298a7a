import { chmodSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmdirSync, rmSync, utimesSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, EX } from '../cli/errors.js';
import { emitEvent, eventsMax, eventsPath, readersDir, rotatedEventsPath, rotateEvents, rotationHardLimit, type ReaderRecord } from '../events/emit.js';
import { readJson, readText, rmQuiet } from '../state/atomic.js';
import {
  contextIds,
  contextsDir,
  diskUsage,
  misplacedFiles,
  pathExists,
  pidExists,
  readContext,
  readRoots,
  rootsDir,
  type ContextEntry,
  type DeadUser,
  type Problem,
} from '../inventory/inventory.js';
import { listPorts, prunePorts, releasePorts, reservationPath, type PortListing } from '../ports/ports.js';
import { isAlive } from '../process/proc.js';
import { checkStateHome, contextId, stateHomePath } from '../state/home.js';
import { tryLock } from '../state/lock.js';
import { collectResources } from '../resources/collect.js';

// ws-gc: what may go, decided from the state home alone, and removed so that
// nothing a live user, a running service, a running build or a root holds is
// ever lost, while other ws commands run. The protocol against a concurrent
// entry is described in docs/state-home.md ("roots/ and garbage collection").

export type GcKind = 'user' | 'context' | 'port' | 'root' | 'nix-root' | 'resource' | 'trust' | 'events' | 'corrupt' | 'leftover';

/** One thing removed (or, with dryRun, that would be). */
export interface GcItem {
  kind: GcKind;
  /** Where it was in the state home (a context: contexts/<id>). */
  path: string;
  /** Bytes of regular files it held (see diskUsage); 0 for a symlink or a part of a context counted with it. */
  bytes: number;
  reason: string;
  /** The context it belonged to: name, root, id. */
  context?: string;
  root?: string;
  id?: string;
  pid?: number;
  proto?: string;
  port?: number;
  key?: string;
  /** A root's or a Nix GC root's target; a trust record's file. */
  target?: string;
}

/** A context that would go for `reason` but stays because something holds it. */
export interface GcKept {
  id: string;
  name: string;
  root?: string;
  reason: string;
  heldBy: string[];
}

export interface GcResult {
  dryRun: boolean;
  home: string;
  removed: GcItem[];
  kept: GcKept[];
  problems: Problem[];
  /** Sum of `bytes` of removed items. */
  bytes: number;
}

export interface GcOptions {
  env: NodeJS.ProcessEnv;
  dryRun?: boolean;
  /** Contexts unused longer than this (ms) go too. */
  maxAgeMs?: number;
  now?: () => Date;
  /** Test seams: called where a concurrent command may act. */
  hooks?: {
    /** After the plan, before anything is removed. */
    afterPlan?: () => void | Promise<void>;
    /** Holding the context's lock, after the last check, right before the rename. */
    beforeRename?: (dir: string) => void;
  };
}

/** How long an unreadable record or a temporary file is left alone: a writer may be mid-way. */
const LEFTOVER_AGE_MS = 60_000;
const CONTEXT_LOCK_WAIT_MS = 2_000;
/** A use this close before the collection started counts as during it. */
const ENTRY_MARGIN_MS = 1;
const ACTIVE_STATES = new Set(['ready', 'building', 'stale', 'error']);
const WORKSPACE_NAMES = ['.workspace', '.envrc'];

export const gcLockPath = (home: string) => join(home, 'gc.lock');
/** Where a context being removed is moved first (same file system, outside contexts/). */
export const gcTrashDir = (home: string) => join(home, '.gc');
/**
 * The entry lock of a context, `locks/context-<id>`: held by ws-gc while it
 * checks and moves the context away, and by an entry (markContextEntry)
 * while it marks the context as used. Outside contexts/<id>/ so that moving
 * the directory does not move the lock.
 */
export const contextLockPath = (home: string, id: string) => join(home, 'locks', `context-${id}`);

/**
 * Parses `--max-age`: a whole number and a unit, `45s`, `90m`, `12h`, `30d`,
 * `2w`. Anything else is a usage error (64).
 */
export function parseMaxAge(text: string): number {
  const match = /^([0-9]{1,9})(s|m|h|d|w)$/.exec(text.trim());
  if (!match) throw new CliError(EX.USAGE, `invalid --max-age '${text.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 40)}': expected a number and a unit: 45s, 90m, 12h, 30d, 2w`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[match[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(match[1]) * unit * 1000;
}

/** `3d 4h`, `12m`, `40s`: a duration for messages. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s >= 86400) return `${Math.floor(s / 86400)}d${s % 86400 >= 3600 ? ` ${Math.floor((s % 86400) / 3600)}h` : ''}`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h${s % 3600 >= 60 ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  if (s >= 60) return `${Math.floor(s / 60)}m`;
  return `${s}s`;
}

/** `12.3 MiB`, one decimal, as in `recovered N bytes (12.3 MiB)`. */
export const formatMiB = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/**
 * Marks a context as entered, for an entering command (ws-export) to call
 * before it writes anything into contexts/<id>/: under the context's entry
 * lock, makes sure contexts/<id>/users/ exists and sets its mtime to now.
 * ws-gc checks the context again under the same lock before it moves it
 * away, and keeps one used since its run started; an entry that comes after
 * the move finds no directory and starts a new one. Never throws: a busy
 * lock (a stuck collector) only loses the protection, not the prompt.
 */
export function markContextEntry(home: string, root: string, now = new Date()): void {
  const id = contextId(root);
  const release = tryLock(contextLockPath(home, id), CONTEXT_LOCK_WAIT_MS);
  try {
    const users = join(contextsDir(home), id, 'users');
    mkdirSync(users, { recursive: true, mode: 0o700 });
    utimesSync(users, now, now);
  } catch {
    /* best effort */
  } finally {
    release?.();
  }
}

interface Verdict {
  /** Why it may go; empty: it stays anyway. */
  reasons: string[];
  /** What holds it; non-empty: it stays. */
  holders: string[];
}

/** Why a context may be removed, and what (if anything) holds it. */
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
  if (c.users.length) holders.push(`${c.users.length} live user${c.users.length > 1 ? 's' : ''} (PID ${c.users.map((u) => u.pid).join(', ')})`);
  const running = c.services.filter((s) => s.running);
  if (running.length) holders.push(`running service${running.length > 1 ? 's' : ''} ${running.map((s) => s.name).join(', ')}`);
  if (c.rootedBy.length) holders.push(`root${c.rootedBy.length > 1 ? 's' : ''} ${c.rootedBy.map((r) => `roots/${r}`).join(', ')}`);
  if (c.building) holders.push('a build of its workspace file is running');
  if (c.unloadPending) holders.push('an unload is unfinished (ws-reaper resumes it)');
  else if (ACTIVE_STATES.has(c.state) && (c.hooks > 0 || c.unloadDue)) holders.push("its unload has not run yet (ws-reaper runs it; or 'ws-on-unload --run-now')");
  // The margin absorbs the float rounding of mtimeMs (ms times set by utimes come back a hair lower).
  if (startedMs !== undefined && (c.lastUsedMs ?? 0) >= startedMs - ENTRY_MARGIN_MS) holders.push('it was entered during the collection');
  return { reasons, holders };
}

const lstatOr = (path: string): Stats | undefined => {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
};

/** Removes a tree; read-only directories inside it (a Go module cache) are made writable first. */
function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch (error) {
    if (!['EACCES', 'EPERM', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  }
  const open = (p: string) => {
    const st = lstatOr(p);
    if (!st?.isDirectory()) return;
    try {
      chmodSync(p, 0o700);
      for (const name of readdirSync(p)) open(join(p, name));
    } catch {
      /* best effort */
    }
  };
  open(path);
  rmSync(path, { recursive: true, force: true });
}

let asideCounter = 0;
/** A name beside `path` that readers skip (users/ readers skip `.tmp.`). */
const asideName = (path: string) => `${path}.tmp.gc.${process.pid}.${++asideCounter}`;

/**
 * Moves `path` aside, checks with `stillGone` that what was moved is what was
 * judged (a writer may have replaced it meanwhile), and deletes it; else puts
 * it back (link(2): never over a newer file). True if it was removed.
 */
function removeChecked(path: string, stillGone: (aside: string) => boolean): boolean {
  const aside = asideName(path);
  try {
    renameSync(path, aside);
  } catch {
    return false; // gone already: someone else's removal
  }
  if (stillGone(aside)) {
    rmQuiet(aside);
    return true;
  }
  try {
    linkSync(aside, path);
  } catch {
    /* a newer one is there: it wins */
  }
  rmQuiet(aside);
  return false;
}

/** Dead user records (process gone, PID recycled, corrupt record) are removed; a live one that took the name meanwhile is put back. */
function removeDeadUser(dead: DeadUser): boolean {
  return removeChecked(dead.path, (aside) => {
    const record = readJson<{ pid?: unknown; start?: unknown }>(aside);
    return !(record && Number.isInteger(record.pid) && typeof record.start === 'string' && isAlive({ pid: record.pid as number, start: record.start }));
  });
}

/**
 * Removes a context's dead users under its entry lock, and gives users/ its
 * modification time back: that time is the context's last use, and noticing
 * a dead user is no use (markContextEntry, which sets it, takes the same
 * lock, so no entry's mark is undone). Returns those removed.
 */
function removeDeadUsers(home: string, id: string, dead: DeadUser[]): Set<DeadUser> {
  const removed = new Set<DeadUser>();
  if (!dead.length) return removed;
  const release = tryLock(contextLockPath(home, id), CONTEXT_LOCK_WAIT_MS);
  if (!release) return removed; // an entry is in progress: next time
  try {
    const users = join(contextsDir(home), id, 'users');
    const before = lstatOr(users);
    for (const d of dead) if (removeDeadUser(d)) removed.add(d);
    if (before?.isDirectory() && removed.size) {
      try {
        utimesSync(users, before.atime, before.mtime);
      } catch {
        /* gone meanwhile */
      }
    }
  } finally {
    release();
  }
  return removed;
}

/** Symlinks under cache/nix/ of a context: the GC roots `use nix` made (nix-watch-deps --gc-root). */
function nixRoots(dir: string): Array<{ path: string; target: string }> {
  const out: Array<{ path: string; target: string }> = [];
  const walk = (p: string) => {
    const st = lstatOr(p);
    if (!st) return;
    if (st.isSymbolicLink()) {
      try {
        out.push({ path: p, target: readlinkSync(p) });
      } catch {
        /* gone */
      }
    } else if (st.isDirectory()) {
      try {
        for (const name of readdirSync(p)) walk(join(p, name));
      } catch {
        /* unreadable */
      }
    }
  };
  walk(join(dir, 'cache', 'nix'));
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

const fileBytes = (path: string) => {
  const st = lstatOr(path);
  return st?.isFile() ? st.size : 0;
};

const portReason = (r: PortListing) => (r.context ? `its context ${r.context} is gone` : 'its hold expired and its holder is gone');
const portItem = (r: PortListing, reason: string, bytes: number): GcItem => ({
  kind: 'port',
  path: `ports/${r.proto}-${r.port}`,
  bytes,
  reason,
  context: r.name ?? undefined,
  root: r.root ?? undefined,
  id: r.context ?? undefined,
  proto: r.proto,
  port: r.port,
  key: r.key,
});

/** Temporaries a killed allocation left in ports/ and unreadable reservations, older than a minute (prunePorts removes them). */
function portLeftovers(home: string, now: number): GcItem[] {
  const dir = join(home, 'ports');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const valid = new Set(listPorts(home).map((r) => `${r.proto}-${r.port}`));
  const items: GcItem[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    const st = lstatOr(path);
    if (!st || now - st.mtimeMs <= LEFTOVER_AGE_MS) continue;
    const temp = name.startsWith('.tmp.') || name.startsWith('.stale.');
    const corrupt = /^(tcp|udp)-[0-9]{1,5}$/.test(name) && !valid.has(name);
    if (temp || corrupt) items.push({ kind: 'leftover', path: `ports/${name}`, bytes: st.isFile() ? st.size : 0, reason: temp ? 'a temporary file of an allocation that died' : 'an unreadable reservation' });
  }
  return items;
}

/** allow/ and deny/ records of files that no longer exist (like `direnv prune`), and unreadable ones. */
function trustCandidates(home: string, now: number): Array<GcItem & { ino: number }> {
  const items: Array<GcItem & { ino: number }> = [];
  for (const kind of ['allow', 'deny']) {
    let names: string[];
    try {
      names = readdirSync(join(home, kind));
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const path = join(home, kind, name);
      const st = lstatOr(path);
      if (!st?.isFile()) continue;
      const old = now - st.mtimeMs > LEFTOVER_AGE_MS;
      if (name.includes('.tmp.')) {
        if (old) items.push({ kind: 'leftover', path: `${kind}/${name}`, bytes: st.size, reason: 'a temporary file of a writer that died', ino: st.ino });
        continue;
      }
      const record = readJson<{ path?: unknown }>(path);
      if (!record || typeof record.path !== 'string') {
        if (old) items.push({ kind: 'trust', path: `${kind}/${name}`, bytes: st.size, reason: 'an unreadable trust record', ino: st.ino });
        continue;
      }
      if (!pathExists(record.path)) {
        items.push({ kind: 'trust', path: `${kind}/${name}`, bytes: st.size, reason: `${record.path} no longer exists`, target: record.path, ino: st.ino });
      }
    }
  }
  return items;
}

/** Registrations of stream followers (readers/) whose process is gone. */
function deadReaders(home: string, now: number): GcItem[] {
  let names: string[];
  try {
    names = readdirSync(readersDir(home));
  } catch {
    return [];
  }
  const items: GcItem[] = [];
  for (const name of names.sort()) {
    const path = join(readersDir(home), name);
    const st = lstatOr(path);
    if (!st?.isFile()) continue;
    if (name.includes('.tmp.') && now - st.mtimeMs <= LEFTOVER_AGE_MS) continue;
    const record = readJson<Partial<ReaderRecord>>(path);
    if (record && typeof record.pid === 'number' && isAlive({ pid: record.pid, start: String(record.start ?? '') })) continue;
    items.push({ kind: 'leftover', path: `readers/${name}`, bytes: st.size, reason: 'a registration of an event follower that is gone' });
  }
  return items;
}

/** Lock files in locks/ whose holder is gone. */
function deadLocks(home: string, now: number): GcItem[] {
  let names: string[];
  try {
    names = readdirSync(join(home, 'locks'));
  } catch {
    return [];
  }
  const items: GcItem[] = [];
  for (const name of names.sort()) {
    const path = join(home, 'locks', name);
    const st = lstatOr(path);
    if (!st?.isFile() || now - st.mtimeMs <= 2000) continue;
    const [pid, start] = (readText(path) ?? '').trim().split(' ');
    if (pid && isAlive({ pid: Number(pid), start: start ?? '' })) continue;
    items.push({ kind: 'leftover', path: `locks/${name}`, bytes: st.size, reason: 'a lock whose holder is gone' });
  }
  return items;
}

/** Live followers that do not hold `ino` yet (read-only: for the dry run's forecast). */
function followersBehind(home: string, live: { dev: number; ino: number }): number {
  let names: string[];
  try {
    names = readdirSync(readersDir(home));
  } catch {
    return 0;
  }
  let behind = 0;
  for (const name of names) {
    if (name.includes('.tmp.')) continue;
    const record = readJson<Partial<ReaderRecord>>(join(readersDir(home), name));
    if (!record || typeof record.pid !== 'number' || !isAlive({ pid: record.pid, start: String(record.start ?? '') })) continue;
    if (record.ino !== live.ino || record.dev !== live.dev) behind++;
  }
  return behind;
}

/**
 * Collects garbage in the state home of `opts.env` (SPEC §4 ws-gc): dead
 * users' registrations; contexts whose root or workspace file is gone, or
 * unused longer than `maxAgeMs`, that nothing holds; port reservations of
 * removed contexts and of dead allocations; dangling roots; Nix GC roots of
 * removed contexts; trust records of files that are gone; the event log
 * beyond its limit; leftovers of killed writers. With `dryRun` nothing is
 * changed and the result says what would go. One collector at a time (75).
 */
export async function collectGarbage(opts: GcOptions): Promise<GcResult> {
  const now = opts.now ?? (() => new Date());
  const dryRun = opts.dryRun ?? false;
  const home = stateHomePath(opts.env);
  checkStateHome(home);
  const result: GcResult = { dryRun, home, removed: [], kept: [], problems: [], bytes: 0 };
  if (!lstatOr(home)) return result;
  const release = dryRun ? undefined : tryLock(gcLockPath(home));
  if (!dryRun && !release) throw new CliError(EX.TEMPFAIL, 'another ws-gc is running in this state home; try again later');
  try {
    await collect(home, opts, dryRun, now, result);
  } finally {
    release?.();
  }
  result.bytes = result.removed.reduce((sum, item) => sum + item.bytes, 0);
  if (!dryRun && result.removed.length) {
    const counts: Record<string, number> = {};
    for (const item of result.removed) counts[item.kind] = (counts[item.kind] ?? 0) + 1;
    emitEvent(home, 'gc', { context: '', root: '' }, { removed: result.removed.length, bytes: result.bytes, kinds: counts }, opts.env, now());
  }
  return result;
}

async function collect(home: string, opts: GcOptions, dryRun: boolean, now: () => Date, result: GcResult): Promise<void> {
  const startedMs = now().getTime();
  const problems = new Map<string, Problem>();
  const problem = (p: Problem) => problems.set(`${p.path}\0${p.message}`, p);
  const add = (item: GcItem) => result.removed.push(item);
  const rel = (path: string) => (path.startsWith(`${home}/`) ? path.slice(home.length + 1) : path);
  /** Files already counted in an item: a context's size leaves them out (the dry run must add up like the real one). */
  const counted = new Set<string>();

  // 1. Files where ws keeps directories: treated as missing (the next writer rebuilds the directory).
  for (const p of misplacedFiles(home)) {
    problem(p);
    add({ kind: 'corrupt', path: rel(p.path), bytes: fileBytes(p.path), reason: 'a file where a directory belongs' });
    if (!dryRun) rmQuiet(p.path);
  }

  // 2. Leftovers of a collector that was killed mid-way: anything in .gc/ (we hold gc.lock, so none is in use).
  const trash = gcTrashDir(home);
  const trashStat = lstatOr(trash);
  if (trashStat && !trashStat.isDirectory()) {
    add({ kind: 'corrupt', path: rel(trash), bytes: fileBytes(trash), reason: 'a file where a directory belongs' });
    if (!dryRun) rmQuiet(trash);
  }
  let trashNames: string[] = [];
  try {
    trashNames = readdirSync(trash);
  } catch {
    /* none */
  }
  for (const name of trashNames.sort()) {
    const pid = Number(/\.(\d+)\.\d+$/.exec(name)?.[1]);
    if (dryRun && pid !== process.pid && pidExists(pid)) continue; // a collector running now
    const path = join(trash, name);
    add({ kind: 'leftover', path: rel(path), bytes: diskUsage(path).bytes, reason: 'left by a ws-gc that was stopped' });
    if (!dryRun) removeTree(path);
  }

  // 3. Every context: dead users go whatever happens to the context; then the verdict.
  const roots = readRoots(home, []);
  for (const r of roots) if (r.kind === 'invalid' || r.kind === 'outside') problem({ path: r.path, message: r.message ?? 'is not a root' });
  const rootedBy = (id: string) => roots.filter((r) => r.kind === 'context' && r.holds === id).map((r) => r.name);
  const allPorts = listPorts(home);
  const candidates: Array<{ entry: ContextEntry; reasons: string[] }> = [];
  const idsProblems: Problem[] = [];
  for (const id of contextIds(home, idsProblems)) {
    const dir = join(contextsDir(home), id);
    const st = lstatOr(dir);
    if (!st) continue;
    if (!st.isDirectory()) {
      problem({ path: dir, message: 'is not a directory' });
      add({ kind: 'corrupt', path: rel(dir), bytes: fileBytes(dir), reason: 'a file where a context directory belongs' });
      if (!dryRun) rmQuiet(dir);
      continue;
    }
    const entry = readContext(home, id, { ports: allPorts.filter((r) => r.context === id), rootedBy: rootedBy(id), disk: false });
    for (const p of entry.problems) problem(p);
    const gone = dryRun ? new Set(entry.deadUsers) : removeDeadUsers(home, id, entry.deadUsers);
    for (const dead of entry.deadUsers) {
      if (!gone.has(dead)) continue;
      counted.add(dead.path);
      add({
        kind: 'user',
        path: rel(dead.path),
        bytes: dead.bytes,
        reason: dead.record ? 'its process is gone' : 'an unreadable user record',
        context: entry.name,
        root: entry.root,
        id,
        pid: dead.record?.pid,
      });
      if (!dryRun && dead.record && entry.record) {
        emitEvent(home, 'user.leave', entry.record, { pid: dead.record.pid, shell: dead.record.shell ?? null, tty: dead.record.tty ?? null, reason: 'gc' }, opts.env, now());
      }
    }
    // ws's own directories that are files: removed, so that the next writer can make the directory.
    for (const sub of ['users', 'services', 'unload', 'cache']) {
      const path = join(dir, sub);
      const sst = lstatOr(path);
      if (!sst || sst.isDirectory()) continue;
      counted.add(path);
      add({ kind: 'corrupt', path: rel(path), bytes: sst.isFile() ? sst.size : 0, reason: 'a file where a directory belongs', context: entry.name, root: entry.root, id });
      if (!dryRun) rmQuiet(path);
    }
    const verdict = judgeContext(entry, startedMs, opts.maxAgeMs);
    if (!verdict.reasons.length) continue;
    if (verdict.holders.length) {
      result.kept.push({ id, name: entry.name, root: entry.root, reason: verdict.reasons.join('; '), heldBy: verdict.holders });
      continue;
    }
    candidates.push({ entry, reasons: verdict.reasons });
  }
  for (const p of idsProblems) problem(p);

  await opts.hooks?.afterPlan?.();

  // 4. Contexts, each under its entry lock (see markContextEntry).
  const removedIds = new Set<string>();
  for (const { entry, reasons } of candidates) {
    let outcome: Removal;
    try {
      outcome = dryRun ? { removed: true } : await removeContext(home, entry.id, reasons, opts, startedMs, now);
    } catch (error) {
      problem({ path: entry.dir, message: `could not be removed: ${(error as Error).message}` });
      continue;
    }
    if (!outcome.removed) {
      if (outcome.kept) result.kept.push(outcome.kept);
      continue;
    }
    removedIds.add(entry.id);
    if (outcome.problem) problem(outcome.problem);
    const bytes = dryRun ? diskUsage(entry.dir, counted).bytes : outcome.bytes!;
    const label = { context: entry.name, root: entry.root, id: entry.id };
    add({ kind: 'context', path: rel(entry.dir), bytes, reason: (outcome.reasons ?? reasons).join('; '), ...label });
    for (const nix of dryRun ? nixRoots(entry.dir) : outcome.nix!) {
      add({ kind: 'nix-root', path: rel(nix.path), bytes: 0, reason: 'its context was removed: nix-collect-garbage may now free its target', target: nix.target, ...label });
    }
    const released = dryRun ? entry.ports.map((r) => ({ ...r, bytes: fileBytes(reservationPath(home, r.proto, r.port)) })) : outcome.ports!;
    for (const r of released) add(portItem(r, `its context ${entry.name} was removed`, r.bytes));
  }

  // 5. Other port reservations nobody holds any more, and temporaries of dead allocations.
  const leftovers = portLeftovers(home, now().getTime());
  const stale = listPorts(home, now()).filter((r) => r.stale && !(r.context && removedIds.has(r.context)));
  const sizes = new Map(stale.map((r) => [`${r.proto}-${r.port}`, fileBytes(reservationPath(home, r.proto, r.port))]));
  const sizeOf = (r: PortListing) => sizes.get(`${r.proto}-${r.port}`) ?? 0;
  if (dryRun) {
    for (const r of stale) add(portItem(r, portReason(r), sizeOf(r)));
    for (const item of leftovers) add(item);
  } else {
    const pruned = prunePorts(home, now());
    for (const r of pruned) add(portItem(r, portReason(r), sizeOf(r)));
    for (const item of leftovers) if (!lstatOr(join(home, item.path))) add(item);
  }

  // 5b. Resources nothing holds or roots (their release runs first): resources/collect.ts.
  for (const item of await collectResources(home, { env: opts.env, dryRun, now, problem })) add(item);

  // 6. Roots whose target is gone.
  for (const r of readRoots(home, [])) {
    if (r.kind !== 'dangling') continue;
    const gone = dryRun || removeChecked(r.path, (aside) => readLinkOr(aside) === r.link && !pathExists(resolve(rootsDir(home), r.link ?? '')));
    if (gone) add({ kind: 'root', path: rel(r.path), bytes: 0, reason: 'its target is gone', target: r.target });
  }

  // 7. Trust records of files that no longer exist.
  for (const item of trustCandidates(home, now().getTime())) {
    const { ino, ...rest } = item;
    const path = join(home, item.path);
    const gone = dryRun || removeChecked(path, (aside) => lstatOr(aside)?.ino === ino && (item.target === undefined || !pathExists(item.target)));
    if (gone) add(rest);
  }

  // 8. Followers and locks that died.
  for (const item of [...deadReaders(home, now().getTime()), ...deadLocks(home, now().getTime())]) {
    if (!dryRun) rmQuiet(join(home, item.path));
    add(item);
  }

  // 9. The event log beyond its size limit: rotating replaces events.jsonl.1, whose bytes are recovered.
  const events = lstatOr(eventsPath(home));
  const max = eventsMax(opts.env);
  if (events?.isFile() && events.size > max) {
    const old = lstatOr(rotatedEventsPath(home));
    const due = events.size > rotationHardLimit(max) || followersBehind(home, events) === 0;
    const rotated = dryRun ? due : rotateEvents(home, max);
    if (rotated && old?.isFile()) {
      add({ kind: 'events', path: rel(rotatedEventsPath(home)), bytes: old.size, reason: `events.jsonl passed WS_EVENTS_MAX (${max} bytes): rotated, the older generation dropped` });
    }
  }

  if (!dryRun) {
    try {
      rmdirSync(trash);
    } catch {
      /* not empty or not there */
    }
  }
  result.problems = [...problems.values()];
}

const readLinkOr = (path: string) => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
};

interface Removal {
  removed: boolean;
  kept?: GcKept;
  reasons?: string[];
  bytes?: number;
  nix?: Array<{ path: string; target: string }>;
  ports?: Array<PortListing & { bytes: number }>;
  problem?: Problem;
}

/**
 * Removes one context, safe against a concurrent entry:
 * 1. take its entry lock (busy: keep it this time);
 * 2. read it again and judge again (an entry before the lock shows as a user
 *    or a use newer than the collection's start);
 * 3. rename contexts/<id> to .gc/<id>.<pid>.<n> (atomic);
 * 4. look into the moved directory once more: a writer that takes no lock
 *    (the cached entry of the shell hook writes users/<pid> directly) may
 *    have registered a user between 2 and 3 — then move it back;
 * 5. release its port reservations, still under the lock;
 * 6. release the lock, then delete the moved directory.
 */
async function removeContext(
  home: string,
  id: string,
  planned: string[],
  opts: GcOptions,
  startedMs: number,
  now: () => Date,
): Promise<Removal> {
  // Read again now: a root made or a port claimed since the plan counts.
  const portsOf = (id: string) => listPorts(home).filter((r) => r.context === id);
  const rootedBy = (id: string) => readRoots(home, []).filter((r) => r.kind === 'context' && r.holds === id).map((r) => r.name);
  const dir = join(contextsDir(home), id);
  const release = tryLock(contextLockPath(home, id), CONTEXT_LOCK_WAIT_MS);
  if (!release) {
    const entry = readContext(home, id, { disk: false });
    return { removed: false, kept: { id, name: entry.name, root: entry.root, reason: planned.join('; '), heldBy: ['its entry lock is busy (an entry is in progress)'] } };
  }
  let aside: string | undefined;
  let outcome: Removal;
  try {
    if (!lstatOr(dir)?.isDirectory()) return { removed: false };
    const entry = readContext(home, id, { ports: portsOf(id), rootedBy: rootedBy(id), disk: false });
    const verdict = judgeContext(entry, now().getTime(), opts.maxAgeMs, startedMs);
    const kept = (heldBy: string[]): Removal => ({ removed: false, kept: { id, name: entry.name, root: entry.root, reason: planned.join('; '), heldBy } });
    // Something changed since the plan (an entry, a new root, a service): what holds it now is reported.
    if (verdict.holders.length) return kept(verdict.holders);
    if (!verdict.reasons.length) return kept(['it no longer qualifies (its root or workspace file is back, or it was used)']);
    const bytes = diskUsage(dir).bytes;
    const nix = nixRoots(dir);
    opts.hooks?.beforeRename?.(dir);
    mkdirSync(gcTrashDir(home), { recursive: true, mode: 0o700 });
    aside = join(gcTrashDir(home), `${id}.${process.pid}.${++asideCounter}`);
    renameSync(dir, aside);
    const late = lateHolders(aside);
    if (late.length) {
      restore(aside, dir);
      aside = undefined;
      return kept(late);
    }
    const sizes = new Map(portsOf(id).map((r) => [`${r.proto}-${r.port}`, fileBytes(reservationPath(home, r.proto, r.port))]));
    const ports = releasePorts(home, id, undefined, { env: opts.env, now: now() }).map((r) => ({ ...r, stale: true, bytes: sizes.get(`${r.proto}-${r.port}`) ?? 0 }));
    outcome = { removed: true, reasons: verdict.reasons, bytes, nix: nix.map((n) => ({ path: n.path, target: n.target })), ports };
  } finally {
    release();
  }
  if (aside) {
    try {
      removeTree(aside);
    } catch (error) {
      // Moved away already, so no command sees it; the next run deletes what is left.
      outcome.problem = { path: aside, message: `could not be deleted (the next ws-gc tries again): ${(error as Error).message}` };
    }
  }
  return outcome;
}

/** Users or running services that appeared in a moved-away context directory. */
function lateHolders(aside: string): string[] {
  const holders: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(join(aside, 'users'));
  } catch {
    /* none */
  }
  for (const name of names) {
    if (name.includes('.tmp.')) continue;
    const record = readJson<{ pid?: unknown; start?: unknown }>(join(aside, 'users', name));
    if (record && Number.isInteger(record.pid) && typeof record.start === 'string' && isAlive({ pid: record.pid as number, start: record.start })) {
      holders.push(`a user registered during the collection (PID ${record.pid})`);
    }
  }
  try {
    for (const name of readdirSync(join(aside, 'services'))) {
      const id = readJson<{ pid?: unknown; start?: unknown }>(join(aside, 'services', name, 'pid'));
      if (id && Number.isInteger(id.pid) && (typeof id.start !== 'string' || isAlive({ pid: id.pid as number, start: id.start }))) holders.push(`service ${name} started during the collection`);
    }
  } catch {
    /* none */
  }
  return holders;
}

/**
 * Puts a moved context back. If a writer made a new contexts/<id>/ meanwhile
 * (one that takes no lock), the old directory's entries it lacks are moved
 * into it, users/ merged record by record: nothing of either is lost.
 */
function restore(aside: string, dir: string): void {
  try {
    renameSync(aside, dir);
    return;
  } catch {
    /* a new one is there: merge */
  }
  const merge = (from: string, to: string) => {
    let names: string[] = [];
    try {
      names = readdirSync(from);
    } catch {
      return;
    }
    for (const name of names) {
      const src = join(from, name);
      const dst = join(to, name);
      const dstStat = lstatOr(dst);
      if (!dstStat) {
        try {
          renameSync(src, dst);
        } catch {
          /* keep going */
        }
      } else if (dstStat.isDirectory() && lstatOr(src)?.isDirectory()) merge(src, dst);
    }
  };
  merge(aside, dir);
  removeTree(aside);
}
