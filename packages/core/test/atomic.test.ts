import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { appendText, ensureDir, ownStateHome, readDirNames, readJson, readText, rmQuiet, writeFileAtomic } from '../src/state/atomic.js';
import { readHolder, tryLock } from '../src/state/lock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-atomic-'));
});
const fifo = (path: string) => execFileSync('mkfifo', [path]);

describe('readText / readJson: only a regular file is state', () => {
  it('reads a regular file', () => {
    writeFileSync(join(dir, 'a.json'), '{"x":1}');
    expect(readJson(join(dir, 'a.json'))).toEqual({ x: 1 });
  });
  it('a directory, a FIFO (without blocking) and a symlink are missing', () => {
    mkdirSync(join(dir, 'd'));
    fifo(join(dir, 'f'));
    writeFileSync(join(dir, 'target'), '{"x":1}');
    symlinkSync(join(dir, 'target'), join(dir, 'l'));
    for (const name of ['d', 'f', 'l', 'missing']) {
      expect(readText(join(dir, name))).toBeUndefined();
      expect(readJson(join(dir, name))).toBeUndefined();
    }
  });
});

describe('writeFileAtomic: whatever is in the way is replaced', () => {
  it('a directory, a FIFO and a symlink in place of the file', () => {
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd', 'inside'), 'x');
    fifo(join(dir, 'f'));
    writeFileSync(join(dir, 'outside'), 'keep');
    symlinkSync(join(dir, 'outside'), join(dir, 'l'));
    for (const name of ['d', 'f', 'l']) {
      writeFileAtomic(join(dir, name), 'new');
      expect(lstatSync(join(dir, name)).isFile()).toBe(true);
      expect(readText(join(dir, name))).toBe('new');
    }
    expect(readFileSync(join(dir, 'outside'), 'utf8')).toBe('keep');
  });
  it('rmQuiet removes a directory in place of a file', () => {
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd', 'inside'), 'x');
    rmQuiet(join(dir, 'd'));
    expect(() => lstatSync(join(dir, 'd'))).toThrow();
  });
});

describe('locks: a directory or FIFO in place of a lock file is taken over', () => {
  it.each(['dir', 'fifo'])('%s', (kind) => {
    const path = join(dir, 'reaper.pid');
    if (kind === 'dir') mkdirSync(path);
    else fifo(path);
    expect(readHolder(path)).toBeUndefined();
    const release = tryLock(path);
    expect(release).toBeDefined();
    expect(readHolder(path)?.pid).toBe(process.pid);
    release?.();
  });
});

describe('below a state home, a planted symlink is never followed', () => {
  const outside = () => {
    const out = join(dir, 'outside');
    mkdirSync(out);
    writeFileSync(join(out, 'keep'), 'keep');
    return out;
  };
  it('a writer replaces a linked directory by a real one; the outside is untouched', () => {
    const home = join(dir, 'home');
    mkdirSync(home);
    ownStateHome(home);
    const out = outside();
    symlinkSync(out, join(home, 'ports'));
    writeFileAtomic(join(home, 'ports', 'tcp-1'), 'x');
    expect(lstatSync(join(home, 'ports')).isDirectory()).toBe(true);
    expect(readFileSync(join(home, 'ports', 'tcp-1'), 'utf8')).toBe('x');
    expect(execFileSync('ls', ['-A', out], { encoding: 'utf8' })).toBe('keep\n');
  });
  it('readers see nothing below a link; ensureDir and appends do not write through one', () => {
    const home = join(dir, 'home2');
    mkdirSync(home);
    ownStateHome(home);
    const out = outside();
    writeFileSync(join(out, 'a.json'), '{"x":1}');
    symlinkSync(out, join(home, 'users'));
    expect(readJson(join(home, 'users', 'a.json'))).toBeUndefined();
    expect(readDirNames(join(home, 'users'))).toEqual([]);
    symlinkSync(join(out, 'keep'), join(home, 'events.jsonl'));
    appendText(join(home, 'events.jsonl'), 'line\n');
    expect(readFileSync(join(out, 'keep'), 'utf8')).toBe('keep');
    expect(readFileSync(join(home, 'events.jsonl'), 'utf8')).toBe('line\n');
    ensureDir(join(home, 'users', 'deeper'));
    expect(lstatSync(join(home, 'users')).isDirectory()).toBe(true);
    expect(execFileSync('ls', ['-A', out], { encoding: 'utf8' })).toBe('a.json\nkeep\n');
  });
});

