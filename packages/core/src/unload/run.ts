import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readContextRecord, writeContextRecord } from '../context/record.js';
import { emitEvent } from '../events/emit.js';
import { stopAllServices } from '../services/services.js';
import { appendLog, openAppend, ensureDir, readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { releasePorts } from '../ports/ports.js';
import { releaseContextHolds } from '../resources/release.js';
import { isAlive, type ProcessId } from '../process/proc.js';
import { splitRawEnv, withRawImport } from '../process/raw-env.js';
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
    ensureDir(runDir(contextDir));
    const journalPath = join(runDir(contextDir), 'journal.json');
    let journal = readJson<Journal>(journalPath);
    if (!journal || !Array.isArray(journal.order)) {
      // Hooks a build registered belong to the context, whether or not a shell applied it.
      const adopted = await adoptBuildHooks(contextDir, knob(opts.env, 'WS_UNLOAD_TIMEOUT') * 1000, now);
      if (adopted) appendLog(log, `[${now().toISOString()}] took ${adopted} hook(s) from the last build, which no shell applied\n`);
      const hooks = listUnloadHooks(contextDir, (name) => appendLog(log, `[${now().toISOString()}] skipped corrupt hook record unload/${name}\n`));
      journal = {
        started: now().toISOString(),
        reason: opts.reason,
        order: hooks.map((h) => h.seq).reverse(),
        hooks: Object.fromEntries(hooks.map((h) => [h.seq, h])),
      };
      writeFileAtomic(journalPath, JSON.stringify(journal));
      appendLog(log, `[${journal.started}] unload started (${opts.reason}), ${journal.order.length} hook(s)\n`);
    } else {
      appendLog(log, `[${now().toISOString()}] unload resumed (started ${journal.started})\n`);
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
    appendLog(log, `[${now().toISOString()}] unload done\n`);
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
 * The hook's own process claims it before it runs: a bash that creates the
 * `started` marker with O_EXCL (noclobber), writes its PID and start time
 * there, then execs the hook. Only a process that holds the claim runs the
 * hook, so a runner killed at any moment neither loses it (no claim yet: the
 * next runner starts it) nor runs it twice (a claim: the next one waits for
 * that process). $1 the start time in ms, $2 the marker; then the command.
 */
const CLAIM_AND_EXEC =
  'set -C; read -r l </proc/$$/stat || exit 0; f=(${l##*) }); ' +
  'printf \'{"pid":%d,"start":"%s","at":%s}\' $$ "${f[19]}" "$1" >"$2" 2>/dev/null || exit 0; shift 2; exec "$@"';

/**
 * Runs one hook unless a previous runner already did (its process claimed
 * it: CLAIM_AND_EXEC). A hook left running by a dead runner is waited for,
 * not started again.
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
  const marker = `${base}.started`;
  if (readJson(`${base}.done`) !== undefined) return undefined;
  const timeoutMs = knob(ownEnv, 'WS_UNLOAD_TIMEOUT') * 1000;
  const log = join(contextDir, 'unload.log');
  if (existsSync(marker)) return awaitClaimed(base, log, hook, timeoutMs, now);
  // The output file first: if even that cannot be made (a full disk), nothing is claimed
  // and a later unload runs the hook.
  const out = openAppend(`${base}.out`);
  const startedAt = Date.now();
  let pid: number | undefined;
  const status = await new Promise<number | string>((resolve) => {
    const [command, args] = commandFor(hook);
    // The loaded environment's values that are not UTF-8 keep their bytes (raw-env.ts).
    const split = splitRawEnv(env);
    const child = spawn('bash', ['-c', withRawImport(CLAIM_AND_EXEC, split), 'ws-unload-hook', String(startedAt), marker, command, ...args], {
      cwd: root,
      env: split.env,
      stdio: ['ignore', out, out],
      detached: true,
    });
    pid = child.pid;
    // No write may throw here: the hook may be started, and a lost line is all a full disk costs.
    child.on('error', (error) => {
      split.cleanup();
      quietly(() => writeSync(out, `cannot start: ${error.message}\n`));
      resolve(127);
    });
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
  const claim = readJson<ProcessId>(marker);
  if (status !== 127 && claim?.pid !== pid) {
    // Not this runner's process that ran it: another runner's claimed it first (wait for
    // that one), or nothing could claim it (a full disk: not run, the unload is retried).
    if (existsSync(marker)) return awaitClaimed(base, log, hook, timeoutMs, now);
    throw Object.assign(new Error(`cannot mark unload hook ${hook.seq} started`), { code: 'ENOSPC' });
  }
  const durationMs = Date.now() - startedAt;
  writeLogEntry(log, new Date(startedAt), hook, status, durationMs, `${base}.out`);
  writeFileAtomic(`${base}.done`, JSON.stringify({ status }));
  return { status, durationMs };
}

/** A hook another (dead) runner's process claimed: let it finish, then log what it printed. */
async function awaitClaimed(base: string, log: string, hook: UnloadHookRecord, timeoutMs: number, now: () => Date): Promise<HookResult> {
  // The claim is written just after it is created: an empty one is being written.
  let claim = readJson<ProcessId & { at: number }>(`${base}.started`);
  for (let i = 0; !claim && i < 20; i++) {
    await sleep(50);
    claim = readJson<ProcessId & { at: number }>(`${base}.started`);
  }
  const deadline = (claim?.at ?? Date.now()) + timeoutMs;
  while (claim && isAlive(claim) && Date.now() < deadline) await sleep(100);
  if (claim && isAlive(claim)) killGroup(claim.pid, 'SIGKILL');
  const durationMs = claim ? Date.now() - claim.at : 0;
  writeLogEntry(log, now(), hook, '?', durationMs, `${base}.out`, 'started by an unload runner that died; status unknown');
  writeFileAtomic(`${base}.done`, JSON.stringify({ status: '?' }));
  return { status: '?', durationMs };
}

function quietly(write: () => void): void {
  try {
    write();
  } catch {
    /* a full disk: see above */
  }
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
  appendLog(log, `[${at.toISOString()}] exit ${status} after ${durationMs} ms: ${describeHook(hook)}${note ? ` (${note})` : ''}\n${body}`);
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
