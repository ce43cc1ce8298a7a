import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteNu } from '../src/shells/quote.js';
import { renderNu } from '../src/shells/render.js';

// nushell: quoteNu's strings read back exactly, and renderNu's JSON, loaded
// as the hook loads it, gives children exactly the values.
const hasNu = spawnSync('nu', ['--version']).status === 0;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-nu-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOSTILE = ["it's", "'#", "a'#b'##c", '$(touch pwned)', '`x`', '\\', 'line\nnext', '"q"', '(1 + 1)', 'é ✓ 日本', "''", "r#'x'#"];

describe.skipIf(!hasNu)('nushell', () => {
  it('quoteNu: every hostile string is read back as itself, and runs nothing', () => {
    const script = HOSTILE.map((value, i) => `${quoteNu(value)} | save -f ${quoteNu(join(dir, `q${i}`))}`).join('\n');
    writeFileSync(join(dir, 'quote.nu'), script);
    const result = spawnSync('nu', ['--no-config-file', join(dir, 'quote.nu')], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toBe('');
    HOSTILE.forEach((value, i) => {
      const got = spawnSync('cat', [join(dir, `q${i}`)], { encoding: 'utf8' }).stdout;
      expect(got).toBe(value);
    });
    expect(spawnSync('test', ['-e', join(dir, 'pwned')]).status).toBe(1);
  });

  it('renderNu: load-env of its set and hide-env of its unset give a child the exact values', () => {
    const values = Object.fromEntries(HOSTILE.map((v, i) => [`V${i}`, v]));
    const json = renderNu({ ...values, GONE: undefined, EMPTY: '' }, { _ws_root: '/r', _ws_watch: ['a', '', ''] });
    expect(JSON.parse(json).hook).toEqual({ root: '/r', watch: ['a', '', ''], revert: null });
    writeFileSync(join(dir, 'out.json'), json);
    const script = `let r = (open ${quoteNu(join(dir, 'out.json'))}); load-env $r.set; hide-env -i ...$r.unset; ^env -0 | save -f ${quoteNu(join(dir, 'env'))}`;
    const result = spawnSync('nu', ['--no-config-file', '-c', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, GONE: 'x' }, timeout: 20_000 });
    expect(result.stderr).toBe('');
    const env = new Map(
      spawnSync('cat', [join(dir, 'env')], { encoding: 'utf8' })
        .stdout.split('\0')
        .filter(Boolean)
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] as const),
    );
    for (const [name, value] of Object.entries(values)) expect(env.get(name), name).toBe(value);
    expect(env.get('EMPTY')).toBe('');
    expect(env.has('GONE')).toBe(false);
  });
});
