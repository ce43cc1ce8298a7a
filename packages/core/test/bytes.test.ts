import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBytes, encodeBytes, hasRawBytes, withoutRawBytes } from '../src/env/bytes.js';
import { renderJson, renderShell, SHELLS } from '../src/shells/render.js';
import { setWarningSink } from '../src/cli/warnings.js';
import { spawnWithRawEnv, splitRawEnv } from '../src/process/raw-env.js';

// Any bytes but NUL (issue 18 #12): kept through decodeBytes/encodeBytes and
// the shells' quoting; JSON shows U+FFFD. docs/reliability.md, "Any bytes but NUL".

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-bytes-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A deterministic PRNG, so a failure names the seed's string. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes 1–255 with some valid UTF-8 and quote characters mixed in. */
function randomBytes(rand: () => number, max: number): Buffer {
  const parts: Buffer[] = [];
  const length = Math.floor(rand() * max);
  for (let i = 0; i < length; i++) {
    const kind = rand();
    if (kind < 0.2) parts.push(Buffer.from(["'", '\\', '$', '"', '`', ':', '\n'][Math.floor(rand() * 7)]!));
    else if (kind < 0.35) parts.push(Buffer.from(['é', '✓', '😀'][Math.floor(rand() * 3)]!));
    else parts.push(Buffer.of(1 + Math.floor(rand() * 255)));
  }
  return Buffer.concat(parts);
}

const CASES = [Buffer.of(0xff, 0xfe), Buffer.from('caf\xe9', 'latin1'), Buffer.of(0x61, 0x80, 0x62), Buffer.from('é✓😀'), Buffer.of(0xed, 0xa0, 0x80), Buffer.of(0xf0, 0x9f, 0x98), Buffer.of(0xc0, 0xaf), Buffer.from('\uFFFD')];

describe('decodeBytes / encodeBytes', () => {
  it('round-trip every byte string exactly', () => {
    const rand = prng(12);
    for (let i = 0; i < 2000; i++) {
      const bytes = i < CASES.length ? CASES[i]! : randomBytes(rand, 40);
      expect(encodeBytes(decodeBytes(bytes)).toString('hex'), bytes.toString('hex')).toBe(bytes.toString('hex'));
    }
  });

  it('decode valid UTF-8 as Node does, a real U+FFFD included', () => {
    for (const text of ['', 'plain', 'é✓😀', '\uFFFD', 'a\uFFFDb']) {
      expect(decodeBytes(Buffer.from(text))).toBe(text);
      expect(hasRawBytes(text)).toBe(false);
    }
  });

  it('mark invalid bytes only; a surrogate pair is no raw byte', () => {
    expect(hasRawBytes(decodeBytes(Buffer.of(0xe9)))).toBe(true);
    expect(hasRawBytes('💀')).toBe(false); // U+1F480: D83D DC80
    expect(withoutRawBytes(decodeBytes(Buffer.from('caf\xe9', 'latin1')))).toBe('caf\uFFFD');
  });
});

describe.each(SHELLS)('%s gets the bytes of a rendered value', (shell) => {
  it('exactly, as its variable and in the exported environment', () => {
    const rand = prng(shell.length);
    const values: Record<string, string> = {};
    const wanted: Record<string, Buffer> = {};
    for (let i = 0; i < 60; i++) {
      const bytes = i < CASES.length ? CASES[i]! : randomBytes(rand, 30);
      values[`V${i}`] = decodeBytes(bytes);
      wanted[`V${i}`] = bytes;
    }
    const code = renderShell(shell, values);
    expect(hasRawBytes(code)).toBe(false); // escapes only: the script is plain text
    writeFileSync(join(dir, `${shell}.code`), code);
    const read = Object.keys(values)
      .map((name) => `printf %s "$${name}" > '${dir}/${shell}.${name}'`)
      .join('\n');
    const source = shell === 'fish' ? 'source' : '.';
    const argv = { bash: ['--noprofile', '--norc', '-c'], zsh: ['-f', '-c'], fish: ['--no-config', '-c'] }[shell];
    const result = spawnSync(shell, [...argv, `${source} '${dir}/${shell}.code'\n${read}\nenv -0 > '${dir}/${shell}.env'`], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
      timeout: 30_000,
    });
    expect(result.status, result.stderr.toString()).toBe(0);
    const env = new Map<string, string>();
    for (const entry of readFileSync(join(dir, `${shell}.env`)).toString('latin1').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env.set(entry.slice(0, eq), Buffer.from(entry.slice(eq + 1), 'latin1').toString('hex'));
    }
    for (const name of Object.keys(values)) {
      const want = wanted[name]!.toString('hex');
      expect(readFileSync(join(dir, `${shell}.${name}`)).toString('hex'), `${shell} ${name}`).toBe(want);
      // fish splits *PATH variables only; these are not.
      expect(env.get(name), `${shell} ${name} exported`).toBe(want);
    }
  });
});

describe('renderJson', () => {
  it('stays valid JSON: U+FFFD for each raw byte, a warning naming the variable', () => {
    const warnings: string[] = [];
    setWarningSink((message) => warnings.push(message));
    const out = JSON.parse(renderJson({ LATIN: decodeBytes(Buffer.from('caf\xe9', 'latin1')), OK: 'é' }));
    expect(out.set).toEqual({ LATIN: 'caf\uFFFD', OK: 'é' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^LATIN holds bytes that are not UTF-8/);
  });
});

describe('renderJson with bytes', () => {
  it('keeps each raw byte as a \\udcNN escape that JSON.parse gives back, without a warning', () => {
    const warnings: string[] = [];
    setWarningSink((message) => warnings.push(message));
    const latin = decodeBytes(Buffer.from('caf\xe9', 'latin1'));
    const text = renderJson({ LATIN: latin }, { bytes: true });
    expect(text).toContain('caf\\udce9');
    expect(JSON.parse(text).set.LATIN).toBe(latin);
    expect(warnings).toEqual([]);
  });
});

describe('spawnWithRawEnv', () => {
  const raw = (latin1: string) => decodeBytes(Buffer.from(latin1, 'latin1'));
  const run = (env: NodeJS.ProcessEnv, argv: string[]) => {
    const how = spawnWithRawEnv(argv, env);
    const result = spawnSync(how.command, how.args, { env: how.env });
    return { how, result };
  };

  it('spawns as is when every value is UTF-8 (no file, no bash)', () => {
    const how = spawnWithRawEnv(['env'], { A: 'é' });
    expect(how).toMatchObject({ command: 'env', args: [], raw: false });
    expect(how.env).toEqual({ A: 'é' });
  });

  it('gives the command the exact bytes, its own argv, status and SHLVL, and removes the file', () => {
    // A UTF-8 locale, and the last value ending with a raw byte: bash's read must not lose it.
    const env = { PATH: process.env.PATH, LC_ALL: 'C.UTF-8', LATIN: raw('caf\xe9'), FFFE: raw('\xff\xfe'), SPACE: raw('a b\n\x80'), SHLVL: '3', OK: 'é' };
    const { how, result } = run(env, ['sh', '-c', 'env -0; exit 5', 'x y']);
    expect(how.raw).toBe(true);
    expect(result.status).toBe(5);
    const got = new Map<string, string>();
    for (const entry of result.stdout.toString('latin1').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) got.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    expect(got.get('LATIN')).toBe('caf\xe9');
    expect(got.get('FFFE')).toBe('\xff\xfe');
    expect(got.get('SPACE')).toBe('a b\n\x80');
    expect(got.get('OK')).toBe(Buffer.from('é').toString('latin1'));
    expect(got.get('SHLVL')).toBe('3');
    expect(got.has('_WS_RAW_ENV')).toBe(false);
    expect(() => readFileSync(how.env._WS_RAW_ENV!)).toThrow();
  });

  it('writes the file for this user alone, and cleanup removes it', () => {
    const split = splitRawEnv({ V: raw('\xff') });
    const path = split.env._WS_RAW_ENV!;
    expect(readFileSync(path)).toEqual(Buffer.from('V=\xff\0', 'latin1'));
    split.cleanup();
    expect(() => readFileSync(path)).toThrow();
  });
});

describe('spawnWithRawEnv with a command that does not exist', () => {
  it('exits 127 with the one line runCommand prints, and removes the file', () => {
    const how = spawnWithRawEnv(['no-such-command-ws'], { PATH: process.env.PATH, V: decodeBytes(Buffer.of(0xff)) }, 'ws-exec');
    const result = spawnSync(how.command, how.args, { env: how.env });
    expect(result.status).toBe(127);
    expect(result.stderr.toString()).toBe('ws-exec: no-such-command-ws: command not found\n');
    expect(() => readFileSync(how.env._WS_RAW_ENV!)).toThrow();
  });
});
