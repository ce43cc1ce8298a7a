import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readContextRecord, writeContextRecord, type ContextState } from '../src/context/record.js';
import { writeFileAtomic } from '../src/state/atomic.js';
import { processStartTime } from '../src/process/proc.js';
import { REAPER_PID_FILE, runningReaper, sweep } from '../src/reaper/reaper.js';
import { contextDir } from '../src/state/home.js';
import { registerUnloadHook } from '../src/unload/hooks.js';
import { listUsers, registerUser, unregisterUser } from '../src/users/users.js';

let dir: string;
let home: string;
let out: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-reaper-'));
  home = join(dir, 'state');
  out = join(dir, 'out');
  mkdirSync(home, { mode: 0o700 });
  env = { PATH: process.env.PATH, OUT: out, WS_UNLOAD_GRACE: '2' };
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A loaded context with one hook that appends its name to $OUT. */
function makeContext(name: string, state: ContextState = 'ready'): string {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  const ctx = contextDir(home, root);
  writeContextRecord(ctx, { root, name, file: join(root, '.workspace'), state, env: 'default' });
  registerUnloadHook(ctx, { kind: 'sh', args: [`echo ${name} >>"$OUT"`] });
  return ctx;
}

const deadPid = () => spawnSync('true').pid!;
const userRecord = (ctx: string, pid: number, start: string) =>
  writeFileAtomic(join(ctx, 'users', String(pid)), JSON.stringify({ pid, start, joined: new Date().toISOString() }));
const ran = () => (existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n') : []);
const users = (ctx: string) => readdirSync(join(ctx, 'users'));

describe('sweep', () => {
  it('drops a dead user, waits for the grace period, then unloads', async () => {
    const ctx = makeContext('proj');
    const pid = deadPid();
    userRecord(ctx, pid, 'gone');
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    let now = t0;
    const clock = () => new Date(now);

    const first = await sweep(home, { env, now: clock });
    expect(first).toEqual({ liveUsers: 0, waiting: 1, supervising: 0, nextDue: t0 + 2000 });
    expect(users(ctx)).toEqual([]);
    expect(readFileSync(join(home, 'events.jsonl'), 'utf8')).toMatch(new RegExp(`"type":"user.leave".*"pid":${pid}`));

    now = t0 + 1999;
    expect((await sweep(home, { env, now: clock })).waiting).toBe(1);
    expect(ran()).toEqual([]);

    now = t0 + 2000;
    expect(await sweep(home, { env, now: clock })).toEqual({ liveUsers: 0, waiting: 0, supervising: 0 });
    expect(ran()).toEqual(['proj']);
    expect(readContextRecord(ctx)?.state).toBe('unloaded');
    expect(existsSync(join(ctx, 'idle-since'))).toBe(false);

    // Unloaded: nothing more to do.
    now = t0 + 10_000;
    expect(await sweep(home, { env, now: clock })).toEqual({ liveUsers: 0, waiting: 0, supervising: 0 });
    expect(ran()).toEqual(['proj']);
  });

  it('a live shell whose record says it left is no user: removed, no second user.leave, grace then unload; a cached listing sees it too', async () => {
    const ctx = makeContext('proj');
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    let now = t0;
    const clock = () => new Date(now);
    // A live user first: the reaper caches its listing of users/.
    registerUser(ctx, process.pid, clock());
    expect(await sweep(home, { env, now: clock })).toMatchObject({ liveUsers: 1, waiting: 0 });
    // The shell rewrites its record in place (users/ keeps its mtime) and appends its event, as _ws_depart does.
    const path = join(ctx, 'users', String(process.pid));
    const joined = readFileSync(path, 'utf8');
    writeFileSync(path, `${joined.trim().replace(/}$/, '')},"left":"2026-01-01T00:00:00.000Z"}\n`);
    const leave = `{"v":1,"ts":"2026-01-01T00:00:00.000Z","type":"user.leave","context":"proj","root":"${join(dir, 'proj')}","pid":${process.pid},"cached":true}\n`;
    writeFileSync(join(home, 'events.jsonl'), leave, { flag: 'a' });
    expect(listUsers(ctx).live).toEqual([]);
    expect(listUsers(ctx).dead).toMatchObject([{ name: String(process.pid), left: true }]);
    expect(await sweep(home, { env, now: clock })).toEqual({ liveUsers: 0, waiting: 1, supervising: 0, nextDue: t0 + 2000 });
    expect(users(ctx)).toEqual([]);
    const events = readFileSync(join(home, 'events.jsonl'), 'utf8').split('\n').filter((l) => l.includes('user.leave'));
    expect(events).toEqual([leave.trim()]);
    now = t0 + 2000;
    expect(await sweep(home, { env, now: clock })).toEqual({ liveUsers: 0, waiting: 0, supervising: 0 });
    expect(ran()).toEqual(['proj']);
  });

  it('registerUser overwrites a record that says it left; unregisterUser does not report it as a user', () => {
    const ctx = makeContext('proj');
    const path = join(ctx, 'users', String(process.pid));
    mkdirSync(join(ctx, 'users'), { recursive: true });
    const left = () => writeFileSync(path, `{"pid":${process.pid},"start":"${processStartTime(process.pid)}","joined":"2026-01-01T00:00:00.000Z","left":"2026-01-01T00:00:01.000Z"}\n`);
    left();
    const record = registerUser(ctx, process.pid);
    expect(record?.left).toBeUndefined();
    expect(JSON.parse(readFileSync(path, 'utf8')).left).toBeUndefined();
    expect(listUsers(ctx).live.map((u) => u.pid)).toEqual([process.pid]);
    // Registered: a second registration is no new user.
    expect(registerUser(ctx, process.pid)).toBeUndefined();
    left();
    expect(unregisterUser(ctx, process.pid)).toBeUndefined();
    expect(existsSync(path)).toBe(false);
  });

  it('counts a live PID with another start time (a recycled PID) as dead', async () => {
    const ctx = makeContext('proj');
    userRecord(ctx, process.pid, 'not-my-start-time');
    const result = await sweep(home, { env: { ...env, WS_UNLOAD_GRACE: '0' } });
    expect(result.liveUsers).toBe(0);
    expect(users(ctx)).toEqual([]);
    expect(ran()).toEqual(['proj']);
  });

  it('counts a departure record (a live shell that wrote "left") as gone: removed, unloaded, no user.leave of its own (the shell wrote it)', async () => {
    const ctx = makeContext('proj');
    const record = registerUser(ctx, process.pid)!;
    writeFileSync(join(ctx, 'users', String(process.pid)), `${JSON.stringify({ ...record, left: new Date().toISOString() })}\n`);
    const result = await sweep(home, { env: { ...env, WS_UNLOAD_GRACE: '0' } });
    expect(result.liveUsers).toBe(0);
    expect(users(ctx)).toEqual([]);
    expect(ran()).toEqual(['proj']);
    expect(readFileSync(join(home, 'events.jsonl'), 'utf8')).not.toMatch(/"type":"user.leave"/);
    // The same shell entering again is a user again: its record is rewritten without "left".
    expect(registerUser(ctx, process.pid)).toBeDefined();
    expect(await sweep(home, { env })).toMatchObject({ liveUsers: 1 });
  });

  it('leaves a context with a live user alone and ends its grace period', async () => {
    const ctx = makeContext('proj');
    writeFileSync(join(ctx, 'idle-since'), `${new Date(0).toISOString()}\n`);
    expect(registerUser(ctx, process.pid)).toBeDefined();
    expect(await sweep(home, { env })).toEqual({ liveUsers: 1, waiting: 0, supervising: 0 });
    expect(existsSync(join(ctx, 'idle-since'))).toBe(false);
    expect(users(ctx)).toEqual([String(process.pid)]);
    expect(ran()).toEqual([]);
  });

  it('removes a corrupt user record with a note', async () => {
    const ctx = makeContext('proj');
    registerUser(ctx, process.pid);
    writeFileSync(join(ctx, 'users', '4242'), '{"pid":');
    // Unreadable and fresh may be mid-write; unreadable and old is corrupt.
    const old = new Date(Date.now() - 10_000);
    utimesSync(join(ctx, 'users', '4242'), old, old);
    const notes: string[] = [];
    await sweep(home, { env, log: (line) => notes.push(line) });
    expect(notes).toEqual([`removed corrupt user record ${ctx}/users/4242`]);
    expect(users(ctx)).toEqual([String(process.pid)]);
  });

  it('does not unload a context that is already unloaded or blocked, or has no record', async () => {
    makeContext('done', 'unloaded');
    makeContext('blocked', 'blocked');
    mkdirSync(join(home, 'contexts', 'stray-000000000000', 'users'), { recursive: true });
    expect(await sweep(home, { env: { ...env, WS_UNLOAD_GRACE: '0' } })).toEqual({ liveUsers: 0, waiting: 0, supervising: 0 });
    expect(ran()).toEqual([]);
  });

  it('unloads a context whose file was blocked after a user joined, and leaves it blocked', async () => {
    const ctx = makeContext('proj');
    registerUser(ctx, process.pid); // writes needs-unload
    rmSync(join(ctx, 'users', String(process.pid)));
    writeContextRecord(ctx, { root: join(dir, 'proj'), name: 'proj', file: join(dir, 'proj', '.workspace'), state: 'blocked', env: 'default' });
    await sweep(home, { env: { ...env, WS_UNLOAD_GRACE: '0' } });
    expect(ran()).toEqual(['proj']);
    expect(readContextRecord(ctx)?.state).toBe('blocked');
    expect(existsSync(join(ctx, 'needs-unload'))).toBe(false);
    // Done: it is not unloaded again.
    registerUnloadHook(ctx, { kind: 'sh', args: ['echo again >>"$OUT"'] });
    await sweep(home, { env: { ...env, WS_UNLOAD_GRACE: '0' } });
    expect(ran()).toEqual(['proj']);
  });

  it('finishes an interrupted unload at once, even with users', async () => {
    const ctx = makeContext('proj');
    registerUser(ctx, process.pid);
    const hooks = readdirSync(join(ctx, 'unload'));
    const record = JSON.parse(readFileSync(join(ctx, 'unload', hooks[0]), 'utf8'));
    writeFileAtomic(join(ctx, 'unload-run', 'journal.json'), JSON.stringify({ started: 'then', reason: 'run-now', order: [hooks[0]], hooks: { [hooks[0]]: { ...record, seq: hooks[0] } } }));
    await sweep(home, { env });
    expect(ran()).toEqual(['proj']);
    expect(existsSync(join(ctx, 'unload-run'))).toBe(false);
  });

  it('with inFlight, starts unloads without waiting for them, and never twice', async () => {
    const slow = makeContext('slow');
    registerUnloadHook(slow, { kind: 'sh', args: ['sleep 0.6'] });
    const inFlight = new Map<string, Promise<void>>();
    const opts = { env: { ...env, WS_UNLOAD_GRACE: '0' }, inFlight };
    const started = Date.now();
    expect((await sweep(home, opts)).waiting).toBe(1);
    expect(Date.now() - started).toBeLessThan(500);
    expect([...inFlight.keys()]).toEqual([slow]);
    expect((await sweep(home, opts)).waiting).toBe(1);
    await Promise.all(inFlight.values());
    expect(inFlight.size).toBe(0);
    expect(ran()).toEqual(['slow']);
    expect(readFileSync(join(slow, 'unload.log'), 'utf8').match(/unload started/g)).toHaveLength(1);
  });
});

describe('runningReaper', () => {
  it('names the live process of reaper.pid, not a recycled PID', () => {
    expect(runningReaper(home)).toBeUndefined();
    writeFileSync(join(home, REAPER_PID_FILE), `${process.pid} ${processStartTime(process.pid)}\n`);
    expect(runningReaper(home)).toBe(process.pid);
    writeFileSync(join(home, REAPER_PID_FILE), `${process.pid} 1\n`);
    expect(runningReaper(home)).toBeUndefined();
    writeFileSync(join(home, REAPER_PID_FILE), 'garbage');
    expect(runningReaper(home)).toBeUndefined();
  });
});
