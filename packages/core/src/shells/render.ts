import type { EnvChanges } from '../env/diff.js';
import { hasRawBytes, withoutRawBytes } from '../env/bytes.js';
import { warn } from '../cli/warnings.js';
import { isFishPathVariable, quoteFish, quotePosix } from './quote.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];
export const isShell = (name: string): name is Shell => (SHELLS as readonly string[]).includes(name);

/** The shells with a hook: those above, whose hook evaluates code, and nushell, whose hook loads data (renderNu). */
export const HOOK_SHELLS = [...SHELLS, 'nu'] as const;
export type HookShell = (typeof HOOK_SHELLS)[number];
export const isHookShell = (name: string): name is HookShell => (HOOK_SHELLS as readonly string[]).includes(name);

/** Shell variables (not exported) the hook keeps for itself: a string or a list. */
export type ShellLocals = Record<string, string | string[]>;

/**
 * Code that, evaluated in `shell`, applies `changes` to its environment and
 * sets the hook's own (unexported) variables. Names are sorted so the output
 * is stable; values are quoted so that nothing in them can run.
 */
export function renderShell(shell: Shell, changes: EnvChanges, locals: ShellLocals = {}): string {
  const lines: string[] = [];
  for (const name of Object.keys(changes).sort()) {
    const value = changes[name];
    if (shell === 'fish') {
      if (value === undefined) lines.push(`set -e -g ${name};`);
      else if (isFishPathVariable(name)) lines.push(`set -gx ${name} ${value.split(':').map(quoteFish).join(' ')};`);
      else lines.push(`set -gx ${name} ${quoteFish(value)};`);
    } else {
      lines.push(value === undefined ? `unset ${name};` : `export ${name}=${quotePosix(value)};`);
    }
  }
  for (const [name, value] of Object.entries(locals)) {
    if (shell === 'fish') {
      const values = Array.isArray(value) ? value : [value];
      lines.push(`set -g ${name}${values.map((v) => ` ${quoteFish(v)}`).join('')};`);
    } else if (Array.isArray(value)) {
      lines.push(`${name}=(${value.map(quotePosix).join(' ')});`);
    } else {
      lines.push(`${name}=${quotePosix(value)};`);
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * What the nushell hook loads (nushell cannot evaluate code it is given):
 * `{"set":{...},"unset":[...],"hook":{root,name,state,...}}`, the changes as
 * renderJson's and the hook's own variables without their `_ws_` prefix.
 * The hook keeps those in `$env._ws`, a record, which nushell passes to no
 * child process.
 */
export function renderNu(changes: EnvChanges, locals: ShellLocals = {}, extra: { revert?: unknown; known?: { root: string; path: string } } = {}): string {
  const { set, unset } = JSON.parse(renderJson(changes)) as { set: Record<string, string>; unset: string[] };
  const hook = { ...nuLocals(locals), revert: extra.revert ?? null };
  return `${JSON.stringify({ set, unset, hook, known: extra.known ?? null })}\n`;
}

/** The hook's variables as nushell's `$env._ws` record: the names without `_ws_`. */
export function nuLocals(locals: ShellLocals): Record<string, string | string[]> {
  return Object.fromEntries(Object.entries(locals).map(([name, value]) => [name.replace(/^_ws_/, ''), value]));
}

/**
 * `{"set":{NAME:VALUE},"unset":[NAME]}` for programs that are not shells.
 * JSON cannot carry bytes that are not UTF-8: such a value is given with
 * U+FFFD for each of them, and a warning names the variable (the shells get
 * the exact bytes; docs/reliability.md). With `bytes` (ws-export json
 * --bytes, for ws-exec), each such byte is the escape `\udcNN` instead
 * (bytes.ts): exact, but not JSON that other programs can take as UTF-8.
 */
export function renderJson(changes: EnvChanges, opts: { bytes?: boolean } = {}): string {
  const set: Record<string, string> = {};
  const unset: string[] = [];
  for (const name of Object.keys(changes).sort()) {
    const value = changes[name];
    if (value === undefined) unset.push(name);
    else if (!opts.bytes && hasRawBytes(value)) {
      warn(`${name} holds bytes that are not UTF-8: JSON shows each as U+FFFD (a shell gets them exactly)`);
      set[name] = withoutRawBytes(value);
    } else set[name] = value;
  }
  return `${JSON.stringify({ set, unset })}\n`;
}
