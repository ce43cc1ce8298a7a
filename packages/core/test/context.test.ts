import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findContext, type Context } from '../src/context/discover.js';

// SPEC §2 "Finding the context (no command may get this wrong)".

let base: string;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ws-context-')));
  // The walk goes up to '/': a workspace file above the temp dir would change every answer.
  for (let dir = dirname(base); ; dir = dirname(dir)) {
    for (const name of ['.workspace', '.envrc']) {
      if (existsSync(join(dir, name))) throw new Error(`context tests need no ${name} above ${base}, but ${join(dir, name)} exists`);
    }
    if (dir === dirname(dir)) break;
  }
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

let seq = 0;
/** A fresh directory tree: paths ending in '/' are directories, others files (created with their parents). */
function tree(...paths: string[]): string {
  const root = join(base, `t${++seq}`);
  mkdirSync(root);
  for (const path of paths) {
    const full = join(root, path);
    if (path.endsWith('/')) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, 'export A=1\n');
    }
  }
  return root;
}

function find(cwd: string, env: NodeJS.ProcessEnv = {}) {
  const warnings: string[] = [];
  const ctx = findContext({ env, cwd, warn: (line) => warnings.push(line) });
  return { ctx, warnings };
}

const context = (root: string, file: string, name: string): Context => ({ root, file: join(root, file), name });

describe('walking up from the current directory', () => {
  it('finds the nearest directory holding .workspace, from the directory itself or any depth below', () => {
    const t = tree('proj/.workspace', 'proj/a/b/c/');
    const want = context(join(t, 'proj'), '.workspace', 'proj');
    expect(find(join(t, 'proj')).ctx).toEqual(want);
    expect(find(join(t, 'proj/a')).ctx).toEqual(want);
    expect(find(join(t, 'proj/a/b/c')).ctx).toEqual(want);
  });

  it('prefers .workspace over .envrc in the same directory', () => {
    const t = tree('proj/.workspace', 'proj/.envrc', 'proj/sub/');
    expect(find(join(t, 'proj/sub')).ctx).toEqual(context(join(t, 'proj'), '.workspace', 'proj'));
  });

  it('reads a directory with only .envrc as a direnv one; the nearest file wins whatever its kind', () => {
    const t = tree('outer/.workspace', 'outer/inner/.envrc', 'outer/inner/deep/');
    expect(find(join(t, 'outer/inner/deep')).ctx).toEqual(context(join(t, 'outer/inner'), '.envrc', 'outer/inner'));
  });

  it('WS_ENVRC=0 turns .envrc off (the walk goes on past it); other values keep it on', () => {
    const t = tree('outer/.workspace', 'outer/inner/.envrc', 'lone/.envrc');
    expect(find(join(t, 'outer/inner'), { WS_ENVRC: '0' }).ctx).toEqual(context(join(t, 'outer'), '.workspace', 'outer'));
    expect(find(join(t, 'lone'), { WS_ENVRC: '0' }).ctx).toBeUndefined();
    for (const value of ['1', '', 'no', 'false']) {
      expect(find(join(t, 'lone'), { WS_ENVRC: value }).ctx, `WS_ENVRC=${value}`).toEqual(context(join(t, 'lone'), '.envrc', 'lone'));
    }
  });

  it('a directory named .workspace is not a workspace file; a symlink to a file is', () => {
    const t = tree('a/.workspace/', 'b/real-file');
    symlinkSync(join(t, 'b/real-file'), join(t, 'b/.workspace'));
    expect(find(join(t, 'a')).ctx).toBeUndefined();
    expect(find(join(t, 'b')).ctx).toEqual(context(join(t, 'b'), '.workspace', 'b'));
  });

  it('no workspace file up to / : no context, no warning', () => {
    const t = tree('empty/deep/er/');
    expect(find(join(t, 'empty/deep/er'))).toEqual({ ctx: undefined, warnings: [] });
  });

  it('from / itself the walk ends at once', () => {
    const atRoot = existsSync('/.workspace') || existsSync('/.envrc');
    const { ctx } = find('/');
    if (atRoot) expect(ctx?.root).toBe('/');
    else expect(ctx).toBeUndefined();
  });

  it('uses $PWD when it names the real cwd, so a symlinked path keeps its name; a stale $PWD is ignored', () => {
    const t = tree('real/.workspace', 'real/sub/', 'other/');
    symlinkSync(join(t, 'real'), join(t, 'link'));
    expect(find(join(t, 'real/sub'), { PWD: join(t, 'link/sub') }).ctx).toEqual(context(join(t, 'link'), '.workspace', 'link'));
    expect(find(join(t, 'real/sub'), { PWD: join(t, 'other') }).ctx).toEqual(context(join(t, 'real'), '.workspace', 'real'));
    expect(find(join(t, 'real/sub'), { PWD: 'relative/path' }).ctx).toEqual(context(join(t, 'real'), '.workspace', 'real'));
  });
});

describe('nested workspaces', () => {
  it('are named after the outermost enclosing context: outer/relative/path', () => {
    const t = tree('shop/.workspace', 'shop/services/api/.workspace', 'shop/services/api/src/');
    expect(find(join(t, 'shop/services/api/src')).ctx).toEqual(context(join(t, 'shop/services/api'), '.workspace', 'shop/services/api'));
    expect(find(join(t, 'shop/services')).ctx).toEqual(context(join(t, 'shop'), '.workspace', 'shop'));
  });

  it('three levels deep: still outermost/relative, not the middle one', () => {
    const t = tree('top/.workspace', 'top/mid/.workspace', 'top/mid/leaf/.workspace');
    expect(find(join(t, 'top/mid/leaf')).ctx?.name).toBe('top/mid/leaf');
    expect(find(join(t, 'top/mid')).ctx?.name).toBe('top/mid');
  });

  it('an enclosing .envrc counts, unless WS_ENVRC=0', () => {
    const t = tree('outer/.envrc', 'outer/in/.workspace');
    expect(find(join(t, 'outer/in')).ctx?.name).toBe('outer/in');
    expect(find(join(t, 'outer/in'), { WS_ENVRC: '0' }).ctx?.name).toBe('in');
  });

  it('an enclosing workspace at or above a ceiling does not count', () => {
    const t = tree('outer/.workspace', 'outer/mid/in/.workspace');
    expect(find(join(t, 'outer/mid/in'), { WS_CEILING_DIRS: join(t, 'outer/mid') }).ctx?.name).toBe('in');
    expect(find(join(t, 'outer/mid/in'), { WS_CEILING_DIRS: join(t, 'outer') }).ctx?.name).toBe('in');
  });

  it('WS_WORKSPACE naming a nested root gets the nested name', () => {
    const t = tree('shop/.workspace', 'shop/services/api/.workspace', 'elsewhere/');
    expect(find(join(t, 'elsewhere'), { WS_WORKSPACE: join(t, 'shop/services/api') }).ctx?.name).toBe('shop/services/api');
  });
});

describe('WS_WORKSPACE', () => {
  it('names the context root wherever the current directory is, even inside another workspace', () => {
    const t = tree('forced/.workspace', 'other/.workspace', 'other/sub/');
    const want = context(join(t, 'forced'), '.workspace', 'forced');
    expect(find(join(t, 'other/sub'), { WS_WORKSPACE: join(t, 'forced') })).toEqual({ ctx: want, warnings: [] });
    expect(find('/', { WS_WORKSPACE: `${join(t, 'forced')}/` })).toEqual({ ctx: want, warnings: [] });
    expect(find('/', { WS_WORKSPACE: join(t, 'forced/../forced') }).ctx).toEqual(want);
  });

  it('may name a directory with only .envrc (unless WS_ENVRC=0)', () => {
    const t = tree('rc/.envrc');
    expect(find('/', { WS_WORKSPACE: join(t, 'rc') }).ctx).toEqual(context(join(t, 'rc'), '.envrc', 'rc'));
  });

  it('empty is the same as unset: no warning', () => {
    const t = tree('proj/.workspace');
    expect(find(join(t, 'proj'), { WS_WORKSPACE: '' })).toEqual({ ctx: context(join(t, 'proj'), '.workspace', 'proj'), warnings: [] });
  });

  it.each([
    ['a relative path', (_t: string) => 'proj', 'not an absolute path'],
    ['a missing directory', (t: string) => join(t, 'missing'), 'no such directory'],
    ['a file', (t: string) => join(t, 'proj/.workspace'), 'no such directory'],
    ['a directory without a workspace file', (t: string) => join(t, 'plain'), 'no .workspace file in it'],
    ['a directory with only .envrc when WS_ENVRC=0', (t: string) => join(t, 'rc'), 'no .workspace file in it'],
  ])('%s: one exact error line, then the walk from the current directory', (_what, value, reason) => {
    const t = tree('proj/.workspace', 'proj/sub/', 'plain/', 'rc/.envrc', 'nowhere/');
    const env = { WS_WORKSPACE: value(t), WS_ENVRC: reason === 'no .workspace file in it' && value(t).endsWith('rc') ? '0' : undefined };
    const inside = find(join(t, 'proj/sub'), env);
    expect(inside.warnings).toEqual([`ws: WS_WORKSPACE=${value(t)} is not a usable workspace: ${reason}`]);
    expect(inside.ctx).toEqual(context(join(t, 'proj'), '.workspace', 'proj'));
    const outside = find(join(t, 'nowhere'), env);
    expect(outside.warnings).toHaveLength(1);
    expect(outside.ctx).toBeUndefined();
  });

  it('a hostile value is printed as it is, on one line of its own making', () => {
    const t = tree('proj/.workspace');
    const { warnings, ctx } = find(join(t, 'proj'), { WS_WORKSPACE: '$(rm -rf ~)' });
    expect(warnings).toEqual(['ws: WS_WORKSPACE=$(rm -rf ~) is not a usable workspace: not an absolute path']);
    expect(ctx?.root).toBe(join(t, 'proj'));
  });
});

describe('WS_CEILING_DIRS', () => {
  it('a listed directory and everything above it are not searched', () => {
    const t = tree('proj/.workspace', 'proj/a/b/');
    expect(find(join(t, 'proj/a/b'), { WS_CEILING_DIRS: join(t, 'proj') }).ctx).toBeUndefined();
    expect(find(join(t, 'proj'), { WS_CEILING_DIRS: join(t, 'proj') }).ctx).toBeUndefined();
  });

  it('directories below a ceiling are still searched', () => {
    const t = tree('c/proj/.workspace', 'c/proj/a/');
    expect(find(join(t, 'c/proj/a'), { WS_CEILING_DIRS: join(t, 'c') }).ctx?.root).toBe(join(t, 'c/proj'));
    expect(find(join(t, 'c/proj/a'), { WS_CEILING_DIRS: join(t, 'c/proj/a') }).ctx).toBeUndefined();
  });

  it('is a colon-separated list; empty and relative entries are ignored; a trailing slash is fine', () => {
    const t = tree('proj/.workspace', 'proj/a/');
    const other = join(t, 'unrelated');
    expect(find(join(t, 'proj/a'), { WS_CEILING_DIRS: `relative/proj::${other}:` }).ctx?.root).toBe(join(t, 'proj'));
    expect(find(join(t, 'proj/a'), { WS_CEILING_DIRS: `${other}:${join(t, 'proj')}` }).ctx).toBeUndefined();
    expect(find(join(t, 'proj/a'), { WS_CEILING_DIRS: `${join(t, 'proj')}/` }).ctx).toBeUndefined();
  });

  it('/ as a ceiling only stops at / itself', () => {
    const t = tree('proj/.workspace');
    expect(find(join(t, 'proj'), { WS_CEILING_DIRS: '/' }).ctx?.root).toBe(join(t, 'proj'));
  });

  it('given through a symlink, it stops the walk over the real directory', () => {
    const t = tree('real/proj/.workspace', 'real/proj/a/', 'links/');
    symlinkSync(join(t, 'real/proj'), join(t, 'links/ceiling'));
    expect(find(join(t, 'real/proj/a'), { WS_CEILING_DIRS: join(t, 'links/ceiling') }).ctx).toBeUndefined();
  });

  it('given as the real directory, it stops a walk that goes through a symlink to it', () => {
    const t = tree('real/proj/.workspace', 'real/proj/a/');
    symlinkSync(join(t, 'real/proj'), join(t, 'link'));
    // The shell is in link/a (its $PWD); the ceiling names the same directory by its real path.
    expect(find(join(t, 'real/proj/a'), { PWD: join(t, 'link/a'), WS_CEILING_DIRS: join(t, 'real/proj') }).ctx).toBeUndefined();
  });

  it('a ceiling that does not exist changes nothing', () => {
    const t = tree('proj/.workspace');
    expect(find(join(t, 'proj'), { WS_CEILING_DIRS: join(t, 'nope') }).ctx?.root).toBe(join(t, 'proj'));
  });

  it('does not limit WS_WORKSPACE', () => {
    const t = tree('proj/.workspace');
    expect(find('/', { WS_WORKSPACE: join(t, 'proj'), WS_CEILING_DIRS: join(t, 'proj') }).ctx?.root).toBe(join(t, 'proj'));
  });
});
