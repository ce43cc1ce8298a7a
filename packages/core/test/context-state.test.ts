import { mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeContextRecord, type ContextState } from '../src/context/record.js';
import { contextState } from '../src/context/state.js';
import { processStartTime } from '../src/process/proc.js';
import { writeFileAtomic } from '../src/state/atomic.js';
import { cachePaths, servicePaths } from '../src/state/paths.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const record = (state: ContextState) => writeContextRecord(dir, { root: '/p', name: 'p', file: '/p/.workspace', state, env: 'default' });
const old = (path: string) => utimesSync(path, new Date(0), new Date(0));

describe('contextState: the one definition of what ws-list, ws-prompt and the snapshot show', () => {
  it('no context.json: no state', () => {
    expect(contextState(dir)).toBeUndefined();
  });

  it('building while the build process lives', () => {
    record('building');
    const paths = cachePaths(dir);
    writeFileAtomic(paths.buildOwner, `${process.pid} ${processStartTime(process.pid)}\n`);
    old(paths.build);
    expect(contextState(dir)).toBe('building');
  });

  it('a build that finished since is ready or error by its status, whatever context.json says', () => {
    record('building');
    const paths = cachePaths(dir);
    writeFileAtomic(paths.buildStatus, '0 \n');
    expect(contextState(dir)).toBe('ready');
    writeFileAtomic(paths.buildStatus, '1 /p/.workspace:3\n');
    expect(contextState(dir)).toBe('error');
  });

  it('a build whose process died without finishing is stale; one being set up is still building', () => {
    record('building');
    const paths = cachePaths(dir);
    writeFileAtomic(paths.buildOwner, `${process.pid} not-my-start-time\n`);
    expect(contextState(dir)).toBe('building'); // the directory is brand new: the owner may be about to be written
    old(paths.build);
    expect(contextState(dir)).toBe('stale');
  });

  it('ready with a service that should run and does not is degraded; a stopped one is not', () => {
    record('ready');
    const svc = servicePaths(dir, 'db');
    mkdirSync(svc.dir, { recursive: true });
    writeFileAtomic(svc.spec, JSON.stringify({ name: 'db', argv: ['x'], cwd: '/p', order: 1 }));
    writeFileAtomic(svc.state, JSON.stringify({ state: 'stopped', restarts: 0 }));
    expect(contextState(dir)).toBe('ready');
    writeFileAtomic(svc.state, JSON.stringify({ state: 'failed', restarts: 3 }));
    expect(contextState(dir)).toBe('degraded');
    // Recorded as running, but the process is gone (a recycled PID): exited, so degraded.
    writeFileAtomic(svc.state, JSON.stringify({ state: 'ready', pid: process.pid, start: 'other', restarts: 0 }));
    expect(contextState(dir)).toBe('degraded');
  });

  it('error, blocked and unloaded are what they say', () => {
    for (const state of ['error', 'blocked', 'unloaded'] as const) {
      record(state);
      expect(contextState(dir)).toBe(state);
    }
  });
});
