/** An environment as a plain map; `undefined` means unset (different from ''). */
export type Env = Record<string, string | undefined>;

/** Changes to make: a value sets, `undefined` unsets. */
export type EnvChanges = Record<string, string | undefined>;

/**
 * What applying a context changed, enough to undo it: the values before
 * (`prev`, undefined = was unset) and after (`next`) of every changed name.
 */
export interface EnvDiff {
  prev: EnvChanges;
  next: EnvChanges;
}

/**
 * Names a shell manages itself or that only describe the evaluating process.
 * Every name direnv's diff ignores is here (docs/direnv.md lists them: SHELL,
 * its own DIRENV_* bookkeeping, __fish*), and a few more that direnv would export.
 */
export const UNTRACKED_NAMES: readonly string[] = [
  '_', 'PWD', 'OLDPWD', 'SHLVL', 'SHELL', 'SHELLOPTS', 'BASHOPTS', 'COMP_WORDBREAKS', 'PS1', 'PS2', 'PS3', 'PS4',
  'BASH_ARGV0', 'BASH_EXECUTION_STRING', 'COLUMNS', 'LINES', 'WS_DIFF',
  'DIRENV_CONFIG', 'DIRENV_BASH', 'DIRENV_IN_ENVRC', 'DIRENV_DIR', 'DIRENV_FILE', 'DIRENV_DIFF', 'DIRENV_WATCHES',
  'DIRENV_DUMP_FILE_PATH',
];
const IGNORED = new Set(UNTRACKED_NAMES);
/** Prefixes of names that are never tracked either. */
export const UNTRACKED_PREFIXES: readonly string[] = ['_WS_', 'BASH_FUNC_', '__fish'];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True for names an evaluation may change and a shell can export. */
export const isTrackedName = (name: string) =>
  NAME.test(name) && !IGNORED.has(name) && !UNTRACKED_PREFIXES.some((prefix) => name.startsWith(prefix));

/** The changes that turn `before` into `after`, over tracked names only. */
export function diffEnv(before: Env, after: Env): EnvDiff {
  const prev: EnvChanges = {};
  const next: EnvChanges = {};
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!isTrackedName(name)) continue;
    if (before[name] !== after[name]) {
      prev[name] = before[name];
      next[name] = after[name];
    }
  }
  return { prev, next };
}

/** The environment with a diff undone: every changed name back to its value before. */
export function revertDiff(env: Env, diff: EnvDiff): Env {
  return applyChanges(env, diff.prev);
}

export function applyChanges(env: Env, changes: EnvChanges): Env {
  const out: Env = { ...env };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete out[name];
    else out[name] = value;
  }
  return out;
}

/** The minimal changes that turn the `current` environment into `target`. */
export function changesBetween(current: Env, target: Env): EnvChanges {
  return diffEnv(current, target).next;
}

/** Serialise a diff; JSON has no `undefined`, so unset is `null`. */
export function encodeDiff(diff: EnvDiff): string {
  // Sorted, so that equal diffs serialise (and hash) alike whatever order the environment came in.
  const nulls = (changes: EnvChanges) => Object.fromEntries(Object.keys(changes).sort().map((k) => [k, changes[k] ?? null]));
  return JSON.stringify({ prev: nulls(diff.prev), next: nulls(diff.next) });
}

export function decodeDiff(text: string): EnvDiff | undefined {
  try {
    const raw = JSON.parse(text) as { prev?: Record<string, string | null>; next?: Record<string, string | null> };
    if (!raw || typeof raw.prev !== 'object' || typeof raw.next !== 'object') return undefined;
    const undef = (changes: Record<string, string | null>): EnvChanges =>
      Object.fromEntries(Object.entries(changes).map(([k, v]) => [k, typeof v === 'string' ? v : undefined]));
    return { prev: undef(raw.prev), next: undef(raw.next) };
  } catch {
    return undefined;
  }
}
