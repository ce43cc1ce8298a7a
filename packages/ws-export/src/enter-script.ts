import { cachePaths, contextPaths, fillTemplate, homePaths, quotePosix as q, watchCheck, writeFileAtomic, type EnvChanges, type EventSource } from '@ws/core';
import enterBash from './enter.bash';
import enterZsh from './enter.zsh';

export interface EnterScriptInput {
  shell: 'bash' | 'zsh';
  home: string;
  /** The root's own context directory (the script lives in its cache). */
  contextDir: string;
  /** The directory whose users/ the shell joins: a shared context's (docs/contexts.md); default contextDir. */
  usersOf?: string;
  source: EventSource;
  /** Values before (undefined = unset) of every variable the load changes. */
  prev: EnvChanges;
  /** The changes to apply (including WS_DIFF). */
  changes: EnvChanges;
  /** Hook variables after the load (watch triples, validity marker, ...). */
  locals: Record<string, string | string[]>;
  knobs: [workspace: string, ceilings: string, envrc: string];
  /** The user's own WS_ENV when this result was made (undefined = unset). */
  baseWsEnv: string | undefined;
}

/**
 * Writes `cache/enter.<shell>`: what the hook sources to re-enter this context
 * without starting node. It applies the cached result only if nothing it
 * depends on changed — validity marker (gone after an unload or a newer
 * build), watched files, discovery knobs, the base values of every variable
 * the load changes — and a reaper is running to notice the shell leave;
 * otherwise it returns 1 and the hook runs ws-export. It registers the shell
 * as a user with builtins (the record's start time read from /proc). The
 * fixed part is enter.bash / enter.zsh beside this file; the checks and the
 * result are generated here from quoted values.
 */
export function writeEnterScript(input: EnterScriptInput): string {
  const { shell, locals } = input;
  const checks: string[] = [];
  if (locals._ws_valid) checks.push(`[[ -e ${q(locals._ws_valid as string)} ]] || return 1`);
  const watch = locals._ws_watch as string[];
  for (let i = 0; i < watch.length; i += 3) {
    const [path, lo, hi] = [watch[i], watch[i + 1], watch[i + 2]];
    checks.push(lo ? `[[ ${q(path)} -nt ${q(lo)} && ${q(path)} -ot ${q(hi)} ]] || return 1` : hi ? `[[ -e ${q(path)} ]] || return 1` : `[[ ! -e ${q(path)} ]] || return 1`);
  }
  const [workspace, ceil, envrc] = input.knobs;
  checks.push(`[[ \${WS_WORKSPACE-}$'\\x1f'\${WS_CEILING_DIRS-}$'\\x1f'\${WS_ENVRC-} == ${q(`${workspace}\x1f${ceil}\x1f${envrc}`)} ]] || return 1`);
  const wsEnv = input.baseWsEnv;
  checks.push(wsEnv === undefined ? '[[ -z ${WS_ENV+x} ]] || return 1' : `[[ \${WS_ENV-} == ${q(wsEnv)} ]] || return 1`);
  for (const [name, value] of Object.entries(input.prev)) {
    if (name === 'WS_DIFF' || name === 'WS_ENV') continue;
    checks.push(value === undefined ? `[[ -z \${${name}+x} ]] || return 1` : `[[ -n \${${name}+x} && $${name} == ${q(value)} ]] || return 1`);
  }
  const apply: string[] = [];
  for (const name of Object.keys(input.changes).sort()) {
    const value = input.changes[name];
    apply.push(value === undefined ? `unset ${name}` : `export ${name}=${q(value)}`);
  }
  apply.push(`_ws_watch_ok() { ${watchCheck(watch)}; }`);
  for (const [name, value] of Object.entries(locals)) {
    if (name === '_ws_pwd') apply.push('_ws_pwd=$PWD');
    else apply.push(Array.isArray(value) ? `${name}=(${value.map(q).join(' ')})` : `${name}=${q(value)}`);
  }
  const json = (s: string) => JSON.stringify(s) as string;
  const script = fillTemplate(shell === 'zsh' ? enterZsh : enterBash, q, {
    values: {
      REAPER_PID: homePaths(input.home).reaperPid,
      USERS: contextPaths(input.usersOf ?? input.contextDir).users,
      EVENTS: homePaths(input.home).events,
      CONTEXT_JSON: json(input.source.context ?? input.source.name ?? ''),
      ROOT_JSON: json(input.source.root),
    },
    code: { CHECKS: checks.join('\n'), APPLY: apply.join('\n') },
  });
  const path = cachePaths(input.contextDir).enter(shell);
  writeFileAtomic(path, script);
  return path;
}
