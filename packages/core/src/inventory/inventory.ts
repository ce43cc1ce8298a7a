import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { listPorts, type PortListing } from '../ports/ports.js';
import { contextDirOf, homePaths } from '../state/paths.js';
import { readContext, type ContextEntry } from './context.js';
import { diskUsage, lstatOr, readNames, type Problem } from './probe.js';
import { readRoots, rootsHolding, type RootEntry } from './roots.js';

// Everything ws holds in a state home, read without changing anything: the
// one listing behind ws-list, ws-gc and the event snapshot. A missing,
// corrupt or wrong-typed entry becomes a `problem`, never an exception.

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

/** resources/<hash>/ and quarantine/<hash>/ with their disk use and the roots that keep them. */
export function readResources(home: string, roots: RootEntry[], problems: Problem[] = []): ResourceEntry[] {
  const out: ResourceEntry[] = [];
  const paths = homePaths(home);
  for (const [kind, dir] of [['resource', paths.resources], ['quarantine', paths.quarantine]] as const) {
    const st = lstatOr(dir);
    if (!st) continue;
    if (!st.isDirectory()) {
      problems.push({ path: dir, message: 'is not a directory' });
      continue;
    }
    for (const hash of readNames(dir)) {
      if (hash.startsWith('.')) continue;
      const path = join(dir, hash);
      out.push({ kind, hash, path, disk: diskUsage(path).bytes, rootedBy: roots.filter((r) => r.kind === 'resource' && r.holds === hash).map((r) => r.name) });
    }
  }
  return out;
}

/** Top-level entries of the state home that should be directories and are not. */
export function misplacedFiles(home: string): Problem[] {
  const paths = homePaths(home);
  const problems: Problem[] = [];
  for (const name of STATE_DIRS) {
    const path = paths[name];
    const st = lstatOr(path);
    if (st && !st.isDirectory()) problems.push({ path, message: 'is not a directory' });
  }
  return problems;
}

/** The ids of contexts/: directories and anything else except dot-names (ws's own temporaries). */
export function contextIds(home: string, problems: Problem[] = []): string[] {
  const dir = homePaths(home).contexts;
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
    problems.push({ path: homePaths(home).ports, message: `cannot be read: ${(error as Error).message}` });
  }
  const roots = readRoots(home, problems);
  const byContext = new Map<string, PortListing[]>();
  for (const r of ports) if (r.context) byContext.set(r.context, [...(byContext.get(r.context) ?? []), r]);
  const contexts: ContextEntry[] = [];
  for (const id of contextIds(home, problems)) {
    const path = contextDirOf(home, id);
    const st = lstatOr(path);
    if (!st) continue;
    if (!st.isDirectory()) {
      problems.push({ path, message: 'is not a directory' });
      continue;
    }
    const entry = readContext(home, id, { ports: byContext.get(id), rootedBy: rootsHolding(roots, id), disk: opts.disk });
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
