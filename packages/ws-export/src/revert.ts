import { contextPaths, readText, homePaths, quoteFish, quotePosix, renderShell, type EnvChanges, type EventSource, type Shell } from '@ws/core';

export interface RevertInput {
  shell: Shell;
  home: string;
  contextDir: string;
  source: EventSource;
  /** Values before (undefined = unset) of every variable the load changed (WS_DIFF excluded). */
  prev: EnvChanges;
  /** The WS_DIFF value of the load it undoes. */
  diff: string;
}

/**
 * `_ws_revert`: what the hook runs to leave this load without a process
 * (docs/hook.md "Leaving without a process"). It checks that the shell
 * still has this load (WS_DIFF), sets every variable the load changed back
 * to its value before (unsets those that were unset) — the same values, in
 * the same form, as ws-export's own leave output — unsets WS_DIFF, resets the
 * hook's variables as a leave to no context sets them, redefines itself to
 * fail (it undoes one load, once), and records the departure with the
 * hook's `_ws_depart` (builtins only). Every value is quoted for the shell.
 */
export function renderRevert(input: RevertInput): string {
  const { shell } = input;
  const q = shell === 'fish' ? quoteFish : quotePosix;
  const pid = shell === 'fish' ? '$fish_pid' : '$$';
  const json = (s: string) => JSON.stringify(s);
  const depart = [
    `${q(`${contextPaths(input.contextDir).users}/`)}${pid}`,
    q(homePaths(input.home).events),
    q(json(input.source.context ?? input.source.name ?? '')),
    q(json(input.source.root)),
    // fish: two it does not use (older hooks' CONTEXT_DIR and WAKE_FIFO; bash and zsh no longer get them), then
    // the boot time (fish has no clock but /proc/uptime), measured here to the millisecond.
    ...(shell === 'fish' ? [q(input.contextDir), q(homePaths(input.home).reaperWake), String(bootTimeMs())] : []),
  ].join(' ');
  if (shell === 'fish') {
    const env = renderShell(shell, { ...input.prev, WS_DIFF: undefined }).trimEnd();
    return [
      'function _ws_revert',
      `  set -q WS_DIFF; and test "$WS_DIFF" = ${q(input.diff)}; or return 1`,
      '  set -l k "$WS_WORKSPACE"\\x1f"$WS_CEILING_DIRS"\\x1f"$WS_ENVRC"',
      '  _ws_unloading',
      // Not indented: a quoted value may span lines.
      env,
      "  set -g _ws_pwd $PWD; set -g _ws_root ''; set -g _ws_name ''; set -g _ws_state ''; set -g _ws_ctxdir ''; set -g _ws_valid ''",
      '  set -g _ws_knobs "$k"\\x1f"$WS_ENV"',
      '  set -g _ws_watch_test',
      '  function _ws_content_ok; true; end',
      '  function _ws_revert; return 1; end',
      `  _ws_depart ${depart}`,
      'end',
      '',
    ].join('\n');
  }
  // bash and zsh: one `unset -v` and one `export` for all variables (a builtin per variable cost ~5 µs each).
  const prev: EnvChanges = { ...input.prev, WS_DIFF: undefined };
  const names = Object.keys(prev).sort();
  const unset = names.filter((name) => prev[name] === undefined);
  const set = names.filter((name) => prev[name] !== undefined).map((name) => `${name}=${quotePosix(prev[name]!)}`);
  const env = [`  unset -v ${unset.join(' ')}`, ...(set.length ? [`export ${set.join(' ')}`] : [])].join('\n');
  return [
    '_ws_revert() {',
    `  [[ -n \${WS_DIFF+x} && $WS_DIFF == ${q(input.diff)} ]] || return 1`,
    "  local _ws_k=${WS_WORKSPACE-}$'\\x1f'${WS_CEILING_DIRS-}$'\\x1f'${WS_ENVRC-}",
    '  _ws_unloading',
    // Not indented: a quoted value may span lines.
    env,
    "  _ws_pwd=$PWD _ws_root='' _ws_name='' _ws_state='' _ws_ctxdir='' _ws_valid='' _ws_knobs=$_ws_k$'\\x1f'${WS_ENV-}",
    '  _ws_watch=()',
    '  _ws_watch_ok() { :; }',
    '  _ws_revert() { return 1; }',
    `  _ws_depart ${depart}`,
    '}',
    '',
  ].join('\n');
}

/**
 * nushell's `_ws_revert` is data, kept in `$env._ws.revert`: the load's
 * WS_DIFF (the hook leaves only that load), the values before (`set`, and
 * `unset` for those that were unset), and the departure's paths and JSON
 * strings; the hook's `_ws_leave` applies it with load-env / hide-env and
 * writes the departure with builtins (docs/hook.md "Leaving without a process").
 */
export function nuRevert(input: Omit<RevertInput, 'shell'>) {
  const set: Record<string, string> = {};
  const unset: string[] = [];
  for (const name of Object.keys(input.prev).sort()) {
    if (name === 'WS_DIFF') continue;
    const value = input.prev[name];
    if (value === undefined) unset.push(name);
    else set[name] = value;
  }
  return {
    diff: input.diff,
    set,
    unset,
    users: contextPaths(input.contextDir).users,
    events: homePaths(input.home).events,
    context: JSON.stringify(input.source.context ?? input.source.name ?? ''),
    root: JSON.stringify(input.source.root),
    ctxdir: input.contextDir,
    wake: homePaths(input.home).reaperWake,
  };
}

/** Now minus /proc/uptime, in ms since the epoch; '' if unknown (the hook then uses /proc/stat's btime). */
export function bootTimeMs(): number | string {
  const uptime = Number((readText('/proc/uptime') ?? '').split(' ')[0]);
  return Number.isFinite(uptime) && uptime > 0 ? Math.round(Date.now() - uptime * 1000) : "''";
}

/** What every other result defines: no process-free leave from it (ws-export does it). */
export const NO_REVERT: Record<Shell, string> = {
  bash: '_ws_revert() { return 1; }\n',
  zsh: '_ws_revert() { return 1; }\n',
  fish: 'function _ws_revert; return 1; end\n',
};
