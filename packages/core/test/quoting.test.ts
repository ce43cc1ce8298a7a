import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvChanges } from '../src/env/diff.js';
import { renderShell, SHELLS, type Shell, type ShellLocals } from '../src/shells/render.js';

// SPEC §4 "values are exported exactly" and §8 "a hostile value can never run
// code": render with renderShell, evaluate in the REAL shell, read the value
// back both as the shell's variable and as what a child process inherits, and
// compare bytes.

let dir: string;
let runs = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-quoting-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const q = (path: string) => `'${path}'`; // temp paths hold no quote

/** Runs `code` (then `after`) in the shell; its stderr is returned for diagnostics. */
function runShell(shell: Shell, code: string, after: string, env: Record<string, string> = {}): { work: string; stderr: string } {
  const work = join(dir, `run-${++runs}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'code'), code);
  const script = shell === 'fish' ? `source ${q(join(work, 'code'))}\n${after}` : `. ${q(join(work, 'code'))}\n${after}`;
  writeFileSync(join(work, 'script'), script);
  const argv: Record<Shell, string[]> = {
    bash: ['--noprofile', '--norc', join(work, 'script')],
    zsh: ['-f', join(work, 'script')],
    fish: ['--no-config', join(work, 'script')],
  };
  const result = spawnSync(shell, argv[shell], {
    cwd: work,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, XDG_CONFIG_HOME: work, XDG_DATA_HOME: work, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', ...env },
    timeout: 30_000,
    encoding: 'utf8',
  });
  if (result.error) throw result.error;
  return { work, stderr: result.stderr };
}

/** The shell command that writes variable NAME's value, byte for byte, to FILE. */
// The same text in every shell; in fish a quoted variable is one word (a *PATH list joined with ':').
const printVar = (name: string, file: string) => `printf %s "$${name}" > ${q(file)}`;

/** Exported environment of a child process, NUL-separated. */
function readEnv(file: string): Map<string, Buffer> {
  const env = new Map<string, Buffer>();
  const buf = readFileSync(file);
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 0) continue;
    const entry = buf.subarray(start, i);
    const eq = entry.indexOf(0x3d);
    env.set(entry.subarray(0, eq).toString('latin1'), Buffer.from(entry.subarray(eq + 1)));
    start = i + 1;
  }
  return env;
}

/**
 * Sets every variable of `values` with renderShell in `shell`, then returns,
 * for each, the bytes of the shell variable and of the exported copy a child sees.
 */
function roundTrip(shell: Shell, values: Record<string, string>) {
  const names = Object.keys(values);
  const code = renderShell(shell, values);
  const after = [...names.map((name, i) => printVar(name, `var-${i}`)), `/usr/bin/env -0 > env`].join('\n');
  const { work, stderr } = runShell(shell, code, after);
  const env = readEnv(join(work, 'env'));
  const got = names.map((name, i) => ({
    name,
    variable: readFileSync(join(work, `var-${i}`)),
    exported: env.get(name),
  }));
  return { got, stderr, work };
}

function expectExact(shell: Shell, values: Record<string, string>) {
  const { got, stderr, work } = roundTrip(shell, values);
  for (const { name, variable, exported } of got) {
    const want = Buffer.from(values[name]!, 'utf8');
    // hex makes a mismatch readable whatever the bytes
    expect({ name, variable: variable.toString('hex') }, `${shell} ${name} (stderr: ${stderr})`).toEqual({ name, variable: want.toString('hex') });
    expect({ name, exported: exported?.toString('hex') }, `${shell} ${name} exported`).toEqual({ name, exported: want.toString('hex') });
  }
  expect(existsMarker(work), 'a value ran code').toBe(false);
}

const existsMarker = (work: string) => spawnSync('sh', ['-c', 'ls pwned* 2>/dev/null | grep -q .'], { cwd: work }).status === 0;

/** A deterministic PRNG, so a failure names the string that failed. */
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIALS = [..."'\"\\`$!%#&|;<>(){}[]*?~=^ \t\n\r:@,."];
const HOSTILE = ['$(touch pwned1)', '`touch pwned2`', "'; touch pwned3; '", '"; touch pwned4; "', '\\', "\\'", '%s%n%%', '${X}', '$((1+1))', '\n', "'\\''"];

function randomString(rand: () => number, maxLength: number): string {
  const length = Math.floor(rand() * maxLength);
  let out = '';
  while (out.length < length) {
    const kind = rand();
    if (kind < 0.3) out += SPECIALS[Math.floor(rand() * SPECIALS.length)];
    else if (kind < 0.4) out += HOSTILE[Math.floor(rand() * HOSTILE.length)];
    else if (kind < 0.6) out += String.fromCharCode(1 + Math.floor(rand() * 127));
    else if (kind < 0.75) out += String.fromCharCode(0x80 + Math.floor(rand() * 0x80));
    else if (kind < 0.9) {
      let cp = Math.floor(rand() * 0xfffe) + 1;
      if (cp >= 0xd800 && cp <= 0xdfff) cp -= 0x800; // no lone surrogates: not valid UTF-8
      out += String.fromCodePoint(cp);
    } else out += String.fromCodePoint(0x10000 + Math.floor(rand() * 0x100000));
  }
  return out;
}

const FISH_PATH_CASES = ['', ':', '::', 'a', 'a:b', ':a', 'a:', 'a::b', '/usr/bin:/bin', "with space:it's:$(touch pwned5):\\x:é✓日本:\n:"];

describe.each(SHELLS)('renderShell(%s) round trip through the real shell', (shell) => {
  it('every character U+0001..U+00FF alone, between letters and repeated', () => {
    const values: Record<string, string> = {};
    for (let c = 1; c <= 0xff; c++) {
      const ch = String.fromCharCode(c);
      values[`C${c}`] = ch;
      values[`M${c}`] = `a${ch}b`;
      values[`R${c}`] = ch.repeat(3);
    }
    expectExact(shell, values);
  });

  it('all of U+0001..U+00FF in one value, forwards and backwards', () => {
    const all = Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1)).join('');
    expectExact(shell, { ALL: all, BACK: [...all].reverse().join('') });
  });

  it('hostile and edge values: quotes, $, backticks, backslashes, %, newlines, empty', () => {
    const values: Record<string, string> = {
      EMPTY: '',
      SPACE: ' ',
      NL: '\n',
      NLS: '\n\n\n',
      TRAIL: 'value\n',
      LEAD: '\nvalue',
      CR: 'a\r\nb',
      TAB: '\t',
      SQ: "'",
      SQS: "''''",
      DQ: '"',
      BS: '\\',
      BSS: '\\\\\\',
      BS_SQ: "\\'",
      SQ_BS: "'\\",
      ESCAPED_SQ: "'\\''",
      DOLLAR: '$',
      SUBST: '$(touch pwned1)',
      BACKTICK: '`touch pwned2`',
      BREAKOUT_SQ: "'; touch pwned3; echo '",
      BREAKOUT_DQ: '"; touch pwned4; echo "',
      BREAKOUT_FISH: "\\'; touch pwned5; echo \\'",
      VAR: '$HOME ${HOME} $PATH',
      FISH_VAR: '$HOME[1] {a,b} ~ *',
      PERCENT: '%s %d %n %% %',
      BANG: '!! !$ !-1',
      GLOB: '* ? [a-z] ** ~/',
      BRACE: '{a,b} {1..3}',
      SEMICOLON: ';&&||&|',
      HASH: '# not a comment',
      CTRL: '\x01\x02\x07\x08\x1b[31m\x7f',
      C1: '\u0080\u0085\u009b\u009f',
      NBSP: '\u00a0\u2028\u2029\ufeff',
      NON_ASCII: 'é ü ß ✓ 日本語 Ελληνικά עברית العربية',
      EMOJI: '😀👍🏽👨‍👩‍👧 \u{1f600}',
      ASTRAL_MAX: '\u{10ffff}\u{e0001}',
      NONCHARACTERS: '\ufdd0\ufdef\ufffe\uffff',
      PRIVATE_USE: '\ue000\uf600\uf6ff\uf8ff',
      COMBINING: 'e\u0301 a\u0308',
      LINE_CONT: 'end\\\nnext',
      HEREDOC: 'EOF\n$(touch pwned6)\nEOF',
    };
    expectExact(shell, values);
  });

  it('300 random strings of many kinds (seeded)', () => {
    const seed = 20240611;
    const rand = mulberry32(seed);
    const values: Record<string, string> = {};
    for (let i = 0; i < 300; i++) values[`RND_${i}`] = randomString(rand, i < 200 ? 40 : 2000);
    expectExact(shell, values);
  });

  it('100 KB values (ASCII, multi-byte, with newlines and quotes)', () => {
    const chunk = 'abc\'"$`\\\n%é日😀 ';
    expectExact(shell, {
      BIG_ASCII: 'x'.repeat(100 * 1024),
      BIG_MIXED: chunk.repeat(Math.ceil((100 * 1024) / Buffer.byteLength(chunk))),
      BIG_QUOTES: "'".repeat(100 * 1024),
    });
  });

  it('unset removes a variable that was exported, and set-to-empty stays set', () => {
    const changes: EnvChanges = { GONE: undefined, NEVER: undefined, EMPTY: '' };
    const code = renderShell(shell, changes);
    const check =
      shell === 'fish'
        ? `begin; set -q GONE; and echo GONE-set; set -q NEVER; and echo NEVER-set; set -q EMPTY; or echo EMPTY-unset; end > out`
        : `{ [ -n "\${GONE+x}" ] && echo GONE-set; [ -n "\${NEVER+x}" ] && echo NEVER-set; [ -z "\${EMPTY+x}" ] && echo EMPTY-unset; } > out`;
    const { work } = runShell(shell, code, `${check}\n/usr/bin/env -0 > env`, { GONE: 'was here' });
    expect(readFileSync(join(work, 'out'), 'utf8')).toBe('');
    const env = readEnv(join(work, 'env'));
    expect(env.has('GONE')).toBe(false);
    expect(env.has('NEVER')).toBe(false);
    expect(env.get('EMPTY')?.toString()).toBe('');
  });

  it("the hook's own variables: strings and lists (with empty and hostile elements)", () => {
    const list = ['a b', '', "it's", '$(touch pwned7)', '\n', '\\', 'é'];
    const locals: ShellLocals = { _t_str: "x'y\n$z", _t_list: list, _t_empty: [] };
    const code = renderShell(shell, {}, locals);
    const after =
      shell === 'fish'
        ? `printf '%s\\n' $_t_str > str\ncount $_t_list > n; string join0 -- $_t_list > list\ncount $_t_empty > n0`
        : shell === 'zsh'
          ? `printf '%s\\n' "$_t_str" > str; print -r -- \${#_t_list} > n; printf '%s\\0' "\${_t_list[@]}" > list; print -r -- \${#_t_empty} > n0`
          : `printf '%s\\n' "$_t_str" > str; echo \${#_t_list[@]} > n; printf '%s\\0' "\${_t_list[@]}" > list; echo \${#_t_empty[@]} > n0`;
    const { work } = runShell(shell, code, after);
    expect(readFileSync(join(work, 'str'), 'utf8')).toBe("x'y\n$z\n");
    expect(readFileSync(join(work, 'n'), 'utf8').trim()).toBe(String(list.length));
    expect(readFileSync(join(work, 'list'), 'utf8')).toBe(list.map((e) => `${e}\0`).join(''));
    expect(readFileSync(join(work, 'n0'), 'utf8').trim()).toBe('0');
    expect(existsMarker(work)).toBe(false);
  });
});

describe('fish *PATH variables: a colon-joined list that round-trips', () => {
  it.each(FISH_PATH_CASES.map((value) => [JSON.stringify(value), value]))('MYPATH=%s', (_label, value) => {
    expectExact('fish', { MYPATH: value, WS_TEST_PATH: value });
  });

  it('PATH itself keeps its order and is exported as the same string', () => {
    const value = `/nonexistent/a b:/usr/bin:/nonexistent/é'$(x):/bin`;
    const { work } = runShell('fish', renderShell('fish', { PATH: value }), `printf %s "$PATH" > var; count $PATH > n; /usr/bin/printenv PATH > exported`);
    expect(readFileSync(join(work, 'var'), 'utf8')).toBe(value);
    expect(readFileSync(join(work, 'n'), 'utf8').trim()).toBe('4');
    expect(readFileSync(join(work, 'exported'), 'utf8')).toBe(`${value}\n`);
  });

  it("PATH's empty elements keep their meaning: fish itself rewrites them to '.' (other *PATH names stay exact)", () => {
    const value = `/nonexistent/a::/usr/bin:/bin:`;
    const { work } = runShell('fish', renderShell('fish', { PATH: value }), `/usr/bin/printenv PATH > exported`);
    expect(readFileSync(join(work, 'exported'), 'utf8')).toBe('/nonexistent/a:.:/usr/bin:/bin:.\n');
  });

  it('random colon-separated values (seeded)', () => {
    const rand = mulberry32(7);
    const values: Record<string, string> = {};
    for (let i = 0; i < 100; i++) {
      const parts = Array.from({ length: Math.floor(rand() * 6) }, () => randomString(rand, 12).replace(/:/g, ''));
      values[`R${i}_PATH`] = parts.join(':');
    }
    expectExact('fish', values);
  });
});
