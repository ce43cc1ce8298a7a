import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { readJson, readText, rmQuiet, writeFileAtomic } from '../src/state/atomic.js';
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
