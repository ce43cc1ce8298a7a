import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CliError, EX } from '../src/cli/errors.js';
import { sha256 } from '../src/state/home.js';
import {
  allowFile,
  allowRecordPath,
  contentHash,
  denyFile,
  denyRecordPath,
  inTrustedDir,
  isTrusted,
  listTrust,
  trustGate,
  trustKey,
  trustState,
  trustTargets,
} from '../src/trust/trust.js';

// SPEC §3: a workspace file never runs until its exact content is allowed;
// any change blocks it again; deny revokes; WS_TRUSTED_DIRS allows without
// asking; a corrupt record is no record.

let base: string;
let home: string;
let seq = 0;
const env: NodeJS.ProcessEnv = {};

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ws-trust-')));
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});
beforeEach(() => {
  home = join(base, `home-${++seq}`);
  mkdirSync(home, { mode: 0o700 });
});

function workspace(content = 'export A=1\n', name = '.workspace'): string {
  const dir = join(base, `proj-${++seq}`);
  mkdirSync(dir);
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

describe('allow, change, deny', () => {
  it('a file never allowed is blocked', () => {
    const file = workspace();
    expect(trustState(home, file, env)).toBe('blocked');
    expect(isTrusted('blocked')).toBe(false);
  });

  it('allowFile approves the exact current content', () => {
    const file = workspace('export A=1\n');
    const record = allowFile(home, file, new Date('2024-01-02T03:04:05Z'));
    expect(record).toEqual({ path: file, sha256: sha256('export A=1\n'), allowed: '2024-01-02T03:04:05.000Z' });
    expect(JSON.parse(readFileSync(allowRecordPath(home, file), 'utf8'))).toEqual(record);
    expect(allowRecordPath(home, file)).toBe(join(home, 'allow', sha256(file)));
    expect(trustState(home, file, env)).toBe('allowed');
    expect(isTrusted('allowed')).toBe(true);
  });

  it('any change of content blocks it again (changed), even one byte or only a trailing newline; restoring the content allows it again', () => {
    const file = workspace('export A=1\n');
    allowFile(home, file);
    for (const content of ['export A=2\n', 'export A=1', 'export A=1\n\n', '', 'export A=1\n# comment\n']) {
      writeFileSync(file, content);
      expect(trustState(home, file, env), JSON.stringify(content)).toBe('changed');
      expect(isTrusted('changed')).toBe(false);
    }
    writeFileSync(file, 'export A=1\n');
    expect(trustState(home, file, env)).toBe('allowed');
  });

  it('allowing again approves the new content only', () => {
    const file = workspace('v1\n');
    allowFile(home, file);
    writeFileSync(file, 'v2\n');
    allowFile(home, file);
    expect(trustState(home, file, env)).toBe('allowed');
    writeFileSync(file, 'v1\n');
    expect(trustState(home, file, env)).toBe('changed');
  });

  it('denyFile revokes an allow and blocks; allowFile after deny removes the deny', () => {
    const file = workspace();
    allowFile(home, file);
    denyFile(home, file, new Date('2024-05-06T07:08:09Z'));
    expect(trustState(home, file, env)).toBe('denied');
    expect(isTrusted('denied')).toBe(false);
    expect(JSON.parse(readFileSync(denyRecordPath(home, file), 'utf8'))).toEqual({ path: file, denied: '2024-05-06T07:08:09.000Z' });
    expect(readdirSync(join(home, 'allow'))).toEqual([]);
    allowFile(home, file);
    expect(trustState(home, file, env)).toBe('allowed');
    expect(readdirSync(join(home, 'deny'))).toEqual([]);
  });

  it('records are private files (0600) written atomically (no temp files left)', () => {
    const file = workspace();
    allowFile(home, file);
    denyFile(home, workspace());
    for (const kind of ['allow', 'deny']) {
      for (const name of readdirSync(join(home, kind))) {
        expect(name).toMatch(/^[0-9a-f]{64}$/);
        expect(statSync(join(home, kind, name)).mode & 0o077).toBe(0);
      }
    }
  });

  it('is keyed by the real path: allowing through a symlinked directory allows the file', () => {
    const file = workspace();
    const link = join(base, `link-${++seq}`);
    symlinkSync(join(file, '..'), link);
    allowFile(home, join(link, '.workspace'));
    expect(trustState(home, file, env)).toBe('allowed');
    expect(trustKey(join(link, '.workspace'))).toBe(trustKey(file));
    expect(JSON.parse(readFileSync(allowRecordPath(home, file), 'utf8')).path).toBe(file);
  });

  it('a workspace file that is a symlink to an allowed file is its own path: blocked until allowed itself', () => {
    const target = workspace();
    allowFile(home, target);
    const dir = join(base, `link-${++seq}`);
    mkdirSync(dir);
    const link = join(dir, '.workspace');
    symlinkSync(target, link);
    expect(trustKey(link)).not.toBe(trustKey(target));
    expect(trustState(home, link, env)).toBe('blocked');
    expect(allowFile(home, link).path).toBe(link);
    expect(trustState(home, link, env)).toBe('allowed');
    denyFile(home, link);
    expect(trustState(home, link, env)).toBe('denied');
    expect(trustState(home, target, env)).toBe('allowed');
  });
  it('a copy of an allowed file elsewhere is not allowed', () => {
    const file = workspace('same\n');
    const copy = workspace('same\n');
    allowFile(home, file);
    expect(trustState(home, copy, env)).toBe('blocked');
  });

  it('an unreadable file throws (the caller reports it), a missing one too', () => {
    expect(() => trustState(home, join(base, 'missing/.workspace'), env)).toThrow();
  });

  it('contentHash is the sha256 of the bytes', () => {
    const file = workspace('é\0\n');
    expect(contentHash(file)).toBe(sha256(Buffer.from('é\0\n')));
  });
});

describe('corrupt records count as no record, never a crash', () => {
  it.each([
    ['empty', ''],
    ['truncated', '{"path":"/x","sha2'],
    ['not JSON', 'garbage\n'],
    ['null', 'null'],
    ['a sha256 that is not a string', '{"path":"/x","sha256":123}'],
    ['an array', '[]'],
  ])('allow record %s: blocked', (_what, text) => {
    const file = workspace();
    mkdirSync(join(home, 'allow'), { recursive: true });
    writeFileSync(allowRecordPath(home, file), text);
    expect(trustState(home, file, env)).toBe('blocked');
    expect(() => listTrust(home)).not.toThrow();
    // Allowing again repairs it.
    allowFile(home, file);
    expect(trustState(home, file, env)).toBe('allowed');
  });

  it('a corrupt deny record does not allow anything', () => {
    const file = workspace();
    mkdirSync(join(home, 'deny'), { recursive: true });
    writeFileSync(denyRecordPath(home, file), '{"pa');
    expect(isTrusted(trustState(home, file, env))).toBe(false);
  });
});

describe('WS_TRUSTED_DIRS', () => {
  it('allows files in or below a listed directory without a record', () => {
    const trusted = join(base, `trusted-${++seq}`);
    mkdirSync(join(trusted, 'a/b'), { recursive: true });
    writeFileSync(join(trusted, '.workspace'), 'x');
    writeFileSync(join(trusted, 'a/b/.workspace'), 'x');
    const e = { WS_TRUSTED_DIRS: trusted };
    expect(trustState(home, join(trusted, '.workspace'), e)).toBe('trusted-dir');
    expect(trustState(home, join(trusted, 'a/b/.workspace'), e)).toBe('trusted-dir');
    expect(isTrusted('trusted-dir')).toBe(true);
    expect(readdirSync(home)).toEqual([]);
  });

  it('a sibling whose name only starts with the trusted name is not trusted', () => {
    const trusted = join(base, `tr-${++seq}`);
    mkdirSync(trusted);
    mkdirSync(`${trusted}-evil`);
    writeFileSync(join(`${trusted}-evil`, '.workspace'), 'x');
    expect(trustState(home, join(`${trusted}-evil`, '.workspace'), { WS_TRUSTED_DIRS: trusted })).toBe('blocked');
  });

  it('is colon-separated; empty and relative entries are ignored; a trailing slash is fine', () => {
    const file = workspace();
    const dir = join(file, '..');
    expect(inTrustedDir(file, { WS_TRUSTED_DIRS: `::relative:${dir}/` })).toBe(true);
    expect(inTrustedDir(file, { WS_TRUSTED_DIRS: '::relative' })).toBe(false);
    expect(inTrustedDir(file, { WS_TRUSTED_DIRS: '' })).toBe(false);
    expect(inTrustedDir(file, {})).toBe(false);
  });

  it('compares real paths: a trusted dir given through a symlink trusts its files; a symlink inside pointing out does not', () => {
    const file = workspace();
    const real = join(file, '..');
    const link = join(base, `tl-${++seq}`);
    symlinkSync(real, link);
    expect(trustState(home, file, { WS_TRUSTED_DIRS: link })).toBe('trusted-dir');

    const trusted = join(base, `tin-${++seq}`);
    mkdirSync(trusted);
    const outside = workspace();
    symlinkSync(join(outside, '..'), join(trusted, 'escape'));
    expect(trustState(home, join(trusted, 'escape/.workspace'), { WS_TRUSTED_DIRS: trusted })).toBe('blocked');
  });

  it('/ trusts everything', () => {
    expect(trustState(home, workspace(), { WS_TRUSTED_DIRS: '/' })).toBe('trusted-dir');
  });

  it('a denied file stays denied inside a trusted dir', () => {
    const file = workspace();
    denyFile(home, file);
    expect(trustState(home, file, { WS_TRUSTED_DIRS: join(file, '..') })).toBe('denied');
  });

  it('an allowed file whose content changed stays blocked (changed) inside a trusted dir', () => {
    const file = workspace('a\n');
    allowFile(home, file);
    writeFileSync(file, 'b\n');
    expect(trustState(home, file, { WS_TRUSTED_DIRS: join(file, '..') })).toBe('changed');
  });
});

describe('trustGate: the one decision the build is handed', () => {
  it('allowed content: the approval carries the sha256 of the record, equal to the content it read', () => {
    const file = workspace('export A=1\n');
    const record = allowFile(home, file);
    const decision = trustGate(home, file, env);
    expect(decision).toEqual({ kind: 'allowed', sha256: sha256('export A=1\n') });
    expect(decision).toEqual({ kind: 'allowed', sha256: record.sha256 });
  });

  it('after re-allowing changed content, the approval names the new content only', () => {
    const file = workspace('v1\n');
    allowFile(home, file);
    writeFileSync(file, 'v2\n');
    expect(trustGate(home, file, env)).toEqual({ kind: 'blocked', state: 'changed' });
    allowFile(home, file);
    expect(trustGate(home, file, env)).toEqual({ kind: 'allowed', sha256: sha256('v2\n') });
  });

  it('never approves with an empty or missing hash: blocked, denied and changed carry no sha256', () => {
    const never = workspace();
    const denied = workspace();
    denyFile(home, denied);
    const changed = workspace('a\n');
    allowFile(home, changed);
    writeFileSync(changed, 'b\n');
    expect(trustGate(home, never, env)).toEqual({ kind: 'blocked', state: 'blocked' });
    expect(trustGate(home, denied, env)).toEqual({ kind: 'blocked', state: 'denied' });
    expect(trustGate(home, changed, env)).toEqual({ kind: 'blocked', state: 'changed' });
    // A changed file inside a trusted directory is not turned into "trusted".
    expect(trustGate(home, changed, { WS_TRUSTED_DIRS: join(changed, '..') })).toEqual({ kind: 'blocked', state: 'changed' });
  });

  it('a file under WS_TRUSTED_DIRS gets the explicit trusted-dir marker, an allowed one there keeps its hash', () => {
    const file = workspace('t\n');
    const e = { WS_TRUSTED_DIRS: join(file, '..') };
    expect(trustGate(home, file, e)).toStrictEqual({ kind: 'trusted-dir' });
    allowFile(home, file);
    expect(trustGate(home, file, e)).toEqual({ kind: 'allowed', sha256: sha256('t\n') });
  });

  it('a corrupt allow record is no approval', () => {
    const file = workspace();
    mkdirSync(join(home, 'allow'), { recursive: true });
    writeFileSync(allowRecordPath(home, file), '{"path":"/x","sha256":""');
    expect(trustGate(home, file, env)).toEqual({ kind: 'blocked', state: 'blocked' });
  });

  it("trustState is the gate's answer in one word", () => {
    const file = workspace();
    expect(trustState(home, file, env)).toBe('blocked');
    allowFile(home, file);
    expect(trustState(home, file, env)).toBe('allowed');
    expect(trustState(home, workspace(), { WS_TRUSTED_DIRS: '/' })).toBe('trusted-dir');
  });

  it('an unreadable file throws (the caller blocks it and says why)', () => {
    expect(() => trustGate(home, join(base, 'missing/.workspace'), env)).toThrow();
  });
});

describe('listTrust', () => {
  it('lists allowed, changed, missing and denied files, sorted by path', () => {
    const allowed = workspace('a\n');
    const changed = workspace('b\n');
    const missing = workspace('c\n');
    const denied = workspace('d\n');
    for (const f of [allowed, changed, missing]) allowFile(home, f);
    denyFile(home, denied);
    writeFileSync(changed, 'B\n');
    rmSync(missing);
    mkdirSync(join(home, 'allow'), { recursive: true });
    writeFileSync(join(home, 'allow', 'f'.repeat(64)), 'corrupt');
    const rows = listTrust(home);
    expect(rows).toEqual(
      [
        { path: allowed, status: 'allowed', sha256: sha256('a\n') },
        { path: changed, status: 'changed', sha256: sha256('b\n') },
        { path: missing, status: 'missing', sha256: sha256('c\n') },
        { path: denied, status: 'denied' },
      ].sort((x, y) => x.path.localeCompare(y.path)),
    );
  });

  it('an empty or missing state home lists nothing', () => {
    expect(listTrust(home)).toEqual([]);
    expect(listTrust(join(base, 'nope'))).toEqual([]);
  });
});

describe('trustTargets', () => {
  it('a directory: its workspace file and the .workspace.local beside it', () => {
    const file = workspace();
    const dir = join(file, '..');
    expect(trustTargets(dir, env, '/')).toEqual([file]);
    writeFileSync(join(dir, '.workspace.local'), 'x');
    expect(trustTargets(dir, env, '/')).toEqual([file, join(dir, '.workspace.local')]);
  });

  it('a file: that file only; a relative path is taken from cwd', () => {
    const file = workspace();
    const dir = join(file, '..');
    writeFileSync(join(dir, '.workspace.local'), 'x');
    expect(trustTargets(join(dir, '.workspace.local'), env, '/')).toEqual([join(dir, '.workspace.local')]);
    expect(trustTargets('.workspace', env, dir)).toEqual([file]);
  });

  it('no path: the current context, found by walking up', () => {
    const file = workspace();
    const sub = join(file, '..', 'a', 'b');
    mkdirSync(sub, { recursive: true });
    expect(trustTargets(undefined, env, sub)).toEqual([file]);
  });

  it('.envrc directories: the .envrc, never a .workspace.local beside it', () => {
    const file = workspace('x', '.envrc');
    writeFileSync(join(file, '..', '.workspace.local'), 'x');
    expect(trustTargets(join(file, '..'), env, '/')).toEqual([file]);
  });

  it('nothing to act on: 66', () => {
    const empty = join(base, `empty-${++seq}`);
    mkdirSync(empty);
    for (const call of [() => trustTargets(undefined, { WS_CEILING_DIRS: base }, empty), () => trustTargets(empty, env, '/'), () => trustTargets(join(empty, 'missing'), env, '/')]) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).code).toBe(EX.NOINPUT);
    }
  });
});
