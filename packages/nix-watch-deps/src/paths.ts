import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * The canonical form of `path` as Nix saw it: every directory resolved to
 * its real path; the last component resolved too when Nix read through it
 * (`follow`), kept as it is when Nix looked at the link itself (a copied
 * source, `pathExists`). A path that does not exist (yet) keeps its missing
 * tail under the real path of its nearest existing ancestor.
 */
export function canonicalPath(path: string, follow = true): string {
  if (path === '/' || path === '') return '/';
  if (follow) {
    try {
      return realpathSync.native(path);
    } catch {
      /* missing, dangling or a loop: resolve what exists above it */
    }
  }
  return join(canonicalPath(dirname(path), true), basename(path));
}

/** True for `path` equal to or below `dir`. */
export const isWithin = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/** Sorted by bytes (like `LC_ALL=C sort`), duplicates removed. */
export function sortUnique(paths: Iterable<string>): string[] {
  return [...new Set(paths)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Formats the list: one a line, or NUL-terminated with `nul` (for `xargs -0`). */
export const formatList = (paths: string[], nul = false) => paths.map((path) => `${path}${nul ? '\0' : '\n'}`).join('');
