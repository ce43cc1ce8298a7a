import {
  applyChanges,
  cachePaths,
  changesBetween,
  contextDir,
  diffEnv,
  ensureReaper,
  findContext,
  nearestShell,
  printable,
  readJson,
  registerUser,
  renderJson,
  renderNu,
  renderShell,
  stateHomePath,
  unregisterUser,
  type Env,
  type ShellLocals,
} from '@ws/core';
import { baseOf, loadApplied, saveApplied } from './applied.js';
import { COMPLETE } from './shell-output.js';
import type { ExportOptions } from './export.js';

/**
 * What ws-export prints when the state home has no space left (ENOSPC,
 * EDQUOT from any write of an evaluation): still a complete document, the
 * environment the shell can have without writing anything, and one line
 * saying so (docs/reliability.md, "Full disk"):
 *   - the shell has this context loaded: it keeps it;
 *   - else the context's last good environment, if its record of what is
 *     applied (WS_DIFF) exists or can still be written — without it the next
 *     export could not undo it;
 *   - else none: the base environment (leaving a context needs no space).
 * The hook's variables make the next prompt run ws-export again, so the fresh
 * environment is applied as soon as there is room.
 */
export function exportWithoutSpace(opts: ExportOptions, cause: Error): string {
  const { env } = opts;
  const home = stateHomePath(env);
  const current: Env = { ...env };
  const applied = loadApplied(home, current.WS_DIFF);
  const base = baseOf(current, applied);
  const ctx = findContext({ env: current, cwd: opts.cwd, warn: () => {} });
  let target: Env = base;
  let kept = 'no environment loaded';
  if (ctx && applied?.root === ctx.root) {
    target = current;
    kept = `keeping the loaded environment of ${ctx.name}`;
  } else if (ctx) {
    const record = readJson<{ next?: Record<string, string | null> }>(cachePaths(contextDir(home, ctx.root)).lastGood);
    const next = record?.next && typeof record.next === 'object' ? Object.fromEntries(Object.entries(record.next).map(([k, v]) => [k, v ?? undefined])) : undefined;
    const candidate = next ? applyChanges(base, next) : undefined;
    if (candidate?.WS_ROOT === ctx.root) {
      try {
        candidate.WS_DIFF = saveApplied(home, ctx.root, diffEnv(base, candidate));
        target = candidate;
        kept = `loading the last good environment of ${ctx.name}`;
      } catch {
        /* not even that record fits: nothing loaded */
      }
    }
  }
  if (ctx && target.WS_ROOT === ctx.root) {
    // Still its user if that fits (a user record is small), so that no unload happens under the shell.
    try {
      registerUser(contextDir(home, ctx.root), opts.pid ?? nearestShell(), new Date());
      ensureReaper(home, env);
    } catch {
      /* kept all the same */
    }
  }
  if (applied?.root && applied.root !== target.WS_ROOT) {
    try {
      unregisterUser(contextDir(home, applied.root), opts.pid ?? nearestShell());
    } catch {
      /* the reaper notices the shell's exit */
    }
  }
  if (!target.WS_ROOT) delete target.WS_DIFF;
  const changes = changesBetween(current, target);
  if (current.WS_DIFF !== target.WS_DIFF) changes.WS_DIFF = target.WS_DIFF;
  const what = (cause as NodeJS.ErrnoException).code === 'EDQUOT' ? 'over its disk quota' : 'no space left on device';
  opts.err(`${printable(`ws: ${what} in the state home ${home}: ${kept}; trying again at the next prompt`)}\n`);
  if (opts.format === 'json') return renderJson(changes, { bytes: opts.bytes });
  // Knobs that never match (no \x1f in them): the hook runs ws-export at the next prompt.
  const locals: ShellLocals = {
    _ws_pwd: '',
    _ws_root: ctx?.root ?? '',
    _ws_name: printable(ctx?.name ?? ''),
    _ws_state: ctx ? 'error' : '',
    _ws_ctxdir: '',
    _ws_knobs: 'no space',
    _ws_ceil: [],
    _ws_valid: '',
    _ws_watch: [],
  };
  if (opts.format === 'nu') return renderNu(changes, locals);
  if (opts.format === 'fish') {
    const { _ws_watch: _watch, ...fishLocals } = locals;
    return `${renderShell('fish', changes, fishLocals)}set -g _ws_watch_test -a '';\n${COMPLETE}`;
  }
  return `${renderShell(opts.format, changes, locals)}_ws_watch_ok() { return 1; }\n${COMPLETE}`;
}
