import { join } from 'node:path';
import { globSync } from 'tinyglobby';
import { appendText, readJson, readText, writeFileAtomic } from '@ws/core';

/**
 * At most this many paths of one `watch_dir` tree or `watch_file` pattern
 * are watched: directories first, nearest the top, then files. The prompt
 * tests every watched path with builtins, so the bound keeps a quiet prompt
 * cheap; past it, a change is seen at the next reload (docs/direnv.md).
 */
export const TREE_LIMIT = 1000;

const GLOB_CHAR = /[*?[]/;

const depth = (path: string) => path.split('/').length;
const byDepth = (a: string, b: string) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0);
const noSlash = (path: string) => (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path);

/** Every directory and file under `dir` (itself included), directories first. */
function listTree(dir: string): { dirs: string[]; files: string[] } {
  const common = { cwd: dir, absolute: true, dot: true, followSymbolicLinks: false, expandDirectories: false };
  try {
    const dirs = globSync('**', { ...common, onlyDirectories: true }).map(noSlash);
    const files = globSync('**', { ...common, onlyFiles: true });
    return { dirs: [dir, ...dirs.filter((d) => d !== dir)], files };
  } catch {
    return { dirs: [dir], files: [] };
  }
}

/**
 * What a pattern can match now, and the directories where a new match would
 * appear (every directory under the static base that a `**` reaches, else
 * those that match each leading part of the pattern).
 */
function listPattern(pattern: string): { dirs: string[]; files: string[] } {
  const parts = pattern.split('/');
  const first = parts.findIndex((part) => GLOB_CHAR.test(part));
  const base = parts.slice(0, first).join('/') || '/';
  const rest = parts.slice(first);
  const common = { cwd: base, absolute: true, dot: false, followSymbolicLinks: false, expandDirectories: false };
  try {
    const files = globSync(rest.join('/'), { ...common, onlyFiles: false }).map(noSlash);
    let dirs: string[];
    if (rest.includes('**')) {
      dirs = globSync('**', { ...common, onlyDirectories: true }).map(noSlash);
    } else {
      dirs = [];
      for (let k = 1; k < rest.length; k++) dirs.push(...globSync(rest.slice(0, k).join('/'), { ...common, onlyDirectories: true }).map(noSlash));
    }
    return { dirs: [base, ...dirs.filter((d) => d !== base)], files };
  } catch {
    return { dirs: [base], files: [] };
  }
}

/**
 * The paths to watch for each `watch_dir` tree and `watch_file` pattern the
 * build recorded in `watch-trees` (NUL-separated `dir|glob PATH` pairs).
 * Listed once per build and kept in `watch-trees.json`; a note goes to the
 * build's log when a tree is cut at TREE_LIMIT.
 */
export function expandWatchTrees(buildDir: string): string[][] {
  const cache = join(buildDir, 'watch-trees.json');
  const cached = readJson<string[][]>(cache);
  if (Array.isArray(cached)) return cached;
  // readText: a FIFO in its place never blocks.
  const text = readText(join(buildDir, 'watch-trees'));
  if (text === undefined) return [];
  const words = text.split('\0').slice(0, -1);
  const trees: string[][] = [];
  const seen = new Set<string>();
  for (let i = 0; i + 1 < words.length; i += 2) {
    const [kind, target] = [words[i], words[i + 1]];
    if (!target.startsWith('/') || seen.has(`${kind} ${target}`)) continue;
    seen.add(`${kind} ${target}`);
    const { dirs, files } = kind === 'dir' ? listTree(target) : listPattern(target);
    const all = [...new Set([...dirs.sort(byDepth), ...files.sort(byDepth)])];
    if (all.length > TREE_LIMIT) {
      const what = kind === 'dir' ? `watch_dir ${target}` : `watch_file ${target}`;
      try {
        appendText(
          join(buildDir, 'log'),
          `ws: ${what}: ${all.length} paths; watching the first ${TREE_LIMIT} (directories first), a change to the others is seen at the next reload\n`,
        );
      } catch {
        /* no log: nothing to tell */
      }
    }
    trees.push(all.slice(0, TREE_LIMIT));
  }
  try {
    writeFileAtomic(cache, JSON.stringify(trees));
  } catch {
    /* the build directory is gone (a new build): list again next time */
  }
  return trees;
}
