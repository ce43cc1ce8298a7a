import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync, type Dirent, type Stats } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { readContextRecord, type ContextRecord } from '../context/record.js';
import { readJson, readText } from '../state/atomic.js';
import { listPorts, type PortListing } from '../ports/ports.js';
import { isAlive, type ProcessId } from '../process/proc.js';
import { listServices } from '../services/services.js';
import { contextId } from '../state/home.js';
import { listUnloadHooks } from '../unload/hooks.js';
import { unloadPending } from '../unload/run.js';
import type { UserRecord } from '../users/users.js';

// Everything ws holds in a state home, read without changing anything: the
// one reader behind ws-list and ws-gc. Every reader here tolerates a missing,
// corrupt or wrong-typed entry: it becomes a `problem`, never an exception.

/** Something in the state home that is not as docs/state-home.md describes it. */
export interface Problem {
  path: string;
  message: string;
}

export interface DeadUser {
  /** The file name in users/ (normally the PID). */
  name: string;
  path: string;
  /** Undefined for a corrupt record. */
  record?: UserRecord;
  bytes: number;
}

export interface ServiceRow {
  name: string;
  /** What `ws-service status` shows: starting, ready, stopping, stopped, exited, failed, backoff; `running` for a bare pid file. */
  state: string;
  running: boolean;
  pid: number | null;
  port: number | null;
}

export interface ContextEntry {
  id: string;
  dir: string;
  /** context.json, when valid. */
  record?: ContextRecord;
  name: string;
  /** From context.json, else recovered from the context's other files (cache/loaded-env.json, a service spec, a port reservation). */
  root?: string;
  file?: string;
  /** context.json's state, or `unknown` without a valid one. */
  state: string;
  env?: string;
  created?: string;
  /** The later of context.json's lastUsed and the last change to users/ (ms since the epoch); undefined if neither is known. */
  lastUsedMs?: number;
  rootExists?: boolean;
  fileExists?: boolean;
  users: UserRecord[];
  deadUsers: DeadUser[];
  services: ServiceRow[];
  ports: PortListing[];
  /** A build of the workspace file is running (cache/build/owner is alive). */
  building: boolean;
  /** An unload is running, or was started and not finished (the reaper resumes it). */
  unloadPending: boolean;
  /** The reaper counts down the grace period (idle-since exists). */
  unloadDue: boolean;
  hooks: number;
  /** Names of roots/<name> that point at this context or into it. */
  rootedBy: string[];
  /** Bytes of the regular files in the context's directory (see diskUsage). */
  disk: number;
  /** The newest modification time seen in the directory tree (ms), for contexts without a usable context.json. */
  newestMs: number;
  problems: Problem[];
}

export type RootKind = 'context' | 'resource' | 'state' | 'outside' | 'dangling' | 'invalid';

export interface RootEntry {
  name: string;
  path: string;
  /** The symlink's text as written. */
  link?: string;
  /** The absolute target. */
  target?: string;
  kind: RootKind;
  /** kind context: the context id it keeps; kind resource: the hash. */
  holds?: string;
  message?: string;
}

export interface ResourceEntry {
  kind: 'resource' | 'quarantine';
  hash: string;
  path: string;
  disk: number;
  rootedBy: string[];
}

export interface Inventory {
  home: string;
  contexts: ContextEntry[];
  /** Reservations outside any context, or of a context whose directory is gone. */
  ports: PortListing[];
  roots: RootEntry[];
  resources: ResourceEntry[];
  problems: Problem[];
}

export interface InventoryOptions {
  now?: Date;
  /** Walk each context's directory for its disk use (default true). */
  disk?: boolean;
  /** Read resources/ and quarantine/ too (roots are always read: they hold contexts). */
  resources?: boolean;
}

/** Directories of the state home that ws keeps (anything else there is left alone). */
export const STATE_DIRS = ['contexts', 'ports', 'roots', 'allow', 'deny', 'resources', 'quarantine', 'readers', 'locks'] as const;
/** Directories inside contexts/<id>/ that ws itself writes and reads as directories. */
export const CONTEXT_DIRS = ['users', 'services', 'unload', 'cache'] as const;

export const contextsDir = (home: string) => join(home, 'contexts');
export const rootsDir = (home: string) => join(home, 'roots');

/** lstat without an exception for a missing path (exceptions are what make a big listing slow). */
const lstatOr = (path: string): Stats | undefined => {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
};

/** True unless the path is gone (ENOENT, ENOTDIR, a symlink loop); an unreadable path still exists. */
export const pathExists = (path: string) => {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch (error) {
    return !['ENOENT', 'ENOTDIR', 'ELOOP'].includes((error as NodeJS.ErrnoException).code ?? '');
  }
};

const readDirents = (path: string): Dirent[] | undefined => {
  try {
    return readdirSync(path, { withFileTypes: true });
  } catch {
    return undefined;
  }
};

/**
 * Disk used by a file or directory tree: the sum of the sizes (st_size) of
 * the regular files in it, symlinks not followed and counted as 0, each path
 * in `skip` left out (already counted elsewhere). With `newest`, also the
 * newest mtime seen (files and directories). Unreadable parts count as 0.
 * `entries` may pass the tree's top-level listing when the caller has it.
 */
export function diskUsage(path: string, skip?: ReadonlySet<string>, opts: { newest?: boolean; entries?: Dirent[] } = {}): { bytes: number; newestMs: number } {
  let bytes = 0;
  let newestMs = 0;
  const newest = opts.newest ?? true;
  const file = (p: string) => {
    if (skip?.has(p)) return;
    const st = lstatOr(p);
    if (!st) return;
    if (newest) newestMs = Math.max(newestMs, st.mtimeMs);
    if (st.isFile()) bytes += st.size;
  };
  const dir = (p: string, entries?: Dirent[]) => {
    if (skip?.has(p)) return;
    if (newest) newestMs = Math.max(newestMs, lstatOr(p)?.mtimeMs ?? 0);
    for (const d of entries ?? readDirents(p) ?? []) {
      const child = join(p, d.name);
      if (d.isDirectory()) dir(child);
      else if (d.isFile() || newest) file(child); // other kinds count 0 bytes; only their mtime matters
    }
  };
  const st = opts.entries ? undefined : lstatOr(path);
  if (opts.entries || st?.isDirectory()) dir(path, opts.entries);
  else if (st) file(path);
  return { bytes, newestMs };
}

/** Reads users/ of a context: live and dead records (a dead PID, a recycled PID, a corrupt record). */
function readUsers(dir: string, problems: Problem[]): { live: UserRecord[]; dead: DeadUser[]; mtimeMs?: number } {
  const usersDir = join(dir, 'users');
  const out: { live: UserRecord[]; dead: DeadUser[]; mtimeMs?: number } = { live: [], dead: [] };
  const st = lstatOr(usersDir);
  if (!st) return out;
  if (!st.isDirectory()) {
    problems.push({ path: usersDir, message: 'is not a directory' });
    return out;
  }
  out.mtimeMs = st.mtimeMs;
  let names: string[];
  try {
    names = readdirSync(usersDir);
  } catch (error) {
    problems.push({ path: usersDir, message: `cannot be read: ${(error as Error).message}` });
    return out;
  }
  for (const name of names) {
    if (name.includes('.tmp.')) continue; // being written
    const path = join(usersDir, name);
    const record = readJson<UserRecord>(path);
    const valid = record && typeof record === 'object' && Number.isInteger(record.pid) && record.pid > 0 && typeof record.start === 'string';
    if (valid && isAlive(record)) {
      out.live.push(record);
      continue;
    }
    if (!valid) problems.push({ path, message: 'is not a valid user record' });
    out.dead.push({ name, path, record: valid ? record : undefined, bytes: lstatOr(path)?.size ?? 0 });
  }
  out.live.sort((a, b) => a.pid - b.pid);
  return out;
}

/**
 * A service's `pid` file (`{"pid","start"}`, present only while it runs) names
 * a live process. A bare number counts as alive while that PID exists: the
 * safe side for a collector.
 */
function pidFileAlive(path: string): { alive: boolean; pid?: number } {
  const text = readText(path);
  if (text === undefined) return { alive: false };
  let id: Partial<ProcessId> | undefined;
  try {
    id = JSON.parse(text) as Partial<ProcessId>;
  } catch {
    id = undefined;
  }
  if (id && typeof id === 'object' && Number.isInteger(id.pid)) {
    const pid = id.pid!;
    return { alive: typeof id.start === 'string' ? isAlive({ pid, start: id.start }) : pidExists(pid), pid };
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? { alive: pidExists(pid), pid } : { alive: false };
}

/** True while some process has this PID (whoever it is). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The context's services: what services.ts reads from spec/state, plus any bare `pid` file of a live process. */
function readServices(dir: string, problems: Problem[]): ServiceRow[] {
  const servicesDir = join(dir, 'services');
  const st = lstatOr(servicesDir);
  if (!st) return [];
  if (!st.isDirectory()) {
    problems.push({ path: servicesDir, message: 'is not a directory' });
    return [];
  }
  const rows = new Map<string, ServiceRow>();
  try {
    for (const info of listServices(dir)) {
      rows.set(info.name, {
        name: info.name,
        state: info.shown,
        running: info.running,
        pid: info.running ? (info.mainPid ?? info.state.pid ?? null) : null,
        port: info.spec.readyPort ?? null,
      });
    }
  } catch (error) {
    problems.push({ path: servicesDir, message: `cannot be read: ${(error as Error).message}` });
  }
  let names: string[] = [];
  try {
    names = readdirSync(servicesDir);
  } catch {
    /* reported above */
  }
  for (const name of names) {
    const pid = pidFileAlive(join(servicesDir, name, 'pid'));
    if (!pid.alive) continue;
    const row = rows.get(name);
    if (row) {
      row.running = true;
      row.pid ??= pid.pid ?? null;
    } else {
      rows.set(name, { name, state: 'running', running: true, pid: pid.pid ?? null, port: null });
    }
  }
  return [...rows.values()];
}

/** The root of a context without a valid context.json, from files that name it; checked against the id. */
function recoverRoot(dir: string, id: string, ports: PortListing[]): string | undefined {
  const candidates: unknown[] = [readJson<Record<string, unknown>>(join(dir, 'cache', 'loaded-env.json'))?.WS_ROOT];
  try {
    for (const name of readdirSync(join(dir, 'services'))) candidates.push(readJson<{ root?: unknown }>(join(dir, 'services', name, 'spec.json'))?.root);
  } catch {
    /* none */
  }
  for (const r of ports) candidates.push(r.root);
  return candidates.find((root): root is string => typeof root === 'string' && root.startsWith('/') && contextId(root) === id);
}

/** A lock file (`PID START`) whose holder is alive. */
function lockHeld(path: string): boolean {
  const [pid, start] = (readText(path) ?? '').trim().split(' ');
  return Boolean(pid) && isAlive({ pid: Number(pid), start: start ?? '' });
}

const time = (iso: unknown) => {
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

/** Reads one context directory. `ports` are its reservations; `rootedBy` the roots that hold it. */
export function readContext(home: string, id: string, opts: { ports?: PortListing[]; rootedBy?: string[]; disk?: boolean; skip?: ReadonlySet<string> } = {}): ContextEntry {
  const dir = join(contextsDir(home), id);
  const problems: Problem[] = [];
  // One listing of the directory tells which parts exist: no failing probe per part.
  const top = new Map((readDirents(dir) ?? []).map((d) => [d.name, d]));
  const record = top.has('context.json') ? readContextRecord(dir) : undefined;
  const ports = opts.ports ?? [];
  if (!record) problems.push({ path: join(dir, 'context.json'), message: top.has('context.json') ? 'is corrupt' : 'is missing' });
  for (const sub of CONTEXT_DIRS) {
    if (sub === 'users' || sub === 'services') continue; // reported by their readers
    const d = top.get(sub);
    if (d && !d.isDirectory()) problems.push({ path: join(dir, sub), message: 'is not a directory' });
  }
  const users = top.has('users') ? readUsers(dir, problems) : { live: [], dead: [] };
  const services = top.has('services') ? readServices(dir, problems) : [];
  const root = record?.root ?? recoverRoot(dir, id, ports);
  const file = record?.file;
  const lastUsed = [time(record?.lastUsed), users.mtimeMs].filter((ms): ms is number => ms !== undefined);
  // Without a known last use, the newest file in the directory stands for it: walk it even if disk use was not asked for.
  const known = record !== undefined && lastUsed.length > 0;
  const usage = opts.disk === false && known ? { bytes: 0, newestMs: 0 } : diskUsage(dir, opts.skip, { newest: !known, entries: [...top.values()] });
  const ownerPath = join(dir, 'cache', 'build', 'owner');
  const owner = top.get('cache')?.isDirectory() && lstatOr(ownerPath) ? (readText(ownerPath) ?? '').trim().split(' ') : [];
  const building = Boolean(owner[0]) && isAlive({ pid: Number(owner[0]), start: owner[1] ?? '' });
  return {
    id,
    dir,
    record,
    name: record?.name ?? id,
    root,
    file,
    state: record?.state ?? 'unknown',
    env: record?.env,
    created: record?.created,
    lastUsedMs: lastUsed.length ? Math.max(...lastUsed) : undefined,
    rootExists: root === undefined ? undefined : pathExists(root),
    fileExists: file === undefined ? undefined : pathExists(file),
    users: users.live,
    deadUsers: users.dead,
    services,
    ports,
    building,
    unloadPending: (top.has('unload-run') && unloadPending(dir)) || (top.has('unload-run.lock') && lockHeld(join(dir, 'unload-run.lock'))),
    unloadDue: top.has('idle-since'),
    hooks: top.get('unload')?.isDirectory() ? listUnloadHooks(dir).length : 0,
    rootedBy: opts.rootedBy ?? [],
    disk: usage.bytes,
    newestMs: usage.newestMs,
    problems,
  };
}

const within = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** Reads roots/: each symlink, its target, and what in the state home it keeps alive. */
export function readRoots(home: string, problems: Problem[] = []): RootEntry[] {
  const dir = rootsDir(home);
  const st = lstatOr(dir);
  if (!st) return [];
  if (!st.isDirectory()) {
    problems.push({ path: dir, message: 'is not a directory' });
    return [];
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    problems.push({ path: dir, message: `cannot be read: ${(error as Error).message}` });
    return [];
  }
  let realHome = home;
  try {
    realHome = realpathSync(home);
  } catch {
    /* keep */
  }
  const homes = [...new Set([resolve(home), realHome])];
  const entries: RootEntry[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue; // our own temporaries
    const path = join(dir, name);
    const lst = lstatOr(path);
    if (!lst) continue;
    if (!lst.isSymbolicLink()) {
      entries.push({ name, path, kind: 'invalid', message: 'is not a symlink' });
      problems.push({ path, message: 'is not a symlink (a root is roots/<name> -> target)' });
      continue;
    }
    let link: string;
    try {
      link = readlinkSync(path);
    } catch {
      continue;
    }
    const target = resolve(dir, link);
    if (!pathExists(target)) {
      entries.push({ name, path, link, target, kind: 'dangling' });
      continue;
    }
    let real = target;
    try {
      real = realpathSync(target);
    } catch {
      /* keep */
    }
    const entry: RootEntry = { name, path, link, target, kind: 'outside' };
    for (const h of homes) {
      for (const candidate of [target, real]) {
        if (!within(candidate, h)) continue;
        const [top, child] = candidate.slice(h.length + 1).split(sep);
        if ((top === 'contexts' || top === 'resources' || top === 'quarantine') && child) {
          entry.kind = top === 'contexts' ? 'context' : 'resource';
          entry.holds = child;
        } else if (entry.kind === 'outside') entry.kind = 'state';
      }
    }
    if (entry.kind === 'outside') {
      entry.message = 'points outside the state home';
      problems.push({ path, message: `points outside the state home (${target}): it keeps nothing of ws alive` });
    }
    entries.push(entry);
  }
  return entries;
}

/** resources/<hash>/ and quarantine/<hash>/ with their disk use and the roots that keep them. */
export function readResources(home: string, roots: RootEntry[], problems: Problem[] = []): ResourceEntry[] {
  const out: ResourceEntry[] = [];
  for (const kind of ['resource', 'quarantine'] as const) {
    const dir = join(home, kind === 'resource' ? 'resources' : 'quarantine');
    const st = lstatOr(dir);
    if (!st) continue;
    if (!st.isDirectory()) {
      problems.push({ path: dir, message: 'is not a directory' });
      continue;
    }
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const hash of names.sort()) {
      if (hash.startsWith('.')) continue;
      const path = join(dir, hash);
      out.push({ kind, hash, path, disk: diskUsage(path).bytes, rootedBy: roots.filter((r) => r.kind === 'resource' && r.holds === hash).map((r) => r.name) });
    }
  }
  return out;
}

/** Top-level entries of the state home that should be directories and are not. */
export function misplacedFiles(home: string): Problem[] {
  const problems: Problem[] = [];
  for (const name of STATE_DIRS) {
    const st = lstatOr(join(home, name));
    if (st && !st.isDirectory()) problems.push({ path: join(home, name), message: 'is not a directory' });
  }
  return problems;
}

/** The ids of contexts/: directories and anything else except dot-names (ws's own temporaries). */
export function contextIds(home: string, problems: Problem[] = []): string[] {
  const dir = contextsDir(home);
  const st = lstatOr(dir);
  if (!st || !st.isDirectory()) return [];
  try {
    return readdirSync(dir)
      .filter((name) => !name.startsWith('.'))
      .sort();
  } catch (error) {
    problems.push({ path: dir, message: `cannot be read: ${(error as Error).message}` });
    return [];
  }
}

/**
 * Reads everything ws holds in the state home `home`: every context with its
 * users, services, ports, disk use and last use; the roots; reservations
 * outside contexts; with `resources`, resources and quarantines. Changes
 * nothing; never throws for bad state (see `problems`).
 */
export function readInventory(home: string, opts: InventoryOptions = {}): Inventory {
  const problems = misplacedFiles(home);
  let ports: PortListing[] = [];
  try {
    ports = listPorts(home, opts.now);
  } catch (error) {
    problems.push({ path: join(home, 'ports'), message: `cannot be read: ${(error as Error).message}` });
  }
  const roots = readRoots(home, problems);
  const byContext = new Map<string, PortListing[]>();
  for (const r of ports) if (r.context) byContext.set(r.context, [...(byContext.get(r.context) ?? []), r]);
  const contexts: ContextEntry[] = [];
  for (const id of contextIds(home, problems)) {
    const path = join(contextsDir(home), id);
    const st = lstatOr(path);
    if (!st) continue;
    if (!st.isDirectory()) {
      problems.push({ path, message: 'is not a directory' });
      continue;
    }
    const entry = readContext(home, id, {
      ports: byContext.get(id),
      rootedBy: roots.filter((r) => r.kind === 'context' && r.holds === id).map((r) => r.name),
      disk: opts.disk,
    });
    problems.push(...entry.problems);
    contexts.push(entry);
  }
  contexts.sort((a, b) => a.name.localeCompare(b.name) || (a.root ?? '').localeCompare(b.root ?? '') || a.id.localeCompare(b.id));
  const known = new Set(contexts.map((c) => c.id));
  return {
    home,
    contexts,
    ports: ports.filter((r) => !r.context || !known.has(r.context)),
    roots,
    resources: opts.resources ? readResources(home, roots, problems) : [],
    problems,
  };
}

/** `lastUsed` as shown: now while a live user is in it. */
export function lastUsedOf(entry: ContextEntry, now: Date): number | undefined {
  return entry.users.length ? now.getTime() : entry.lastUsedMs;
}
