import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  allowRecordPath,
  applyChanges,
  ceilings,
  changesBetween,
  colorsFor,
  contentHash,
  contextDir,
  contextId,
  decodeDiff,
  denyRecordPath,
  diffEnv,
  emitEvent,
  encodeDiff,
  ensureReaper,
  ensureStateHome,
  findContext,
  isTrusted,
  LOCAL_FILE,
  loadedEnvPath,
  markContextEntry,
  nearestShell,
  quotePosix,
  contextRecordPath,
  readContextRecord,
  readJson,
  readText,
  registerUnloadHook,
  registerUser,
  renderJson,
  renderShell,
  revertDiff,
  sha256,
  trustState,
  unregisterUser,
  WORKSPACE_FILE,
  writeContextRecord,
  watchCheck,
  writeFileAtomic,
  type Context,
  type ContextState,
  type Env,
  type EnvDiff,
  type Shell,
  type ShellLocals,
} from '@ws/core';
import { buildStatusPath, fileIdentity, inspectBuild, readBuildLog, startBuild, waitForBuild, type BuildRequest, type BuildResult } from './build.js';
import { makeStamps, pruneStamps } from './stamps.js';
import { writeEnterScript } from './enter-script.js';

export interface ExportOptions {
  format: Shell | 'json';
  pid?: number;
  envName?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Absolute path of ws-export itself. */
  exporter: string;
  err: (text: string) => void;
  now?: Date;
}

/** What the shell has applied, as recorded by WS_DIFF (`<context id>/<sha256>`). */
interface Applied {
  key: string;
  diff: EnvDiff;
  root?: string;
}

function loadApplied(home: string, key: string | undefined): Applied | undefined {
  // `<contextId>/<sha256>`: nothing else, so the key can never reach outside contexts/.
  if (!key || !/^[\w.-]*-[0-9a-f]{12}\/[0-9a-f]{64}$/.test(key) || key.startsWith('.')) return undefined;
  const [id, hash] = key.split('/');
  const diff = decodeDiff(readText(join(home, 'contexts', id, 'cache', 'applied', `${hash}.json`)) ?? '');
  return diff && { key, diff, root: diff.next.WS_ROOT };
}

function saveApplied(home: string, root: string, diff: EnvDiff): string {
  const text = encodeDiff(diff);
  const hash = sha256(text);
  const path = join(contextDir(home, root), 'cache', 'applied', `${hash}.json`);
  if (!existsSync(path)) writeFileAtomic(path, text);
  return `${contextId(root)}/${hash}`;
}

/** The last environment a context evaluated successfully: what it changed, relative to its base. */
interface LastGood {
  diff: { prev: Record<string, string | null>; next: Record<string, string | null> };
}

/** `+A -B ~C` like direnv's summary; WS_* variables are ws's own and left out. */
function summary(changes: Record<string, string | undefined>, before: Env): string {
  return Object.keys(changes)
    .filter((name) => !name.startsWith('WS_'))
    .sort()
    .map((name) => (changes[name] === undefined ? `-${name}` : before[name] === undefined ? `+${name}` : `~${name}`))
    .join(' ');
}

/**
 * Computes what the shell must run to have the environment of the context
 * for its current directory: revert what WS_DIFF says was applied, evaluate
 * the context's workspace file (if allowed), and print the difference.
 * Never throws for a blocked or broken workspace file: a prompt must not break.
 */
export async function exportEnv(opts: ExportOptions): Promise<string> {
  const { env, err } = opts;
  const now = opts.now ?? new Date();
  const color = colorsFor(process.stderr, env);
  const say = (text: string) => err(`${text}\n`);
  // Informational lines follow WS_LOG_FORMAT like the stdlib's log_status (empty = quiet); errors always show.
  const format = env.WS_LOG_FORMAT ?? 'ws: %s';
  const info = (text: string) => format && err(`${format.replace('%s', text)}\n`);
  const home = ensureStateHome(env);
  const current: Env = { ...env };

  const applied = loadApplied(home, current.WS_DIFF);
  if (current.WS_DIFF && !applied) say(`ws: the record of the loaded environment (${current.WS_DIFF}) is gone; keeping its variables`);
  const base: Env = applied ? revertDiff(current, applied.diff) : { ...current };
  delete base.WS_DIFF;
  // WS_ENV is the user's choice: one set after the load survives the revert.
  if (applied && current.WS_ENV !== applied.diff.next.WS_ENV) {
    if (current.WS_ENV === undefined) delete base.WS_ENV;
    else base.WS_ENV = current.WS_ENV;
  }
  const previousRoot = applied?.root;
  const pid = opts.pid ?? nearestShell();

  const ctx = findContext({ env: current, cwd: opts.cwd, warn: say });
  let target: Env = base;
  let state: ContextState | '' = '';
  let watches: string[] = [];
  let valid = '';
  let joined = false;
  const extraWatches: string[] = [];
  let trees: string[][] = [];
  const trustExistence: string[] = [];

  const source = { context: ctx?.name ?? '', root: ctx?.root ?? '' };
  if (ctx) {
    const dir = contextDir(home, ctx.root);
    // Tells a concurrent ws-gc that this context is being entered (docs/state-home.md).
    markContextEntry(home, ctx.root, now);
    const local = basename(ctx.file) === WORKSPACE_FILE ? join(ctx.root, LOCAL_FILE) : undefined;
    const files = [ctx.file, ...(local && existsSync(local) ? [local] : [])];
    // Whatever decides trust is watched, so that ws-allow takes effect at the next prompt.
    watches = [ctx.file, join(ctx.root, WORKSPACE_FILE), ...(local ? [local] : [])];
    const trustRecords = files.flatMap((f) => [allowRecordPath(home, f), denyRecordPath(home, f)]);
    const blocked = checkTrust(home, files, env, say);
    // Allowed: ws-deny removes the allow record or adds a deny record, so existence is enough.
    // Blocked: ws-allow may rewrite an existing record, so watch its mtime too.
    if (blocked) watches.push(...trustRecords);
    else trustExistence.push(...trustRecords);
    if (blocked) {
      state = blocked;
    } else {
      const wsVars: Env = {
        WS_ROOT: ctx.root,
        WS_CONTEXT: ctx.name,
        WS_STATE_DIR: join(dir, 'data'),
        WS_ENV: opts.envName || base.WS_ENV || 'default',
      };
      mkdirSync(wsVars.WS_STATE_DIR!, { recursive: true, mode: 0o700 });
      const cacheDir = join(dir, 'cache');
      const localFile = local && existsSync(local) ? local : undefined;
      // The content that was allowed, which the build verifies before it runs a file.
      const approved = (file: string) => (trustState(home, file, env) === 'allowed' ? contentHash(file) : '');
      const shas = { fileSha: approved(ctx.file), localSha: localFile ? approved(localFile) : '' };
      const outcome = await obtainBuild({ home, ctx, cacheDir, base, wsVars, localFile, shas, opts });
      if (outcome.kind === 'pending') {
        info(`building ${ctx.name} in the background…`);
        state = 'building';
        target = lastGood(home, ctx, base, current, previousRoot, wsVars);
        extraWatches.push(buildStatusPath(cacheDir), '', '');
      } else {
        const { request, result } = outcome;
        if (outcome.showLog) err(readBuildLog(cacheDir));
        watches.push(...result.watches);
        trees = result.trees ?? [];
        const fresh = { ...request.base, ...request.wsVars };
        const problem = result.ok ? wsViolation(result.env!, fresh) : undefined;
        if (result.ok && !problem) {
          // The build ran on the base of the shell that started it; apply what it changed to ours.
          target = applyChanges({ ...base, ...wsVars }, diffEnv(fresh, result.env!).next);
          state = 'ready';
          writeFileAtomic(join(cacheDir, 'last-good.json'), encodeDiff(diffEnv(base, target)));
          writeFileAtomic(loadedEnvPath(dir), JSON.stringify(target));
          for (const hook of result.hooks) registerUnloadHook(dir, hook, now);
        } else {
          if (!outcome.showLog) err(readBuildLog(cacheDir));
          say(color.red(problem ? `ws: ${ctx.file}: ${problem}` : failureLine(ctx, result)));
          state = 'error';
          target = lastGood(home, ctx, base, current, previousRoot, wsVars);
        }
      }
    }
    if (state !== 'blocked') {
      // The shell uses this context (possibly its last good environment).
      const record = target.WS_ROOT === ctx.root ? registerUser(dir, pid, now) : undefined;
      joined = target.WS_ROOT === ctx.root;
      if (record) emitEvent(home, 'user.join', source, { pid, shell: record.shell, tty: record.tty }, env, now);
      if (joined) ensureReaper(home, env);
    }
    writeContextRecord(dir, { root: ctx.root, name: ctx.name, file: ctx.file, state: state as ContextState, env: target.WS_ENV ?? base.WS_ENV ?? 'default' }, now);
    if (state === 'ready') emitEvent(home, 'context.load', source, { env: target.WS_ENV, file: ctx.file }, env, now);
    const stampsRoot = join(dir, 'cache', 'stamps');
    const stampDir = join(stampsRoot, `${String(now.getTime()).padStart(14, '0')}-${process.pid}`);
    watches = [...makeStamps(stampDir, watches, trustExistence, trees), ...extraWatches];
    if (state === 'ready') {
      valid = join(stampDir, 'valid');
      writeFileAtomic(valid, '');
    }
    pruneStamps(stampsRoot);
  }

  if (previousRoot && (!joined || previousRoot !== ctx?.root)) {
    const left = unregisterUser(contextDir(home, previousRoot), pid);
    if (left) emitEvent(home, 'user.leave', { root: previousRoot, context: applied?.diff.next.WS_CONTEXT ?? basename(previousRoot) }, { pid }, env, now);
  }

  // Record what is applied (relative to the base) so the next export can undo it.
  if (target.WS_ROOT) target.WS_DIFF = saveApplied(home, target.WS_ROOT, diffEnv(base, target));
  else delete target.WS_DIFF;
  const changes = changesBetween(current, target);
  if (current.WS_DIFF !== target.WS_DIFF) changes.WS_DIFF = target.WS_DIFF;

  const text = summary(changes, current);
  if (previousRoot && previousRoot !== target.WS_ROOT) info('unloading');
  if (target.WS_ROOT && text) info(`export ${text}`);

  if (opts.format === 'json') return renderJson(changes);
  const shellLocals = locals({ home, ctx, state, watches, valid, current, target });
  let code = renderShell(opts.format, changes, shellLocals);
  if (opts.format !== 'fish') code += `_ws_watch_ok() { ${watchCheck(watches)}; }\n`;
  if (ctx && state === 'ready' && opts.format !== 'fish') {
    // Next time this shell enters from outside, the hook can apply this result itself.
    const applied = diffEnv(base, target);
    const script = writeEnterScript({
      shell: opts.format,
      home,
      contextDir: contextDir(home, ctx.root),
      source,
      prev: applied.prev,
      changes: { ...applied.next, WS_DIFF: target.WS_DIFF },
      locals: shellLocals,
      knobs: [current.WS_WORKSPACE ?? '', current.WS_CEILING_DIRS ?? '', current.WS_ENVRC ?? ''],
      baseWsEnv: base.WS_ENV,
    });
    code +=
      opts.format === 'bash'
        ? `declare -gA _ws_known 2>/dev/null; _ws_known[${quotePosix(ctx.root)}]=${quotePosix(script)};\n`
        : `typeset -gA _ws_known; _ws_known+=(${quotePosix(ctx.root)} ${quotePosix(script)});\n`;
  }
  return code;
}

interface BuildInput {
  home: string;
  ctx: Context;
  cacheDir: string;
  base: Env;
  wsVars: Env;
  localFile: string | undefined;
  shas: { fileSha: string; localSha: string };
  opts: ExportOptions;
}

type BuildOutcome = { kind: 'pending' } | { kind: 'done'; request: BuildRequest; result: BuildResult; showLog: boolean };

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

/**
 * Gets a build result for the context: a finished build that is still valid,
 * else the running one (shared by every shell entering meanwhile), else a new
 * one. Waits until WS_BUILD_TIMEOUT ms after this process started, then
 * leaves the build running in the background.
 */
async function obtainBuild({ home, ctx, cacheDir, base, wsVars, localFile, shas, opts }: BuildInput): Promise<BuildOutcome> {
  const timeout = Number(opts.env.WS_BUILD_TIMEOUT);
  const waitMs = opts.env.WS_BUILD_TIMEOUT && Number.isFinite(timeout) && timeout >= 0 ? timeout : 100;
  const deadline = Date.now() + waitMs;
  const matches = (r: BuildRequest | undefined) =>
    r !== undefined && r.file === ctx.file && (r.local ?? '') === (localFile ?? '') && r.wsVars.WS_ENV === wsVars.WS_ENV && r.root === ctx.root;
  const unloadedAt = unloadTime(home, ctx.root);
  let ours: string | undefined;
  let builds = 0;
  for (;;) {
    const state = inspectBuild(cacheDir);
    if (state.kind === 'done') {
      const mine = state.request.id === ours;
      // Ours, or another's made for the same inputs, after the last unload, on a base that agrees.
      const usable =
        matches(state.request) &&
        state.request.started > unloadedAt &&
        // An input changed during the build: one more build, then take it (a file the
        // build itself writes would otherwise make every build stale).
        (!inputsChangedSince(state.request, state.result) || (mine && builds >= 2)) &&
        (mine || sameBaseWhereItMatters(state, base));
      if (usable) return { kind: 'done', request: state.request, result: state.result, showLog: ours !== undefined };
    }
    if (state.kind !== 'running') {
      // None yet, a stale one, or another environment's: start ours (an input that changed
      // during our own build makes exactly one more).
      const started = startBuild({ home, cacheDir, exporter: opts.exporter, env: opts.env, request: { root: ctx.root, name: ctx.name, file: ctx.file, local: localFile, ...shas, base, wsVars } });
      if (started) {
        ours = started.id;
        builds++;
      }
    }
    // The timeout counts from our arrival: then the build goes on in the background.
    if (Date.now() >= deadline) return { kind: 'pending' };
    await waitForBuild(cacheDir, Math.min(deadline, Date.now() + 50));
    if (state.kind === 'done' && inspectBuild(cacheDir).kind === 'done' && ours === undefined) {
      // A finished build we may not use and could not replace (the lock was busy): wait a little.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

/** When the context was last unloaded (0 if it is not unloaded): builds from before it are void. */
function unloadTime(home: string, root: string): number {
  const path = contextRecordPath(contextDir(home, root));
  if (readContextRecord(contextDir(home, root))?.state !== 'unloaded') return 0;
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** 'blocked' if a file may not run (after saying so), undefined if all may. */
function checkTrust(home: string, files: string[], env: NodeJS.ProcessEnv, say: (text: string) => void): ContextState | undefined {
  for (const file of files) {
    let trusted: boolean;
    try {
      trusted = isTrusted(trustState(home, file, env));
    } catch (error) {
      say(`ws: cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (error as Error).message}`);
      return 'blocked';
    }
    if (!trusted) {
      say(`ws: ${file} is blocked. Run 'ws-allow' to approve its content.`);
      return 'blocked';
    }
  }
  return undefined;
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
  const where = evaluation.failAt && !evaluation.failAt.endsWith(':') ? evaluation.failAt : ctx.file;
  return `ws: ${where}: failed with exit status ${evaluation.status}; keeping the last good environment`;
}

/**
 * While building or after a failure: keep what is loaded if it is this
 * context, else its last good result, else just the WS_* variables (the
 * shell is in the context and counts as its user all the same).
 */
function lastGood(home: string, ctx: Context, base: Env, current: Env, previousRoot: string | undefined, wsVars: Env): Env {
  if (previousRoot === ctx.root) {
    const kept = { ...current };
    delete kept.WS_DIFF;
    return kept;
  }
  const record = readJson<LastGood['diff']>(join(contextDir(home, ctx.root), 'cache', 'last-good.json'));
  if (!record?.next) return { ...base, ...wsVars };
  const next = Object.fromEntries(Object.entries(record.next).map(([k, v]) => [k, v ?? undefined]));
  return applyChanges(base, next);
}

interface LocalsInput {
  home: string;
  ctx: Context | undefined;
  state: ContextState | '';
  watches: string[];
  valid: string;
  current: Env;
  target: Env;
}

/** The hook's own variables: what it compares at the next prompt to skip ws-export. */
function locals({ home, ctx, state, watches, valid, current, target }: LocalsInput): ShellLocals {
  const ceil = [...ceilings(current)];
  const knobs = [current.WS_WORKSPACE, current.WS_CEILING_DIRS, current.WS_ENVRC, target.WS_ENV].map((v) => v ?? '').join('\x1f');
  return {
    _ws_pwd: current.PWD ?? '',
    _ws_root: ctx?.root ?? '',
    _ws_name: ctx?.name ?? '',
    _ws_state: state,
    _ws_ctxdir: ctx ? contextDir(home, ctx.root) : '',
    _ws_knobs: knobs,
    _ws_ceil: ceil,
    _ws_valid: valid,
    _ws_watch: watches,
  };
}
