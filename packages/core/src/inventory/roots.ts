import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { homePaths } from '../state/paths.js';
import { lstatOr, pathExists, type Problem } from './probe.js';

// roots/<name>: symlinks that keep what they point at in the state home alive
// (docs/state-home.md, "roots/ and garbage collection"), read without changing anything.

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

const within = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** Reads roots/: each symlink, its target, and what in the state home it keeps alive. */
export function readRoots(home: string, problems: Problem[] = []): RootEntry[] {
  const paths = homePaths(home);
  const dir = paths.roots;
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
  // What a target inside the state home keeps, by its top-level directory there.
  const kinds = new Map<string, RootKind>([
    [paths.contexts, 'context'],
    [paths.resources, 'resource'],
    [paths.quarantine, 'resource'],
  ]);
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
        const kind = kinds.get(join(home, top ?? ''));
        if (kind && child) {
          entry.kind = kind;
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

/** The names of the roots that keep context `id` (its directory or anything in it). */
export const rootsHolding = (roots: RootEntry[], id: string) => roots.filter((r) => r.kind === 'context' && r.holds === id).map((r) => r.name);
