import { realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';

export const WORKSPACE_FILE = '.workspace';
export const LOCAL_FILE = '.workspace.local';
export const ENVRC_FILE = '.envrc';

/** A context as found on disk, before anything is evaluated. */
export interface Context {
  /** Directory holding the workspace file (the logical path, as the shell sees it). */
  root: string;
  /** The workspace file: `.workspace`, or `.envrc` read the direnv way. */
  file: string;
  /** `WS_CONTEXT`: the basename, or `outer/relative/path` for a nested context. */
  name: string;
}

export interface DiscoverOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Receives the non-fatal WS_WORKSPACE error line. */
  warn?: (line: string) => void;
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

const realpathOr = (path: string) => {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
};

const isDir = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** The workspace file a directory holds, if any: `.workspace` wins over `.envrc`. */
export function workspaceFileIn(dir: string, env: NodeJS.ProcessEnv): string | undefined {
  const file = join(dir, WORKSPACE_FILE);
  if (isFile(file)) return file;
  if (env.WS_ENVRC !== '0') {
    const envrc = join(dir, ENVRC_FILE);
    if (isFile(envrc)) return envrc;
  }
  return undefined;
}

/**
 * The directory the user is in, as the shell names it: `$PWD` when it is the
 * same directory as the real cwd (so symlinked paths keep their names).
 */
export function logicalCwd(env: NodeJS.ProcessEnv, cwd: string): string {
  const pwd = env.PWD;
  if (pwd && isAbsolute(pwd) && pwd !== cwd) {
    try {
      const a = statSync(pwd);
      const b = statSync(cwd);
      if (a.ino === b.ino && a.dev === b.dev) return resolve(pwd);
    } catch {
      /* fall through */
    }
  }
  return cwd;
}

/** WS_CEILING_DIRS as absolute paths, each also by its real path. */
export function ceilings(env: NodeJS.ProcessEnv): Set<string> {
  const dirs = new Set<string>();
  for (const dir of (env.WS_CEILING_DIRS ?? '').split(':')) {
    if (!dir || !isAbsolute(dir)) continue;
    dirs.add(resolve(dir));
    try {
      dirs.add(realpathSync(dir));
    } catch {
      /* a missing ceiling still stops a walk that reaches its name */
    }
  }
  return dirs;
}

/** Walks up from `start` (inclusive) yielding each directory holding a workspace file, nearest first. */
function* walkUp(start: string, env: NodeJS.ProcessEnv): Generator<{ dir: string; file: string }> {
  const stop = ceilings(env);
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    // A ceiling also stops a walk that reaches it through a symlink.
    if (stop.has(dir) || (stop.size > 0 && stop.has(realpathOr(dir)))) return;
    const file = workspaceFileIn(dir, env);
    if (file) yield { dir, file };
    if (dir === dirname(dir)) return;
  }
}

/** Name of the context rooted at `root`: nested contexts are `outer/relative/path`. */
function contextName(root: string, env: NodeJS.ProcessEnv): string {
  let outermost = root;
  for (const { dir } of walkUp(dirname(root), env)) outermost = dir;
  if (root === dirname(root)) return '/';
  return outermost === root ? basename(root) : `${basename(outermost)}/${relative(outermost, root)}`;
}

/** Why WS_WORKSPACE cannot be used, or undefined if it can. */
function workspaceProblem(value: string, env: NodeJS.ProcessEnv): string | undefined {
  if (!isAbsolute(value)) return 'not an absolute path';
  if (!isDir(value)) return 'no such directory';
  if (!workspaceFileIn(value, env)) return `no ${WORKSPACE_FILE} file in it`;
  return undefined;
}

/**
 * Finds the context for a directory, exactly as SPEC §2: `WS_WORKSPACE` if
 * usable (else one error line and on), then the nearest workspace file
 * walking up, stopping at `WS_CEILING_DIRS`.
 */
export function findContext({ env, cwd, warn }: DiscoverOptions): Context | undefined {
  const forced = env.WS_WORKSPACE;
  if (forced) {
    const problem = workspaceProblem(forced, env);
    if (!problem) {
      const root = resolve(forced);
      return { root, file: workspaceFileIn(root, env)!, name: contextName(root, env) };
    }
    warn?.(`ws: WS_WORKSPACE=${forced} is not a usable workspace: ${problem}`);
  }
  for (const { dir, file } of walkUp(logicalCwd(env, cwd), env)) {
    return { root: dir, file, name: contextName(dir, env) };
  }
  return undefined;
}
