import { existsSync, statSync } from 'node:fs';
import {
  applyChanges,
  cachePaths,
  contextNameProblem,
  contextPaths,
  printable,
  readText,
  sharedContextDir,
  diffEnv,
  encodeDiff,
  knob,
  readContextRecord,
  readJson,
  registerUnloadHook,
  writeFileAtomic,
  type CachePaths,
  type Context,
  type Env,
} from '@ws/core';
import { fileIdentity, inspectBuild, readBuildLog, startBuild, waitForBuild, type BuildRequest, type BuildResult } from './build.js';
import { sameApproval, type ContextGate } from './trust-gate.js';
import { reloadTime } from './control.js';
import { boundedLog, markWaiting, takeWaiting } from './waiting.js';

export interface LoadInput {
  home: string;
  ctx: Context;
  /** The root's own context directory and its cache paths. */
  dir: string;
  /** The directory of the context the root belongs to: `dir`, or the shared one its last evaluation declared (docs/contexts.md). */
  ctxDir: string;
  paths: CachePaths;
  /** The shell's environment, and that environment without what ws applied. */
  current: Env;
  base: Env;
  /** The root of the context the shell had loaded, if any. */
  previousRoot: string | undefined;
  wsVars: Env;
  localFile: string | undefined;
  /** What the trust gate approved: handed to the build unchanged. */
  approved: Extract<ContextGate, { kind: 'approved' }>;
  env: NodeJS.ProcessEnv;
  exporter: string;
  /** The shell being served, and whether its hook applies background results on SIGUSR1. */
  pid: number;
  live: boolean;
  /** Aborted by Ctrl-C: stop waiting. */
  interrupted?: AbortSignal;
  /** Where the waiting progress line goes (a terminal), if anywhere. */
  progress?: (text: string) => void;
  now: Date;
  /** `ws-export adopt`: the id of the cold entry's build, the only build it may take (it never starts one). */
  adopting?: string;
  /** Where the build's log goes, a line that is always shown, one that WS_LOG_FORMAT may silence. */
  err: (text: string) => void;
  fail: (line: string) => void;
  info: (text: string) => void;
}

export interface Loaded {
  /** `moved` (adopt only): the cold entry's build is not what a fresh export would use. */
  state: 'ready' | 'building' | 'error' | 'moved';
  target: Env;
  /** What the build read (watch_file…), the trees and patterns it watches, and paths watched only while it runs. */
  watches: string[];
  trees: string[][];
  extraWatches: string[];
  /** A ready build: the shared context its file declared (ws_context), if any, and that context's directory. */
  context?: string;
  ctxDir: string;
}

/**
 * The environment of the context from a build: the build's result applied to
 * this shell's base if it succeeded; while it runs, or after a failure, the
 * last good environment.
 */
export async function loadFromBuild(input: LoadInput): Promise<Loaded> {
  const { ctx, paths, base, wsVars } = input;
  const outcome = await obtainBuild(input);
  if (outcome.kind === 'moved') return { state: 'moved', target: base, watches: [], trees: [], extraWatches: [], ctxDir: input.ctxDir };
  if (outcome.kind === 'pending') {
    input.info(`building ${ctx.name} in the background…`);
    // When it is over this shell is shown its output, and signalled if its hook applies it live.
    markWaiting(paths.dir, input.pid, input.live);
    return { state: 'building', target: lastGood(input), watches: [], trees: [], extraWatches: [paths.buildStatus, '', ''], ctxDir: input.ctxDir };
  }
  const { request, result } = outcome;
  // A build this process waited for shows all its output, as a foreground build does; one that
  // finished in the background shows its last lines to the shell that waited for it.
  const waited = takeWaiting(paths.dir, input.pid);
  const log = outcome.showLog ? readBuildLog(paths, request) : waited ? boundedLog(readBuildLog(paths, request)) : '';
  input.err(log);
  const fresh = { ...request.base, ...request.wsVars };
  // ws_context NAME switched WS_CONTEXT and WS_STATE_DIR to the shared context's (stdlib.bash).
  const declared = result.ok ? readText(paths.buildContext) : undefined;
  const declaredProblem = declared !== undefined ? contextNameProblem(declared) : undefined;
  const ctxDir = declared !== undefined && !declaredProblem ? sharedContextDir(input.home, declared) : input.dir;
  const expected = declared !== undefined && !declaredProblem ? { ...fresh, WS_CONTEXT: declared, WS_STATE_DIR: contextPaths(ctxDir).data } : fresh;
  const problem = declaredProblem ? `ws_context: refused name ${printable(JSON.stringify(declared))}: ${declaredProblem}` : result.ok ? wsViolation(result.env!, expected) : undefined;
  if (!result.ok || problem) {
    if (!log) input.err(boundedLog(readBuildLog(paths, request)));
    input.fail(problem ? `ws: ${ctx.file}: ${problem}` : failureLine(ctx, result));
    return { state: 'error', target: lastGood(input), watches: result.watches, trees: result.trees ?? [], extraWatches: [], ctxDir: input.ctxDir };
  }
  const target = recordLoad({ paths, dir: input.dir, ctxDir, base, wsVars, request, result, now: input.now });
  return { state: 'ready', target, watches: result.watches, trees: result.trees ?? [], extraWatches: [], context: declared, ctxDir };
}

/**
 * A successful build loaded by a shell: its environment on the shell's base
 * (the build ran on the base of the shell that started it: what it changed
 * applies to ours), recorded as the last good one and the loaded one, and
 * its unload hooks registered in the context it belongs to. Returns that environment.
 */
export function recordLoad(load: { paths: CachePaths; dir: string; ctxDir: string; base: Env; wsVars: Env; request: BuildRequest; result: BuildResult; now: Date }): Env {
  const { paths, ctxDir, base, request, result } = load;
  const target = applyChanges({ ...base, ...load.wsVars }, diffEnv({ ...request.base, ...request.wsVars }, result.env!).next);
  writeFileAtomic(paths.lastGood, encodeDiff(diffEnv(base, target)));
  writeFileAtomic(paths.loadedEnv, JSON.stringify(target));
  // A shared context's unload runs its hooks with the environment a root last loaded.
  if (ctxDir !== load.dir) writeFileAtomic(cachePaths(ctxDir).loadedEnv, JSON.stringify(target));
  for (const hook of result.hooks) registerUnloadHook(ctxDir, hook, load.now);
  return target;
}

type BuildOutcome = { kind: 'pending' } | { kind: 'moved' } | { kind: 'done'; request: BuildRequest; result: BuildResult; showLog: boolean };

/**
 * Gets a build result for the context: a finished build that is still valid,
 * else the running one (shared by every shell entering meanwhile), else a new
 * one. Waits until WS_BUILD_TIMEOUT ms after this process started, then
 * leaves the build running in the background.
 */
async function obtainBuild(input: LoadInput): Promise<BuildOutcome> {
  const started = Date.now();
  // With nothing useful to show meanwhile (no last good environment), wait longer, visibly.
  const timeout = knob(input.env, 'WS_BUILD_TIMEOUT');
  const waitMs = hasLastGood(input) ? timeout : Math.max(timeout, knob(input.env, 'WS_BUILD_WAIT') * 1000);
  const deadline = started + waitMs;
  const progress = progressLine(input, started);
  try {
    return await obtainUntil(input, deadline, progress.update);
  } finally {
    progress.clear();
  }
}

/** A wait this long (ms) on a terminal shows the progress line (here and in cold.bash). */
export const PROGRESS_AFTER_MS = 250;

/** The one-line progress indicator on a terminal, shown once a wait passes a quarter of a second. */
function progressLine(input: LoadInput, started: number): { update: () => void; clear: () => void } {
  let shown = false;
  let last = 0;
  return {
    update: () => {
      const now = Date.now();
      if (!input.progress || now - started < PROGRESS_AFTER_MS || now - last < 100) return;
      last = now;
      shown = true;
      input.progress(`\r\x1b[Kws: building ${input.ctx.name}… ${((now - started) / 1000).toFixed(1)} s — Ctrl-C to continue in the background`);
    },
    clear: () => {
      if (shown) input.progress?.('\r\x1b[K');
    },
  };
}

/** The shell has this context loaded, or the context has a last good environment to show. */
function hasLastGood(input: LoadInput): boolean {
  return input.previousRoot === input.ctx.root || existsSync(input.paths.lastGood);
}

async function obtainUntil(input: LoadInput, deadline: number, onWait: () => void): Promise<BuildOutcome> {
  const { home, ctx, paths, base, wsVars, localFile, approved } = input;
  // Same inputs, and approved the same way: a build of other content, or an old one without an approval, runs again.
  const matches = (r: BuildRequest | undefined) =>
    r !== undefined &&
    r.file === ctx.file &&
    (r.local ?? '') === (localFile ?? '') &&
    r.wsVars.WS_ENV === wsVars.WS_ENV &&
    r.root === ctx.root &&
    sameApproval(r.fileApproval, approved.file) &&
    sameApproval(r.local ? r.localApproval : undefined, localFile ? approved.local : undefined);
  // Builds from before the last unload or `ws-export reload` are void.
  const unloadedAt = Math.max(unloadTime(input.dir), unloadTime(input.ctxDir), reloadTime(input.dir));
  // adopt judges the cold entry's build as its own: taken as it is, or not at all.
  let ours = input.adopting;
  let builds = 0;
  for (;;) {
    const state = inspectBuild(paths);
    if (input.adopting && (state.kind !== 'done' || state.request.id !== ours)) return { kind: 'moved' };
    if (state.kind === 'done') {
      const mine = state.request.id === ours;
      // Ours, or another's made for the same inputs, after the last unload, on a base that agrees.
      const usable =
        matches(state.request) &&
        state.request.started > unloadedAt &&
        // One whose results a full disk cut short is shown only to whoever started it.
        (!state.result.retry || mine) &&
        // An input changed during the build: one more build, then take it (a file the
        // build itself writes would otherwise make every build stale).
        (!inputsChangedSince(state.request, state.result) || (mine && builds >= 2)) &&
        (mine || sameBaseWhereItMatters(state, base));
      // (cold.bash showed the cold build's log already.)
      if (usable) return { kind: 'done', request: state.request, result: state.result, showLog: ours !== undefined && !input.adopting };
      if (input.adopting) return { kind: 'moved' };
    }
    if (state.kind !== 'running') {
      // None yet, a stale one, or another environment's: start ours (an input that changed
      // during our own build makes exactly one more).
      const request = {
        root: ctx.root,
        name: ctx.name,
        file: ctx.file,
        local: localFile,
        fileApproval: approved.file,
        ...(localFile && approved.local ? { localApproval: approved.local } : {}),
        base,
        wsVars,
      };
      const replaces = state.kind === 'done' ? state.request.id : undefined;
      const started = startBuild({ home, paths, exporter: input.exporter, env: input.env, request, replaces });
      if (started) {
        ours = started.id;
        builds++;
      }
    }
    // The timeout counts from our arrival: then (or on Ctrl-C) the build goes on in the background.
    if (Date.now() >= deadline || input.interrupted?.aborted) return { kind: 'pending' };
    onWait();
    await waitForBuild(paths, Math.min(deadline, Date.now() + 50));
    if (state.kind === 'done' && inspectBuild(paths).kind === 'done' && ours === undefined) {
      // A finished build we may not use and could not replace (the lock was busy): wait a little.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

/**
 * True if an input of a finished build changed since the build read it: a
 * watched file whose identity differs from what watch_file recorded, or the
 * workspace files changed (ctime: `cp -p` and `touch -d` cannot fake it)
 * after the build started.
 */
function inputsChangedSince(request: BuildRequest, result: BuildResult): boolean {
  for (const path of [request.file, ...(request.local ? [request.local] : [])]) {
    try {
      if (statSync(path).ctimeMs >= request.started) return true;
    } catch {
      return true;
    }
  }
  // A watch_dir tree or watch_file pattern was listed after the build: anything in it changed since the build started.
  for (const path of result.trees?.flat() ?? []) {
    try {
      if (statSync(path).ctimeMs >= request.started) return true;
    } catch {
      /* gone: its directory changed, and is in the list */
    }
  }
  for (const path of result.watches) {
    const seen = result.watchStats[path];
    if (seen !== undefined) {
      if (fileIdentity(path) !== seen) return true;
      continue;
    }
    try {
      if (statSync(path).ctimeMs >= request.started) return true;
    } catch {
      /* absent, and nothing recorded: the shell's stamps catch it appearing */
    }
  }
  return false;
}

/**
 * A finished build may serve a shell whose base environment agrees on every
 * variable the build changed (PATH, say); otherwise the file must run again.
 */
function sameBaseWhereItMatters(build: { request: BuildRequest; result: BuildResult }, base: Env): boolean {
  if (!build.result.ok) return true;
  const changed = diffEnv({ ...build.request.base, ...build.request.wsVars }, build.result.env!).next;
  return Object.keys(changed).every((name) => name.startsWith('WS_') || build.request.base[name] === base[name]);
}

/** When the context was last unloaded (0 if it is not unloaded): builds from before it are void. */
function unloadTime(dir: string): number {
  if (readContextRecord(dir)?.state !== 'unloaded') return 0;
  try {
    return statSync(contextPaths(dir).record).mtimeMs;
  } catch {
    return 0;
  }
}

/** A workspace file may not set or unset WS_* names; returns the complaint, if any. */
function wsViolation(result: Env, expected: Env): string | undefined {
  for (const name of new Set([...Object.keys(result), ...Object.keys(expected)])) {
    if (!name.startsWith('WS_') || name === 'WS_DIFF') continue;
    if (result[name] === expected[name]) continue;
    return result[name] === undefined ? `may not unset ${name} (WS_* variables belong to ws)` : `may not set ${name} (WS_* variables belong to ws)`;
  }
  return undefined;
}

function failureLine(ctx: Context, evaluation: BuildResult): string {
  if (evaluation.failAt === 'cancelled') return `ws: the build of ${ctx.name} was cancelled; keeping the last good environment`;
  if (evaluation.retry) return `ws: no space left in the state home to build ${ctx.name}; keeping the last good environment`;
  const where = evaluation.failAt && !evaluation.failAt.endsWith(':') ? evaluation.failAt : ctx.file;
  return `ws: ${where}: failed with exit status ${evaluation.status}; keeping the last good environment`;
}

/** The last environment a context evaluated successfully: what it changed, relative to its base. */
type LastGood = { prev: Record<string, string | null>; next: Record<string, string | null> };

/**
 * While building or after a failure: keep what is loaded if it is this
 * context, else its last good result, else just the WS_* variables (the
 * shell is in the context and counts as its user all the same).
 */
function lastGood({ ctx, paths, base, current, previousRoot, wsVars }: LoadInput): Env {
  if (previousRoot === ctx.root) {
    const kept = { ...current };
    delete kept.WS_DIFF;
    return kept;
  }
  const record = readJson<LastGood>(paths.lastGood);
  if (!record?.next) return { ...base, ...wsVars };
  const next = Object.fromEntries(Object.entries(record.next).map(([k, v]) => [k, v ?? undefined]));
  return applyChanges(base, next);
}
