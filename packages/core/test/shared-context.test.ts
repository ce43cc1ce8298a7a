import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeContextRecord } from '../src/context/record.js';
import { contextDirFor, contextDirOfStateDir, contextNameProblem, sharedContextDir, sharedContextId, sharedNameOf } from '../src/context/shared.js';
import { contextDir } from '../src/state/home.js';

// Shared contexts (ws_context NAME, docs/contexts.md): names, ids, and how a root finds its context directory.

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'ws-shared-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('contextNameProblem', () => {
  it.each(['shared', 'db', 'a', 'A.b_c-9', '9lives', 'x'.repeat(64)])('takes %j', (name) => {
    expect(contextNameProblem(name)).toBeUndefined();
  });
  it.each(['', '../x', '..', '.', '/', 'a/b', '.hidden', '-x', '_x', 'a b', 'a\nb', '$(touch x)', '`x`', 'a;b', 'x'.repeat(65), 'é'])('refuses %j', (name) => {
    expect(contextNameProblem(name)).toEqual(expect.any(String));
  });
});

describe('sharedContextId', () => {
  it('is the one the stdlib computes in bash (NAME-sha256("ws_context:NAME")[:12])', () => {
    const name = 'shared.db-1';
    const sum = execFileSync('bash', ['-c', 'printf "ws_context:%s" "$1" | sha256sum', '-', name], { encoding: 'utf8' });
    expect(sharedContextId(name)).toBe(`${name}-${sum.slice(0, 12)}`);
  });
  it('keeps at most 40 characters of the name before the hash', () => {
    expect(sharedContextId('y'.repeat(64))).toMatch(/^y{40}-[0-9a-f]{12}$/);
  });
});

describe('contextDirOfStateDir', () => {
  it('takes contexts/<id>/data of this state home only', () => {
    const dir = sharedContextDir(home, 'db');
    expect(contextDirOfStateDir(home, join(dir, 'data'))).toBe(dir);
    expect(contextDirOfStateDir(home, join(dir, 'data', 'sub'))).toBeUndefined();
    expect(contextDirOfStateDir(home, join(dir, 'other'))).toBeUndefined();
    expect(contextDirOfStateDir(home, join(home, 'contexts', '..', 'x-0123456789ab', 'data'))).toBeUndefined();
    expect(contextDirOfStateDir(home, join(home, 'contexts', 'nohash', 'data'))).toBeUndefined();
    expect(contextDirOfStateDir(home, '/elsewhere/contexts/db-0123456789ab/data')).toBeUndefined();
    expect(contextDirOfStateDir(home, undefined)).toBeUndefined();
  });
});

describe('contextDirFor', () => {
  const root = '/src/shop';
  const fields = { root, name: 'shop', file: `${root}/.workspace`, state: 'ready' as const, env: 'default' };
  it("is the root's own directory without a declared name", () => {
    expect(contextDirFor(home, root)).toBe(contextDir(home, root));
  });
  it("follows the root's record to the shared context it declared", () => {
    writeContextRecord(contextDir(home, root), { ...fields, context: 'db' });
    expect(sharedNameOf(home, root)).toBe('db');
    expect(contextDirFor(home, root)).toBe(sharedContextDir(home, 'db'));
  });
  it('ignores a record whose name is not a valid one', () => {
    writeContextRecord(contextDir(home, root), { ...fields, context: '../x' });
    expect(sharedNameOf(home, root)).toBeUndefined();
    expect(contextDirFor(home, root)).toBe(contextDir(home, root));
  });
  it("prefers the loaded environment's WS_STATE_DIR for the loaded root (inside a build, after ws_context)", () => {
    const dir = sharedContextDir(home, 'other');
    expect(contextDirFor(home, root, { WS_ROOT: root, WS_STATE_DIR: join(dir, 'data') })).toBe(dir);
    // Another root's environment says nothing about this one.
    expect(contextDirFor(home, root, { WS_ROOT: '/src/else', WS_STATE_DIR: join(dir, 'data') })).toBe(contextDir(home, root));
  });
});
