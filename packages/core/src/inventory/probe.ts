import { lstatSync, readdirSync, statSync, type Dirent, type Stats } from 'node:fs';
import { join } from 'node:path';

// Read-only probes of the state home that never throw: what cannot be read
// counts as absent (or as 0 bytes), and the caller reports a Problem.

/** Something in the state home that is not as docs/state-home.md describes it. */
export interface Problem {
  path: string;
  message: string;
}

/** lstat without an exception for a missing path (exceptions are what make a big listing slow). */
export const lstatOr = (path: string): Stats | undefined => {
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

/** A directory's entries with their types; undefined if it cannot be read. */
export const readDirents = (path: string): Dirent[] | undefined => {
  try {
    return readdirSync(path, { withFileTypes: true });
  } catch {
    return undefined;
  }
};

/** The names in a directory, sorted; empty if it cannot be read. */
export const readNames = (path: string): string[] => {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
};

/** True while some process has this PID (whoever it is). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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

/** The size of a regular file; 0 for anything else or nothing. */
export const fileBytes = (path: string) => {
  const st = lstatOr(path);
  return st?.isFile() ? st.size : 0;
};
