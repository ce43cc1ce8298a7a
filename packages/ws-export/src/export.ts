import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  cachePaths,
  clearStaleLock,
  contextDirOf,
  CONTENT_CHECK_MAX,
  changesBetween,
  colorsFor,
  contextDir,
  contextDirFor,
  contextDirOfStateDir,
  contextPaths,
  diffEnv,
  emitEvent,
  ensureDir,
  ensureReaper,
  ensureStateHome,
  findContext,
  isNoSpace,
  LOCAL_FILE,
  printable,
  markContextEntry,
  markContextIdEntry,
  readContextRecord,
  sharedContextDir,
  sharedNameOf,
  nearestShell,
  registerUser,
  sha256,
  unregisterUser,
  wakeReaper,
  WORKSPACE_FILE,
  writeContextRecord,
  writeFileAtomic,
  type Approval,
  type Colors,
  type ContextState,
  type Env,
  type Shell,
  type WatchedContent,
  waitForAdopt,
} from '@ws/core';
import { adoptMoved } from './adopt.js';
import { baseOf, loadApplied, saveApplied } from './applied.js';
import { coldScript } from './cold.js';
import { exportWithoutSpace } from './no-space.js';
import { loadFromBuild } from './obtain.js';
import { renderOutput, summary } from './shell-output.js';
import { makeStamps, pruneStamps } from './stamps.js';
import { gateContext, trustWatches } from './trust-gate.js';

export interface ExportOptions {
  format: Shell | 'nu' | 'json';
  /** With json: bytes that are not UTF-8 as `\udcNN` escapes (renderJson). */
  bytes?: boolean;
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
  /** `ws-export adopt`: the bookkeeping of a cold entry (cold.bash) whose build has this id; it clears the build lock cold.bash left. */
  adopting?: string;
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
  try {
    return await exportOnce(opts);
  } catch (error) {
    // A full disk: still a document, and one line (no-space.ts).
    if (isNoSpace(error)) return exportWithoutSpace(opts, error as Error);
    throw error;
  }
}

async function exportOnce(opts: ExportOptions): Promise<string> {
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
  // A cold entry of this shell still being adopted: served after it (docs/hook.md "The cold path").
  if (applied && !opts.adopting) waitForAdopt(contextDirOf(home, applied.key.split('/')[0]), pid);
  // The context directory the shell is a user of: a shared one is named by the WS_STATE_DIR it has loaded (docs/contexts.md).
  const previousDir = previousRoot ? (contextDirOfStateDir(home, applied?.diff.next.WS_STATE_DIR) ?? contextDirFor(home, previousRoot)) : undefined;

  const ctx = findContext({ env: current, cwd: opts.cwd, warn: say });
  // adopt answers for the cold entry's build only (adopt.ts): anything else is the next prompt's.
  const moved = () => adoptMoved({ home, env, root: previousRoot, base, build: opts.adopting!, now });
  if (opts.adopting && (!previousRoot || ctx?.root !== previousRoot)) return moved();
  let target: Env = base;
  let state: ContextState | '' = '';
  let watches: string[] = [];
  let contents: WatchedContent[] = [];
  let valid = '';
  let joined = false;
  let keptUser = false;
  // watch_dir trees and watch_file patterns, as listed after the build.
  let trees: string[][] = [];

  const source = { context: ctx?.name ?? '', root: ctx?.root ?? '' };
  // The directory of the context the shell is in: the root's own, or the shared one it declared (ws_context).
  let dir: string | undefined;
  if (ctx) {
    // The root's own directory keeps its builds, cache and entry scripts, shared or not.
    const rootDir = contextDir(home, ctx.root);
    const paths = cachePaths(rootDir);
    // cold.bash leaves its build lock to be broken once it has exited.
    if (opts.adopting) clearStaleLock(paths.buildLock);
    const pointer = sharedNameOf(home, ctx.root);
    let shared = pointer;
    dir = shared ? sharedContextDir(home, shared) : rootDir;
    // Tells a concurrent ws-gc that this context is being entered (docs/state-home.md).
    markContextEntry(home, ctx.root, now);
    if (dir !== rootDir) markContextIdEntry(home, basename(dir), now);
    const local = basename(ctx.file) === WORKSPACE_FILE ? join(ctx.root, LOCAL_FILE) : undefined;
    const localFile = local && existsSync(local) ? local : undefined;
    // Whatever decides trust is watched, so that ws-allow takes effect at the next prompt.
    watches = [ctx.file, join(ctx.root, WORKSPACE_FILE), ...(local ? [local] : [])];
    const gate = gateContext(home, ctx.file, localFile, env);
    const trust = trustWatches(home, [ctx.file, ...(localFile ? [localFile] : [])], gate);
    watches.push(...trust.watches);
    // What the gate compared, the content, is compared by the hook too (not only mtimes).
    contents = [ctx.file, ...(localFile ? [localFile] : [])].flatMap((file, i) => watchedContent(file, gate.kind === 'approved' ? (i ? gate.local : gate.file) : undefined));
    let extraWatches: string[] = [];
    if (gate.kind === 'blocked' && opts.adopting) return moved();
    if (gate.kind === 'blocked') {
      say(gate.message);
      state = 'blocked';
    } else {
      // The build starts with the root's own; ws_context switches WS_CONTEXT and WS_STATE_DIR (stdlib.bash).
      const wsVars: Env = {
        WS_ROOT: ctx.root,
        WS_CONTEXT: ctx.name,
        WS_STATE_DIR: contextPaths(rootDir).data,
        WS_ENV: opts.envName || base.WS_ENV || 'default',
      };
      ensureDir(wsVars.WS_STATE_DIR!);
      const loaded = await loadFromBuild({
        home,
        ctx,
        dir: rootDir,
        ctxDir: dir,
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
        adopting: opts.adopting,
      });
      if (loaded.state === 'moved') return moved();
      ({ state, target } = loaded);
      watches.push(...loaded.watches);
      trees = loaded.trees;
      extraWatches = loaded.extraWatches;
      if (state === 'ready' && loaded.ctxDir !== dir) {
        // The file declared another context (or none any more): the root moves to it now.
        shared = loaded.context;
        dir = loaded.ctxDir;
        markContextIdEntry(home, basename(dir), now);
      }
    }
    if (shared) source.context = shared;
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
    const fields = { root: ctx.root, name: ctx.name, file: ctx.file, state: state as ContextState, env: target.WS_ENV ?? base.WS_ENV ?? 'default' };
    writeContextRecord(rootDir, { ...fields, ...(shared ? { context: shared } : {}) }, now);
    if (shared && state !== 'blocked') {
      const roots = readContextRecord(dir)?.roots ?? [];
      writeContextRecord(dir, { ...fields, name: shared, roots: roots.includes(ctx.root) ? roots : [...roots, ctx.root] }, now);
    }
    if (pointer && pointer !== shared) {
      // Moved out: the old shared context no longer lists this root (it unloads when its last user leaves).
      const old = sharedContextDir(home, pointer);
      const record = readContextRecord(old);
      if (record?.roots) writeContextRecord(old, { ...record, roots: record.roots.filter((r) => r !== ctx.root) }, new Date(record.lastUsed));
    }
    if (state === 'ready') emitEvent(home, 'context.load', source, { env: target.WS_ENV, file: ctx.file }, env, now);
    const stamps = paths.stampSet(now.getTime(), process.pid);
    watches = [...makeStamps(stamps.dir, watches, trust.existence, trees), ...extraWatches];
    // A ready result is void once its stamp directory is gone (an unload, a prune). A stamp
    // pair in it says so already (`-ot HI` fails without HI): the marker is one stat more per prompt.
    const bracketed = watches.some((lo, i) => i % 3 === 1 && lo.startsWith(`${stamps.dir}/`));
    if (state === 'ready' && !bracketed) {
      valid = stamps.valid;
      writeFileAtomic(valid, '');
    }
    pruneStamps(paths.stamps);
  }

  if (previousRoot && previousDir && (!joined || previousDir !== dir)) {
    const left = unregisterUser(previousDir, pid);
    // The watcher looks now: the context may have lost its last user.
    if (left) wakeReaper(home, previousDir);
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

  // bash and zsh take the cold path unless WS_COLD_PATH=0 (docs/hook.md "The cold path").
  const cold = (opts.format === 'bash' || opts.format === 'zsh') && env.WS_COLD_PATH !== '0' ? coldScript(home) : undefined;
  return renderOutput({ format: opts.format, bytes: opts.bytes, cold, home, ctx, ctxDir: dir, source, state, watches, contents, valid, current, base, target, changes });
}

/**
 * A workspace file's content for the hook's content check (watchCheck): none
 * for a file too large to copy into the shell, or whose bytes a shell
 * variable would not hold exactly (NUL, not UTF-8) — those are checked by
 * mtime only; `text` undefined if it changed since the trust gate approved
 * it (the hook then asks again at the next prompt).
 */
function watchedContent(file: string, approval: Approval | undefined): WatchedContent[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return [{ path: file, text: undefined }];
  }
  if (bytes.length > CONTENT_CHECK_MAX || bytes.includes(0)) return [];
  const text = bytes.toString('utf8');
  if (!Buffer.from(text).equals(bytes)) return [];
  if (approval?.kind === 'allowed' && sha256(bytes) !== approval.sha256) return [{ path: file, text: undefined }];
  return [{ path: file, text }];
}
