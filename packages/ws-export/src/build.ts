import { spawn } from 'node:child_process';
import { closeSync, existsSync, lstatSync, renameSync, rmSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import {
  emitEvent,
  encodeBytes,
  ensureDir,
  hasRawBytes,
  formatHolder,
  homePaths,
  isAlive,
  openAppend,
  parseHookList,
  processStartTime,
  readHolder,
  readJson,
  readNulList,
  readText,
  tryLock,
  warn,
  writeFileAtomic,
  type Approval,
  type CachePaths,
  type Env,
  type UnloadHook,
} from '@ws/core';
import { buildProgram } from './cold.js';
import { approvalToken } from './trust-gate.js';
import { expandWatchTrees } from './watch-trees.js';
import { pruneWaiting } from './waiting.js';

/** An unload hook as registered by `on_unload`: a file, a shell command line, or an argv. */
export type HookSpec = UnloadHook;

/** cache/build/request.json: what a build evaluates. */
export interface BuildRequest {
  id: string;
  started: number;
  root: string;
  name: string;
  file: string;
  local?: string;
  /** What the trust gate approved for `file` (and `local`): the driver runs that content only. */
  fileApproval: Approval;
  localApproval?: Approval;
  /** The environment the file runs in, without WS_* (the base of the shell that started it). */
  base: Env;
  wsVars: Env;
}

export interface BuildResult {
  ok: boolean;
  status: number;
  /** `file:line` of the last command that failed, when known. */
  failAt?: string;
  env?: Env;
  watches: string[];
  /** Identity of each watched path when watch_file saw it: `INO SIZE MTIME CTIME`, or `missing`. */
  watchStats: Record<string, string>;
  hooks: HookSpec[];
  /** What each watch_dir tree and watch_file pattern covers (watch-trees.ts). */
  trees?: string[][];
  /**
   * The build's results could not be written (a full disk: the driver's `75 nospace`, a
   * torn status, a success without its env): reported to the shell that waited for it,
   * never reused, so the next evaluation builds again.
   */
  retry?: boolean;
}

export type BuildState =
  | { kind: 'none' }
  | { kind: 'running'; request?: BuildRequest }
  | { kind: 'done'; request: BuildRequest; result: BuildResult };

/** NUL-separated words of a driver's result file (the same reader the unload uses). */
const nulSplit = readNulList;

/**
 * The driver runs private copies of the workspace files; bash names them in
 * its messages (and the failing line). Puts the original names back.
 */
function originalNames(text: string, paths: CachePaths, request: BuildRequest): string {
  let out = text.split(paths.buildFileCopy).join(request.file);
  if (request.local) out = out.split(paths.buildLocalCopy).join(request.local);
  return out;
}

/** What the build directory says: nothing, a build in progress, or a finished one. */
export function inspectBuild(paths: CachePaths): BuildState {
  const request = readJson<BuildRequest>(paths.buildRequest);
  const status = readText(paths.buildStatus);
  if (request && status !== undefined) return { kind: 'done', request, result: readResult(paths, request, status) };
  let age: number;
  try {
    age = Date.now() - statSync(paths.build).mtimeMs;
  } catch {
    return { kind: 'none' };
  }
  const owner = readHolder(paths.buildOwner);
  if (owner && isAlive(owner)) return { kind: 'running', request };
  // Its bash died without writing a status (kill -9 in the file): a failed build, not one to run again.
  if (owner && request) return { kind: 'done', request, result: readResult(paths, request, readText(paths.buildStatus) ?? '137\n') };
  // No owner yet: being set up right now, or left behind by a build that was killed.
  return !owner && age < 2000 ? { kind: 'running', request } : { kind: 'none' };
}

function readResult(paths: CachePaths, request: BuildRequest, status: string): BuildResult {
  // `CODE FAIL_AT\n`, whole: anything less was cut short (a full disk) and is no result.
  const line = /^(\d+) ?(.*)\n$/.exec(status);
  if (!line || (line[1] === '75' && line[2] === 'nospace')) return { ok: false, status: 75, failAt: 'nospace', watches: [], watchStats: {}, hooks: [], retry: true };
  const [code, failAt] = [line[1], line[2]];
  const watches = nulSplit(paths.buildWatches);
  const watchStats: Record<string, string> = {};
  const stats = nulSplit(paths.buildWatchStats);
  for (let i = 0; i + 1 < stats.length; i += 2) watchStats[stats[i + 1]] = stats[i];
  const hooks = parseHookList(nulSplit(paths.buildOnUnload));
  const trees = expandWatchTrees(paths.build);
  if (Number(code) !== 0) {
    if (existsSync(paths.buildCancelled)) return { ok: false, status: 130, failAt: 'cancelled', watches, watchStats, hooks, trees };
    return { ok: false, status: Number(code) || 1, failAt: failAt ? originalNames(failAt, paths, request) : undefined, watches, watchStats, hooks, trees };
  }
  for (const line of (readText(paths.buildTooLong) ?? '').split('\n')) {
    const [name, bytes] = line.split(' ');
    if (name && bytes)
      warn(`${name} is not exported: ${name}=VALUE is ${bytes} bytes, over the ${MAX_ARG_STRLEN}-byte limit of one environment string (Linux MAX_ARG_STRLEN); the other variables load`);
  }
  const env: Env = {};
  if (!existsSync(paths.buildEnv)) return { ok: false, status: 75, failAt: 'nospace', watches, watchStats, hooks, trees, retry: true };
  for (const entry of nulSplit(paths.buildEnv)) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { ok: true, status: 0, env, watches, watchStats, hooks, trees };
}

/** Linux's limit on one string of an environment, NUL included (the driver leaves longer ones out). */
const MAX_ARG_STRLEN = 131072;

/** A path's identity in the format of the stdlib's watch_file (`stat -L --printf '%i %s %.9Y %.9Z'`). */
export function fileIdentity(path: string): string {
  const time = (ns: bigint) => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
  try {
    const link = lstatSync(path, { bigint: true });
    const st = link.isSymbolicLink() ? statSync(path, { bigint: true }) : link;
    const own = link.isSymbolicLink() ? ` link ${link.ino} ${time(link.ctimeNs)}` : '';
    return `${st.ino} ${st.size} ${time(st.mtimeNs)} ${time(st.ctimeNs)}${own}`;
  } catch {
    return 'missing';
  }
}

export interface StartOptions {
  home: string;
  paths: CachePaths;
  request: Omit<BuildRequest, 'id' | 'started'>;
  /** The id of the finished build the caller looked at and may not use; none if it found no finished build. */
  replaces?: string;
  exporter: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Starts a build, detached in its own session so it outlives this process
 * and the terminal, unless one is already running (then returns undefined:
 * share it). Output goes to the build log; results come back through files,
 * so a background process the file started, holding the log open, cannot
 * hold anything up (direnv#755).
 *
 * The driver's environment: the request's base and WS_* variables, and
 * `_WS_FILE`/`_WS_LOCAL` with `_WS_FILE_APPROVAL`/`_WS_LOCAL_APPROVAL`
 * (approvalToken: `sha256:<hex>` or `trusted-dir`; `_WS_LOCAL_APPROVAL` is
 * empty only when there is no local file, and the driver then reads no local file).
 */
export function startBuild(opts: StartOptions): BuildRequest | undefined {
  const { paths } = opts;
  const release = tryLock(paths.buildLock, 2000);
  if (!release) return undefined;
  try {
    const now = inspectBuild(paths);
    if (now.kind === 'running' || (now.kind === 'done' && now.request.id !== opts.replaces)) return undefined;
    const dir = paths.build;
    if (existsSync(dir)) {
      const aside = `${dir}.old.${process.pid}`;
      renameSync(dir, aside);
      rmSync(aside, { recursive: true, force: true });
    }
    ensureDir(dir);
    pruneWaiting(paths.dir);
    const request: BuildRequest = { ...opts.request, id: `${Date.now().toString(36)}-${process.pid}`, started: Date.now() };
    writeFileAtomic(paths.buildRequest, JSON.stringify(request));
    const log = openAppend(paths.buildLog);
    const source = { context: request.name, root: request.root };
    // spawn() would encode values as UTF-8 (a raw byte as U+FFFD): those that hold bytes
    // that are not UTF-8 go to the driver in a NUL-separated file, which it exports first.
    const { env: plainEnv, rawFile } = splitRawValues({ ...request.base, ...request.wsVars }, join(dir, 'raw-env'));
    const child = spawn('bash', ['--noprofile', '--norc', '-c', buildProgram(), 'ws-build'], {
      cwd: request.root,
      env: {
        ...plainEnv,
        ...(rawFile ? { _WS_RAW_ENV: rawFile } : {}),
        _WS_EVAL: dir,
        _WS_FILE: request.file,
        _WS_LOCAL: request.local ?? '',
        _WS_FILE_APPROVAL: approvalToken(request.fileApproval),
        _WS_LOCAL_APPROVAL: request.local && request.localApproval ? approvalToken(request.localApproval) : '',
        _WS_EXPORT: opts.exporter,
        _WS_EVENTS: homePaths(opts.home).events,
        _WS_JSON_CONTEXT: JSON.stringify(source.context),
        _WS_JSON_ROOT: JSON.stringify(source.root),
        _WS_BUILD_ID: request.id,
      } as NodeJS.ProcessEnv,
      stdio: ['ignore', log, log],
      detached: true,
    });
    closeSync(log);
    child.on('error', () => writeFileAtomic(paths.buildStatus, '69\n'));
    if (child.pid) writeFileAtomic(paths.buildOwner, formatHolder({ pid: child.pid, start: processStartTime(child.pid) ?? '' }));
    child.unref();
    emitEvent(opts.home, 'build.start', source, { build: request.id }, opts.env);
    return request;
  } finally {
    release();
  }
}

/** The environment without its values that are not UTF-8, and those written (bytes exact) to `path`, if any. */
function splitRawValues(env: Env, path: string): { env: Env; rawFile?: string } {
  const raw = Object.entries(env).filter(([, value]) => value !== undefined && hasRawBytes(value));
  if (!raw.length) return { env };
  const plain: Env = { ...env };
  for (const [name] of raw) delete plain[name];
  writeFileAtomic(path, Buffer.concat(raw.map(([name, value]) => encodeBytes(`${name}=${value}\0`))));
  return { env: plain, rawFile: path };
}

/**
 * Waits until the build is over or the deadline passes. The driver's rename
 * of status into place wakes an inotify watch on the build directory at
 * once (the shell is waiting: a poll's interval would be added to every
 * build); the 5 ms poll stays as the safety net (a watch that cannot be set
 * up, a directory replaced by a newer build).
 */
export async function waitForBuild(paths: CachePaths, deadline: number): Promise<boolean> {
  if (existsSync(paths.buildStatus)) return true;
  return new Promise<boolean>((resolve) => {
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (done: boolean) => {
      watcher?.close();
      watcher = undefined;
      clearTimeout(timer);
      resolve(done);
    };
    const check = () => {
      if (existsSync(paths.buildStatus)) return finish(true);
      const left = deadline - Date.now();
      if (left <= 0) return finish(false);
      timer = setTimeout(check, Math.min(5, left));
    };
    try {
      watcher = watch(paths.build, { persistent: false }, () => {
        if (existsSync(paths.buildStatus)) finish(true);
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined;
    }
    check();
  });
}

/** The build's output, for showing it to the user, with the workspace files' own names. */
export const readBuildLog = (paths: CachePaths, request: BuildRequest) => originalNames(readText(paths.buildLog) ?? '', paths, request);
