import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { cachePaths, ensureStateHome } from '@ws/core';
import { inspectBuild, startBuild, waitForBuild, type BuildRequest } from '../src/build.js';

// startBuild under its lock: a shell that queued for the lock while another
// shell's build started and finished must not replace that build (stress
// suite: 20 shells entering at once evaluated the file 4 times).

const base = realpathSync(mkdtempSync(join(tmpdir(), 'ws-build-')));
let seq = 0;
let home: string;
let root: string;
let paths: ReturnType<typeof cachePaths>;

afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeEach(() => {
  seq++;
  home = join(base, `home-${seq}`);
  root = join(base, `proj-${seq}`);
  mkdirSync(root);
  writeFileSync(join(root, '.workspace'), 'export FOO=bar\n');
  ensureStateHome({ WS_STATE_HOME: home });
  const dir = join(home, 'contexts', `proj-${seq}`);
  mkdirSync(dir, { recursive: true });
  paths = cachePaths(dir);
});

const request = (): Omit<BuildRequest, 'id' | 'started'> => ({
  root,
  name: 'proj',
  file: join(root, '.workspace'),
  fileApproval: { kind: 'trusted-dir' },
  base: { PATH: process.env.PATH },
  wsVars: { WS_ROOT: root, WS_CONTEXT: 'proj', WS_STATE_DIR: join(home, 'data'), WS_ENV: 'default' },
});
const start = (replaces?: string) => startBuild({ home, paths, request: request(), replaces, exporter: '/bin/false', env: { WS_STATE_HOME: home } });

/** A build that finished: what another shell's build leaves behind. */
function finished(id: string): void {
  mkdirSync(paths.build, { recursive: true });
  writeFileSync(paths.buildRequest, JSON.stringify({ ...request(), id, started: Date.now() }));
  writeFileSync(paths.buildEnv, 'FOO=bar\0');
  writeFileSync(paths.buildStatus, '0 \n');
}

describe('startBuild', () => {
  it('leaves a build that finished while the caller found none', () => {
    finished('theirs');
    expect(start(undefined)).toBeUndefined();
    expect(JSON.parse(readFileSync(paths.buildRequest, 'utf8')).id).toBe('theirs');
  });

  it('leaves a build other than the stale one the caller looked at', () => {
    finished('newer');
    expect(start('older')).toBeUndefined();
    const state = inspectBuild(paths);
    expect(state.kind === 'done' && state.request.id).toBe('newer');
  });

  it('replaces the finished build the caller found stale, and runs the file', async () => {
    finished('stale');
    const ours = start('stale');
    expect(ours?.id).toBeDefined();
    expect(await waitForBuild(paths, Date.now() + 15_000)).toBe(true);
    const state = inspectBuild(paths);
    expect(state.kind === 'done' && state.request.id).toBe(ours!.id);
    expect(state.kind === 'done' && state.result.env?.FOO).toBe('bar');
  });

  it('starts the first build when there is none', async () => {
    const ours = start(undefined);
    expect(ours?.id).toBeDefined();
    expect(await waitForBuild(paths, Date.now() + 15_000)).toBe(true);
    expect(inspectBuild(paths).kind).toBe('done');
  });
});
