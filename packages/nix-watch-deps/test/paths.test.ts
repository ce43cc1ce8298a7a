import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalPath, formatList, isWithin, sortUnique } from '../src/paths.js';

let dir: string;
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'nwd-paths-')));
  mkdirSync(join(dir, 'real'));
  writeFileSync(join(dir, 'real', 'f'), 'x');
  symlinkSync('real', join(dir, 'linkdir'));
  symlinkSync('real/f', join(dir, 'lf'));
  symlinkSync('nowhere', join(dir, 'dangling'));
});

describe('canonicalPath', () => {
  it('resolves a symlinked file Nix read through', () => {
    expect(canonicalPath(join(dir, 'lf'))).toBe(join(dir, 'real', 'f'));
    expect(canonicalPath(join(dir, 'linkdir', 'f'))).toBe(join(dir, 'real', 'f'));
  });
  it('keeps the last component when Nix looked at the link itself', () => {
    expect(canonicalPath(join(dir, 'linkdir'), false)).toBe(join(dir, 'linkdir'));
    expect(canonicalPath(join(dir, 'linkdir', 'f'), false)).toBe(join(dir, 'real', 'f'));
  });
  it('keeps the missing tail of a path that does not exist yet', () => {
    expect(canonicalPath(join(dir, 'linkdir', 'new', 'file'))).toBe(join(dir, 'real', 'new', 'file'));
    expect(canonicalPath(join(dir, 'dangling'))).toBe(join(dir, 'dangling'));
  });
  it('handles the root', () => {
    expect(canonicalPath('/')).toBe('/');
  });
});

describe('sortUnique and formatList', () => {
  it('sorts by bytes like LC_ALL=C sort and drops duplicates', () => {
    expect(sortUnique(['/b', '/a', '/B', '/b', '/\u00e9', '/z'])).toEqual(['/B', '/a', '/b', '/z', '/\u00e9']);
  });
  it('ends each path with a newline, or a NUL', () => {
    expect(formatList(['/a', '/b'])).toBe('/a\n/b\n');
    expect(formatList(['/a', '/b'], true)).toBe('/a\0/b\0');
    expect(formatList([])).toBe('');
  });
  it('isWithin matches the directory and below, not a sibling prefix', () => {
    expect(isWithin('/nix/store', '/nix/store')).toBe(true);
    expect(isWithin('/nix/store/x', '/nix/store')).toBe(true);
    expect(isWithin('/nix/storefront', '/nix/store')).toBe(false);
  });
});
