import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adoptingPath, waitForAdopt, waitForAdoptions } from '../src/context/adoption.js';
import { isAlive, processStartTime } from '../src/process/proc.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-adopt-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A holder record for shell `shell` naming a live process that exits by itself after `seconds`. */
function holder(shell: number, seconds: string) {
  const child = spawn('sleep', [seconds], { stdio: 'ignore' });
  const id = { pid: child.pid!, start: processStartTime(child.pid!)! };
  const path = adoptingPath(dir, shell);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${id.pid} ${id.start}\n`);
  return { id, exited: new Promise((done) => child.on('exit', done)) };
}

describe('waiting for the adopt of a cold entry', () => {
  it('no adopted directory, or a holder whose process is gone: no wait', () => {
    waitForAdoptions(dir);
    waitForAdopt(dir, 42);
    const path = adoptingPath(dir, 42);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '999999999 1\n');
    waitForAdoptions(dir, 60_000);
    waitForAdopt(dir, 42, 60_000);
  });

  it('waitForAdoptions returns once every live adopt of the context has exited', async () => {
    const a = holder(1, '0.2');
    const b = holder(2, '0.4');
    waitForAdoptions(dir);
    expect(isAlive(a.id)).toBe(false);
    expect(isAlive(b.id)).toBe(false);
    await Promise.all([a.exited, b.exited]);
  });

  it('waitForAdopt waits for its own shell only', async () => {
    const mine = holder(1, '0.2');
    const other = holder(2, '30');
    waitForAdopt(dir, 1);
    expect(isAlive(mine.id)).toBe(false);
    expect(isAlive(other.id)).toBe(true);
    process.kill(other.id.pid);
    await Promise.all([mine.exited, other.exited]);
  });

  it('gives up after maxMs while the adopt still runs', async () => {
    const slow = holder(1, '30');
    waitForAdoptions(dir, 50);
    expect(isAlive(slow.id)).toBe(true);
    process.kill(slow.id.pid);
    await slow.exited;
  });
});
