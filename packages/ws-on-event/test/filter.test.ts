import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contextMatcher, globToRegExp, parseSince, typeMatcher } from '../src/filter.js';

describe('type globs', () => {
  it('* spans any characters, dots included; ? one; the rest is literal', () => {
    expect(globToRegExp('service.*').test('service.ready')).toBe(true);
    expect(globToRegExp('service.*').test('serviceXready')).toBe(false);
    expect(globToRegExp('*.start').test('build.start')).toBe(true);
    expect(globToRegExp('user.?oin').test('user.join')).toBe(true);
    expect(globToRegExp('context.load').test('context.loaded')).toBe(false);
    expect(globToRegExp('a+(b)[c]').test('a+(b)[c]')).toBe(true);
  });

  it('matches any of several globs; none means every type', () => {
    const want = typeMatcher(['service.*', 'allow']);
    expect(['service.exit', 'allow', 'deny'].map(want)).toEqual([true, true, false]);
    expect(typeMatcher([])('anything')).toBe(true);
  });
});

describe('context filter', () => {
  it('matches by name or by root (relative to cwd, or through a symlink)', () => {
    const base = mkdtempSync(join(tmpdir(), 'ws-filter-'));
    try {
      mkdirSync(join(base, 'shop'));
      symlinkSync(join(base, 'shop'), join(base, 'link'));
      const byName = contextMatcher(['shop/api'], '/');
      expect(byName({ context: 'shop/api', root: '/x' })).toBe(true);
      expect(byName({ context: 'shop', root: '/x' })).toBe(false);
      const byDir = contextMatcher(['shop'], base);
      expect(byDir({ context: 'other-name', root: join(base, 'shop') })).toBe(true);
      expect(contextMatcher(['link'], base)({ context: 'n', root: join(base, 'shop') })).toBe(true);
      expect(contextMatcher(['.'], join(base, 'shop'))({ context: 'n', root: join(base, 'shop') })).toBe(true);
      expect(contextMatcher([], base)({ context: 'any', root: '/any' })).toBe(true);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('parseSince', () => {
  it('accepts ISO-8601 dates and times', () => {
    expect(parseSince('2024-05-01T12:00:00Z')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseSince('2024-05-01T12:00:00.250+02:00')).toBe(Date.UTC(2024, 4, 1, 10, 0, 0, 250));
    expect(parseSince('2024-05-01')).toBe(new Date(2024, 4, 1).getTime()); // local midnight
    expect(parseSince('2024-05-01 12:30')).toBe(new Date(2024, 4, 1, 12, 30).getTime());
  });

  it('rejects anything else', () => {
    for (const text of ['', 'yesterday', '1714564800', '2024-13-01', '2024-05-01T25:00', '05/01/2024']) expect(parseSince(text)).toBeUndefined();
  });
});
