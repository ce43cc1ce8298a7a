import { join, resolve, sep } from 'node:path';
import { contextDir, sha256 } from '../state/home.js';
import { contextDirOf, homePaths } from '../state/paths.js';
import { readContextRecord } from './record.js';

// Shared contexts (`ws_context NAME` in a workspace file, docs/contexts.md):
// several roots, one context directory `contexts/<NAME>-<sha256("ws_context:"
// NAME)[:12]>/` holding the users, services, unload hooks, ports and data
// ($WS_STATE_DIR) they share. Each root keeps its own `contexts/<root id>/`
// for ws-export's cache (builds, last good environment, cached entry
// scripts) and its context.json names the shared context (`context`).

/** The longest NAME `ws_context` takes. */
export const CONTEXT_NAME_MAX = 64;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Why NAME cannot name a shared context, or undefined if it can. */
export function contextNameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (name.length > CONTEXT_NAME_MAX) return `the name is longer than ${CONTEXT_NAME_MAX} characters`;
  if (!NAME.test(name)) return 'a name is letters, digits, ".", "_" and "-", starting with a letter or digit';
  return undefined;
}

/**
 * The id of shared context NAME. The stdlib's ws_context computes the same
 * (packages/ws-export/src/stdlib.bash): a root's id hashes a path, which
 * starts with "/", so the two never meet.
 */
export function sharedContextId(name: string): string {
  return `${name.slice(0, 40)}-${sha256(`ws_context:${name}`).slice(0, 12)}`;
}

export const sharedContextDir = (home: string, name: string) => contextDirOf(home, sharedContextId(name));

/** The shared context the last evaluation of `root` declared (its context.json's `context`), if any. */
export function sharedNameOf(home: string, root: string): string | undefined {
  const name = readContextRecord(contextDir(home, root))?.context;
  return typeof name === 'string' && !contextNameProblem(name) ? name : undefined;
}

/** The context directory a `$WS_STATE_DIR` (`contexts/<id>/data`) belongs to, if it is one of this state home. */
export function contextDirOfStateDir(home: string, stateDir: string | undefined): string | undefined {
  if (!stateDir) return undefined;
  const contexts = homePaths(home).contexts + sep;
  const path = resolve(stateDir);
  if (!path.startsWith(contexts)) return undefined;
  const [id, data, ...rest] = path.slice(contexts.length).split(sep);
  if (rest.length || data !== 'data' || !/^[A-Za-z0-9_][\w.-]*-[0-9a-f]{12}$/.test(id)) return undefined;
  return contextDirOf(home, id);
}

/**
 * The directory holding the users, services, hooks, ports and data of the
 * context `root` belongs to: the loaded one when `env` has `root` loaded
 * (its `WS_STATE_DIR`; also inside a workspace file, after ws_context),
 * else the shared context its last evaluation declared, else its own.
 */
export function contextDirFor(home: string, root: string, env?: NodeJS.ProcessEnv): string {
  if (env?.WS_ROOT && resolve(env.WS_ROOT) === resolve(root)) {
    const loaded = contextDirOfStateDir(home, env.WS_STATE_DIR);
    if (loaded) return loaded;
  }
  const name = sharedNameOf(home, root);
  return name ? sharedContextDir(home, name) : contextDir(home, root);
}

/** The id (directory name) of contextDirFor(). */
export const contextIdFor = (home: string, root: string, env?: NodeJS.ProcessEnv) => contextDirFor(home, root, env).split(sep).pop()!;

/** `contexts/<id>/data` of a context directory. */
export const stateDirOf = (dir: string) => join(dir, 'data');
