import { readJson, writeFileAtomic } from '../state/atomic.js';
import { sha256 } from '../state/home.js';
import { servicePaths } from '../state/paths.js';

// The environment a service runs with, the part of it that makes a service
// "changed" (its fingerprint), and env.json, the copy kept for restarts.

/**
 * Variables that differ between terminals and shells of one user, not
 * between configurations of a server: they are passed on but do not make a
 * service "changed". `WS_SERVICE_ENV_IGNORE` (colon-separated, `PREFIX*`
 * allowed) adds more.
 */
const VOLATILE = new Set([
  '_', 'PWD', 'OLDPWD', 'SHLVL', 'COLUMNS', 'LINES', 'TERM', 'COLORTERM', 'TERM_PROGRAM', 'TERM_PROGRAM_VERSION',
  'TMUX', 'TMUX_PANE', 'STY', 'WINDOW', 'WINDOWID', 'TERM_SESSION_ID', 'ITERM_SESSION_ID', 'KITTY_WINDOW_ID',
  'KITTY_PID', 'WEZTERM_PANE', 'ALACRITTY_WINDOW_ID', 'VTE_VERSION', 'SECURITYSESSIONID', 'SSH_TTY', 'GPG_TTY',
  'SSH_CLIENT', 'SSH_CONNECTION', 'SSH_AUTH_SOCK', 'XDG_SESSION_ID', 'XDG_VTNR', 'WS_DIFF', 'WS_USER_PID',
]);

/** The environment a service gets: the caller's, without ws's internal `_WS_*` and `WS_DIFF`. */
export function serviceEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || name.startsWith('_WS_') || name === 'WS_DIFF') continue;
    out[name] = value;
  }
  return out;
}

/** sha256 of what makes a service "the same": argv, cwd and the non-volatile environment. */
export function serviceFingerprint(argv: string[], cwd: string, env: Record<string, string>, ownEnv: NodeJS.ProcessEnv = env): string {
  const extra = (ownEnv.WS_SERVICE_ENV_IGNORE ?? '').split(':').filter(Boolean);
  const ignored = (name: string) => VOLATILE.has(name) || extra.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
  const vars = Object.keys(env)
    .filter((name) => !ignored(name))
    .sort()
    .map((name) => [name, env[name]]);
  return sha256(JSON.stringify({ argv, cwd, env: vars }));
}

/** The environment the service was last started with (env.json), if it is readable. */
export function readSavedEnv(contextDir: string, name: string): Record<string, string> | undefined {
  const saved = readJson<Record<string, string>>(servicePaths(contextDir, name).env);
  return saved && typeof saved === 'object' && !Array.isArray(saved) ? saved : undefined;
}

/** Saves the environment a service is started with (mode 0600: it may hold secrets). */
export const writeSavedEnv = (contextDir: string, name: string, env: Record<string, string>) =>
  writeFileAtomic(servicePaths(contextDir, name).env, `${JSON.stringify(env)}\n`);
