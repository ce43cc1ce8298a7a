import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readContext } from '../src/inventory/context.js';
import { readInventory } from '../src/inventory/inventory.js';
import { readRoots } from '../src/inventory/roots.js';
import { processStartTime } from '../src/process/proc.js';
import { contextId } from '../src/state/home.js';

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
