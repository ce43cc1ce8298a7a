import { mkdirSync, readlinkSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, EX, warn } from '@ws/core';
import { builtOutputs, pinOutputs, removeStaleRoots } from './gc-root.js';
import { errorText, parseLogLine, type Access } from './nix-log.js';
import { FLAKE_OPTIONS, NIX_OPTIONS, runNix } from './nix.js';
import { canonicalPath, isWithin, sortUnique } from './paths.js';
import type { Target } from './target.js';

export interface WatchDepsOptions {
  target: Target;
  /** The text of logged-evaluation.nix. */
  wrapper: string;
  /** A directory for the GC roots (created if missing); none: pin nothing. */
  gcRoot?: string;
  env: NodeJS.ProcessEnv;
  /** Writes to stderr: the user's traces, Nix's warnings and errors. */
  err: (text: string) => void;
}

export interface WatchDepsResult {
  /** Every file outside the store the evaluation read, canonical, sorted. */
  files: string[];
  /** The instantiated .drv paths, in Nix's order. */
  drvs: string[];
  /** The GC roots made in `gcRoot`. */
  roots: string[];
}

// Nix 2.4+ serves <nix/fetchurl.nix> and friends from memory under this name.
const CORE_PKGS = '/__corepkgs__';
const NEEDS_LOCK = /requires lock file changes/;
const NO_DAEMON = /cannot connect to socket|daemon-socket\/socket.*(No such file|Connection refused)/;

/** Evaluates the target with the real Nix and reports what it read. */
export async function watchDeps({ target, wrapper, gcRoot, env, err }: WatchDepsOptions): Promise<WatchDepsResult> {
  const args = ['-vv', ...NIX_OPTIONS];
  if (target.kind === 'file') {
    args.push('--expr', wrapper, '--argstr', 'entry', target.entry);
    if (target.attr) args.push('--attr', target.attr);
  } else {
    args.push(...FLAKE_OPTIONS, '--expr', wrapper, '--argstr', 'flake', target.ref, '--argstr', 'flakeDir', target.subdir);
    args.push('--argstr', 'flakeAttr', target.attr);
  }
  if (gcRoot) {
    try {
      mkdirSync(gcRoot, { recursive: true });
    } catch (error) {
      throw new CliError(EX.CANTCREAT, `cannot create --gc-root ${gcRoot}: ${(error as Error).message}`);
    }
    // Made only if the evaluation succeeds: a broken file keeps the last good root.
    args.push('--add-root', join(gcRoot, 'drv'));
  }

  const accesses: Access[] = [];
  const unclassified: string[] = [];
  let storeDir = '/nix/store';
  let flakeSource: string | undefined;
  const { code, stdout } = await runNix('nix-instantiate', args, env, (line) => {
    const event = parseLogLine(line);
    if (event.type === 'access') accesses.push(event.access);
    else if (event.type === 'store-dir') storeDir = event.path;
    else if (event.type === 'flake-source') flakeSource = event.path;
    else if (event.type === 'message') err(`${event.line}\n`);
    else unclassified.push(event.line);
  });
  if (code !== 0) {
    const message = errorText(unclassified);
    err(message);
    if (NO_DAEMON.test(message)) throw new CliError(EX.UNAVAILABLE, 'cannot reach the nix daemon');
    const what = target.kind === 'file' ? target.entry : target.ref;
    // builtins.getFlake never writes flake.lock (nix develop would).
    if (NEEDS_LOCK.test(message)) throw new CliError(EX.DATAERR, `cannot evaluate ${what}: its flake.lock is missing or out of date; run 'nix flake lock'`);
    throw new CliError(EX.DATAERR, `cannot evaluate ${what}`);
  }

  const outLines = stdout.split('\n').filter(Boolean);
  // With --add-root, nix-instantiate prints the roots instead of the .drv paths.
  const drvs = gcRoot ? outLines.map((root) => resolve(gcRoot, readlinkSync(root))) : outLines;
  const roots = gcRoot ? [...outLines] : [];
  if (gcRoot) {
    const pinned = await pinOutputs(gcRoot, builtOutputs(drvs), env);
    if (pinned.error) warn(`could not pin the built outputs: ${pinned.error}`);
    roots.push(...pinned.roots);
    removeStaleRoots(gcRoot, roots);
  }
  return { files: collectFiles(target, accesses, storeDir, flakeSource), drvs, roots };
}

/** The watch list: canonical, outside the store, sorted, unique; flake sources mapped back to disk. */
export function collectFiles(target: Target, accesses: Access[], storeDir: string, flakeSource?: string): string[] {
  const stores = [storeDir, canonicalPath(storeDir)];
  const inStore = (path: string) => stores.some((dir) => isWithin(path, dir)) || isWithin(path, CORE_PKGS);
  const seen: Access[] = [];
  if (target.kind === 'file') seen.push({ path: target.entry, follow: true });
  else if (target.localDir) seen.push({ path: join(target.localDir, 'flake.nix'), follow: true }, { path: join(target.localDir, 'flake.lock'), follow: true });

  const localRoot = target.kind === 'flake' ? target.localRoot : undefined;
  for (const access of accesses) {
    // A flake is evaluated from its copy in the store; watch the original.
    if (flakeSource && localRoot && isWithin(access.path, flakeSource)) {
      seen.push({ ...access, path: localRoot + access.path.slice(flakeSource.length) });
    } else if (access.path.startsWith('/') && !inStore(access.path)) seen.push(access);
  }
  return sortUnique(seen.map(canonicalAccess).filter((path) => !inStore(path)));
}

/** Nix 2.8 logs `import ./dir` as the directory; what it read is dir/default.nix. */
function canonicalAccess(access: Access): string {
  const path = canonicalPath(access.path, access.follow);
  if (!access.import) return path;
  try {
    return statSync(path).isDirectory() ? canonicalPath(join(path, 'default.nix')) : path;
  } catch {
    return path;
  }
}
