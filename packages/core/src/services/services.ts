import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, statSync, truncateSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CliError, EX } from '../cli/errors.js';
import { emitEvent } from '../events/emit.js';
import { readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { isAlive, processStartTime, type ProcessId } from '../process/proc.js';
import { sha256 } from '../state/home.js';
import { lock, tryLock } from '../state/lock.js';
import { knob } from '../env/knobs.js';

// Development servers of a context: contexts/<id>/services/<name>/ holds
// spec.json, env.json, state.json, pid (only while it runs), exit, log,
// log.1 and lock (docs/services.md). No process stays behind per service
// but the service itself and a bash that waits for it to record its exit
// status; restarts are done by whoever sweeps (the reaper).

export type RestartPolicy = 'no' | 'on-failure' | 'always';
export const RESTART_POLICIES: readonly RestartPolicy[] = ['no', 'on-failure', 'always'];

/** The options of `ws-service start` (times in seconds). */
export interface ServiceOptions {
  readyPort?: number;
  readyCmd?: string;
  readyTimeout: number;
  after: string[];
  restart: RestartPolicy;
  stopTimeout: number;
}

export const DEFAULT_READY_TIMEOUT = 30;
export const DEFAULT_STOP_TIMEOUT = 10;
/** With neither --ready-port nor --ready-cmd, a service is ready once alive this long. */
export const SETTLE_MS = 1000;
export const DEFAULT_LOG_MAX = 10 * 1024 * 1024;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
/** A service that ran this long before it exited starts its backoff over. */
const BACKOFF_RESET_MS = 60_000;
const POLL_MS = 100;

/** services/<name>/spec.json: what to run and how (the fingerprint decides "changed"). */
export interface ServiceSpec extends ServiceOptions {
  v: 1;
  name: string;
  argv: string[];
  cwd: string;
  root: string;
  context: string;
  /** sha256 of argv, cwd and the environment without per-terminal variables. */
  fingerprint: string;
  /** Start order: given when the service is first started; unload stops in reverse. */
  order: number;
  created: string;
  updated: string;
}

export type ServiceStateName = 'starting' | 'ready' | 'stopping' | 'stopped' | 'exited' | 'failed' | 'backoff';

/** services/<name>/state.json: what the service is doing (times in ms since the epoch). */
export interface ServiceState {
  state: ServiceStateName;
  pid?: number;
  start?: string;
  startedAt?: number;
  readyAt?: number;
  /** While starting: when it counts as not ready. */
  readyDeadline?: number;
  /** While stopping: when SIGKILL follows SIGTERM. */
  stopDeadline?: number;
  exitedAt?: number;
  /** Exit status of the last run (128+N for signal N); null when unknown. */
  status?: number | null;
  /** Restarts since the service last ran long enough (the backoff exponent). */
  restarts: number;
  nextRestartAt?: number;
  reason?: string;
}

/** One service as listed by `ws-service status`. */
export interface ServiceInfo {
  name: string;
  spec: ServiceSpec;
  state: ServiceState;
  /** The recorded process is alive (not a recycled PID). */
  running: boolean;
  /** The state as the user should see it: `exited` for a running state whose process is gone. */
  shown: ServiceStateName;
  /** While running: the command's own PID (state.pid is the process group it runs in). */
  mainPid?: number;
}

const SERVICE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RUNNING_STATES = new Set<ServiceStateName>(['starting', 'ready', 'stopping']);

export const servicesDir = (contextDir: string) => join(contextDir, 'services');
export const serviceDir = (contextDir: string, name: string) => join(servicesDir(contextDir), name);
const path = (contextDir: string, name: string, leaf: string) => join(serviceDir(contextDir, name), leaf);
export const serviceLogPath = (contextDir: string, name: string) => path(contextDir, name, 'log');

/** A service name: letters, digits, `.`, `_`, `-`, at most 64; anything else is a usage error (64). */
export function parseServiceName(text: string): string {
  if (!SERVICE_NAME_RE.test(text)) {
    throw new CliError(EX.USAGE, `invalid service name '${text.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 80)}': use letters, digits, '.', '_', '-' (at most 64)`);
  }
  return text;
}

export const readServiceSpec = (contextDir: string, name: string) => validSpec(readJson<ServiceSpec>(path(contextDir, name, 'spec.json')));
export function readServiceState(contextDir: string, name: string): ServiceState {
  const state = readJson<ServiceState>(path(contextDir, name, 'state.json'));
  return state && typeof state.state === 'string' ? { ...state, restarts: Number(state.restarts) || 0 } : { state: 'stopped', restarts: 0 };
}
const writeState = (contextDir: string, name: string, state: ServiceState) => writeFileAtomic(path(contextDir, name, 'state.json'), `${JSON.stringify(state)}\n`);

function validSpec(spec: ServiceSpec | undefined): ServiceSpec | undefined {
  if (!spec || typeof spec.name !== 'string' || !Array.isArray(spec.argv) || !spec.argv.length || typeof spec.cwd !== 'string') return undefined;
  return { ...spec, after: Array.isArray(spec.after) ? spec.after : [], order: Number(spec.order) || 0 };
}

const procId = (state: ServiceState): ProcessId | undefined =>
  state.pid && state.start !== undefined ? { pid: state.pid, start: state.start } : undefined;
const aliveState = (state: ServiceState) => {
  const id = procId(state);
  return id !== undefined && isAlive(id);
};

/** The names of the context's services that have a spec, in start order. */
export function listServices(contextDir: string): ServiceInfo[] {
  let names: string[];
  try {
    names = readdirSync(servicesDir(contextDir));
  } catch {
    return [];
  }
  const infos: ServiceInfo[] = [];
  for (const name of names) {
    if (!SERVICE_NAME_RE.test(name)) continue;
    const spec = readServiceSpec(contextDir, name);
    if (!spec) continue;
    const state = readServiceState(contextDir, name);
    const running = RUNNING_STATES.has(state.state) && aliveState(state);
    const shown = RUNNING_STATES.has(state.state) && !running ? 'exited' : state.state;
    infos.push({ name, spec, state, running, shown, mainPid: running ? mainPid(state.pid!) : undefined });
  }
  return infos.sort((a, b) => a.spec.order - b.spec.order || a.name.localeCompare(b.name));
}

// ------------------------------------------------------------- environment ----

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

const logMax = (env: NodeJS.ProcessEnv) => knob(env, 'WS_SERVICE_LOG_MAX');

// ------------------------------------------------------------------- logs ----

/**
 * Keeps a log under `max` bytes: the old content goes to `log.1`. A log
 * that a live service writes is copied and truncated (its descriptor is
 * O_APPEND, so it goes on writing at the new end); a dead one is renamed.
 */
export function rotateServiceLog(logPath: string, max: number, live: boolean): boolean {
  let size: number;
  try {
    size = statSync(logPath).size;
  } catch {
    return false;
  }
  if (size <= max) return false;
  try {
    if (live) {
      writeFileAtomic(`${logPath}.1`, readFileSync(logPath));
      truncateSync(logPath, 0);
    } else {
      renameSync(logPath, `${logPath}.1`);
    }
    return true;
  } catch {
    return false;
  }
}

/** The last `n` lines of a file (without their newlines), reading backwards in chunks. */
export function tailLines(file: string, n: number): string[] {
  if (n <= 0) return [];
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    let pos = size;
    let text = '';
    const chunk = Buffer.alloc(64 * 1024);
    // n newlines plus the one ending the last line.
    while (pos > 0 && (text.match(/\n/g)?.length ?? 0) <= n) {
      const len = Math.min(chunk.length, pos);
      pos -= len;
      readSync(fd, chunk, 0, len, pos);
      text = chunk.subarray(0, len).toString('latin1') + text;
    }
    const lines = Buffer.from(text, 'latin1').toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n);
  } finally {
    closeSync(fd);
  }
}

/** The last `n` lines of a service's output, across the rotation (`log.1`, then `log`). */
export function serviceLogTail(contextDir: string, name: string, n: number): string[] {
  const log = serviceLogPath(contextDir, name);
  const lines = tailLines(log, n);
  return lines.length < n ? [...tailLines(`${log}.1`, n - lines.length), ...lines] : lines;
}

/** The lines the last run printed (after ws-service's own `--- ws-service: starting` marker), at most `n`. */
function lastRunLines(contextDir: string, name: string, n: number): string[] {
  const lines = serviceLogTail(contextDir, name, 200);
  const marker = lines.map((l) => l.startsWith('--- ws-service: starting ')).lastIndexOf(true);
  return lines.slice(marker + 1).filter((l) => !l.startsWith('--- ws-service: ')).slice(-n);
}

function logNote(contextDir: string, name: string, text: string): void {
  try {
    const fd = openSync(serviceLogPath(contextDir, name), 'a', 0o600);
    try {
      writeSync(fd, `--- ws-service: ${text} at ${new Date().toISOString()} ---\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* the log is a convenience */
  }
}

// -------------------------------------------------------------- processes ----

/**
 * The process a service runs in: bash closes every inherited descriptor but
 * the log (so nobody waiting on a pipe, like ws-export reading a workspace
 * file's output, is ever held by the server), runs the command as its child
 * and records its exit status in `exit`, then drops the `pid` file. Its
 * signal traps are reset by exec, so the command gets default dispositions;
 * the trap only keeps bash alive until the command is done.
 */
const WRAPPER = `unset _WS_SERVICE_WRAPPER
for _ws_fd in /dev/fd/*; do _ws_fd=\${_ws_fd##*/}; if ((_ws_fd > 2)); then eval "exec \${_ws_fd}>&-"; fi; done
_ws_dir=$1
shift
unset _ws_fd
trap : TERM INT HUP QUIT
"$@"
_ws_status=$?
printf '{"pid":%d,"status":%d}\\n' "$$" "$_ws_status" >"$_ws_dir/exit.tmp.$$" && command -p mv -f "$_ws_dir/exit.tmp.$$" "$_ws_dir/exit"
_ws_line=
read -r _ws_line <"$_ws_dir/pid" 2>/dev/null
[[ $_ws_line == "{\\"pid\\":$$,"* ]] && command -p rm -f "$_ws_dir/pid"
printf -- '--- ws-service: exited with status %d ---\\n' "$_ws_status"
exit "$_ws_status"`;

/**
 * The command's own PID: the only child of the bash that waits for it
 * (`/proc/<pid>/task/<pid>/children` on Linux), else that bash's PID.
 */
export function mainPid(groupLeader: number): number {
  try {
    const children = readFileSync(`/proc/${groupLeader}/task/${groupLeader}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (children.length) return Number(children[0]);
  } catch {
    /* not Linux, or gone */
  }
  return groupLeader;
}

/** Sends a signal to a whole process group; a group that is gone is fine. */
function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* gone */
  }
}

interface ProcEntry {
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  start: string;
}

/** Every live (non-zombie) process, from /proc; undefined where there is no /proc. */
function scanProcesses(): ProcEntry[] | undefined {
  if (process.platform !== 'linux') return undefined;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const procs: ProcEntry[] = [];
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z' || f[0] === 'X') continue;
      procs.push({ pid: Number(entry), ppid: Number(f[1]), pgrp: Number(f[2]), sid: Number(f[3]), start: f[19] });
    } catch {
      /* exited meanwhile */
    }
  }
  return procs;
}

/**
 * Adds to `members` (PID -> start time) every live process of the service
 * led by `leader`: its process group and session, and the descendants of
 * the leader and of every member already known, even those that left the
 * session (PostgreSQL's backends call setsid). A cgroup would be exact;
 * this is the portable part of it. Returns false where /proc is missing.
 */
function collectMembers(leader: number, members: Map<number, string>): boolean {
  const procs = scanProcesses();
  if (!procs) return false;
  const children = new Map<number, ProcEntry[]>();
  for (const p of procs) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid)!.push(p);
  }
  const queue: number[] = [leader];
  for (const p of procs) {
    if (p.pgrp === leader || p.sid === leader || members.get(p.pid) === p.start) queue.push(p.pid);
  }
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    const p = byPid.get(pid);
    if (!p || members.get(pid) === p.start) {
      if (p) for (const child of children.get(pid) ?? []) if (members.get(child.pid) !== child.start) queue.push(child.pid);
      continue;
    }
    members.set(pid, p.start);
    for (const child of children.get(pid) ?? []) queue.push(child.pid);
  }
  return true;
}

/**
 * Sends a signal to the service: its process group, and each member found
 * by collectMembers that is still the same process.
 */
function signalService(leader: number, members: Map<number, string>, signal: NodeJS.Signals): void {
  killGroup(leader, signal);
  for (const [pid, start] of members) {
    if (!isAlive({ pid, start })) continue;
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/** True while any process of the service is alive (members refreshed first; without /proc, its group). */
function serviceAlive(leader: number, members: Map<number, string>): boolean {
  if (!collectMembers(leader, members)) return groupAlive(leader);
  for (const [pid, start] of members) if (isAlive({ pid, start })) return true;
  return false;
}

/** True while any process of the group is alive (zombies do not count). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
    } catch {
      /* exited meanwhile */
    }
  }
  return false;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * tryLock, waiting without blocking the event loop: in the reaper, the
 * holder may be a supervision pass of the same process awaiting a probe.
 */
async function lockWithin(file: string, waitMs: number): Promise<(() => void) | undefined> {
  const end = Date.now() + waitMs;
  for (;;) {
    const release = tryLock(file);
    if (release || Date.now() >= end) return release;
    await sleep(50);
  }
}

/** The exit status the wrapper recorded for this PID: a number, or null if it was killed before it could. */
function recordedStatus(contextDir: string, name: string, pid: number | undefined): number | null {
  const exit = readJson<{ pid: number; status: number }>(path(contextDir, name, 'exit'));
  return exit && exit.pid === pid && Number.isInteger(exit.status) ? exit.status : null;
}

/** True if the wrapper recorded an exit in the last few seconds. */
function exitedRecently(contextDir: string, name: string, now: number): boolean {
  try {
    return now - statSync(path(contextDir, name, 'exit')).mtimeMs < 5000;
  } catch {
    return false;
  }
}

/** Drops the `pid` file if it still names this process (`services/*\/pid` counts running services). */
function dropPidFile(contextDir: string, name: string, pid: number | undefined): void {
  const file = path(contextDir, name, 'pid');
  const record = readJson<ProcessId>(file);
  if (!record || record.pid === pid) rmQuiet(file);
}

/** Starts the service's process, detached in its own session and process group, output to its log. */
function spawnService(contextDir: string, spec: ServiceSpec, env: Record<string, string>, ownEnv: NodeJS.ProcessEnv): ProcessId {
  const dir = serviceDir(contextDir, spec.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let cwdOk = false;
  try {
    cwdOk = statSync(spec.cwd).isDirectory();
  } catch {
    /* reported below */
  }
  if (!cwdOk) throw new CliError(EX.NOINPUT, `cannot start ${spec.name}: no such directory ${spec.cwd}`);
  rotateServiceLog(join(dir, 'log'), logMax(ownEnv), false);
  rmQuiet(join(dir, 'exit'));
  const fd = openSync(join(dir, 'log'), 'a', 0o600);
  try {
    writeSync(fd, `--- ws-service: starting ${spec.name} at ${new Date().toISOString()}: ${describeArgv(spec.argv)} ---\n`);
    // The script travels in the environment (and leaves it at once) so that `ps` shows a short line.
    const child = spawn('bash', ['--noprofile', '--norc', '-c', 'eval "$_WS_SERVICE_WRAPPER"', `ws-service:${spec.name}`, dir, ...spec.argv], {
      cwd: spec.cwd,
      env: { ...env, _WS_SERVICE_WRAPPER: WRAPPER },
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    child.on('error', () => undefined);
    child.unref();
    if (!child.pid) throw new CliError(EX.UNAVAILABLE, `cannot start ${spec.name}: bash is not available`);
    const id: ProcessId = { pid: child.pid, start: processStartTime(child.pid) ?? '' };
    writeFileAtomic(join(dir, 'pid'), `${JSON.stringify({ pid: id.pid, start: id.start })}\n`, 0o644);
    return id;
  } finally {
    closeSync(fd);
  }
}

/** An argv as one readable line (quoted only where needed). */
export function describeArgv(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

// -------------------------------------------------------------- readiness ----

/** True if something accepts TCP connections on the port (127.0.0.1, else ::1). */
export async function portAccepting(port: number, timeoutMs = 300): Promise<boolean> {
  for (const host of ['127.0.0.1', '::1']) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      const done = (result: boolean) => {
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
    if (ok) return true;
  }
  return false;
}

/** Runs a --ready-cmd (bash -c) once; kills its process group if it outlasts `timeoutMs`. */
function runReadyCmd(cmd: string, env: Record<string, string>, cwd: string, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn('bash', ['--noprofile', '--norc', '-c', cmd], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (data: Buffer) => {
      output = (output + data.toString()).slice(-2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timer = setTimeout(() => child.pid && killGroup(child.pid, 'SIGKILL'), Math.max(timeoutMs, 50));
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, output: error.message });
    });
    // 'exit', not 'close': something the command left behind may hold its pipes.
    child.once('exit', (code) => {
      clearTimeout(timer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      if (child.pid) killGroup(child.pid, 'SIGKILL');
      resolve({ ok: code === 0, output: output.trim() });
    });
  });
}

/** One readiness check; `startedAt` for the "alive for a second" rule. */
async function probeReady(spec: ServiceSpec, env: Record<string, string>, startedAt: number, budgetMs: number): Promise<{ ok: boolean; detail?: string }> {
  if (spec.readyPort !== undefined) {
    const ok = await portAccepting(spec.readyPort, Math.min(300, Math.max(budgetMs, 50)));
    if (!ok && spec.readyCmd === undefined) return { ok, detail: `port ${spec.readyPort} is not accepting connections` };
    if (!ok) return { ok };
  }
  if (spec.readyCmd !== undefined) {
    const result = await runReadyCmd(spec.readyCmd, env, spec.cwd, Math.min(budgetMs, 10_000));
    return { ok: result.ok, detail: result.ok ? undefined : `--ready-cmd failed${result.output ? `: ${result.output.split('\n').pop()}` : ''}` };
  }
  if (spec.readyPort !== undefined) return { ok: true };
  return { ok: Date.now() - startedAt >= SETTLE_MS };
}

type Readiness = { kind: 'ready' } | { kind: 'exited'; status: number | null } | { kind: 'timeout'; detail?: string };

/** Polls until the service is ready, its process is gone, or the deadline passes. */
async function awaitReady(contextDir: string, spec: ServiceSpec, env: Record<string, string>, state: ServiceState, deadline: number): Promise<Readiness> {
  const id = procId(state)!;
  const startedAt = state.startedAt ?? Date.now();
  let detail: string | undefined;
  for (;;) {
    if (!isAlive(id)) return { kind: 'exited', status: recordedStatus(contextDir, spec.name, id.pid) };
    const left = deadline - Date.now();
    if (spec.readyPort === undefined && spec.readyCmd === undefined) {
      // Alive for a second counts as ready.
      if (Date.now() - startedAt >= SETTLE_MS) return { kind: 'ready' };
      if (left <= 0) return { kind: 'timeout' };
      await sleep(Math.min(POLL_MS, startedAt + SETTLE_MS - Date.now(), left));
      continue;
    }
    const probe = await probeReady(spec, env, startedAt, Math.max(left, 100));
    if (probe.ok && isAlive(id)) return { kind: 'ready' };
    detail = probe.detail ?? detail;
    if (Date.now() >= deadline) return { kind: 'timeout', detail };
    await sleep(Math.min(POLL_MS, Math.max(deadline - Date.now(), 0)));
  }
}

// ------------------------------------------------------------------ start ----

/** A service that did not come up: the message plus the last lines it printed. */
export class ServiceError extends CliError {
  constructor(
    message: string,
    readonly logLines: string[],
    readonly logPath: string,
  ) {
    super(EX.FAIL, message);
    this.name = 'ServiceError';
  }
}

export interface StartRequest {
  home: string;
  contextDir: string;
  root: string;
  /** The context's name, for events. */
  context: string;
  name: string;
  argv: string[];
  options: ServiceOptions;
  /** The environment the service gets (the caller's; inside an evaluation, the context's). */
  env: NodeJS.ProcessEnv;
  /** Stop and start even if the same command is running (`ws-service restart`). */
  force?: boolean;
  /** Progress lines for the user (stderr). */
  say?: (line: string) => void;
}

export interface StartResult {
  result: 'unchanged' | 'started' | 'restarted';
  pid: number;
  readyMs?: number;
}

/**
 * Emits a service.* event: `service`, `pid` (the service's process group,
 * the same in all events of one run), `port` (its --ready-port or null) and
 * `status` (null unless it ended), then the type's own fields (docs/events.md).
 */
function serviceEvent(home: string, type: string, spec: ServiceSpec, pid: number | undefined, fields: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  emitEvent(home, type, { context: spec.context, root: spec.root }, { service: spec.name, pid: pid ?? null, port: spec.readyPort ?? null, status: null, ...fields }, env);
}

/**
 * `ws-service start`: makes the service run the given command and returns
 * once it is ready. The same command (and environment) already running is
 * left alone; a changed one is stopped and started again. `--after`
 * services must exist (else 66) and be ready first. A service that exits
 * or is not ready in time is stopped and a ServiceError (exit 1) carries
 * its last log lines.
 */
export async function startService(req: StartRequest): Promise<StartResult> {
  const { home, contextDir, name, options } = req;
  const env = serviceEnv(req.env);
  for (const dep of options.after) {
    if (dep === name) throw new CliError(EX.USAGE, `${name} cannot start --after itself`);
    if (!readServiceSpec(contextDir, dep)) throw new CliError(EX.NOINPUT, `no service named '${dep}' in context ${req.context} (--after ${dep})`);
  }
  mkdirSync(serviceDir(contextDir, name), { recursive: true, mode: 0o700 });
  // Another start of the same service may be waiting for its readiness: wait for it, then look.
  const release = lock(path(contextDir, name, 'lock'), (options.readyTimeout + options.stopTimeout + 10) * 1000);
  try {
    const fingerprint = serviceFingerprint(req.argv, req.root, env, req.env);
    const old = readServiceSpec(contextDir, name);
    let state = readServiceState(contextDir, name);
    const now = new Date().toISOString();
    const spec: ServiceSpec = {
      v: 1,
      name,
      argv: req.argv,
      cwd: req.root,
      root: req.root,
      context: req.context,
      fingerprint,
      ...options,
      order: old?.order ?? nextOrder(contextDir),
      created: old?.created ?? now,
      updated: now,
    };
    const running = RUNNING_STATES.has(state.state) && aliveState(state);
    let restarted = false;
    if (running && old?.fingerprint === fingerprint && !req.force && state.state !== 'stopping') {
      writeFileAtomic(path(contextDir, name, 'spec.json'), `${JSON.stringify(spec)}\n`);
      if (state.state === 'ready') return { result: 'unchanged', pid: mainPid(state.pid!) };
      // Started by someone who died before it was ready, or restarted by the reaper: wait for it.
      return await finishStart(req, spec, env, state, Date.now() + options.readyTimeout * 1000, 'unchanged');
    }
    if (running) {
      const why = req.force ? 'restart' : state.state === 'stopping' ? 'stop' : 'changed';
      if (why === 'changed') req.say?.(`restarting ${name}: its command or environment changed`);
      await stopInstance(home, contextDir, old ?? spec, state, why, req.env);
      state = readServiceState(contextDir, name);
      restarted = true;
    } else if (state.pid) {
      dropPidFile(contextDir, name, state.pid);
    }
    const deadline = Date.now() + options.readyTimeout * 1000;
    await waitForDependencies(contextDir, spec, deadline);
    writeFileAtomic(path(contextDir, name, 'spec.json'), `${JSON.stringify(spec)}\n`);
    writeFileAtomic(path(contextDir, name, 'env.json'), `${JSON.stringify(env)}\n`);
    const fresh = launch(home, contextDir, spec, env, req.env, 0, Date.now() + options.readyTimeout * 1000);
    return await finishStart(req, spec, env, fresh, fresh.readyDeadline!, restarted ? 'restarted' : 'started');
  } finally {
    release();
  }
}

/** The next start order number in the context (one more than any service's). */
function nextOrder(contextDir: string): number {
  return listServices(contextDir).reduce((max, s) => Math.max(max, s.spec.order), 0) + 1;
}

/** Spawns the process and records it: state `starting`, the `pid` file, a service.start event. */
function launch(home: string, contextDir: string, spec: ServiceSpec, env: Record<string, string>, ownEnv: NodeJS.ProcessEnv, restarts: number, readyDeadline: number): ServiceState {
  const id = spawnService(contextDir, spec, env, ownEnv);
  const state: ServiceState = { state: 'starting', pid: id.pid, start: id.start, startedAt: Date.now(), readyDeadline, restarts };
  writeState(contextDir, spec.name, state);
  serviceEvent(home, 'service.start', spec, id.pid, { command: spec.argv, ...(restarts ? { restart: restarts } : {}) }, ownEnv);
  return state;
}

/** Waits for readiness after a start; records and reports the outcome. */
async function finishStart(req: StartRequest, spec: ServiceSpec, env: Record<string, string>, state: ServiceState, deadline: number, result: StartResult['result']): Promise<StartResult> {
  const { home, contextDir, name } = req;
  const outcome = await awaitReady(contextDir, spec, env, state, deadline);
  const startedAt = state.startedAt ?? Date.now();
  if (outcome.kind === 'ready') {
    const ready: ServiceState = { ...state, state: 'ready', readyAt: Date.now(), readyDeadline: undefined };
    writeState(contextDir, name, ready);
    const readyMs = ready.readyAt! - startedAt;
    serviceEvent(home, 'service.ready', spec, state.pid, { duration_ms: readyMs }, req.env);
    return { result, pid: mainPid(state.pid!), readyMs };
  }
  let message: string;
  if (outcome.kind === 'exited') {
    dropPidFile(contextDir, name, state.pid);
    writeState(contextDir, name, { ...state, state: 'failed', exitedAt: Date.now(), status: outcome.status, reason: 'exited before it was ready', readyDeadline: undefined });
    serviceEvent(home, 'service.exit', spec, state.pid, { status: outcome.status }, req.env);
    message = `${name} exited ${outcome.status === null ? '' : `with status ${outcome.status} `}before it was ready`;
  } else {
    await stopInstance(home, contextDir, spec, state, 'not ready', req.env, 'failed');
    message = `${name} was not ready after ${spec.readyTimeout} s${outcome.detail ? ` (${outcome.detail})` : ''}; stopped it`;
  }
  const log = serviceLogPath(contextDir, name);
  throw new ServiceError(message, lastRunLines(contextDir, name, 10), log);
}

/** Waits until every `--after` service is ready; one that is not running and not about to be fails at once. */
async function waitForDependencies(contextDir: string, spec: ServiceSpec, deadline: number): Promise<void> {
  for (const dep of spec.after) {
    for (;;) {
      const state = readServiceState(contextDir, dep);
      const alive = aliveState(state);
      if (state.state === 'ready' && alive) break;
      const coming = (state.state === 'starting' && alive) || state.state === 'backoff' || (state.state === 'ready' && !alive);
      if (!coming) {
        throw new ServiceError(`${spec.name} needs ${dep}, which is not running (${state.state})`, [], serviceLogPath(contextDir, dep));
      }
      if (Date.now() >= deadline) {
        throw new ServiceError(`${spec.name} needs ${dep}, which was not ready after ${spec.readyTimeout} s`, [], serviceLogPath(contextDir, dep));
      }
      await sleep(POLL_MS);
    }
  }
}

// ------------------------------------------------------------------- stop ----

/**
 * Stops one running instance: SIGTERM to its process group, SIGKILL after
 * its stop timeout, then waits (at most 2 s more) until the group is gone.
 * Records state `final` (default `stopped`) and emits service.stop.
 */
async function stopInstance(
  home: string,
  contextDir: string,
  spec: ServiceSpec,
  state: ServiceState,
  reason: string,
  env: NodeJS.ProcessEnv,
  final: ServiceStateName = 'stopped',
): Promise<{ killed: boolean }> {
  const pgid = state.pid;
  if (!pgid) return { killed: false };
  const stopDeadline = state.state === 'stopping' && state.stopDeadline ? state.stopDeadline : Date.now() + spec.stopTimeout * 1000;
  writeState(contextDir, spec.name, { ...state, state: 'stopping', stopDeadline, reason });
  // Only a group whose leader is the recorded process is surely ours: a dead
  // leader's number may have been given to another process since.
  const ours = aliveState(state);
  let killed = false;
  if (ours) {
    const members = new Map<number, string>();
    collectMembers(pgid, members);
    signalService(pgid, members, 'SIGTERM');
    while (serviceAlive(pgid, members) && Date.now() < stopDeadline) await sleep(50);
    if (serviceAlive(pgid, members)) {
      killed = true;
      signalService(pgid, members, 'SIGKILL');
      const end = Date.now() + 2000;
      while (serviceAlive(pgid, members) && Date.now() < end) await sleep(20);
    }
  }
  const status = recordedStatus(contextDir, spec.name, pgid);
  dropPidFile(contextDir, spec.name, pgid);
  writeState(contextDir, spec.name, { ...state, state: final, stopDeadline: undefined, readyDeadline: undefined, exitedAt: Date.now(), status, reason });
  logNote(contextDir, spec.name, `stopped (${reason})${killed ? ' with SIGKILL' : ''}`);
  serviceEvent(home, 'service.stop', spec, pgid, { status, reason, killed }, env);
  return { killed };
}

export interface StopResult {
  /** The service was running and is stopped now. */
  stopped: boolean;
  killed: boolean;
}

/** `ws-service stop NAME`: stops it if it runs and cancels a pending restart. Unknown NAME: 66. */
export async function stopService(home: string, contextDir: string, name: string, env: NodeJS.ProcessEnv, reason = 'stop'): Promise<StopResult> {
  const spec = readServiceSpec(contextDir, name);
  if (!spec) throw new CliError(EX.NOINPUT, `no service named '${name}' in this context`);
  // A start waiting for readiness holds the lock; stopping wins after a while.
  const release = await lockWithin(path(contextDir, name, 'lock'), 5000);
  try {
    const state = readServiceState(contextDir, name);
    if (RUNNING_STATES.has(state.state) && aliveState(state)) {
      const { killed } = await stopInstance(home, contextDir, spec, state, reason, env);
      return { stopped: true, killed };
    }
    // Stopped on purpose: no longer "should run" (a crash's status and time stay in the record).
    if (state.state !== 'stopped') writeState(contextDir, name, { ...state, state: 'stopped', nextRestartAt: undefined, reason });
    if (state.pid) dropPidFile(contextDir, name, state.pid);
    return { stopped: false, killed: false };
  } finally {
    release?.();
  }
}

/** Services in the order to stop them: reverse start order, and never one before a service that runs `--after` it. */
export function stopOrder(infos: ServiceInfo[]): ServiceInfo[] {
  const remaining = [...infos].sort((a, b) => b.spec.order - a.spec.order || b.name.localeCompare(a.name));
  const out: ServiceInfo[] = [];
  while (remaining.length) {
    const free = remaining.findIndex((s) => !remaining.some((o) => o !== s && o.spec.after.includes(s.name)));
    out.push(...remaining.splice(free === -1 ? 0 : free, 1));
  }
  return out;
}

/**
 * Stops every service of a context, in reverse start order (SIGTERM to the
 * group, SIGKILL after its stop timeout) and cancels pending restarts.
 * Called by the unload before its hooks run.
 */
export async function stopAllServices(home: string, contextDir: string, env: NodeJS.ProcessEnv, reason = 'unload'): Promise<void> {
  for (const info of stopOrder(listServices(contextDir))) {
    try {
      await stopService(home, contextDir, info.name, env, reason);
    } catch {
      /* one service must not keep the others running */
    }
  }
}

// -------------------------------------------------------------- supervise ----

/** Backoff before restart number `n` (1, 2, 4 … 60 s). */
export const backoffMs = (n: number) => Math.min(BACKOFF_BASE_MS * 2 ** Math.max(n - 1, 0), BACKOFF_MAX_MS);

export interface SuperviseOptions {
  now?: () => number;
}

/**
 * One supervision pass over a context's services, for the reaper's sweep:
 * a service whose process is gone gets service.exit (with its status) and,
 * with `--restart on-failure` (non-zero status) or `always`, a restart after
 * an exponential backoff kept in state.json; a restarted service is checked
 * for readiness on later passes; an interrupted stop is finished; logs of
 * live services are kept under their size cap. Cheap when nothing changed:
 * reads state.json, takes no lock.
 */
export async function superviseServices(home: string, contextDir: string, env: NodeJS.ProcessEnv, opts: SuperviseOptions = {}): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(servicesDir(contextDir));
  } catch {
    return;
  }
  const now = opts.now ?? Date.now;
  for (const name of names) {
    if (!SERVICE_NAME_RE.test(name)) continue;
    const peek = readServiceState(contextDir, name);
    const alive = aliveState(peek);
    const due =
      (RUNNING_STATES.has(peek.state) && !alive) ||
      peek.state === 'starting' ||
      peek.state === 'stopping' ||
      (peek.state === 'backoff' && now() >= (peek.nextRestartAt ?? 0));
    if (alive) rotateServiceLog(serviceLogPath(contextDir, name), logMax(env), true);
    if (!due) continue;
    const release = tryLock(path(contextDir, name, 'lock'));
    if (!release) continue; // a ws-service command is at it
    try {
      await superviseOne(home, contextDir, name, env, now);
    } catch {
      /* the next pass tries again */
    } finally {
      release();
    }
  }
}

async function superviseOne(home: string, contextDir: string, name: string, env: NodeJS.ProcessEnv, now: () => number): Promise<void> {
  const spec = readServiceSpec(contextDir, name);
  const state = readServiceState(contextDir, name);
  if (!spec) return;
  const alive = aliveState(state);
  if (state.state === 'stopping') {
    // Its stopper died: finish the stop.
    await stopInstance(home, contextDir, spec, state, state.reason ?? 'stop', env);
    return;
  }
  if ((state.state === 'starting' || state.state === 'ready') && !alive) {
    noticeExit(home, contextDir, spec, state, env, now);
    return;
  }
  if (state.state === 'starting' && alive) {
    const deadline = state.readyDeadline ?? (state.startedAt ?? now()) + spec.readyTimeout * 1000;
    const probe = await probeReady(spec, readEnv(contextDir, name, env), state.startedAt ?? now(), Math.min(1000, Math.max(deadline - now(), 100)));
    if (probe.ok && aliveState(state)) {
      writeState(contextDir, name, { ...state, state: 'ready', readyAt: now(), readyDeadline: undefined });
      serviceEvent(home, 'service.ready', spec, state.pid, { duration_ms: now() - (state.startedAt ?? now()) }, env);
    } else if (now() >= deadline) {
      await stopInstance(home, contextDir, spec, state, 'not ready', env, 'failed');
      scheduleRestart(contextDir, spec, readServiceState(contextDir, name), now, true);
    }
    return;
  }
  if (state.state === 'backoff' && now() >= (state.nextRestartAt ?? 0)) {
    logNote(contextDir, name, `restart ${state.restarts} (--restart ${spec.restart})`);
    try {
      launch(home, contextDir, spec, readEnv(contextDir, name, env), env, state.restarts, now() + spec.readyTimeout * 1000);
    } catch (error) {
      writeState(contextDir, name, { ...state, state: 'failed', nextRestartAt: undefined, reason: (error as Error).message });
    }
  }
}

/** The environment saved at the last start (the context's), else the given one. */
function readEnv(contextDir: string, name: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const saved = readJson<Record<string, string>>(path(contextDir, name, 'env.json'));
  return saved && typeof saved === 'object' ? saved : serviceEnv(env);
}

/** Records an exit noticed by the supervisor: service.exit, then a restart if the policy wants one. */
function noticeExit(home: string, contextDir: string, spec: ServiceSpec, state: ServiceState, env: NodeJS.ProcessEnv, now: () => number): void {
  const status = recordedStatus(contextDir, spec.name, state.pid);
  dropPidFile(contextDir, spec.name, state.pid);
  // Whatever the command left in its group goes too, so a restart finds its port free; only
  // right after the exit, while the group's number cannot belong to anyone else yet.
  if (state.pid && exitedRecently(contextDir, spec.name, now())) {
    const members = new Map<number, string>();
    if (serviceAlive(state.pid, members)) signalService(state.pid, members, 'SIGTERM');
  }
  const exited: ServiceState = { ...state, state: 'exited', exitedAt: now(), status, readyDeadline: undefined, reason: 'exited' };
  writeState(contextDir, spec.name, exited);
  serviceEvent(home, 'service.exit', spec, state.pid, { status }, env);
  const failed = status !== 0;
  if (spec.restart === 'always' || (spec.restart === 'on-failure' && failed)) scheduleRestart(contextDir, spec, exited, now, state.state !== 'ready');
}

function scheduleRestart(contextDir: string, spec: ServiceSpec, state: ServiceState, now: () => number, neverReady: boolean): void {
  if (spec.restart === 'no') return;
  const ranFor = now() - (state.startedAt ?? now());
  const restarts = !neverReady && ranFor >= BACKOFF_RESET_MS ? 1 : state.restarts + 1;
  const delay = backoffMs(restarts);
  writeState(contextDir, spec.name, { ...state, state: 'backoff', restarts, nextRestartAt: now() + delay });
  logNote(contextDir, spec.name, `restarting in ${delay / 1000} s`);
}

/** True if the service directory has a spec (the context "has" the service). */
export const hasService = (contextDir: string, name: string) => existsSync(path(contextDir, name, 'spec.json')) && readServiceSpec(contextDir, name) !== undefined;
