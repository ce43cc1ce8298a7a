import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectFiles, watchDeps } from '../src/watch-deps.js';

const wrapper = readFileSync(new URL('../src/logged-evaluation.nix', import.meta.url), 'utf8');
const hasNix = (() => {
  try {
    execFileSync('nix-instantiate', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const SHELL_NIX = `derivation { name = "shell"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > $out" ];
  FOO = "bar-\${(import ./helper.nix).msg}"; DATA = builtins.readFile ./data.txt;
  E = if builtins.pathExists ./maybe.txt then "y" else "n"; src = ./src; }`;

describe('collectFiles', () => {
  it('drops the store and maps a flake’s store copy back to its checkout', () => {
    const target = { kind: 'flake' as const, ref: 'path:/w', localDir: '/w/sub', localRoot: '/w', subdir: '/sub', attr: '' };
    const files = collectFiles(
      target,
      [
        { path: '/nix/store/abc-source/sub/flake.nix', follow: true },
        { path: '/nix/store/abc-source/sub/data.txt', follow: true },
        { path: '/nix/store/zzz-nixpkgs/default.nix', follow: true },
        { path: '/__corepkgs__/fetchurl.nix', follow: true },
      ],
      '/nix/store',
      '/nix/store/abc-source',
    );
    expect(files).toEqual(['/w/sub/data.txt', '/w/sub/flake.lock', '/w/sub/flake.nix']);
  });
});

describe('collectFiles for a file', () => {
  it('reports an imported directory as its default.nix, a listed one as itself', () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'nwd-collect-')));
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'lib', 'default.nix'), '1');
    const files = collectFiles(
      { kind: 'file', entry: join(dir, 'shell.nix') },
      [
        { path: join(dir, 'lib'), follow: true, import: true },
        { path: join(dir, 'lib'), follow: true },
        { path: '/nix/store/abc-src', follow: false },
      ],
      '/nix/store',
    );
    expect(files).toEqual([join(dir, 'lib'), join(dir, 'lib', 'default.nix'), join(dir, 'shell.nix')]);
  });
});

describe.skipIf(!hasNix)('watchDeps with the real Nix', () => {
  let dir: string;
  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'nwd-eval-')));
    writeFileSync(join(dir, 'shell.nix'), SHELL_NIX);
    writeFileSync(join(dir, 'helper.nix'), '{ msg = "hi"; }');
    writeFileSync(join(dir, 'data.txt'), 'data\n');
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'a'), 'a');
  });

  it('lists the entry, imports, reads, a missing pathExists target and copied sources', async () => {
    const messages: string[] = [];
    const result = await watchDeps({ target: { kind: 'file', entry: join(dir, 'shell.nix') }, wrapper, env: process.env, err: (t) => messages.push(t) });
    expect(result.files).toEqual(['data.txt', 'helper.nix', 'maybe.txt', 'shell.nix', 'src'].map((name) => join(dir, name)));
    expect(result.drvs).toHaveLength(1);
    expect(result.drvs[0]).toMatch(/^\/nix\/store\/[a-z0-9]{32}-shell\.drv$/);
    expect(result.roots).toEqual([]);
    expect(messages).toEqual([]);
  });

  it('reports a symlinked import by its target', async () => {
    const sub = join(dir, 'links');
    mkdirSync(sub);
    writeFileSync(join(sub, 'real.nix'), '{ x = "1"; }');
    symlinkSync('real.nix', join(sub, 'link.nix'));
    writeFileSync(join(sub, 'default.nix'), SHELL_NIX.replace('FOO = ', 'X = (import ./link.nix).x; FOO = ').replace(/\.\/(helper|data|maybe|src)/g, '../$1'));
    const result = await watchDeps({ target: { kind: 'file', entry: join(sub, 'default.nix') }, wrapper, env: process.env, err: () => {} });
    expect(result.files).toContain(join(sub, 'real.nix'));
    expect(result.files).not.toContain(join(sub, 'link.nix'));
    expect(result.files).toContain(join(dir, 'helper.nix'));
  });

  it('is a data error (65) when the value is no derivation, with Nix’s message', async () => {
    const entry = join(dir, 'number.nix');
    writeFileSync(entry, '42');
    const messages: string[] = [];
    await expect(watchDeps({ target: { kind: 'file', entry }, wrapper, env: process.env, err: (t) => messages.push(t) })).rejects.toMatchObject({ code: 65 });
    expect(messages.join('')).toMatch(/^error: expression does not evaluate to a derivation/);
  });

  it('is a data error (65) with Nix’s own message for a syntax error', async () => {
    const bad = join(dir, 'bad.nix');
    writeFileSync(bad, '{ a = ; }');
    const messages: string[] = [];
    const error = await watchDeps({ target: { kind: 'file', entry: bad }, wrapper, env: process.env, err: (t) => messages.push(t) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 65, message: `cannot evaluate ${bad}` });
    expect(messages.join('')).toContain("error: syntax error, unexpected ';'");
    expect(messages.join('')).toContain(`${bad}:1:7`);
  });
});
