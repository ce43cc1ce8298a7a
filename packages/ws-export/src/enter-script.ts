import { cachePaths, nuLocals, contentCheck, contentFunctionFish, contextPaths, fillTemplate, homePaths, quoteFish, quotePosix as q, renderShell, watchCheck, watchTestFish, writeFileAtomic, type EnvChanges, type EventSource, type Shell, type WatchedContent } from '@ws/core';
import { createHash } from 'node:crypto';
import { bootTimeMs } from './revert.js';
import enterBash from './enter.bash';
import enterFish from './enter.fish';
import enterZsh from './enter.zsh';

export interface EnterScriptInput {
  shell: Shell;
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
  /** The workspace files' content as checked (watchCheck): a same-size edit with its mtime restored is seen too. */
  contents: WatchedContent[];
  knobs: [workspace: string, ceilings: string, envrc: string];
  /** The user's own WS_ENV when this result was made (undefined = unset). */
  baseWsEnv: string | undefined;
  /** The `_ws_revert` definition of this result (revert.ts): the entry defines it too. */
  revert: string;
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
  if (input.shell === 'fish') return writeEnterFish(input);
  const { shell, locals } = input;
  const checks: string[] = [];
  if (locals._ws_valid) checks.push(`[[ -e ${q(locals._ws_valid as string)} ]] || return 1`);
  const watch = locals._ws_watch as string[];
  for (let i = 0; i < watch.length; i += 3) {
    const [path, lo, hi] = [watch[i], watch[i + 1], watch[i + 2]];
    checks.push(lo ? `[[ ${q(path)} -nt ${q(lo)} && ${q(path)} -ot ${q(hi)} ]] || return 1` : hi ? `[[ -e ${q(path)} ]] || return 1` : `[[ ! -e ${q(path)} ]] || return 1`);
  }
  for (const content of input.contents) checks.push(`${contentCheck(content, shell)} || { unset _ws_c; return 1; }`);
  if (input.contents.length) checks.push('unset _ws_c');
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
  apply.push(`_ws_watch_ok() { ${watchCheck(watch, input.contents, shell)}; }`);
  apply.push(input.revert.trimEnd());
  for (const [name, value] of Object.entries(locals)) {
    if (name === '_ws_pwd') apply.push('_ws_pwd=$PWD');
    else apply.push(Array.isArray(value) ? `${name}=(${value.map(q).join(' ')})` : `${name}=${q(value)}`);
  }
  const script = fillTemplate(shell === 'zsh' ? enterZsh : enterBash, q, {
    values: templateValues(input),
    code: { CHECKS: checks.join('\n'), APPLY: apply.join('\n') },
  });
  const path = cachePaths(input.contextDir).enter(shell);
  writeFileAtomic(path, script);
  return path;
}

/** The state paths and JSON strings the three templates share. */
function templateValues(input: EntryInput): Record<string, string> {
  const json = (s: string) => JSON.stringify(s) as string;
  return {
    REAPER_PID: homePaths(input.home).reaperPid,
    CONTEXTS: homePaths(input.home).contexts,
    CTXDIR: input.usersOf ?? input.contextDir,
    USERS: contextPaths(input.usersOf ?? input.contextDir).users,
    EVENTS: homePaths(input.home).events,
    CONTEXT_JSON: json(input.source.context ?? input.source.name ?? ''),
    ROOT_JSON: json(input.source.root),
  };
}

/**
 * fish's `cache/enter.fish`: the same checks with fish's builtins (`test`,
 * `set -q`; a `*PATH` variable compares as fish shows it quoted, joined with
 * ':'), the result as renderShell's fish code. A value is compared behind an
 * `x` prefix, so that no value (`-n`, `!`) reads as an operator of `test`.
 * fish has no clock builtin: the hook's `_ws_utc` adds /proc/uptime to the
 * boot time measured here.
 */
function writeEnterFish(input: EnterScriptInput): string {
  const { locals } = input;
  const f = quoteFish;
  const same = (name: string, value: string) => `test "x$${name}" = x${f(value)}`;
  const checks: string[] = [];
  // The validity marker and the watched files: one test, whose arguments become the hook's _ws_watch_test.
  checks.push(`set -l _ws_w${watchTestFish(locals._ws_watch as string[], locals._ws_valid as string | undefined, input.contents)}`, 'test x $_ws_w; or return 1');
  // The content the trust gate approved, as the prompt compares it: defined now, checked before anything is applied.
  checks.push(contentFunctionFish(input.contents).trimEnd(), '_ws_content_ok; or return 1');
  const [workspace, ceil, envrc] = input.knobs;
  checks.push(`test "x$WS_WORKSPACE"\\x1f"$WS_CEILING_DIRS"\\x1f"$WS_ENVRC" = x${[workspace, ceil, envrc].map(f).join('\\x1f')}; or return 1`);
  const wsEnv = input.baseWsEnv;
  checks.push(wsEnv === undefined ? 'not set -q WS_ENV; or return 1' : `${same('WS_ENV', wsEnv)}; or return 1`);
  for (const [name, value] of Object.entries(input.prev)) {
    if (name === 'WS_DIFF' || name === 'WS_ENV') continue;
    checks.push(value === undefined ? `not set -q ${name}; or return 1` : `set -q ${name}; and ${same(name, value)}; or return 1`);
  }
  const { _ws_pwd: _pwd, _ws_watch: _watch, ...rest } = locals;
  const apply = `${renderShell('fish', input.changes, rest)}set -g _ws_watch_test $_ws_w;\n${input.revert}set -g _ws_pwd $PWD`;
  const body = fillTemplate(enterFish, f, {
    values: { ...templateValues(input), BOOT_MS: String(bootTimeMs()) },
    code: { CHECKS: checks.join('\n'), APPLY: apply },
  });
  // The hook keeps what it sourced as this function and calls it while the first line names it (hook.fish's _ws_enter_known).
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const name = `_ws_entry_${sha(input.contextDir).slice(0, 12)}_${sha(body).slice(0, 16)}`;
  const script = `function ${name}\n${body}\nend\n${name}\n`;
  const path = cachePaths(input.contextDir).enter('fish');
  writeFileAtomic(path, script);
  return path;
}

/**
 * nushell's `cache/enter.nu.json`: nushell cannot evaluate code it is handed,
 * so the entry is data the hook checks and applies with builtins: the
 * validity marker, the watch triples, the discovery knobs and the user's
 * WS_ENV, the base value of every variable the load changes (`base`, null =
 * unset), the state paths for the reaper check and the user registration,
 * and the result (`set`, `unset`, `hook`). Written atomically.
 */
/** What every shell's cached entry is made of (the shell and its revert aside). */
export type EntryInput = Omit<EnterScriptInput, 'shell' | 'revert'>;

/** nushell's cached entry: the entry as data, with its revert record (nuRevert) in `hook.revert`. */
export function writeEnterNu(input: EntryInput & { nuRevert: unknown }): string {
  const base: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(input.prev)) {
    if (name === 'WS_DIFF' || name === 'WS_ENV') continue;
    base[name] = value ?? null;
  }
  const set: Record<string, string> = {};
  const unset: string[] = [];
  for (const name of Object.keys(input.changes).sort()) {
    const value = input.changes[name];
    if (value === undefined) unset.push(name);
    else set[name] = value;
  }
  const t = templateValues(input);
  const entry = {
    valid: (input.locals._ws_valid as string | undefined) ?? '',
    watch: input.locals._ws_watch ?? [],
    content: input.locals._ws_content ?? [],
    knobs: input.knobs.join('\x1f'),
    wsenv: input.baseWsEnv ?? null,
    base,
    reaper: t.REAPER_PID,
    contexts: t.CONTEXTS,
    ctxdir: t.CTXDIR,
    users: t.USERS,
    events: t.EVENTS,
    context: t.CONTEXT_JSON,
    root: t.ROOT_JSON,
    set,
    unset,
    hook: { ...nuLocals(input.locals), revert: input.nuRevert },
  };
  const path = cachePaths(input.contextDir).enter('nu.json');
  writeFileAtomic(path, `${JSON.stringify(entry)}\n`);
  return path;
}
