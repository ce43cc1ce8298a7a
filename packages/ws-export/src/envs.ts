import { resolve } from 'node:path';
import { cachePaths, CliError, contextDir, EX, findContext, printable, readNulList, stateHomePath } from '@ws/core';
import { listEnvs } from './env-file.js';

export interface EnvsOptions {
  /** The env file; default: those the current context's last evaluation read with env_file. */
  file?: string;
  json: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
  out: (text: string) => void;
}

/**
 * `ws-export envs [FILE] [--json]`: the named environments of an env file,
 * public and private, aliases resolved, the selected one (WS_ENV, default
 * `default`) marked.
 */
export function printEnvs({ file, json, env, cwd, out }: EnvsOptions): void {
  const files = file !== undefined ? [resolve(cwd, file)] : lastEvaluationFiles(env, cwd);
  const current = env.WS_ENV || 'default';
  const listings = files.map((path) => listEnvs(path));
  if (json) {
    out(`${JSON.stringify({ v: 1, current, files: listings })}\n`);
    return;
  }
  for (const listing of listings) {
    if (listings.length > 1) out(`${printable(listing.file)}:\n`);
    const width = Math.max(...listing.envs.map((e) => e.name.length), 0);
    for (const e of listing.envs) {
      const mark = e.name === current ? '*' : ' ';
      const alias = e.aliasFor !== null ? ` -> ${printable(e.resolves)}` : '';
      const from = e.from === 'public' ? '' : ` (${e.from === 'both' ? 'public, private wins' : 'private'})`;
      out(`${mark} ${printable(e.name).padEnd(width)}${alias}${from}\n`.replace(/ +\n$/, '\n'));
    }
  }
}

/** The env files the last evaluation of the current directory's context read, in order, each once. */
function lastEvaluationFiles(env: NodeJS.ProcessEnv, cwd: string): string[] {
  const ctx = findContext({ env, cwd });
  if (!ctx) throw new CliError(EX.NOINPUT, `not in a context: no workspace file in ${cwd} or above; name the env file: ws-export envs FILE`);
  const listed = readNulList(cachePaths(contextDir(stateHomePath(env), ctx.root)).buildEnvFiles);
  const files = [...new Set(listed)];
  if (!files.length) throw new CliError(EX.NOINPUT, `the last evaluation of ${ctx.file} read no env_file; name one: ws-export envs FILE`);
  return files;
}
