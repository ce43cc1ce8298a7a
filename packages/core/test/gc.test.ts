import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, makeContext as makeContextIn, makeStateHome, me } from './gc-fixtures.js';
import { CliError, EX } from '../src/cli/errors.js';
import { formatAge, formatMiB, parseMaxAge } from '../src/gc/duration.js';
import { markContextEntry } from '../src/gc/entry-lock.js';
import { judgeContext } from '../src/gc/judge.js';
import { removeContext, type RemoveContextOptions } from '../src/gc/remove-context.js';
import { removeDeadUsers } from '../src/gc/removal.js';
import { readContext } from '../src/inventory/context.js';
import { diskUsage } from '../src/inventory/probe.js';
import { contextId } from '../src/state/home.js';
import { tryLock } from '../src/state/lock.js';
import { contextLockPath } from '../src/state/paths.js';

// ws-gc's mechanisms in core: durations, judging a context, and the protocol
// against a concurrent entry (docs/state-home.md, "roots/ and garbage
// collection"). The collection itself is tested in packages/ws-gc/test; the
// bats suite (test-bats/ws-gc.bats) covers the binary.

let dir: string;
let home: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  ({ dir, home, env } = makeStateHome());
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const makeContext = (name: string, opts: { daysAgo?: number; state?: string } = {}) => makeContextIn(dir, home, name, opts);

describe('parseMaxAge', () => {
  it('accepts a number and a unit', () => {
    expect(parseMaxAge('45s')).toBe(45_000);
    expect(parseMaxAge('90m')).toBe(90 * 60_000);
    expect(parseMaxAge('12h')).toBe(12 * 3_600_000);
    expect(parseMaxAge('30d')).toBe(30 * DAY);
    expect(parseMaxAge('2w')).toBe(14 * DAY);
    expect(parseMaxAge('0s')).toBe(0);
  });
  it.each(['', '30', 'd', '3x', '-1d', '1.5d', '30days', '1d2h', '99999999999d'])('refuses %j with a usage error', (text) => {
    expect(() => parseMaxAge(text)).toThrow(CliError);
    try {
      parseMaxAge(text);
    } catch (error) {
      expect((error as CliError).code).toBe(EX.USAGE);
    }
  });
});

describe('formatting', () => {
  it('formats ages and MiB', () => {
    expect(formatAge(40 * DAY + 3 * 3_600_000)).toBe('40d 3h');
    expect(formatAge(2 * 3_600_000)).toBe('2h');
    expect(formatAge(90_000)).toBe('1m');
    expect(formatAge(-5)).toBe('0s');
    expect(formatMiB(0)).toBe('0.0 MiB');
    expect(formatMiB(12.34 * 1048576)).toBe('12.3 MiB');
  });
});

describe('diskUsage', () => {
  it('counts the sizes of regular files, not directories or symlinks, and skips what is asked', () => {
    const d = join(dir, 'tree');
    mkdirSync(join(d, 'a', 'b'), { recursive: true });
    writeFileSync(join(d, 'one'), 'x'.repeat(10));
    writeFileSync(join(d, 'a', 'b', 'two'), 'x'.repeat(32));
    symlinkSync('/etc/passwd', join(d, 'link'));
    expect(diskUsage(d).bytes).toBe(42);
    expect(diskUsage(d, new Set([join(d, 'one')])).bytes).toBe(32);
    expect(diskUsage(join(d, 'missing')).bytes).toBe(0);
  });
});

describe('judgeContext', () => {
  it('gives the reasons to remove and what holds a context', () => {
    const { root } = makeContext('shop', { daysAgo: 40, state: 'ready' });
    rmSync(root, { recursive: true });
    const entry = readContext(home, contextId(root));
    const verdict = judgeContext(entry, Date.now(), 30 * DAY);
    expect(verdict.reasons).toEqual(['its root is gone', 'unused for 40d']);
    expect(verdict.holders).toEqual([]);
    expect(judgeContext({ ...entry, rootedBy: ['keep'] }, Date.now(), undefined).holders).toEqual(['root roots/keep']);
    expect(judgeContext({ ...entry, hooks: 1 }, Date.now(), undefined).holders[0]).toMatch(/unload has not run yet/);
    expect(judgeContext({ ...entry, users: [{ ...me(), joined: '' }] }, Date.now(), undefined).holders[0]).toBe(`1 live user (PID ${process.pid})`);
    expect(judgeContext(entry, Date.now(), undefined, entry.lastUsedMs!).holders).toEqual(['it was entered during the collection']);
  });
});

describe('markContextEntry', () => {
  it('makes users/ and marks it used now, under the entry lock', () => {
    const root = join(dir, 'work', 'fresh');
    const now = new Date(Date.now() - 5_000);
    markContextEntry(home, root, now);
    const users = join(home, 'contexts', contextId(root), 'users');
    expect(Math.abs(statSync(users).mtimeMs - now.getTime())).toBeLessThan(1000);
    expect(existsSync(contextLockPath(home, contextId(root)))).toBe(false);
  });
});

describe('removeContext (the protocol against a concurrent entry)', () => {
  const opts = (extra: Partial<RemoveContextOptions> = {}): RemoveContextOptions => ({ env, maxAgeMs: 30 * DAY, startedMs: Date.now(), now: () => new Date(), ...extra });

  it('moves the context away, deletes it and leaves nothing in .gc/', () => {
    const { ctx, id } = makeContext('shop', { daysAgo: 40 });
    const outcome = removeContext(home, id, ['unused for 40d'], opts());
    expect(outcome).toMatchObject({ removed: true, reasons: ['unused for 40d'] });
    expect(outcome.bytes).toBeGreaterThan(1000);
    expect(existsSync(ctx)).toBe(false);
    expect(readdirSync(join(home, '.gc'))).toEqual([]);
  });

  it('keeps a context an entry marked after the collection started', () => {
    const { root, ctx, id } = makeContext('shop', { daysAgo: 40 });
    const startedMs = Date.now();
    markContextEntry(home, root);
    const outcome = removeContext(home, id, ['unused for 40d'], opts({ startedMs }));
    expect(outcome.kept?.heldBy).toEqual(['it was entered during the collection']);
    expect(existsSync(join(ctx, 'data', 'db'))).toBe(true);
  });

  it('puts a context back when a writer that takes no lock registered a user right before the move', () => {
    const { ctx, id } = makeContext('shop', { daysAgo: 40 });
    // The cached entry of the shell hook writes users/<pid> without a lock, keeping the mtime here (worst case).
    const beforeRename = (d: string) => {
      const mtime = statSync(join(d, 'users')).mtime;
      writeFileSync(join(d, 'users', String(process.pid)), JSON.stringify({ ...me(), joined: '' }));
      utimesSync(join(d, 'users'), mtime, mtime);
    };
    const outcome = removeContext(home, id, ['unused for 40d'], opts({ beforeRename }));
    expect(outcome.kept).toEqual(expect.objectContaining({ id, heldBy: [`a user registered during the collection (PID ${process.pid})`] }));
    expect(existsSync(join(ctx, 'users', String(process.pid)))).toBe(true);
    expect(existsSync(join(ctx, 'data', 'db'))).toBe(true);
  });

  it('puts a context back when a user record is being written (unreadable, young) right before the move', () => {
    const { ctx, id } = makeContext('shop', { daysAgo: 40 });
    const beforeRename = (d: string) => {
      const mtime = statSync(join(d, 'users')).mtime;
      writeFileSync(join(d, 'users', '4242'), '{"pid":42'); // `printf >` half-way
      utimesSync(join(d, 'users'), mtime, mtime);
    };
    const outcome = removeContext(home, id, ['unused for 40d'], opts({ beforeRename }));
    expect(outcome.kept?.heldBy).toEqual(['a user registering during the collection (users/4242 is being written)']);
    expect(readFileSync(join(ctx, 'users', '4242'), 'utf8')).toBe('{"pid":42');
  });

  it('leaves a context alone while its entry lock is held', () => {
    const { root, id } = makeContext('shop');
    rmSync(root, { recursive: true });
    const release = tryLock(contextLockPath(home, id))!;
    try {
      expect(removeContext(home, id, ['its root is gone'], opts()).kept?.heldBy[0]).toMatch(/entry lock is busy/);
    } finally {
      release();
    }
  }, 10_000);
});

describe('removeDeadUsers', () => {
  it('removes dead users without making their removal count as a use', () => {
    const { ctx, id } = makeContext('shop', { daysAgo: 40 });
    writeFileSync(join(ctx, 'users', '999999999'), JSON.stringify({ pid: 999999999, start: '1', joined: '' }));
    writeFileSync(join(ctx, 'users', String(process.pid)), JSON.stringify({ ...me(), joined: '' }));
    const mtime = Date.now() - 40 * DAY;
    utimesSync(join(ctx, 'users'), mtime / 1000, mtime / 1000);
    const entry = readContext(home, id);
    expect(entry.deadUsers.map((d) => d.name)).toEqual(['999999999']);
    expect([...removeDeadUsers(home, id, entry.deadUsers)].map((d) => d.name)).toEqual(['999999999']);
    expect(readdirSync(join(ctx, 'users'))).toEqual([String(process.pid)]);
    expect(Math.abs(statSync(join(ctx, 'users')).mtimeMs - mtime)).toBeLessThan(1000);
  });

  it('puts back a record judged dead that a writer rewrote before the removal: live, or being written', () => {
    const { ctx, id } = makeContext('shop');
    const old = (Date.now() - DAY) / 1000;
    for (const name of ['4242', '4343']) {
      writeFileSync(join(ctx, 'users', name), 'torn');
      utimesSync(join(ctx, 'users', name), old, old);
    }
    const entry = readContext(home, id);
    expect(entry.deadUsers.map((d) => d.name).sort()).toEqual(['4242', '4343']);
    // Meanwhile: a live process took the name 4242; the hook's `printf >` is half-way through 4343.
    writeFileSync(join(ctx, 'users', '4242'), JSON.stringify({ ...me(), joined: '' }));
    writeFileSync(join(ctx, 'users', '4343'), '{"pid":43');
    expect(removeDeadUsers(home, id, entry.deadUsers).size).toBe(0);
    expect(readFileSync(join(ctx, 'users', '4343'), 'utf8')).toBe('{"pid":43');
    expect(JSON.parse(readFileSync(join(ctx, 'users', '4242'), 'utf8')).pid).toBe(process.pid);
    expect(readdirSync(join(home, '.gc'))).toEqual([]);
  });
});
