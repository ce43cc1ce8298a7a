import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { resolveTarget } from '../src/target.js';

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'nwd-target-')));
});
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return [(error as { code: number }).code, (error as Error).message];
  }
  return undefined;
};

describe('resolveTarget with a file', () => {
  it('takes shell.nix, else default.nix, in the current directory', () => {
    writeFileSync(join(dir, 'default.nix'), '1');
    expect(resolveTarget({ cwd: dir })).toEqual({ kind: 'file', entry: join(dir, 'default.nix'), attr: undefined });
    writeFileSync(join(dir, 'shell.nix'), '1');
    expect(resolveTarget({ cwd: dir, attr: 'x.y' })).toEqual({ kind: 'file', entry: join(dir, 'shell.nix'), attr: 'x.y' });
  });
  it('takes FILE relative to the current directory, and a directory like nix-shell', () => {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'default.nix'), '1');
    writeFileSync(join(dir, 'a.nix'), '1');
    expect(resolveTarget({ cwd: dir, file: 'a.nix' })).toMatchObject({ entry: join(dir, 'a.nix') });
    expect(resolveTarget({ cwd: dir, file: 'sub' })).toMatchObject({ entry: join(dir, 'sub', 'default.nix') });
  });
  it('is missing input (66) without a file', () => {
    expect(code(() => resolveTarget({ cwd: dir }))).toEqual([66, `no shell.nix or default.nix in ${dir}`]);
    expect(code(() => resolveTarget({ cwd: dir, file: 'nope.nix' }))).toEqual([66, 'nope.nix: no such file or directory']);
  });
  it('is a usage error (64) with both FILE and --flake', () => {
    expect(code(() => resolveTarget({ cwd: dir, file: 'a.nix', flake: '.' }))?.[0]).toBe(64);
  });
});

describe('resolveTarget with a flake', () => {
  beforeEach(() => {
    writeFileSync(join(dir, 'flake.nix'), '{ outputs = _: { }; }');
  });
  it('makes a bare path outside git a path: flake', () => {
    expect(resolveTarget({ cwd: dir, flake: '.' })).toEqual({ kind: 'flake', ref: `path:${dir}`, localDir: dir, localRoot: dir, subdir: '', attr: '' });
  });
  it('makes a path inside a git repository a git+file flake with its dir', () => {
    mkdirSync(join(dir, '.git'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'flake.nix'), '{}');
    expect(resolveTarget({ cwd: join(dir, 'sub'), flake: '.#shell' })).toEqual({
      kind: 'flake',
      ref: `git+file://${dir}?dir=sub`,
      localDir: join(dir, 'sub'),
      localRoot: dir,
      subdir: '/sub',
      attr: 'shell',
    });
  });
  it('understands explicit local URLs and leaves remote ones to Nix', () => {
    expect(resolveTarget({ cwd: '/', flake: `path:${dir}#a.b` })).toMatchObject({ localDir: dir, localRoot: dir, attr: 'a.b' });
    expect(resolveTarget({ cwd: '/', flake: 'github:o/r', attr: 'x' })).toEqual({ kind: 'flake', ref: 'github:o/r', subdir: '', attr: 'x' });
  });
  it('refuses the attribute twice, and a directory without flake.nix', () => {
    expect(code(() => resolveTarget({ cwd: dir, flake: '.#a', attr: 'b' }))?.[0]).toBe(64);
    expect(code(() => resolveTarget({ cwd: tmpdir(), flake: '/' }))?.[0]).toBe(66);
  });
});
