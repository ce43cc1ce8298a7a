import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * For each watched path, two stamp files whose mtimes bracket the path's
 * mtime: the shell hook tests `path -nt lo && path -ot hi` with builtins, so
 * any change of mtime (newer or older) is seen without starting a process.
 * A path that does not exist is watched for appearing (`lo` = ''); one
 * watched for existence only has `lo` = '' and `hi` = '+' while it exists.
 * Returns the flat list [path, lo, hi, path, lo, hi, ...].
 */
export function makeStamps(dir: string, paths: Iterable<string>, existenceOnly: Iterable<string> = []): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
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
  return triples;
}

/** Sets lo/hi to mtime ∓ margin and checks that they really bracket it (coarse file systems may not). */
function bracket(lo: string, hi: string, mtimeNs: bigint, margin: bigint): boolean {
  const seconds = (ns: bigint) => Number(ns) / 1e9;
  for (const [path, ns] of [
    [lo, mtimeNs - margin],
    [hi, mtimeNs + margin],
  ] as const) {
    try {
      closeSync(openSync(path, 'w', 0o600));
    } catch (error) {
      // An unload (or a prune) removed the directory meanwhile: make it again.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      closeSync(openSync(path, 'w', 0o600));
    }
    utimesSync(path, seconds(ns), seconds(ns));
  }
  return statSync(lo, { bigint: true }).mtimeNs < mtimeNs && statSync(hi, { bigint: true }).mtimeNs > mtimeNs;
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
