import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { readContextRecord, type ContextRecord } from '../context/record.js';
import { readJson } from '../state/atomic.js';
import type { PortListing } from '../ports/ports.js';
import { contextId } from '../state/home.js';
import { liveHolder } from '../state/lock.js';
import { cachePaths, contextDirOf, contextPaths, CONTEXT_SUBDIRS, servicePaths, userRecordPath } from '../state/paths.js';
import { listUnloadHooks } from '../unload/hooks.js';
import { unloadPending } from '../unload/run.js';
import { listUsers, type UserRecord } from '../users/users.js';
import { diskUsage, lstatOr, pathExists, readDirents, readNames, type Problem } from './probe.js';
import { readServiceRows, type ServiceRow } from './service-rows.js';
import { contextState } from '../context/state.js';

// One context directory read into an entry, without changing anything: what
// ws-list shows, what ws-gc judges and what the event snapshot reports. A
// missing, corrupt or wrong-typed part becomes a `problem`, never an exception.

export interface DeadUser {
  /** The file name in users/ (normally the PID). */
  name: string;
  path: string;
  /** Undefined for an unreadable record. */
  record?: UserRecord;
  bytes: number;
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
  /** A shared context (ws_context NAME, docs/contexts.md): every root that declared it. */
  roots?: string[];
  /** A root of a shared context: its name (this directory holds only the root's cache). */
  sharedIn?: string;
  /** The context's state as contextState() tells it, or `unknown` without a valid context.json. */
  state: string;
  env?: string;
  created?: string;
  /** The later of context.json's lastUsed and the last change to users/ (ms since the epoch); undefined if neither is known. */
  lastUsedMs?: number;
  rootExists?: boolean;
  fileExists?: boolean;
  /** Live users (listUsers: the PID and its start time match), by PID. */
  users: UserRecord[];
  /** Records of processes that are gone (or whose PID was recycled), and unreadable ones old enough to be dead. */
  deadUsers: DeadUser[];
  /** Names in users/ that are neither: a record being written (unreadable and young), which nobody may remove. */
  registering: string[];
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

export interface ContextUsers {
  live: UserRecord[];
  dead: DeadUser[];
  registering: string[];
  /** users/'s modification time: a shell joining or leaving changes it. */
  mtimeMs?: number;
}

/**
 * The users of a context directory, as the one users reader (listUsers)
 * splits them, with what a listing and a collector need on top: each dead
 * record's path and size, and the names that are neither live nor dead (a
 * record being written).
 */
export function readContextUsers(contextDir: string, problems: Problem[] = []): ContextUsers {
  const dir = contextPaths(contextDir).users;
  const out: ContextUsers = { live: [], dead: [], registering: [] };
  const st = lstatOr(dir);
  if (!st) return out;
  if (!st.isDirectory()) {
    problems.push({ path: dir, message: 'is not a directory' });
    return out;
  }
  out.mtimeMs = st.mtimeMs;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    problems.push({ path: dir, message: `cannot be read: ${(error as Error).message}` });
    return out;
  }
  const { live, dead } = listUsers(contextDir);
  out.live = live;
  for (const { name, record } of dead) {
    const path = userRecordPath(contextDir, name);
    if (!record) problems.push({ path, message: 'is not a valid user record' });
    out.dead.push({ name, path, record, bytes: lstatOr(path)?.size ?? 0 });
  }
  const known = new Set([...live.map((u) => String(u.pid)), ...dead.map((d) => d.name)]);
  out.registering = names.filter((name) => !name.includes('.tmp.') && !known.has(name)).sort();
  return out;
}

/** The root of a context without a valid context.json, from files that name it; checked against the id. */
function recoverRoot(dir: string, id: string, ports: PortListing[]): string | undefined {
  const candidates: unknown[] = [readJson<Record<string, unknown>>(cachePaths(dir).loadedEnv)?.WS_ROOT];
  for (const name of readNames(contextPaths(dir).services)) candidates.push(readJson<{ root?: unknown }>(servicePaths(dir, name).spec)?.root);
  for (const r of ports) candidates.push(r.root);
  return candidates.find((root): root is string => typeof root === 'string' && root.startsWith('/') && contextId(root) === id);
}

const time = (iso: unknown) => {
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

export interface ReadContextOptions {
  /** Its port reservations. */
  ports?: PortListing[];
  /** The roots that hold it. */
  rootedBy?: string[];
  /** Walk its directory for its disk use (default true). */
  disk?: boolean;
  skip?: ReadonlySet<string>;
}

/** Reads context `id` of the state home `home`. */
export function readContext(home: string, id: string, opts: ReadContextOptions = {}): ContextEntry {
  return readContextDir(contextDirOf(home, id), id, opts);
}

/** Reads one context directory (also one ws-gc moved aside) as context `id`. */
export function readContextDir(dir: string, id: string, opts: ReadContextOptions = {}): ContextEntry {
  const p = contextPaths(dir);
  const problems: Problem[] = [];
  // One listing of the directory tells which parts exist: no failing probe per part.
  const top = new Map((readDirents(dir) ?? []).map((d) => [d.name, d]));
  const part = (path: string) => top.get(basename(path));
  const record = part(p.record) ? readContextRecord(dir) : undefined;
  const ports = opts.ports ?? [];
  if (!record) problems.push({ path: p.record, message: part(p.record) ? 'is corrupt' : 'is missing' });
  for (const sub of CONTEXT_SUBDIRS) {
    if (sub === 'users' || sub === 'services') continue; // reported by their readers
    const d = part(p[sub]);
    if (d && !d.isDirectory()) problems.push({ path: p[sub], message: 'is not a directory' });
  }
  const users = part(p.users) ? readContextUsers(dir, problems) : { live: [], dead: [], registering: [] };
  const services = part(p.services) ? readServiceRows(dir, problems) : [];
  // A shared context lives while any of its roots does: one that disappeared does not orphan it.
  const roots = Array.isArray(record?.roots) ? record.roots.filter((r): r is string => typeof r === 'string') : undefined;
  const alive = roots?.find((r) => pathExists(r));
  const root = alive ?? record?.root ?? recoverRoot(dir, id, ports);
  const file = alive && alive !== record?.root ? undefined : record?.file;
  const lastUsed = [time(record?.lastUsed), users.mtimeMs].filter((ms): ms is number => ms !== undefined);
  // Without a known last use, the newest file in the directory stands for it: walk it even if disk use was not asked for.
  const known = record !== undefined && lastUsed.length > 0;
  const usage = opts.disk === false && known ? { bytes: 0, newestMs: 0 } : diskUsage(dir, opts.skip, { newest: !known, entries: [...top.values()] });
  return {
    id,
    dir,
    record,
    name: record?.name ?? id,
    root,
    file,
    ...(roots ? { roots } : {}),
    ...(typeof record?.context === 'string' ? { sharedIn: record.context } : {}),
    // The one definition of a context's state (context/state.ts): ws-prompt shows the same.
    state: (record && contextState(dir, record)) ?? 'unknown',
    env: record?.env,
    created: record?.created,
    lastUsedMs: lastUsed.length ? Math.max(...lastUsed) : undefined,
    rootExists: root === undefined ? undefined : pathExists(root),
    fileExists: file === undefined ? undefined : pathExists(file),
    users: users.live,
    deadUsers: users.dead,
    registering: users.registering,
    services,
    ports,
    building: Boolean(part(p.cache)?.isDirectory() && liveHolder(cachePaths(dir).buildOwner)),
    unloadPending: Boolean((part(p.unloadRun) && unloadPending(dir)) || (part(p.unloadRunLock) && liveHolder(p.unloadRunLock))),
    unloadDue: part(p.idleSince) !== undefined,
    hooks: part(p.unload)?.isDirectory() ? listUnloadHooks(dir).length : 0,
    rootedBy: opts.rootedBy ?? [],
    disk: usage.bytes,
    newestMs: usage.newestMs,
    problems,
  };
}

/** `lastUsed` as shown: now while a live user is in it. */
export function lastUsedOf(entry: ContextEntry, now: Date): number | undefined {
  return entry.users.length ? now.getTime() : entry.lastUsedMs;
}
