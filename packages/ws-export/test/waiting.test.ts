import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { markWaiting, pruneWaiting, takeWaiting } from '../src/waiting.js';

// A waiting record of a live-apply shell has a second line (`live`): it
// still names that shell, and a build's prune keeps it (read as one holder,
// the whole record matched no process, and the shell that waited was never
// shown a successful background build's output).

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'ws-waiting-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('waiting records', () => {
  for (const live of [false, true]) {
    it(`name the shell that waited (${live ? 'live apply' : 'no live apply'}), once`, () => {
      markWaiting(dir, process.pid, live);
      pruneWaiting(dir);
      expect(existsSync(join(dir, 'waiting', String(process.pid)))).toBe(true);
      expect(takeWaiting(dir, process.pid)).toBe(true);
      expect(takeWaiting(dir, process.pid)).toBe(false);
    });
  }

  it('a record the driver renamed when it signalled the shell is still taken, once', () => {
    markWaiting(dir, process.pid, true);
    const path = join(dir, 'waiting', String(process.pid));
    renameSync(path, `${path}.signalled`);
    expect(takeWaiting(dir, process.pid)).toBe(true);
    expect(existsSync(`${path}.signalled`)).toBe(false);
    expect(takeWaiting(dir, process.pid)).toBe(false);
  });

  it('a build start drops the records of shells that are gone, and only those', () => {
    const gone = spawnSync('true').pid!;
    mkdirSync(join(dir, 'waiting'));
    writeFileSync(join(dir, 'waiting', String(gone)), `${gone} 1\nlive\n`);
    markWaiting(dir, process.pid, true);
    pruneWaiting(dir);
    expect(readdirSync(join(dir, 'waiting'))).toEqual([String(process.pid)]);
  });

  it('a record with another start time (a recycled PID) is not this shell', () => {
    mkdirSync(join(dir, 'waiting'));
    writeFileSync(join(dir, 'waiting', String(process.pid)), `${process.pid} 1\nlive\n`);
    expect(takeWaiting(dir, process.pid)).toBe(false);
  });
});
