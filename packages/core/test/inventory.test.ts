import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readContext } from '../src/inventory/context.js';
import { readInventory } from '../src/inventory/inventory.js';
import { readRoots } from '../src/inventory/roots.js';
import { processStartTime } from '../src/process/proc.js';
import { contextId } from '../src/state/home.js';
import { liveHolder } from '../src/state/lock.js';
import { listUsers } from '../src/users/users.js';
import { judgeContext } from '../src/gc/judge.js';
// The consumers, each through its own entry point.
import { collectGarbage } from '../../ws-gc/src/collect.js';
import { inventoryOf, toJson } from '../../ws-list/src/list.js';
import { snapshotEvents } from '../../ws-on-event/src/snapshot.js';

// What ws-list shows and ws-gc decides from (packages/core/src/inventory/inventory.ts):
// read-only, tolerant of any bad state.

let dir: string;
let home: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-inventory-'));
  home = join(dir, 'state');
  mkdirSync(home, { mode: 0o700 });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function context(name: string, record?: object): { root: string; ctx: string; id: string } {
  const root = join(dir, 'work', name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, '.workspace'), '');
  const id = contextId(root);
  const ctx = join(home, 'contexts', id);
  mkdirSync(join(ctx, 'users'), { recursive: true });
  const now = new Date().toISOString();
  writeFileSync(join(ctx, 'context.json'), JSON.stringify(record ?? { root, name, file: join(root, '.workspace'), state: 'ready', env: 'default', created: now, lastUsed: now }));
  return { root, ctx, id };
}

describe('readInventory', () => {
  it('reads users (live and dead), services, ports and disk of each context, sorted by name', () => {
    const b = context('b');
    const a = context('a');
    const start = processStartTime(process.pid)!;
    writeFileSync(join(a.ctx, 'users', String(process.pid)), JSON.stringify({ pid: process.pid, start, shell: 'node', tty: '/dev/pts/1', joined: 'x' }));
    writeFileSync(join(a.ctx, 'users', '999999999'), JSON.stringify({ pid: 999999999, start: '1', joined: 'x' }));
    writeFileSync(join(a.ctx, 'users', `1.tmp.5.1`), 'being written');
    mkdirSync(join(a.ctx, 'services', 'db'), { recursive: true });
    writeFileSync(join(a.ctx, 'services', 'db', 'pid'), JSON.stringify({ pid: process.pid, start }));
    mkdirSync(join(home, 'ports'));
    writeFileSync(join(home, 'ports', 'tcp-45001'), JSON.stringify({ v: 1, proto: 'tcp', port: 45001, key: 'k', context: a.id, name: 'a', root: a.root, created: 'x' }));
    writeFileSync(join(home, 'ports', 'udp-45002'), JSON.stringify({ v: 1, proto: 'udp', port: 45002, key: 'u', context: null, name: null, root: null, created: 'x', expires: '2999-01-01T00:00:00Z' }));
    const inv = readInventory(home);
    expect(inv.contexts.map((c) => c.name)).toEqual(['a', 'b']);
    const [ca, cb] = inv.contexts;
    expect(ca.users.map((u) => u.pid)).toEqual([process.pid]);
    expect(ca.deadUsers.map((d) => d.name)).toEqual(['999999999']);
    expect(ca.services).toEqual([{ name: 'db', state: 'running', running: true, pid: process.pid, port: null }]);
    expect(ca.ports.map((r) => r.port)).toEqual([45001]);
    expect(inv.ports.map((r) => r.port)).toEqual([45002]);
    expect(cb.disk).toBeGreaterThan(0);
    expect(cb.users).toEqual([]);
    expect(inv.problems).toEqual([]);
    expect(b.id).toBe(cb.id);
  });

  it('takes last use from context.json and from users/ changes, whichever is later', () => {
    const old = new Date(Date.now() - 10 * 86_400_000);
    const { ctx, id } = context('shop', { root: '', name: 'shop', file: '', state: 'unloaded', env: 'default', created: old.toISOString(), lastUsed: old.toISOString() });
    utimesSync(join(ctx, 'users'), old, old);
    expect(readContext(home, id).lastUsedMs).toBe(old.getTime());
    const later = new Date(Date.now() - 86_400_000);
    utimesSync(join(ctx, 'users'), later, later);
    expect(Math.round(readContext(home, id).lastUsedMs!)).toBe(later.getTime());
  });

  it('recovers the root of a context whose context.json is corrupt from its loaded environment', () => {
    const { ctx, id, root } = context('shop');
    writeFileSync(join(ctx, 'context.json'), '{"ro');
    mkdirSync(join(ctx, 'cache'));
    writeFileSync(join(ctx, 'cache', 'loaded-env.json'), JSON.stringify({ WS_ROOT: root }));
    const entry = readContext(home, id);
    expect(entry).toMatchObject({ name: id, root, state: 'unknown', rootExists: true });
    expect(entry.problems).toEqual([{ path: join(ctx, 'context.json'), message: 'is corrupt' }]);
    // A WS_ROOT that does not hash to this id is not believed.
    writeFileSync(join(ctx, 'cache', 'loaded-env.json'), JSON.stringify({ WS_ROOT: '/elsewhere' }));
    expect(readContext(home, id).root).toBeUndefined();
  });
});

describe('readRoots', () => {
  it('classifies roots by what they keep', () => {
    const { ctx, id } = context('shop');
    mkdirSync(join(home, 'resources', 'abc'), { recursive: true });
    mkdirSync(join(home, 'roots'));
    symlinkSync(ctx, join(home, 'roots', 'ctx'));
    symlinkSync(join(ctx, 'data', '..'), join(home, 'roots', 'ctx-via-data'));
    symlinkSync('../resources/abc', join(home, 'roots', 'relative'));
    symlinkSync(join(home, 'resources', 'gone'), join(home, 'roots', 'dangling'));
    symlinkSync(dir, join(home, 'roots', 'outside'));
    symlinkSync(join(home, 'VERSION'), join(home, 'roots', 'state'));
    writeFileSync(join(home, 'VERSION'), '1\n');
    mkdirSync(join(home, 'roots', 'plain'));
    mkdirSync(join(ctx, 'data'));
    const problems: Array<{ path: string; message: string }> = [];
    const roots = readRoots(home, problems);
    expect(Object.fromEntries(roots.map((r) => [r.name, [r.kind, r.holds]]))).toEqual({
      ctx: ['context', id],
      'ctx-via-data': ['context', id],
      relative: ['resource', 'abc'],
      dangling: ['dangling', undefined],
      outside: ['outside', undefined],
      state: ['state', undefined],
      plain: ['invalid', undefined],
    });
    expect(problems.map((p) => p.path.split('/').pop())).toEqual(['outside', 'plain']);
  });
});

// ------------------------------------------------------ every reader agrees ----
// One context, read by every consumer: the reaper's view (listUsers), ws-list
// (its inventory, as --json prints it), ws-gc (its judgement, a dry run and a
// real run) and ws-on-event's snapshot. Each case puts one kind of bad record
// in a context whose root is gone (so ws-gc judges it), and checks that all of
// them say the same thing about it.
describe('every reader agrees', () => {
  const DEAD_PID = 999_999_999;
  const now = new Date();
  const env = () => ({ WS_STATE_HOME: home });
  const me = () => ({ pid: process.pid, start: processStartTime(process.pid)! });
  const ago = (ms: number) => (Date.now() - ms) / 1000;

  /** What each consumer says about context `id`. */
  async function views(id: string) {
    const ctx = join(home, 'contexts', id);
    const reaper = listUsers(ctx);
    const list = toJson(inventoryOf(env(), false, now), false, now).contexts.find((c) => c.id === id)!;
    const entry = readContext(home, id);
    const verdict = judgeContext(entry, Date.now(), undefined);
    const snapshot = snapshotEvents(home, now).find((e) => e.root === entry.root)!;
    const dry = await collectGarbage({ env: env(), dryRun: true });
    return { ctx, reaper, list, entry, verdict, snapshot, dry };
  }

  it('a torn user record under 2 s old is being written: nobody counts it, nobody removes it', async () => {
    const { ctx, id, root } = context('torn-young');
    const path = join(ctx, 'users', '4242');
    writeFileSync(path, '{"pid":42'); // the hook's `printf >` half-way
    // Set ahead, so that it stays "under 2 s old" however slowly the test runs.
    utimesSync(path, ago(-3_600_000), ago(-3_600_000));
    rmSync(root, { recursive: true });
    const v = await views(id);
    expect(v.reaper).toEqual({ live: [], dead: [] });
    expect(v.list).toMatchObject({ users: [], deadUsers: 0, inUse: false });
    expect(v.entry.registering).toEqual(['4242']);
    expect(v.snapshot.users).toEqual([]);
    expect(v.verdict.holders).toEqual(['a user record being written (users/4242)']);
    expect(v.dry.removed).toEqual([]);
    expect(v.dry.kept).toEqual([expect.objectContaining({ id, heldBy: ['a user record being written (users/4242)'] })]);
    expect((await collectGarbage({ env: env() })).removed).toEqual([]);
    expect(readFileSync(path, 'utf8')).toBe('{"pid":42');
    expect(v.list.problems).toEqual([]);
  });

  it('a torn user record older than 2 s is dead: not a user anywhere, counted dead, removed by ws-gc', async () => {
    const { ctx, id } = context('torn-old');
    const path = join(ctx, 'users', '4242');
    writeFileSync(path, '{"pid":42');
    utimesSync(path, ago(60_000), ago(60_000));
    const v = await views(id);
    expect(v.reaper).toEqual({ live: [], dead: [{ name: '4242', record: undefined }] });
    expect(v.list).toMatchObject({ users: [], deadUsers: 1, problems: [{ path, message: 'is not a valid user record' }] });
    expect(v.snapshot.users).toEqual([]);
    expect(v.dry.removed.map((i) => `${i.kind} ${i.path} ${i.reason}`)).toEqual([`user contexts/${id}/users/4242 an unreadable user record`]);
    expect((await collectGarbage({ env: env() })).removed).toEqual(v.dry.removed);
    expect(existsSync(path)).toBe(false);
  });

  it('a recycled PID (alive, another start time) is a dead user to all; the very process recorded is a live one to all', async () => {
    const { ctx, id } = context('recycled');
    writeFileSync(join(ctx, 'users', String(process.pid)), JSON.stringify({ ...me(), joined: 'x' }));
    writeFileSync(join(ctx, 'users', '4242'), JSON.stringify({ pid: process.pid, start: 'not-its-start-time', joined: 'x' }));
    const v = await views(id);
    expect(v.reaper.live.map((u) => u.pid)).toEqual([process.pid]);
    expect(v.reaper.dead.map((d) => d.name)).toEqual(['4242']);
    expect(v.list).toMatchObject({ inUse: true, deadUsers: 1 });
    expect(v.list.users.map((u) => u.pid)).toEqual([process.pid]);
    expect(v.snapshot.users).toEqual([process.pid]);
    expect(v.dry.removed.map((i) => `${i.kind} ${i.pid}`)).toEqual([`user ${process.pid}`]);
    expect(v.dry.removed[0].path).toBe(`contexts/${id}/users/4242`);
    await collectGarbage({ env: env() });
    expect(readdirSync(join(ctx, 'users'))).toEqual([String(process.pid)]);
  });

  it('a service whose pid names a dead process is listed, not running, and holds nothing; a live one runs and holds', async () => {
    const { ctx, id, root } = context('served');
    mkdirSync(join(ctx, 'services', 'web'), { recursive: true });
    writeFileSync(join(ctx, 'services', 'web', 'pid'), JSON.stringify({ pid: DEAD_PID, start: '1' }));
    rmSync(root, { recursive: true });
    let v = await views(id);
    expect(v.list.services).toEqual([{ name: 'web', state: 'unknown', running: false, pid: null, port: null }]);
    expect(v.snapshot.services).toEqual(['web']);
    expect(v.verdict).toEqual({ reasons: ['its root is gone'], holders: [] });
    expect(v.dry.removed.map((i) => `${i.kind} ${i.path}`)).toEqual([`context contexts/${id}`]);
    mkdirSync(join(ctx, 'services', 'db'));
    writeFileSync(join(ctx, 'services', 'db', 'pid'), JSON.stringify(me()));
    v = await views(id);
    expect(v.list.services.filter((s) => s.running)).toEqual([{ name: 'db', state: 'running', running: true, pid: process.pid, port: null }]);
    expect(v.snapshot.services).toEqual(['db', 'web']);
    expect(v.verdict.holders).toEqual(['running service db']);
    expect(v.dry.removed).toEqual([]);
  });

  it('a stale lock holder (a recycled PID) holds nothing: no build, no unload, its lock file goes', async () => {
    const { ctx, id, root } = context('locked', { root: join(dir, 'work', 'locked'), name: 'locked', file: join(dir, 'work', 'locked', '.workspace'), state: 'building', env: 'default', created: 'x', lastUsed: new Date(Date.now() - 60_000).toISOString() });
    const stale = `${process.pid} not-its-start-time\n`;
    mkdirSync(join(ctx, 'cache', 'build'), { recursive: true });
    writeFileSync(join(ctx, 'cache', 'build', 'owner'), stale);
    writeFileSync(join(ctx, 'unload-run.lock'), stale);
    mkdirSync(join(home, 'locks'));
    const lockFile = join(home, 'locks', `context-${id}`);
    writeFileSync(lockFile, stale);
    utimesSync(lockFile, ago(60_000), ago(60_000));
    rmSync(root, { recursive: true });
    expect(liveHolder(join(ctx, 'cache', 'build', 'owner'))).toBeUndefined();
    const v = await views(id);
    expect(v.list).toMatchObject({ state: 'building', building: false, unloadPending: false });
    expect(v.snapshot.state).toBe('building');
    expect(v.verdict).toEqual({ reasons: ['its root is gone'], holders: [] });
    expect(v.dry.removed.map((i) => `${i.kind} ${i.path}`).sort()).toEqual([`context contexts/${id}`, `leftover locks/context-${id}`]);
    const real = await collectGarbage({ env: env() });
    expect(real.removed.map((i) => `${i.kind} ${i.path}`).sort()).toEqual(v.dry.removed.map((i) => `${i.kind} ${i.path}`).sort());
    expect(existsSync(ctx)).toBe(false);
  });
});
