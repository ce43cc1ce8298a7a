import { ensureDir } from '@ws/core';
import { closeSync, constants, existsSync, lstatSync, openSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * For each watched path, two stamp files whose mtimes bracket the path's
 * mtime: the shell hook tests `path -nt lo && path -ot hi` with builtins, so
 * any change of mtime (newer or older) is seen without starting a process.
 * A path that does not exist is watched for appearing (`lo` = ''); one
 * watched for existence only has `lo` = '' and `hi` = '+' while it exists.
 * Returns the flat list [path, lo, hi, path, lo, hi, ...].
 * A group (the paths of one watch_dir tree) shares one pair, bracketing the
 * oldest and newest mtime in it: two stamp files per tree, not per path.
 */
export function makeStamps(dir: string, paths: Iterable<string>, existenceOnly: Iterable<string> = [], groups: string[][] = []): string[] {
  ensureDir(dir);
  const triples: string[] = [];
  const seen = new Set<string>();
  // Only whether it exists matters (trust records of an allowed file): one stat per prompt, not four.
  for (const path of existenceOnly) {
    seen.add(path);
    triples.push(path, '', existsSync(path) ? '+' : '');
  }
  const add = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    let mtimeNs: bigint;
    try {
      mtimeNs = statSync(path, { bigint: true }).mtimeNs;
    } catch {
      triples.push(path, '', '');
      return;
    }
    const n = seen.size;
    const lo = join(dir, `${n}.lo`);
    const hi = join(dir, `${n}.hi`);
    if (bracket(lo, hi, mtimeNs, 5_000n) || bracket(lo, hi, mtimeNs, 1_000_000_000n)) triples.push(path, lo, hi);
    // Cannot bracket its mtime here: "must be absent" always fails, so the hook asks ws-export.
    else triples.push(path, '', '');
  };
  for (const path of paths) {
    add(path);
    // A symlink retargeted to an older file keeps an old mtime: watch the
    // directory holding the link too, whose mtime the new link changes.
    try {
      if (lstatSync(path).isSymbolicLink()) add(dirname(path));
    } catch {
      /* missing: watched for appearing */
    }
  }
  // After the single paths: a path watched on its own keeps its own exact pair.
  groups.forEach((group, g) => {
    const times: bigint[] = [];
    const present: string[] = [];
    for (const path of group) {
      if (seen.has(path)) continue;
      seen.add(path);
      try {
        times.push(statSync(path, { bigint: true }).mtimeNs);
        present.push(path);
      } catch {
        triples.push(path, '', '');
      }
    }
    if (!present.length) return;
    const [oldest, newest] = times.reduce(([a, b], t) => [t < a ? t : a, t > b ? t : b], [times[0], times[0]]);
    const lo = join(dir, `tree${g}.lo`);
    const hi = join(dir, `tree${g}.hi`);
    const ok = bracketRange(lo, hi, oldest, newest, 5_000n) || bracketRange(lo, hi, oldest, newest, 1_000_000_000n);
    for (const path of present) triples.push(path, ok ? lo : '', ok ? hi : '');
  });
  return triples;
}

/** Sets lo/hi to mtime ∓ margin and checks that they really bracket it (coarse file systems may not). */
function bracket(lo: string, hi: string, mtimeNs: bigint, margin: bigint): boolean {
  return bracketRange(lo, hi, mtimeNs, mtimeNs, margin);
}

/** A stamp is ws's own file: never written through a symlink planted in its place. */
const STAMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

function bracketRange(lo: string, hi: string, oldestNs: bigint, newestNs: bigint, margin: bigint): boolean {
  const seconds = (ns: bigint) => Number(ns) / 1e9;
  for (const [path, ns] of [
    [lo, oldestNs - margin],
    [hi, newestNs + margin],
  ] as const) {
    try {
      closeSync(openSync(path, STAMP_FLAGS, 0o600));
    } catch (error) {
      // An unload (or a prune) removed the directory meanwhile: make it again.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      ensureDir(dirname(path));
      closeSync(openSync(path, STAMP_FLAGS, 0o600));
    }
    utimesSync(path, seconds(ns), seconds(ns));
  }
  return statSync(lo, { bigint: true }).mtimeNs < oldestNs && statSync(hi, { bigint: true }).mtimeNs > newestNs;
}

/**
 * Removes all but the newest `keep` stamp directories (a shell still using an
 * older one just runs ws-export once). Directories younger than a minute are
 * kept: another ws-export may be writing one right now.
 */
export function pruneStamps(parent: string, keep = 8, now = Date.now()): void {
  let names: string[];
  try {
    names = readdirSync(parent).sort();
  } catch {
    return;
  }
  for (const name of names.slice(0, Math.max(0, names.length - keep))) {
    if (now - Number(name.split('-')[0]) < 60_000) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
  }
}
