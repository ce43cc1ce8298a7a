import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, makeContext as makeContextIn, makeStateHome, me } from '../../core/test/gc-fixtures.js';
import { EX, markContextEntry, readInventory, tryLock } from '@ws/core';
import { collectGarbage } from '../src/collect.js';

// ws-gc's policy: what one collection removes, keeps and reports, in order.
// The mechanisms are tested in packages/core/test/gc.test.ts; the binary in
// test-bats/ws-gc.bats.

let dir: string;
let home: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  ({ dir, home, env } = makeStateHome());
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const makeContext = (name: string, opts: { daysAgo?: number; state?: string } = {}) => makeContextIn(dir, home, name, opts);

describe('collectGarbage', () => {
  it('removes a context whose root is gone, with its ports, and keeps one a root holds', async () => {
    const gone = makeContext('gone');
    const rooted = makeContext('rooted');
    mkdirSync(join(home, 'ports'));
    writeFileSync(join(home, 'ports', 'tcp-45001'), JSON.stringify({ v: 1, proto: 'tcp', port: 45001, key: 'k', context: gone.id, name: 'gone', root: gone.root, created: new Date().toISOString() }));
    mkdirSync(join(home, 'roots'));
    symlinkSync(rooted.ctx, join(home, 'roots', 'keep'));
    rmSync(gone.root, { recursive: true });
    rmSync(rooted.root, { recursive: true });
    const result = await collectGarbage({ env });
    expect(result.removed.map((i) => `${i.kind} ${i.path}`)).toEqual([`context contexts/${gone.id}`, 'port ports/tcp-45001']);
    expect(result.kept).toEqual([{ id: rooted.id, name: 'rooted', root: rooted.root, reason: 'its root is gone', heldBy: ['root roots/keep'] }]);
    expect(existsSync(gone.ctx)).toBe(false);
    expect(existsSync(join(home, 'ports', 'tcp-45001'))).toBe(false);
    expect(existsSync(rooted.ctx)).toBe(true);
    expect(result.bytes).toBe(result.removed.reduce((n, i) => n + i.bytes, 0));
    expect(result.bytes).toBeGreaterThan(1000);
    const events = readFileSync(join(home, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ type: 'gc', context: '', root: '', removed: 2, bytes: result.bytes });
  });

  it('in a dry run changes nothing and finds the same items and bytes as the real run', async () => {
    const a = makeContext('a', { daysAgo: 50 });
    writeFileSync(join(a.ctx, 'users', '999999999'), JSON.stringify({ pid: 999999999, start: '1', joined: '' }));
    const old = (Date.now() - 50 * DAY) / 1000;
    utimesSync(join(a.ctx, 'users'), old, old);
    const b = makeContext('b');
    rmSync(b.root, { recursive: true });
    const list = () => JSON.stringify(readInventory(home));
    const before = list();
    const dry = await collectGarbage({ env, dryRun: true, maxAgeMs: 30 * DAY });
    expect(list()).toBe(before);
    expect(existsSync(join(home, 'events.jsonl'))).toBe(false);
    const real = await collectGarbage({ env, maxAgeMs: 30 * DAY });
    expect(real.removed).toEqual(dry.removed);
    expect(real.bytes).toBe(dry.bytes);
    expect(readdirSync(join(home, 'contexts'))).toEqual([]);
  });

  it('keeps a context that an entry marks after the plan (markContextEntry)', async () => {
    const { root, ctx } = makeContext('shop', { daysAgo: 40 });
    const result = await collectGarbage({ env, maxAgeMs: 30 * DAY, hooks: { afterPlan: () => markContextEntry(home, root) } });
    expect(result.removed).toEqual([]);
    expect(result.kept[0].heldBy).toEqual(['it was entered during the collection']);
    expect(existsSync(join(ctx, 'data', 'db'))).toBe(true);
  });

  it('puts a context back when a writer that takes no lock registered a user right before the move', async () => {
    const { ctx, id } = makeContext('shop', { daysAgo: 40 });
    const result = await collectGarbage({
      env,
      maxAgeMs: 30 * DAY,
      // The cached entry of the shell hook writes users/<pid> without a lock, keeping the mtime here (worst case).
      hooks: {
        beforeRename: (d) => {
          const mtime = statSync(join(d, 'users')).mtime;
          writeFileSync(join(d, 'users', String(process.pid)), JSON.stringify({ ...me(), joined: '' }));
          utimesSync(join(d, 'users'), mtime, mtime);
        },
      },
    });
    expect(result.removed).toEqual([]);
    expect(result.kept).toEqual([expect.objectContaining({ id, heldBy: [`a user registered during the collection (PID ${process.pid})`] })]);
    expect(existsSync(join(ctx, 'users', String(process.pid)))).toBe(true);
    expect(existsSync(join(ctx, 'data', 'db'))).toBe(true);
    expect(readdirSync(home)).not.toContain('.gc');
  });

  it('removes dead users without making their removal count as a use', async () => {
    const { ctx } = makeContext('shop', { daysAgo: 40 });
    writeFileSync(join(ctx, 'users', '999999999'), JSON.stringify({ pid: 999999999, start: '1', joined: '' }));
    writeFileSync(join(ctx, 'users', String(process.pid)), JSON.stringify({ ...me(), joined: '' }));
    const mtime = Date.now() - 40 * DAY;
    utimesSync(join(ctx, 'users'), mtime / 1000, mtime / 1000);
    const first = await collectGarbage({ env });
    expect(first.removed.map((i) => `${i.kind} ${i.pid}`)).toEqual(['user 999999999']);
    expect(readdirSync(join(ctx, 'users'))).toEqual([String(process.pid)]);
    expect(Math.abs(statSync(join(ctx, 'users')).mtimeMs - mtime)).toBeLessThan(1000);
  });

  it("removes a live shell's record that says it left, with no user.leave (the shell emitted its own)", async () => {
    const { ctx } = makeContext('shop', { daysAgo: 40 });
    writeFileSync(join(ctx, 'users', '999999999'), JSON.stringify({ pid: 999999999, start: '1', joined: '' }));
    writeFileSync(join(ctx, 'users', String(process.pid)), JSON.stringify({ ...me(), joined: '', left: '2026-01-01T00:00:00.000Z' }));
    const result = await collectGarbage({ env });
    expect(result.removed.map((i) => `${i.kind} ${i.pid}`).sort()).toEqual([`user ${process.pid}`, 'user 999999999'].sort());
    expect(readdirSync(join(ctx, 'users'))).toEqual([]);
    const leaves = readFileSync(join(home, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'user.leave');
    expect(leaves.map((e) => e.pid)).toEqual([999999999]);
  });

  it('reports and survives a messy state home', async () => {
    const a = makeContext('a');
    writeFileSync(join(a.ctx, 'context.json'), '{"root": "/tr');
    const b = makeContext('b');
    rmSync(join(b.ctx, 'users'), { recursive: true });
    writeFileSync(join(b.ctx, 'users'), 'junk');
    writeFileSync(join(home, 'contexts', 'file-000000000000'), 'junk');
    mkdirSync(join(home, 'roots'));
    symlinkSync('/tmp', join(home, 'roots', 'outside'));
    writeFileSync(join(home, 'ports'), 'junk');
    writeFileSync(join(home, '.gc'), 'junk');
    const c = makeContext('c');
    rmSync(c.root, { recursive: true });
    const inv = readInventory(home);
    expect(inv.problems.map((p) => `${p.path.slice(home.length + 1)} ${p.message}`).sort()).toEqual([
      `contexts/${a.id}/context.json is corrupt`,
      `contexts/${b.id}/users is not a directory`,
      'contexts/file-000000000000 is not a directory',
      'ports is not a directory',
      'roots/outside points outside the state home (/tmp): it keeps nothing of ws alive',
    ]);
    const result = await collectGarbage({ env });
    expect(result.problems.filter((p) => p.message.startsWith('could not'))).toEqual([]);
    expect(result.removed.map((i) => `${i.kind} ${i.path}`).sort()).toEqual([
      'context contexts/' + c.id,
      `corrupt .gc`,
      `corrupt contexts/${b.id}/users`,
      'corrupt contexts/file-000000000000',
      'corrupt ports',
    ]);
    expect(result.problems.filter((p) => p.message.startsWith('could not'))).toEqual([]);
    expect(existsSync(c.ctx)).toBe(false);
    expect(existsSync(a.ctx)).toBe(true);
    expect(existsSync(join(home, 'roots', 'outside'))).toBe(true);
  });

  it('refuses a second collector at once (75)', async () => {
    const release = tryLock(join(home, 'gc.lock'))!;
    try {
      await expect(collectGarbage({ env })).rejects.toMatchObject({ code: EX.TEMPFAIL });
      await expect(collectGarbage({ env, dryRun: true })).resolves.toMatchObject({ dryRun: true });
    } finally {
      release();
    }
  });

  it('does nothing for a state home that does not exist', async () => {
    const result = await collectGarbage({ env: { WS_STATE_HOME: join(dir, 'none') } });
    expect(result).toMatchObject({ removed: [], bytes: 0 });
    expect(existsSync(join(dir, 'none'))).toBe(false);
  });
});
