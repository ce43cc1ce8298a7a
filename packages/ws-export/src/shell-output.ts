import { ceilings, hasRawBytes, contextDir, diffEnv, printable, quoteFish, quotePosix, renderJson, renderNu, renderShell, watchCheck, watchTestFish, contentFunctionFish, ZSH_READ, type WatchedContent, type Context, type ContextState, type Env, type EnvChanges, type EventSource, type Shell, type ShellLocals } from '@ws/core';
import { writeEnterNu, writeEnterScript, type EntryInput } from './enter-script.js';
import { NO_REVERT, nuRevert, renderRevert } from './revert.js';

/** `+A -B ~C` like direnv's summary; WS_* variables are ws's own and left out. */
export function summary(changes: EnvChanges, before: Env): string {
  return Object.keys(changes)
    .filter((name) => !name.startsWith('WS_'))
    .sort()
    .map((name) => (changes[name] === undefined ? `-${name}` : before[name] === undefined ? `+${name}` : `~${name}`))
    .join(' ');
}

export interface OutputInput {
  format: Shell | 'nu' | 'json';
  /** With json: bytes that are not UTF-8 as `\udcNN` escapes. */
  bytes?: boolean;
  /** bash and zsh: the cold path's script in the state home (cold.ts), if set up. */
  cold?: string;
  home: string;
  ctx: Context | undefined;
  /** The directory of the context the shell is in (a shared one's, docs/contexts.md). */
  ctxDir?: string;
  source: EventSource;
  state: ContextState | '';
  /** Watch triples (stamps.ts) and the validity marker ('' unless ready). */
  watches: string[];
  /** The workspace files' content as the trust gate checked it (bash and zsh compare it too). */
  contents: WatchedContent[];
  valid: string;
  /** The shell's environment, its base without ws, and the environment it must have. */
  current: Env;
  base: Env;
  target: Env;
  /** What to change in the shell to get from `current` to `target`. */
  changes: EnvChanges;
}

/**
 * What the shell evaluates: the changes, the hook's own variables, its
 * watch check, and after a successful load (in bash, zsh or fish) the cached entry
 * script it may source next time instead of running ws-export.
 */
export function renderOutput(input: OutputInput): string {
  const { format, ctx, state, base, target } = input;
  if (format === 'json') return renderJson(input.changes, { bytes: input.bytes });
  const shellLocals = locals(input);
  if (format === 'nu') return renderNuOutput(input, shellLocals);
  // zsh: the file readers its _ws_watch_ok, _ws_revert and cached entry call (hooks.ts ZSH_READ).
  // fish: the watch check is test's arguments (below); $_ws_watch, the triples, stays
  // for a fish that still runs an older hook (it loops over them: without them it
  // would never notice an edited file until it is restarted).
  let code = (format === 'zsh' ? ZSH_READ : '') + renderShell(format, input.changes, shellLocals);
  // A ready load: the hook can leave it without a process (_ws_revert); anything else, ws-export leaves.
  const applied = diffEnv(base, target);
  const revert =
    ctx && state === 'ready' && target.WS_ROOT === ctx.root && target.WS_DIFF
      ? renderRevert({ shell: format, home: input.home, contextDir: input.ctxDir ?? contextDir(input.home, ctx.root), source: input.source, prev: applied.prev, diff: target.WS_DIFF! })
      : NO_REVERT[format];
  code += revert;
  if ((format === 'bash' || format === 'zsh') && input.cold) code += coldLine(input.home, input.cold, input.current);
  // One expression over the watched files: bash and zsh a [[ ]], fish test's arguments (with the validity marker).
  // fish compares the workspace files' content in _ws_content_ok, as bash's and zsh's [[ ]] does.
  code +=
    format === 'fish'
      ? `set -g _ws_watch_test${watchTestFish(input.watches, input.valid, input.contents)};\n${contentFunctionFish(input.contents)}`
      : `_ws_watch_ok() { ${watchCheck(input.watches, input.contents, format)}; }\n`;
  if (ctx && state === 'ready') {
    // Next time this shell enters from outside, the hook can apply this result itself.
    const script = writeEnterScript({ ...entryInput(input, ctx.root, applied, shellLocals), shell: format, revert });
    code += knownLine(format, ctx.root, script);
  }
  return code + COMPLETE;
}

/**
 * nushell's output is data (renderNu): after a ready load, `hook.revert`
 * holds what the hook needs to leave without a process (nuRevert), `known`
 * where the cached entry of the root is (cache/enter.nu.json, writeEnterNu).
 * A value nushell cannot hold exactly (bytes that are not UTF-8) gets
 * neither: ws-export handles that context's entries and leaves.
 */
function renderNuOutput(input: OutputInput, locals: ShellLocals): string {
  const { ctx, state, base, target } = input;
  // nushell compares the workspace files' approved content too (hook.nu _ws_content_ok).
  const shellLocals = { ...locals, _ws_content: nuContent(input.contents) };
  const applied = diffEnv(base, target);
  const exact = [...Object.values(applied.prev), ...Object.values(applied.next), target.WS_DIFF].every((v) => v === undefined || !hasRawBytes(v));
  if (!(exact && ctx && state === 'ready' && target.WS_ROOT === ctx.root && target.WS_DIFF)) return renderNu(input.changes, shellLocals);
  const revert = nuRevert({ home: input.home, contextDir: input.ctxDir ?? contextDir(input.home, ctx.root), source: input.source, prev: applied.prev, diff: target.WS_DIFF });
  const path = writeEnterNu({ ...entryInput(input, ctx.root, applied, shellLocals), nuRevert: revert });
  return renderNu(input.changes, shellLocals, { revert, known: { root: ctx.root, path } });
}

/** The cached entry of a ready load of `root`, for any shell: what it checks and what it applies. */
/**
 * The approved texts for nushell's hook: PATH TEXT pairs; a file changed
 * since it was approved gets a NUL, which no file compared this way holds
 * (watchedContent): it never matches.
 */
function nuContent(contents: WatchedContent[]): string[] {
  return contents.flatMap(({ path, text }) => [path, text ?? '\0']);
}

function entryInput(input: OutputInput, root: string, applied: ReturnType<typeof diffEnv>, shellLocals: ShellLocals): EntryInput {
  const { current, base, target } = input;
  return {
    home: input.home,
    contextDir: contextDir(input.home, root),
    usersOf: input.ctxDir,
    source: input.source,
    prev: applied.prev,
    changes: { ...applied.next, WS_DIFF: target.WS_DIFF },
    locals: shellLocals,
    contents: input.contents,
    knobs: [current.WS_WORKSPACE ?? '', current.WS_CEILING_DIRS ?? '', current.WS_ENVRC ?? ''],
    baseWsEnv: base.WS_ENV,
  };
}

/**
 * Tells the hook where the cached entry of `root` is. bash and zsh keep an
 * associative array; fish two parallel lists, `_ws_known_roots` and
 * `_ws_known_scripts` (the hook finds a root with `contains -i`): an entry
 * for the root is replaced, not added twice.
 */
function knownLine(shell: Shell, root: string, script: string): string {
  if (shell === 'bash') return `declare -gA _ws_known 2>/dev/null; _ws_known[${quotePosix(root)}]=${quotePosix(script)};\n`;
  if (shell === 'zsh') return `typeset -gA _ws_known; _ws_known+=(${quotePosix(root)} ${quotePosix(script)});\n`;
  const [r, s] = [quoteFish(root), quoteFish(script)];
  return (
    `set -l _ws_i (contains -i -- ${r} $_ws_known_roots); and set -e _ws_known_roots[$_ws_i]; and set -e _ws_known_scripts[$_ws_i];\n` +
    `set -ga _ws_known_roots ${r}; set -ga _ws_known_scripts ${s};\n`
  );
}

/**
 * Tells the bash or zsh hook that this state home is set up for the cold path
 * (docs/hook.md): `_ws_cold=(HOME SCRIPT KEY)`, KEY being what named the
 * state home (WS_STATE_HOME, XDG_STATE_HOME, HOME): the hook takes the cold
 * path only while they are the same.
 */
function coldLine(home: string, script: string, current: Env): string {
  const key = [current.WS_STATE_HOME, current.XDG_STATE_HOME, current.HOME].map((v) => v ?? '').join('\x1f');
  return `_ws_cold=(${[home, script, key].map(quotePosix).join(' ')});\n`;
}

/**
 * The last line of every shell output: the zsh hook applies output whose
 * status says "interrupted" if this line shows it is complete (zsh reports
 * 130 for a command substitution during which it saw a Ctrl-C, even when
 * ws-export handled it and finished).
 */
export const COMPLETE = '# ws-export: complete\n';

/** The hook's own variables: what it compares at the next prompt to skip ws-export. */
function locals({ home, ctx, ctxDir, source, state, watches, valid, current, target }: OutputInput): ShellLocals {
  const ceil = [...ceilings(current)];
  const knobs = [current.WS_WORKSPACE, current.WS_CEILING_DIRS, current.WS_ENVRC, target.WS_ENV].map((v) => v ?? '').join('\x1f');
  return {
    _ws_pwd: current.PWD ?? '',
    _ws_root: ctx?.root ?? '',
    _ws_name: printable(ctx ? source.context || ctx.name : ''), // shown by the process-free prompt only: made printable
    _ws_state: state,
    _ws_ctxdir: ctx ? (ctxDir ?? contextDir(home, ctx.root)) : '',
    _ws_knobs: knobs,
    _ws_ceil: ceil,
    _ws_valid: valid,
    _ws_watch: watches,
  };
}
