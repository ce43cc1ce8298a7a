import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  cachePaths,
  changesBetween,
  colorsFor,
  contextDir,
  contextPaths,
  diffEnv,
  emitEvent,
  ensureReaper,
  ensureStateHome,
  findContext,
  LOCAL_FILE,
  printable,
  markContextEntry,
  nearestShell,
  registerUser,
  unregisterUser,
  wakeReaper,
  WORKSPACE_FILE,
  writeContextRecord,
  writeFileAtomic,
  type Colors,
  type ContextState,
  type Env,
  type Shell,
} from '@ws/core';
import { baseOf, loadApplied, saveApplied } from './applied.js';
import { loadFromBuild } from './obtain.js';
import { renderOutput, summary } from './shell-output.js';
import { makeStamps, pruneStamps } from './stamps.js';
import { gateContext, trustWatches } from './trust-gate.js';

export interface ExportOptions {
  format: Shell | 'nu' | 'json';
  pid?: number;
  envName?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Absolute path of ws-export itself. */
  exporter: string;
  err: (text: string) => void;
  /** Colors for stderr (cli.ts decides from the stream); default none. */
  errColors?: Colors;
  /** Aborted by Ctrl-C: stop waiting, the build goes on in the background. */
  interrupted?: AbortSignal;
  /** Where a waiting progress line goes (stderr on a terminal); none: no progress line. */
  progress?: (text: string) => void;
  /** The shell's hook applies a background result on SIGUSR1. */
  live?: boolean;
  now?: Date;
}

/**
 * Computes what the shell must run to have the environment of the context
 * for its current directory: revert what WS_DIFF says was applied, pass the
 * context's workspace file through the trust gate, build it (in the
 * background if it takes long), and print the difference.
 * Never throws for a blocked or broken workspace file: a prompt must not break.
 */
export async function exportEnv(opts: ExportOptions): Promise<string> {
  const { env, err } = opts;
  const now = opts.now ?? new Date();
  const color = opts.errColors ?? colorsFor({}, env);
  const say = (text: string) => err(`${printable(text)}\n`);
  // Informational lines follow WS_LOG_FORMAT like the stdlib's log_status (empty = quiet); errors always show.
  const format = env.WS_LOG_FORMAT ?? 'ws: %s';
  const info = (text: string) => format && err(`${format.replace('%s', printable(text))}\n`);
  const home = ensureStateHome(env);
  const current: Env = { ...env };

  const applied = loadApplied(home, current.WS_DIFF);
  if (current.WS_DIFF && !applied) say(`ws: the record of the loaded environment (${current.WS_DIFF}) is gone; keeping its variables`);
  const base = baseOf(current, applied);
  const previousRoot = applied?.root;
  const pid = opts.pid ?? nearestShell();

  const ctx = findContext({ env: current, cwd: opts.cwd, warn: say });
  let target: Env = base;
  let state: ContextState | '' = '';
  let watches: string[] = [];
  let valid = '';
  let joined = false;
  let keptUser = false;
  // watch_dir trees and watch_file patterns, as listed after the build.
  let trees: string[][] = [];

  const source = { context: ctx?.name ?? '', root: ctx?.root ?? '' };
  if (ctx) {
    const dir = contextDir(home, ctx.root);
    const paths = cachePaths(dir);
    // Tells a concurrent ws-gc that this context is being entered (docs/state-home.md).
    markContextEntry(home, ctx.root, now);
    const local = basename(ctx.file) === WORKSPACE_FILE ? join(ctx.root, LOCAL_FILE) : undefined;
    const localFile = local && existsSync(local) ? local : undefined;
    // Whatever decides trust is watched, so that ws-allow takes effect at the next prompt.
    watches = [ctx.file, join(ctx.root, WORKSPACE_FILE), ...(local ? [local] : [])];
    const gate = gateContext(home, ctx.file, localFile, env);
    const trust = trustWatches(home, [ctx.file, ...(localFile ? [localFile] : [])], gate.kind === 'blocked');
    watches.push(...trust.watches);
    let extraWatches: string[] = [];
    if (gate.kind === 'blocked') {
      say(gate.message);
      state = 'blocked';
    } else {
      const wsVars: Env = {
        WS_ROOT: ctx.root,
        WS_CONTEXT: ctx.name,
        WS_STATE_DIR: contextPaths(dir).data,
        WS_ENV: opts.envName || base.WS_ENV || 'default',
      };
      mkdirSync(wsVars.WS_STATE_DIR!, { recursive: true, mode: 0o700 });
      const loaded = await loadFromBuild({
        home,
        ctx,
        dir,
        paths,
        current,
        base,
        previousRoot,
        wsVars,
        localFile,
        env,
        now,
        err,
        approved: gate,
        exporter: opts.exporter,
        pid,
        live: opts.live ?? false,
        interrupted: opts.interrupted,
        progress: opts.progress,
        fail: (line) => err(`${color.red(printable(line))}\n`),
        info,
      });
      ({ state, target } = loaded);
      watches.push(...loaded.watches);
      trees = loaded.trees;
      extraWatches = loaded.extraWatches;
    }
    if (state === 'blocked') {
      // A shell whose prompt is still inside the root stays its user while the
      // file is blocked (an edit before ws-allow must not tear the project's
      // services down); its environment is reverted all the same.
      keptUser = previousRoot === ctx.root;
      joined = keptUser;
    } else {
      // The shell uses this context (possibly its last good environment).
      joined = target.WS_ROOT === ctx.root;
      const record = joined ? registerUser(dir, pid, now) : undefined;
      if (record) emitEvent(home, 'user.join', source, { pid, shell: record.shell, tty: record.tty }, env, now);
      if (joined) ensureReaper(home, env);
      // A running watcher reads the new record now, not at its next look at the directories.
      if (record) wakeReaper(home, dir);
    }
    writeContextRecord(dir, { root: ctx.root, name: ctx.name, file: ctx.file, state: state as ContextState, env: target.WS_ENV ?? base.WS_ENV ?? 'default' }, now);
    if (state === 'ready') emitEvent(home, 'context.load', source, { env: target.WS_ENV, file: ctx.file }, env, now);
    const stamps = paths.stampSet(now.getTime(), process.pid);
    watches = [...makeStamps(stamps.dir, watches, trust.existence, trees), ...extraWatches];
    if (state === 'ready') {
      valid = stamps.valid;
      writeFileAtomic(valid, '');
    }
    pruneStamps(paths.stamps);
  }

  if (previousRoot && (!joined || previousRoot !== ctx?.root)) {
    const left = unregisterUser(contextDir(home, previousRoot), pid);
    // The watcher looks now: the context may have lost its last user.
    if (left) wakeReaper(home, contextDir(home, previousRoot));
    if (left) emitEvent(home, 'user.leave', { root: previousRoot, context: applied?.diff.next.WS_CONTEXT ?? basename(previousRoot) }, { pid }, env, now);
  }

  // Record what is applied (relative to the base) so the next export can undo it.
  if (target.WS_ROOT) target.WS_DIFF = saveApplied(home, target.WS_ROOT, diffEnv(base, target));
  // Blocked, but still its user: an empty record of this context says so to the next export.
  else if (keptUser && ctx) target.WS_DIFF = saveApplied(home, ctx.root, diffEnv(base, target));
  else delete target.WS_DIFF;
  const changes = changesBetween(current, target);
  if (current.WS_DIFF !== target.WS_DIFF) changes.WS_DIFF = target.WS_DIFF;

  const text = summary(changes, current);
  if (previousRoot && previousRoot !== target.WS_ROOT) info('unloading');
  if (target.WS_ROOT && text) info(`export ${text}`);

  return renderOutput({ format: opts.format, home, ctx, source, state, watches, valid, current, base, target, changes });
}
