import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CliError, EX } from '../src/cli/errors.js';
import { processStartTime } from '../src/process/proc.js';
import { ensureStateHome, stateHomePath, STATE_VERSION } from '../src/state/home.js';
import { lock, tryLock } from '../src/state/lock.js';

// docs/state-home.md: mode 0700 with VERSION; an unsafe state home is refused
// (77) before anything is written; locks hold `PID START-TIME`, and a lock
// whose holder is dead (SIGKILL) or whose PID was recycled is taken over.

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
let dir: string;
let childScript: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-state-'));
  // A child process that uses the real tryLock/lock: bundle a tiny entry with esbuild (tsup's).
  const entry = join(dir, 'lock-child.ts');
  writeFileSync(
    entry,
    `import { writeFileSync, readFileSync } from 'node:fs';
import { lock, tryLock } from ${JSON.stringify(join(repo, 'packages/core/src/state/lock.ts'))};
const [mode, path, arg] = process.argv.slice(2);
if (mode === 'hold') {
  const release = tryLock(path, 5000);
  process.stdout.write(release ? 'locked\\n' : 'busy\\n');
  setTimeout(() => process.exit(0), 30_000); // bounded, whatever happens to the test
} else if (mode === 'count') {
  // Read-modify-write a counter under the lock, with a pause in the middle to invite races.
  for (let i = 0; i < Number(arg); i++) {
    const release = lock(path, 20_000);
    const counter = path + '.counter';
    const n = Number(readFileSync(counter, 'utf8'));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    writeFileSync(counter, String(n + 1));
    release();
  }
}
`,
  );
  childScript = join(dir, 'lock-child.mjs');
  execFileSync(join(repo, 'node_modules/.bin/esbuild'), [entry, '--bundle', '--platform=node', '--format=esm', `--outfile=${childScript}`, '--log-level=warning'], { timeout: 30_000 });
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
const fresh = (name = 'x') => join(dir, `${name}-${++seq}`);

function expectCliError(fn: () => unknown, code: number, message?: RegExp) {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CliError);
  expect((error as CliError).code).toBe(code);
  if (message) expect((error as CliError).message).toMatch(message);
}

describe('stateHomePath', () => {
  it('is $WS_STATE_HOME, else $XDG_STATE_HOME/ws, else ~/.local/state/ws', () => {
    expect(stateHomePath({ WS_STATE_HOME: '/a', XDG_STATE_HOME: '/b', HOME: '/c' })).toBe('/a');
    expect(stateHomePath({ XDG_STATE_HOME: '/b', HOME: '/c' })).toBe('/b/ws');
    expect(stateHomePath({ HOME: '/c' })).toBe('/c/.local/state/ws');
    expect(stateHomePath({ WS_STATE_HOME: '', XDG_STATE_HOME: '', HOME: '/c' })).toBe('/c/.local/state/ws');
  });
});

describe('ensureStateHome', () => {
  it('creates a missing state home (and its parents) with mode 0700 and VERSION', () => {
    const home = join(fresh('parent'), 'deeper', 'ws');
    expect(ensureStateHome({ WS_STATE_HOME: home })).toBe(home);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(home, 'VERSION'), 'utf8')).toBe(`${STATE_VERSION}\n`);
    expect(STATE_VERSION).toBe(1);
  });

  it('creates 0700 even under a permissive umask', () => {
    const home = fresh('umask');
    const old = process.umask(0);
    try {
      ensureStateHome({ WS_STATE_HOME: home });
    } finally {
      process.umask(old);
    }
    expect(statSync(home).mode & 0o777).toBe(0o700);
  });

  it('uses $XDG_STATE_HOME/ws', () => {
    const xdg = fresh('xdg');
    mkdirSync(xdg, { mode: 0o700 });
    expect(ensureStateHome({ XDG_STATE_HOME: xdg })).toBe(join(xdg, 'ws'));
    expect(existsSync(join(xdg, 'ws', 'VERSION'))).toBe(true);
  });

  it('accepts an existing 0700 or 0755 directory and adds VERSION; leaves an existing VERSION alone', () => {
    for (const mode of [0o700, 0o755, 0o750]) {
      const home = fresh('ok');
      mkdirSync(home);
      chmodSync(home, mode);
      ensureStateHome({ WS_STATE_HOME: home });
      expect(readFileSync(join(home, 'VERSION'), 'utf8')).toBe('1\n');
      expect(statSync(home).mode & 0o777).toBe(mode);
    }
    const home = fresh('kept');
    mkdirSync(home, { mode: 0o700 });
    writeFileSync(join(home, 'VERSION'), '1\n');
    writeFileSync(join(home, 'other'), 'x');
    ensureStateHome({ WS_STATE_HOME: home });
    expect(readdirSync(home).sort()).toEqual(['VERSION', 'other']);
  });

  it.each([0o777, 0o770, 0o775, 0o722, 0o702, 0o720, 0o1777])('refuses mode %s with code 77 and writes nothing', (mode) => {
    const home = fresh('unsafe');
    mkdirSync(home);
    chmodSync(home, mode);
    expectCliError(() => ensureStateHome({ WS_STATE_HOME: home }), EX.NOPERM, /writable by others/);
    expect(readdirSync(home)).toEqual([]);
    expect(statSync(home).mode & 0o7777).toBe(mode);
  });

  it('refuses an unsafe state home even when VERSION is already there', () => {
    const home = fresh('unsafe-v');
    mkdirSync(home);
    writeFileSync(join(home, 'VERSION'), '1\n');
    chmodSync(home, 0o777);
    expectCliError(() => ensureStateHome({ WS_STATE_HOME: home }), EX.NOPERM);
    expect(readdirSync(home)).toEqual(['VERSION']);
  });

  it('refuses a state home that is a file (77)', () => {
    const home = fresh('file');
    writeFileSync(home, '');
    expectCliError(() => ensureStateHome({ WS_STATE_HOME: home }), EX.NOPERM, /not a directory/);
  });

  it.runIf(process.getuid?.() === 0)('refuses a state home owned by another user (77), writing nothing', () => {
    const home = fresh('other-user');
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, 12345, 12345);
    expectCliError(() => ensureStateHome({ WS_STATE_HOME: home }), EX.NOPERM, /owned by uid 12345/);
    expect(readdirSync(home)).toEqual([]);
  });
});

/** Spawns the lock child; resolves with it once it printed its first line. */
async function holdLock(path: string): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, [childScript, 'hold', path], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const line = await new Promise<string>((done, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error('lock child did not answer within 10 s')), 10_000);
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) {
        clearTimeout(timer);
        done(out.trim());
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`lock child exited early (${code})`));
    });
  });
  return { child, line };
}

const exited = (child: ChildProcess) =>
  new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', () => done());
  });

describe('tryLock and lock', () => {
  it('takes a free lock, writes "PID START-TIME", and releases it', () => {
    const path = join(fresh('locks'), 'sub', 'a.lock');
    const release = tryLock(path);
    expect(release).toBeTypeOf('function');
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid} ${processStartTime(process.pid)}\n`);
    release!();
    expect(existsSync(path)).toBe(false);
    const again = tryLock(path);
    expect(again).toBeTypeOf('function');
    again!();
  });

  it('is exclusive: a held lock is busy for a second taker, even in the same process', () => {
    const path = fresh('busy');
    const release = tryLock(path)!;
    expect(tryLock(path)).toBeUndefined();
    const start = Date.now();
    expect(tryLock(path, 150)).toBeUndefined();
    expect(Date.now() - start).toBeGreaterThanOrEqual(140);
    expect(Date.now() - start).toBeLessThan(2000);
    expectCliError(() => lock(path, 50), EX.TEMPFAIL, /busy/);
    release();
    lock(path, 50)();
  });

  it('is exclusive across processes: a lock held by a live child is busy here', async () => {
    const path = fresh('cross');
    const { child, line } = await holdLock(path);
    expect(line).toBe('locked');
    expect(readFileSync(path, 'utf8')).toBe(`${child.pid} ${processStartTime(child.pid!)}\n`);
    expect(tryLock(path, 100)).toBeUndefined();
    expectCliError(() => lock(path, 100), EX.TEMPFAIL);
    child.kill('SIGTERM');
    await exited(child);
  });

  it('a lock whose holder was SIGKILLed is taken over', async () => {
    const path = fresh('killed');
    const { child, line } = await holdLock(path);
    expect(line).toBe('locked');
    expect(tryLock(path)).toBeUndefined();
    child.kill('SIGKILL');
    await exited(child);
    // The file is still there, naming a dead process.
    expect(readFileSync(path, 'utf8').split(' ')[0]).toBe(String(child.pid));
    const start = Date.now();
    const release = tryLock(path);
    expect(release).toBeTypeOf('function');
    expect(Date.now() - start).toBeLessThan(1000);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid} ${processStartTime(process.pid)}\n`);
    release!();
    expect(readdirSync(dirname(path)).filter((n) => n.startsWith(`${path.split('/').pop()}.`))).toEqual([]);
  });

  it('a child waiting on a lock gets it once the holder is SIGKILLed', async () => {
    const path = fresh('handover');
    // The holder: a process that then dies.
    const victim = spawn('sleep', ['30']);
    children.push(victim);
    await new Promise((done) => victim.once('spawn', done));
    writeFileSync(path, `${victim.pid} ${processStartTime(victim.pid!)}\n`);
    const waiter = holdLock(path);
    await new Promise((done) => setTimeout(done, 200));
    victim.kill('SIGKILL');
    await exited(victim);
    const { line } = await waiter;
    expect(line).toBe('locked');
  });

  it('a lock whose PID is alive but started at another time (a recycled PID) is taken over', () => {
    const path = fresh('recycled');
    // Our own PID, with a start time that is not ours.
    writeFileSync(path, `${process.pid} 1\n`);
    const release = tryLock(path);
    expect(release).toBeTypeOf('function');
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid} ${processStartTime(process.pid)}\n`);
    release!();
    // The parent's PID (alive) with a fake start time, and a PID with no start time at all.
    writeFileSync(path, `${process.ppid} 999999999999\n`);
    tryLock(path)!();
    writeFileSync(path, `${process.ppid}\n`);
    tryLock(path)!();
  });

  it('a lock naming a live process with its true start time is respected', () => {
    const path = fresh('live');
    writeFileSync(path, `${process.ppid} ${processStartTime(process.ppid)}\n`);
    expect(tryLock(path, 50)).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe(`${process.ppid} ${processStartTime(process.ppid)}\n`);
  });

  it('a lock naming a PID that does not exist is taken over', () => {
    const path = fresh('nopid');
    writeFileSync(path, '4194999 12345\n'); // above pid_max's largest value
    tryLock(path)!();
  });

  it('an empty (torn) lock file is left alone while fresh and taken over once stale', () => {
    const path = fresh('torn');
    writeFileSync(path, '');
    expect(tryLock(path, 50)).toBeUndefined();
    const old = (Date.now() - 10_000) / 1000;
    utimesSync(path, old, old);
    const release = tryLock(path);
    expect(release).toBeTypeOf('function');
    release!();
  });

  it('garbage in a lock file never crashes a taker', () => {
    const path = fresh('garbage');
    writeFileSync(path, 'not a pid at all\n');
    const release = tryLock(path, 50);
    expect(release).toBeTypeOf('function');
    release!();
  });

  it('many processes contending: every read-modify-write under the lock is kept (no two holders at once)', async () => {
    const path = fresh('counter');
    writeFileSync(`${path}.counter`, '0');
    const perChild = 40;
    const count = 6;
    const runs = Array.from({ length: count }, () => {
      const child = spawn(process.execPath, [childScript, 'count', path, String(perChild)], { stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr!.on('data', (chunk) => (stderr += chunk));
      return new Promise<{ code: number | null; stderr: string }>((done) => child.on('exit', (code) => done({ code, stderr })));
    });
    const results = await Promise.all(runs);
    expect(results).toEqual(Array.from({ length: count }, () => ({ code: 0, stderr: '' })));
    expect(Number(readFileSync(`${path}.counter`, 'utf8'))).toBe(count * perChild);
    expect(existsSync(path)).toBe(false);
  }, 60_000);
});
