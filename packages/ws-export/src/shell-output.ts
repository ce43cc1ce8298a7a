import { ceilings, contextDir, diffEnv, printable, quotePosix, renderJson, renderNu, renderShell, watchCheck, type Context, type ContextState, type Env, type EnvChanges, type EventSource, type Shell, type ShellLocals } from '@ws/core';
import { writeEnterScript } from './enter-script.js';

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
  home: string;
  ctx: Context | undefined;
  /** The directory of the context the shell is in (a shared one's, docs/contexts.md). */
  ctxDir?: string;
  source: EventSource;
  state: ContextState | '';
  /** Watch triples (stamps.ts) and the validity marker ('' unless ready). */
  watches: string[];
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
 * watch check, and after a successful load in bash or zsh the cached entry
 * script it may source next time instead of running ws-export.
 */
export function renderOutput(input: OutputInput): string {
  const { format, ctx, state, current, base, target } = input;
  if (format === 'json') return renderJson(input.changes);
  const shellLocals = locals(input);
  if (format === 'nu') return renderNu(input.changes, shellLocals);
  let code = renderShell(format, input.changes, shellLocals);
  if (format === 'fish') return code + COMPLETE;
  code += `_ws_watch_ok() { ${watchCheck(input.watches)}; }\n`;
  if (ctx && state === 'ready') {
    // Next time this shell enters from outside, the hook can apply this result itself.
    const applied = diffEnv(base, target);
    const script = writeEnterScript({
      shell: format,
      home: input.home,
      contextDir: contextDir(input.home, ctx.root),
      usersOf: input.ctxDir,
      source: input.source,
      prev: applied.prev,
      changes: { ...applied.next, WS_DIFF: target.WS_DIFF },
      locals: shellLocals,
      knobs: [current.WS_WORKSPACE ?? '', current.WS_CEILING_DIRS ?? '', current.WS_ENVRC ?? ''],
      baseWsEnv: base.WS_ENV,
    });
    code +=
      format === 'bash'
        ? `declare -gA _ws_known 2>/dev/null; _ws_known[${quotePosix(ctx.root)}]=${quotePosix(script)};\n`
        : `typeset -gA _ws_known; _ws_known+=(${quotePosix(ctx.root)} ${quotePosix(script)});\n`;
  }
  return code + COMPLETE;
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
