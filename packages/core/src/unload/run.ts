import { spawn } from 'node:child_process';
import { accessSync, appendFileSync, existsSync, closeSync, constants, fstatSync, mkdirSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readContextRecord, writeContextRecord } from '../context/record.js';
import { emitEvent } from '../events/emit.js';
import { stopAllServices } from '../services/services.js';
import { readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { releasePorts } from '../ports/ports.js';
import { releaseContextHolds } from '../resources/release.js';
import { isAlive, processStartTime, type ProcessId } from '../process/proc.js';
import { tryLock } from '../state/lock.js';
import { needsUnloadPath } from '../users/users.js';
import { describeHook, dropUnloadHooks, listUnloadHooks, type UnloadHookRecord } from './hooks.js';
import { adoptBuildHooks, readNulList } from './build-hooks.js';
import { cachePaths } from '../state/paths.js';
import { contextDir as rootContextDir } from '../state/home.js';
import { knob } from '../env/knobs.js';

/** contexts/<id>/unload-run/journal.json: the unload in progress, so a successor can finish it. */
interface Journal {
  started: string;
  reason: string;
  /** Hook seqs in the order they run (reverse registration), fixed when the unload starts. */
  order: string[];
  hooks: Record<string, UnloadHookRecord>;
}

export interface UnloadOptions {
  env: NodeJS.ProcessEnv;
  reason: string;
  now?: () => Date;
}

const runDir = (contextDir: string) => join(contextDir, 'unload-run');

/** The environment a context last loaded (saved by ws-export), for its hooks. */
export const loadedEnvPath = (contextDir: string) => join(contextDir, 'cache', 'loaded-env.json');

/** True if an unload started and did not finish (its runner died): it must be resumed. */
export const unloadPending = (contextDir: string) => readJson(join(runDir(contextDir), 'journal.json')) !== undefined;

/**
 * Runs a context's unload: services stop, then every registered hook in
 * reverse order of registration, each started exactly once even if this
 * process is SIGKILLed midway (a successor resumes from the journal, skips
 * hooks that were started, and lets a still-running one finish), then ports
 * are released and the cached environment is invalidated. Returns how many
 * hooks ran and failed, or undefined if another process is running it now.
 */
export async function runUnload(home: string, contextDir: string, opts: UnloadOptions): Promise<{ hooks: number; failed: number } | undefined> {
  const release = tryLock(join(contextDir, 'unload-run.lock'));
  if (!release) return undefined;
  let hooks = 0;
  let failed = 0;
  const now = opts.now ?? (() => new Date());
  const log = join(contextDir, 'unload.log');
  const record = readContextRecord(contextDir);
  const source = { context: record?.name ?? '', root: record?.root ?? '' };
  try {
    mkdirSync(runDir(contextDir), { recursive: true, mode: 0o700 });
    const journalPath = join(runDir(contextDir), 'journal.json');
    let journal = readJson<Journal>(journalPath);
    if (!journal || !Array.isArray(journal.order)) {
      // Hooks a build registered belong to the context, whether or not a shell applied it.
      const adopted = await adoptBuildHooks(contextDir, knob(opts.env, 'WS_UNLOAD_TIMEOUT') * 1000, now);
      if (adopted) appendFileSync(log, `[${now().toISOString()}] took ${adopted} hook(s) from the last build, which no shell applied\n`);
      const hooks = listUnloadHooks(contextDir, (name) => appendFileSync(log, `[${now().toISOString()}] skipped corrupt hook record unload/${name}\n`));
      journal = {
        started: now().toISOString(),
        reason: opts.reason,
        order: hooks.map((h) => h.seq).reverse(),
        hooks: Object.fromEntries(hooks.map((h) => [h.seq, h])),
      };
      writeFileAtomic(journalPath, JSON.stringify(journal));
      appendFileSync(log, `[${journal.started}] unload started (${opts.reason}), ${journal.order.length} hook(s)\n`);
    } else {
      appendFileSync(log, `[${now().toISOString()}] unload resumed (started ${journal.started})\n`);
    }
    // The journal has them now; the next load registers its own (also after a crash right here).
    dropUnloadHooks(contextDir, Object.values(journal.hooks));
    // A user who joins from here on needs another unload later.
    rmQuiet(needsUnloadPath(contextDir));
    const env = hookEnv(contextDir, opts.env, record?.root);
    // Servers stop first (they may need what the hooks tear down), in reverse start order.
    await stopAllServices(home, contextDir, opts.env);
    for (const seq of journal.order) {
      const hook = journal.hooks[seq];
      if (!hook) continue;
      const result = await runHookOnce(contextDir, hook, env, record?.root ?? '/', opts.env, now);
      if (!result) continue;
      hooks++;
      if (result.status !== 0) failed++;
      // docs/events.md: status is the exit status, null if the hook timed out, was killed or is unknown.
      const status = typeof result.status === 'number' ? result.status : null;
      const reason = status === null ? { reason: result.status === '?' ? 'runner died' : result.status } : {};
      emitEvent(home, 'unload.hook', source, { hook: describeHook(hook), status, duration_ms: result.durationMs, ...reason }, opts.env, now());
    }
    // After the hooks, which may still need them (`pg_ctl stop -o -p $PGPORT`).
    releasePorts(home, basename(contextDir), undefined, { env: opts.env, now: now() });
    // Resources the workspace file asked for are held by the context until now.
    await releaseContextHolds(home, contextDir, { env: opts.env, reason: 'unload', now });
    // The next entry must evaluate the workspace file again (its side effects happen again).
    rmSync(join(contextDir, 'cache', 'stamps'), { recursive: true, force: true });
    // A shared context: so must every root that declared it (their caches are their own, docs/contexts.md);
    // their builds from before now are void, as `ws-export reload` makes them.
    for (const root of record?.roots ?? []) {
      const cache = cachePaths(rootContextDir(home, root));
      rmSync(cache.stamps, { recursive: true, force: true });
      if (existsSync(cache.dir)) writeFileAtomic(cache.reload, `${now().toISOString()}\n`);
    }
    // A blocked file stays blocked for the prompt; anything else is unloaded now.
    const latest = readContextRecord(contextDir) ?? record;
    if (latest) writeContextRecord(contextDir, { ...latest, state: latest.state === 'blocked' ? 'blocked' : 'unloaded', lastUsed: latest.lastUsed }, now());
    appendFileSync(log, `[${now().toISOString()}] unload done\n`);
    emitEvent(home, 'context.unload', source, { reason: journal.reason }, opts.env, now());
    rmSync(runDir(contextDir), { recursive: true, force: true });
    return { hooks, failed };
  } finally {
    release();
  }
}

function hookEnv(contextDir: string, env: NodeJS.ProcessEnv, root: string | undefined): NodeJS.ProcessEnv {
  const loaded = newestLoadedEnv(contextDir);
  const out: NodeJS.ProcessEnv = loaded ? { ...loaded } : { ...env };
  if (root) {
    out.WS_ROOT ??= root;
    // The loaded environment has the PWD of the shell that loaded it; hooks run in the root.
    out.PWD = root;
  }
  out.WS_UNLOAD = '1';
  return out;
}

/**
 * The context's loaded environment: what a shell last applied
 * (cache/loaded-env.json), or the last build's if that is newer — a build
 * whose result no shell applied before the last one left.
 */
function newestLoadedEnv(contextDir: string): Record<string, string> | undefined {
  const loaded = readJson<Record<string, string>>(loadedEnvPath(contextDir));
  const paths = cachePaths(contextDir);
  const mtime = (path: string) => statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  const built = mtime(paths.buildEnv);
  if (built >= 0 && built > mtime(loadedEnvPath(contextDir))) {
    const env: Record<string, string> = {};
    for (const entry of readNulList(paths.buildEnv)) {
      const eq = entry.indexOf('=');
      // The driver's own plumbing (_WS_EVAL, _WS_FILE…) is not the context's environment.
      if (eq > 0 && !entry.startsWith('_WS_')) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    if (Object.keys(env).length) return env;
  }
  return loaded && typeof loaded === 'object' ? loaded : undefined;
}

interface HookResult {
  status: number | string;
  durationMs: number;
}

/**
 * Starts one hook unless a previous runner already did (the `started` marker
 * is created with O_EXCL before the start). A hook left running by a dead
 * runner is waited for, not started again.
 */
async function runHookOnce(
  contextDir: string,
  hook: UnloadHookRecord,
  env: NodeJS.ProcessEnv,
  root: string,
  ownEnv: NodeJS.ProcessEnv,
  now: () => Date,
): Promise<HookResult | undefined> {
  const base = join(runDir(contextDir), hook.seq);
  if (readJson(`${base}.done`) !== undefined) return undefined;
  const timeoutMs = knob(ownEnv, 'WS_UNLOAD_TIMEOUT') * 1000;
  const log = join(contextDir, 'unload.log');
  let marker: number;
  try {
    marker = openSync(`${base}.started`, 'wx', 0o600);
  } catch {
    // Started by a runner that died: let it finish, then log what it printed.
    const started = readJson<ProcessId & { at: number }>(`${base}.started`);
    const deadline = (started?.at ?? Date.now()) + timeoutMs;
    while (started && isAlive(started) && Date.now() < deadline) await sleep(100);
    if (started && isAlive(started)) killGroup(started.pid, 'SIGKILL');
    const durationMs = started ? Date.now() - started.at : 0;
    writeLogEntry(log, now(), hook, '?', durationMs, `${base}.out`, 'started by an unload runner that died; status unknown');
    writeFileAtomic(`${base}.done`, JSON.stringify({ status: '?' }));
    return { status: '?', durationMs };
  }
  const out = openSync(`${base}.out`, 'a', 0o600);
  const startedAt = Date.now();
  const status = await new Promise<number | string>((resolve) => {
    const [command, args] = commandFor(hook);
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', out, out], detached: true });
    child.on('error', (error) => {
      writeSync(out, `cannot start: ${error.message}\n`);
      resolve(127);
    });
    if (child.pid) {
      writeSync(marker, JSON.stringify({ pid: child.pid, start: processStartTime(child.pid) ?? '', at: startedAt }));
    }
    closeSync(marker);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) killGroup(child.pid, 'SIGTERM');
      setTimeout(() => child.pid && killGroup(child.pid, 'SIGKILL'), 1000).unref();
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(timedOut ? 'timeout' : code ?? `signal ${signal}`);
    });
  });
  closeSync(out);
  const durationMs = Date.now() - startedAt;
  writeLogEntry(log, new Date(startedAt), hook, status, durationMs, `${base}.out`);
  writeFileAtomic(`${base}.done`, JSON.stringify({ status }));
  return { status, durationMs };
}

/**
 * argv as is; a command line with `bash -c`; a file by itself if it is an
 * executable program (a binary or a `#!` script), else with bash: exec(2) of
 * a script without `#!` would fall back to /bin/sh, which is not bash.
 */
function commandFor(hook: UnloadHookRecord): [string, string[]] {
  if (hook.kind === 'argv') return [hook.args[0], hook.args.slice(1)];
  if (hook.kind === 'sh') return ['bash', ['-c', hook.args[0]]];
  const file = hook.args[0];
  return isExecutable(file) && !isScriptWithoutShebang(file) ? [file, []] : ['bash', [file]];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Text (no NUL in its first 512 bytes) that does not start with `#!`. */
function isScriptWithoutShebang(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(512);
    const bytes = head.subarray(0, readSync(fd, head, 0, head.length, 0));
    return bytes.subarray(0, 2).toString('latin1') !== '#!' && !bytes.includes(0);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** How much of a hook's output unload.log keeps: the end, where the errors are. */
export const UNLOAD_OUTPUT_MAX = 1024 * 1024;

/**
 * unload.log: per hook `[time] exit STATUS after N ms: HOOK`, then its output,
 * each line prefixed `  | ` (only its last UNLOAD_OUTPUT_MAX bytes, after a
 * line saying how much was cut).
 */
function writeLogEntry(log: string, at: Date, hook: UnloadHookRecord, status: number | string, durationMs: number, outPath: string, note?: string): void {
  const { text, cut } = readTail(outPath, UNLOAD_OUTPUT_MAX);
  let lines = text.length ? text.replace(/\n$/, '').split('\n') : [];
  if (cut) lines = [`[${cut} bytes of output before this not kept]`, ...lines.slice(1)];
  const body = lines.map((l) => `  | ${l}\n`).join('');
  appendFileSync(log, `[${at.toISOString()}] exit ${status} after ${durationMs} ms: ${describeHook(hook)}${note ? ` (${note})` : ''}\n${body}`);
  rmQuiet(outPath);
}

/** The last `max` bytes of a file and how many bytes came before them; empty if missing. */
function readTail(path: string, max: number): { text: string; cut: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { text: '', cut: 0 };
  }
  try {
    const size = fstatSync(fd).size;
    const cut = Math.max(0, size - max);
    const buffer = Buffer.alloc(size - cut);
    let got = 0;
    while (got < buffer.length) {
      const n = readSync(fd, buffer, got, buffer.length - got, cut + got);
      if (n === 0) break;
      got += n;
    }
    return { text: buffer.subarray(0, got).toString('utf8'), cut };
  } finally {
    closeSync(fd);
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
