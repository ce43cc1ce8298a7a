import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CliError, EX } from '../cli/errors.js';
import { findContext, LOCAL_FILE, WORKSPACE_FILE } from '../context/discover.js';
import { ensureStateHome } from '../state/home.js';
import { trustGate } from './trust.js';

/** DIR as given on a command line, made absolute; not a directory is missing input (66). */
export function targetDir(dir: string, cwd: string): string {
  const path = resolve(cwd, dir);
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) throw new CliError(EX.NOINPUT, `${path}: no such directory`);
  return path;
}

/**
 * For commands that load a context without a prompt (ws-exec, ws-shell):
 * refuses DIR's context when its workspace file, or the `.workspace.local`
 * beside it, is not allowed, before anything is registered or run (77 with
 * the ws-allow hint). ws-export at a prompt only says so and applies
 * nothing; a command or shell started without the environment asked for is
 * worse than none. No context: nothing to refuse.
 */
export function refuseBlocked(dir: string, env: NodeJS.ProcessEnv): void {
  // Its warnings (an unusable WS_WORKSPACE) are ws-export's to print, once.
  const ctx = findContext({ env: { ...env, PWD: dir }, cwd: dir, warn: () => undefined });
  if (!ctx) return;
  const home = ensureStateHome(env);
  const local = join(ctx.root, LOCAL_FILE);
  const files = basename(ctx.file) === WORKSPACE_FILE && existsSync(local) ? [ctx.file, local] : [ctx.file];
  for (const file of files) {
    if (trustGate(home, file, env).kind === 'blocked') {
      throw new CliError(EX.NOPERM, `${file} is blocked`, `Run 'ws-allow ${ctx.root}' to approve its content.`);
    }
  }
}
