import { lstatSync, realpathSync, renameSync, symlinkSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { CliError, EX } from '../cli/errors.js';
import { readRoots } from '../inventory/roots.js';
import { ensureDir, rmQuiet } from '../state/atomic.js';
import { homePaths, resourcePaths, rootPath } from '../state/paths.js';
import { isResourceHash } from './inputs.js';

/** A root's name: what `roots/<name>` may be called. */
export function checkRootName(name: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new CliError(EX.USAGE, `invalid root name '${name.slice(0, 40)}': letters, digits, '.', '_' and '-', at most 64, not starting with '.'`);
  }
  return name;
}

/** The names of the roots that point at each resource (by hash). */
export function rootsByHash(home: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const r of readRoots(home, [])) {
    if (r.kind !== 'resource' || !r.holds) continue;
    map.set(r.holds, [...(map.get(r.holds) ?? []), r.name]);
  }
  return map;
}

const realOr = (path: string) => {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
};

/**
 * The hash of the resource that `path` (a resource directory, its `out`, or
 * anything inside) belongs to. A path outside `resources/` of this state
 * home is refused (64): a root there would keep nothing of ws alive.
 */
export function resourceHashOf(home: string, path: string, cwd: string): string {
  const abs = realOr(resolve(cwd, path));
  const base = realOr(homePaths(home).resources);
  const rel = relative(base, abs);
  const hash = rel.split(sep)[0];
  if (!rel || rel.startsWith('..') || resolve(base, rel) !== abs || !isResourceHash(hash)) {
    throw new CliError(EX.USAGE, `${path} is not a resource of the state home ${home} (a resource is ${homePaths(home).resources}/<hash>)`);
  }
  return hash;
}

/**
 * `ws-resource root NAME PATH`: makes (or re-points) `roots/NAME` at the
 * resource PATH belongs to, atomically (a temporary link renamed over the
 * name). The link is relative (`../resources/<hash>`), so the state home
 * may move.
 */
export function makeRoot(home: string, name: string, path: string, cwd: string): { name: string; hash: string; path: string } {
  checkRootName(name);
  const hash = resourceHashOf(home, path, cwd);
  if (!lstatSync(resourcePaths(home, hash).record, { throwIfNoEntry: false })) {
    throw new CliError(EX.NOINPUT, `no resource ${hash} (a quarantined resource must be resolved first)`);
  }
  const link = rootPath(home, name);
  ensureDir(homePaths(home).roots);
  const temp = rootPath(home, `.tmp.${process.pid}.${name}`);
  rmQuiet(temp);
  symlinkSync(`..${sep}resources${sep}${hash}`, temp);
  try {
    renameSync(temp, link);
  } catch (error) {
    rmQuiet(temp);
    throw error;
  }
  return { name, hash, path: link };
}

/** `ws-resource unroot NAME`: removes `roots/NAME` (66 if there is none). Returns the hash it held, if any. */
export function removeRoot(home: string, name: string): string | undefined {
  checkRootName(name);
  const entry = readRoots(home, []).find((r) => r.name === name);
  if (!entry) throw new CliError(EX.NOINPUT, `no root ${name} in ${homePaths(home).roots}`);
  if (entry.kind === 'invalid') throw new CliError(EX.DATAERR, `${entry.path} is not a symlink; remove it by hand`);
  rmQuiet(entry.path);
  return entry.kind === 'resource' ? entry.holds : undefined;
}
