import { spawn } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { emitEvent, isAlive, processStartTime, readJson, readText, tryLock, writeFileAtomic, type Env } from '@ws/core';
import driver from './driver.bash';
import stdlib from './stdlib.bash';
import stdlibNix from './stdlib-nix.bash';
import { expandWatchTrees } from './watch-trees.js';

/** An unload hook as registered by `on_unload`: a file, a shell command line, or an argv. */
export interface HookSpec {
  kind: 'file' | 'sh' | 'argv';
  args: string[];
}

/** cache/build/request.json: what a build evaluates. */
export interface BuildRequest {
  id: string;
  started: number;
  root: string;
  name: string;
  file: string;
  local?: string;
  /** sha256 of the allowed content ('' for a trusted directory): the driver refuses other content. */
  fileSha?: string;
  localSha?: string;
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
}

export type BuildState =
  | { kind: 'none' }
  | { kind: 'running'; request?: BuildRequest }
  | { kind: 'done'; request: BuildRequest; result: BuildResult };

export const buildDir = (cacheDir: string) => join(cacheDir, 'build');
export const buildLog = (cacheDir: string) => join(buildDir(cacheDir), 'log');
/** Appears when the build is over: the shell hook watches it while a build runs. */
export const buildStatusPath = (cacheDir: string) => join(buildDir(cacheDir), 'status');

const nulSplit = (path: string): string[] => {
  try {
    return readFileSync(path, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
};

/** What the build directory says: nothing, a build in progress, or a finished one. */
export function inspectBuild(cacheDir: string): BuildState {
  const dir = buildDir(cacheDir);
  const request = readJson<BuildRequest>(join(dir, 'request.json'));
  const status = readText(join(dir, 'status'));
  if (request && status !== undefined) return { kind: 'done', request, result: readResult(dir, status) };
  let age: number;
  try {
    age = Date.now() - statSync(dir).mtimeMs;
  } catch {
    return { kind: 'none' };
  }
  const [pid, start] = (readText(join(dir, 'owner')) ?? '').trim().split(' ');
  if (pid && isAlive({ pid: Number(pid), start: start ?? '' })) return { kind: 'running', request };
  if (pid && request) {
    // Its bash died without writing a status (kill -9 in the file): a failed build, not one to run again.
    const late = readText(join(dir, 'status'));
    return { kind: 'done', request, result: readResult(dir, late ?? '137') };
  }
  // Being set up right now, or left behind by a build that was killed.
  return !pid && age < 2000 ? { kind: 'running', request } : { kind: 'none' };
}

function readResult(dir: string, status: string): BuildResult {
  const [code, failAt] = status.trim().split(' ');
  const watches = nulSplit(join(dir, 'watches'));
  const watchStats: Record<string, string> = {};
  const stats = nulSplit(join(dir, 'watch-stats'));
  for (let i = 0; i + 1 < stats.length; i += 2) watchStats[stats[i + 1]] = stats[i];
  const hooks = parseHooks(nulSplit(join(dir, 'on_unload')));
  const trees = expandWatchTrees(dir);
  if (Number(code) !== 0) return { ok: false, status: Number(code) || 1, failAt: failAt || undefined, watches, watchStats, hooks, trees };
  const env: Env = {};
  for (const entry of nulSplit(join(dir, 'env'))) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { ok: true, status: 0, env, watches, watchStats, hooks, trees };
}

function parseHooks(words: string[]): HookSpec[] {
  const hooks: HookSpec[] = [];
  for (let i = 0; i + 1 < words.length; ) {
    const count = Number(words[i + 1]);
    hooks.push({ kind: words[i] as HookSpec['kind'], args: words.slice(i + 2, i + 2 + count) });
    i += 2 + count;
  }
  return hooks;
}

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
  cacheDir: string;
  request: Omit<BuildRequest, 'id' | 'started'>;
  exporter: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Starts a build, detached in its own session so it outlives this process
 * and the terminal, unless one is already running (then returns undefined:
 * share it). Output goes to the build log; results come back through files,
 * so a background process the file started, holding the log open, cannot
 * hold anything up (direnv#755).
 */
export function startBuild(opts: StartOptions): BuildRequest | undefined {
  const release = tryLock(join(opts.cacheDir, 'build.lock'), 2000);
  if (!release) return undefined;
  try {
    if (inspectBuild(opts.cacheDir).kind === 'running') return undefined;
    const dir = buildDir(opts.cacheDir);
    if (existsSync(dir)) {
      const aside = `${dir}.old.${process.pid}`;
      renameSync(dir, aside);
      rmSync(aside, { recursive: true, force: true });
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const request: BuildRequest = { ...opts.request, id: `${Date.now().toString(36)}-${process.pid}`, started: Date.now() };
    writeFileAtomic(join(dir, 'request.json'), JSON.stringify(request));
    const log = openSync(join(dir, 'log'), 'a', 0o600);
    const source = { context: request.name, root: request.root };
    const child = spawn('bash', ['--noprofile', '--norc', '-c', `${stdlib}\n${stdlibNix}\n${driver}`, 'ws-build'], {
      cwd: request.root,
      env: {
        ...request.base,
        ...request.wsVars,
        _WS_EVAL: dir,
        _WS_FILE: request.file,
        _WS_LOCAL: request.local ?? '',
        _WS_FILE_SHA: request.fileSha ?? '',
        _WS_LOCAL_SHA: request.localSha ?? '',
        _WS_EXPORT: opts.exporter,
        _WS_EVENTS: join(opts.home, 'events.jsonl'),
        _WS_JSON_CONTEXT: JSON.stringify(source.context),
        _WS_JSON_ROOT: JSON.stringify(source.root),
        _WS_BUILD_ID: request.id,
      } as NodeJS.ProcessEnv,
      stdio: ['ignore', log, log],
      detached: true,
    });
    closeSync(log);
    child.on('error', () => writeFileAtomic(join(dir, 'status'), '69\n'));
    if (child.pid) writeFileAtomic(join(dir, 'owner'), `${child.pid} ${processStartTime(child.pid) ?? ''}\n`);
    child.unref();
    emitEvent(opts.home, 'build.start', source, { build: request.id }, opts.env);
    return request;
  } finally {
    release();
  }
}

/** Waits (polling, cheap) until the build is over or the deadline passes. */
export async function waitForBuild(cacheDir: string, deadline: number): Promise<boolean> {
  const status = buildStatusPath(cacheDir);
  for (;;) {
    if (existsSync(status)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(5, left)));
  }
}

/** The build's output, for showing it to the user. */
export const readBuildLog = (cacheDir: string) => readText(buildLog(cacheDir)) ?? '';
