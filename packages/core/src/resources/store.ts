import { existsSync, readdirSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { CliError, EX } from '../cli/errors.js';
import { diskUsage } from '../inventory/probe.js';
import { ensureDir, readJson } from '../state/atomic.js';
import { liveHolder } from '../state/lock.js';
import { processStartTime } from '../process/proc.js';
import { homePaths, resourceAreaPaths, resourceDirPaths, resourcePaths } from '../state/paths.js';
import { describeHolder, liveHolders, type HolderEntry } from './holders.js';
import { isResourceHash, type ResourceInputs } from './inputs.js';
import { rootsByHash } from './roots.js';

/** `resources/<hash>/resource.json`. */
export interface ResourceRecord {
  v: 1;
  hash: string;
  /** `releasing` from the moment the release starts (a release that was killed is resumed). */
  state: 'ready' | 'releasing';
  created: string;
  duration_ms: number;
  /** The context the call was made in (events about the resource name it), or null. */
  context: { name: string; root: string } | null;
}

/** `quarantine/<hash>/quarantine.json`. */
export interface FailureRecord {
  v: 1;
  hash: string;
  phase: 'init' | 'release';
  reason: string;
  /** `--failure CODE`, or null (printed as `-`). */
  code: string | null;
  failed: string;
  context: { name: string; root: string } | null;
}

/** Something in resources/ or quarantine/ that cannot be read as what it should be. */
export interface ResourceProblem {
  path: string;
  message: string;
}

export type ResourceState = 'ready' | 'building' | 'quarantined' | 'releasing' | 'corrupt';

export function readResourceRecord(path: string): ResourceRecord | undefined {
  const r = readJson<ResourceRecord>(path);
  return r && typeof r === 'object' && r.v === 1 && isResourceHash(String(r.hash)) && (r.state === 'ready' || r.state === 'releasing') ? r : undefined;
}

export function readFailureRecord(path: string): FailureRecord | undefined {
  const r = readJson<FailureRecord>(path);
  return r && typeof r === 'object' && r.v === 1 && (r.phase === 'init' || r.phase === 'release') && typeof r.reason === 'string' ? r : undefined;
}

export function readInputs(path: string): ResourceInputs | undefined {
  const r = readJson<ResourceInputs>(path);
  return r && typeof r === 'object' && r.v === 1 && Array.isArray(r.argv) && r.argv.length > 0 && r.argv.every((a) => typeof a === 'string') ? r : undefined;
}

/** One resource or quarantine as `ws-resource list` and `show` report it. */
export interface ResourceInfo {
  hash: string;
  state: ResourceState;
  /** A resource: its `out` (what ws-resource printed); a quarantine: its directory. */
  path: string;
  dir: string;
  holders: HolderEntry[];
  roots: string[];
  bytes: number;
  created?: string;
  record?: ResourceRecord;
  failure?: FailureRecord;
  inputs?: ResourceInputs;
  /** What is wrong with it (a corrupt record), for the caller to report. */
  problem?: ResourceProblem;
}

/** Everything about one hash: its resource, else its quarantine, else a build in progress. */
export function resourceInfo(home: string, hash: string, roots = rootsByHash(home)): ResourceInfo | undefined {
  const paths = resourcePaths(home, hash);
  const quarantine = resourceDirPaths(paths.quarantine);
  const base = { hash, roots: roots.get(hash) ?? [] };
  if (existsSync(paths.dir)) {
    const record = readResourceRecord(paths.record);
    const info: ResourceInfo = {
      ...base,
      state: record ? record.state : liveHolder(paths.lock) ? 'building' : 'corrupt',
      path: paths.out,
      dir: paths.dir,
      holders: liveHolders(home, paths.dir),
      bytes: diskUsage(paths.dir).bytes,
      created: record?.created,
      record,
      inputs: readInputs(paths.inputs),
    };
    if (!record && info.state === 'corrupt') info.problem = { path: paths.record, message: 'is missing or corrupt' };
    return info;
  }
  if (existsSync(quarantine.dir)) {
    const failure = readFailureRecord(quarantine.failure);
    return {
      ...base,
      state: 'quarantined',
      path: quarantine.dir,
      dir: quarantine.dir,
      holders: liveHolders(home, quarantine.dir),
      bytes: diskUsage(quarantine.dir).bytes,
      created: failure?.failed,
      failure,
      inputs: readInputs(quarantine.inputs),
      problem: failure ? undefined : { path: quarantine.failure, message: 'is missing or corrupt' },
    };
  }
  const build = liveHolder(paths.lock) ? buildsOf(home, hash)[0] : undefined;
  if (build) return { ...base, state: 'building', path: paths.out, dir: build, holders: liveHolders(home, build), bytes: diskUsage(build).bytes };
  return undefined;
}

const listDir = (dir: string) => {
  try {
    return readdirSync(dir).filter((name) => !name.startsWith('.') && !name.includes('.tmp.'));
  } catch {
    return [];
  }
};

/** The build directories of `hash` in resources/.build/ (`<hash>.<pid>.<n>`). */
export function buildsOf(home: string, hash?: string): string[] {
  const dir = resourceAreaPaths(home).build;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => (hash ? n.startsWith(`${hash}.`) : isResourceHash(n.split('.')[0]))).map((n) => join(dir, n));
}

/** Every hash that has a resource, a quarantine or a build, sorted. */
export function allHashes(home: string): string[] {
  const h = homePaths(home);
  const hashes = new Set([...listDir(h.resources), ...listDir(h.quarantine)]);
  for (const dir of buildsOf(home)) hashes.add(dir.slice(dir.lastIndexOf(sep) + 1).split('.')[0]);
  return [...hashes].sort();
}

/** Every resource, quarantine and build of the state home; entries that are not a hash are problems. */
export function listResources(home: string): { resources: ResourceInfo[]; problems: ResourceProblem[] } {
  const roots = rootsByHash(home);
  const resources: ResourceInfo[] = [];
  const problems: ResourceProblem[] = [];
  for (const hash of allHashes(home)) {
    if (!isResourceHash(hash)) {
      const area = existsSync(resourcePaths(home, hash).dir) ? homePaths(home).resources : homePaths(home).quarantine;
      problems.push({ path: join(area, hash), message: 'is not a resource (its name is not a hash)' });
      continue;
    }
    const info = resourceInfo(home, hash, roots);
    if (!info) continue;
    if (info.problem) problems.push(info.problem);
    resources.push(info);
  }
  return { resources, problems };
}

/**
 * The hash a command names: a hash (or a unique prefix of one, at least 8
 * digits), or a path inside resources/<hash> or quarantine/<hash>.
 */
export function findResource(home: string, text: string, cwd: string): string {
  if (/^[0-9a-f]{8,}$/.test(text) && !text.includes('/')) {
    const matches = allHashes(home).filter((h) => h.startsWith(text));
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) throw new CliError(EX.USAGE, `${text} is the start of more than one resource's hash`);
    throw new CliError(EX.NOINPUT, `no resource ${text}`);
  }
  let abs = resolve(cwd, text);
  try {
    abs = realpathSync(abs);
  } catch {
    /* keep: a path that is gone may still name a hash */
  }
  for (const area of [homePaths(home).resources, homePaths(home).quarantine]) {
    let base = area;
    try {
      base = realpathSync(area);
    } catch {
      /* keep */
    }
    const rel = relative(base, abs);
    const hash = rel.split(sep)[0];
    if (rel && !rel.startsWith('..') && isResourceHash(hash)) {
      if (!resourceInfo(home, hash)) throw new CliError(EX.NOINPUT, `no resource ${hash}`);
      return hash;
    }
  }
  throw new CliError(EX.NOINPUT, `${text} is neither a resource's hash nor a path inside ${homePaths(home).resources} or ${homePaths(home).quarantine}`);
}

let trashCounter = 0;

/** Deletes a resource-shaped directory: moved into resources/.trash/ first (atomic), then removed. */
export function deleteTree(home: string, dir: string): void {
  const trash = resourceAreaPaths(home).trash;
  const aside = join(trash, `${basename(dir)}.${process.pid}.${++trashCounter}`);
  try {
    ensureDir(trash);
    renameSync(dir, aside);
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  rmSync(aside, { recursive: true, force: true });
}

/** Whatever a killed deleter left in resources/.trash/. */
export function emptyTrash(home: string): void {
  for (const name of listDir(resourceAreaPaths(home).trash)) {
    const pid = Number(name.split('.').at(-2));
    if (pid !== process.pid && processStartTime(pid) !== undefined) continue; // its deleter is still at it
    rmSync(join(resourceAreaPaths(home).trash, name), { recursive: true, force: true });
  }
}

/**
 * What ws-list adds to a resource or quarantine it found (`resources/<hash>`
 * or `quarantine/<hash>`): its state and its live holders, as
 * `ws-resource list` has them.
 */
export function resourceSummary(home: string, hash: string): { state: ResourceState | 'unknown'; holders: string[] } {
  const info = resourceInfo(home, hash, new Map());
  return { state: info?.state ?? 'unknown', holders: (info?.holders ?? []).map((h) => (h.holder ? describeHolder(h.holder) : h.key)) };
}
