// Shared helpers of the fault-injection suite (test-stress/stress.mjs).
// Everything here drives the real binaries in bin/ as a user would: child
// processes with their own WS_STATE_HOME, bounded by timeouts; every process
// started is stopped by its PID (and start time) at the end of its trial.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(REPO, 'bin');

// The environment of every command: nothing of the caller's ws or direnv
// state, the repo's bin/ first, quick reapers and grace periods.
export function baseEnv(home, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(WS_|_WS_|DIRENV_)/.test(k)) continue;
    if (['BASH_ENV', 'ENV', 'CDPATH', 'ZDOTDIR', 'PROMPT_COMMAND', 'TMUX', 'TMUX_PANE'].includes(k)) continue;
    env[k] = v;
  }
  env.PATH = `${BIN}:${process.env.PATH}`;
  env.NO_COLOR = '1';
  env.LANG = env.LC_ALL = 'C.UTF-8';
  env.WS_STATE_HOME = home;
  env.WS_REAPER_IDLE = '2';
  env.WS_UNLOAD_GRACE = '1';
  env.WS_BUILD_TIMEOUT = '20000';
  env.WS_BUILD_WAIT = '0';
  return { ...env, ...extra };
}

// run(argv, {cwd, env, timeout, input}) → {code, signal, stdout, stderr, hung}
// stdout and stderr as Buffers. A command still running after `timeout` ms is
// SIGKILLed and reported as hung.
export function run(argv, { cwd, env, timeout = 10000, input } = {}) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      try { child.kill('SIGKILL'); } catch { /* gone */ }
    }, timeout);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', (e) => err.push(Buffer.from(String(e))));
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, hung, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
}

// A crash: exit 70 (EX_SOFTWARE), death by a signal we did not send, or a
// stack trace / internal error on stderr.
export function isCrash(r) {
  if (r.hung) return false;
  if (r.code === 70 || (r.code === null && r.signal)) return true;
  const e = r.stderr.toString();
  return /^\s+at .+[:(]/m.test(e) || /internal error/i.test(e) || /Uncaught|UnhandledPromiseRejection/.test(e);
}

// Messages are one line each, prefixed with the command's name ("ws…: ").
export function badMessages(r) {
  return r.stderr.toString().split('\n').filter((l) => l !== '' && !/^ws[-a-z_]*: /.test(l) && !/^allocate_port: /.test(l));
}

export const sleepMs = (ms) => new Promise((res) => setTimeout(res, ms));

// waitFor(fn, ms) — poll fn every 50 ms until it returns truthy; the value,
// or undefined after ms.
export async function waitFor(fn, ms = 10000, every = 50) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) return undefined;
    await sleepMs(every);
  }
}

export function startTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return null;
    return rest[19];
  } catch {
    return null;
  }
}
export const alive = (pid, start) => {
  const s = startTime(pid);
  return s !== null && (start === undefined || s === start);
};

// Processes we started and must stop: {pid, start}.
const tracked = [];
export function track(pid) {
  const start = startTime(pid);
  if (start) tracked.push({ pid, start });
  return pid;
}

// A real sleeping process to be a shell's stand-in (a user of a context).
export function sleeper(secs = 600) {
  const child = spawn('sleep', [String(secs)], { stdio: 'ignore', detached: false });
  child.unref();
  track(child.pid);
  return child.pid;
}

// Every process whose environment names this state home (reapers, builds,
// services, their grandchildren), as {pid, start}.
export function processesOf(home, prefix = false) {
  const needle = Buffer.from(`\0WS_STATE_HOME=${home}${prefix ? '' : '\0'}`);
  const found = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    let env;
    try { env = fs.readFileSync(`/proc/${d}/environ`); } catch { continue; }
    if (Buffer.concat([Buffer.from([0]), env]).includes(needle)) {
      const start = startTime(Number(d));
      if (start) found.push({ pid: Number(d), start });
    }
  }
  return found;
}

// Stop these processes by PID: TERM, then KILL after `grace` ms; a PID now
// holding another start time is left alone.
export async function stop(entries, grace = 1000) {
  let live = entries.filter((e) => alive(e.pid, e.start));
  for (const sig of ['SIGTERM', 'SIGKILL']) {
    for (const e of live) { try { process.kill(e.pid, sig); } catch { /* gone */ } }
    await waitFor(() => (live = live.filter((e) => alive(e.pid, e.start))).length === 0, grace);
    if (!live.length) return;
  }
}

export async function stopHome(home) {
  // A reaper's worker whose watcher was killed starts a new watcher: stop until none is left.
  for (let round = 0; round < 5; round++) {
    const left = processesOf(home);
    if (!left.length) return;
    await stop(left, 500);
  }
}
export async function stopTracked() {
  await stop(tracked.splice(0), 500);
}

// A checksum of a directory tree: names, types, modes, link targets and
// contents. Anything written, created or removed inside changes it.
export function treeSum(dir) {
  const h = createHash('sha256');
  const walk = (p, rel) => {
    let st;
    try { st = fs.lstatSync(p); } catch { h.update(`missing ${rel}\n`); return; }
    h.update(`${rel} ${st.mode} ${st.size}\n`);
    if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
    else if (st.isFile()) h.update(fs.readFileSync(p));
    else if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n), `${rel}/${n}`);
  };
  walk(dir, '.');
  return h.digest('hex');
}

// Regular files under dir, relative, sorted.
export function listFiles(dir) {
  const out = [];
  const walk = (p, rel) => {
    for (const n of fs.readdirSync(p).sort()) {
      // A live reaper renames its temporary files into place meanwhile (reaper.wake.tmp.PID): gone is not listed.
      const st = fs.lstatSync(path.join(p, n), { throwIfNoEntry: false });
      if (!st) continue;
      const r = rel ? `${rel}/${n}` : n;
      if (st.isDirectory()) walk(path.join(p, n), r);
      else if (st.isFile()) out.push(r);
    }
  };
  walk(dir, '');
  return out;
}

export function mkdirp(p, mode) {
  fs.mkdirSync(p, { recursive: true, mode });
  return p;
}

export function writeWorkspace(dir, text) {
  mkdirp(dir);
  fs.writeFileSync(path.join(dir, '.workspace'), text);
}

export async function allow(dir, env) {
  const r = await run([`${BIN}/ws-allow`, dir], { env, cwd: dir });
  if (r.code !== 0) throw new Error(`ws-allow ${dir}: ${r.stderr}`);
}

// The live reaper of a state home, or null.
export function reaperOf(home) {
  try {
    const [pid, start] = fs.readFileSync(path.join(home, 'reaper.pid'), 'utf8').trim().split(/\s+/);
    return alive(Number(pid), start) ? { pid: Number(pid), start } : null;
  } catch {
    return null;
  }
}

export function lines(file) {
  try {
    const t = fs.readFileSync(file, 'utf8');
    return t === '' ? 0 : t.replace(/\n$/, '').split('\n').length;
  } catch {
    return 0;
  }
}

// Runs fns with at most n at a time.
export async function pool(n, items, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
}

// A seeded random generator (mulberry32), so a run can be repeated with
// WS_STRESS_SEED.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
