import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { adoptingPath, cachePaths, contextDir, emitEvent, ensureReaper, homePaths, readContextRecord, rmQuiet, wakeReaper, writeContextRecord, type Env } from '@ws/core';
import { inspectBuild } from './build.js';
import { recordLoad } from './obtain.js';

/**
 * `ws-export adopt` (docs/hook.md "The cold path") found that the workspace
 * moved on since the cold entry's build started: the file was edited, denied
 * or is gone, an input the build read changed, another build replaced it. Its
 * shell has that build's environment all the same. An export answering now
 * would answer for a moment no prompt of that shell saw (a file edited but
 * not yet allowed, say, whose blocked answer would be sourced after the
 * allow). So adopt records only what ws-export would have at the build's
 * moment (the last good environment, the build's unload hooks, the context
 * loaded, the reaper for the user cold.bash registered), and its shell code
 * makes the hook's next look fail: that prompt runs ws-export on the state as it is then.
 */
export function adoptMoved(opts: { home: string; env: NodeJS.ProcessEnv; root: string | undefined; base: Env; build: string; now: Date }): string {
  const { home, root, now } = opts;
  const failTheWatch = '_ws_watch_ok() { return 1; }\n';
  // (No record of what the shell loaded: nothing to keep either.)
  if (!root) return failTheWatch;
  const dir = contextDir(home, root);
  const paths = cachePaths(dir);
  const state = inspectBuild(paths);
  if (state.kind === 'done' && state.request.id === opts.build && state.result.ok) {
    const { request, result } = state;
    const target = recordLoad({ paths, dir, ctxDir: dir, base: opts.base, wsVars: request.wsVars, request, result, now });
    // Not over what an export wrote since the build started (another shell's, say).
    const record = readContextRecord(dir);
    if (!record || Date.parse(record.lastUsed) < request.started) {
      writeContextRecord(dir, { root, name: request.name, file: request.file, state: 'ready', env: target.WS_ENV ?? 'default' }, now);
    }
    emitEvent(home, 'context.load', { context: request.name, root }, { env: target.WS_ENV, file: request.file }, opts.env, now);
  }
  ensureReaper(home, opts.env);
  wakeReaper(home, dir);
  return failTheWatch;
}

/** After an adopt: its holder record, the cold entry's hash inputs and the shell's older adopted files go. */
export function adoptDone(home: string, cacheDir: string, pid: number, keep: string): void {
  rmQuiet(adoptingPath(dirname(cacheDir), pid));
  for (const ext of ['root', 'trust', 'applied']) rmQuiet(join(homePaths(home).coldScratch, `${pid}.${ext}`));
  const dir = cachePaths(dirname(cacheDir)).adopted;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (path !== keep && name.startsWith(`${pid}-`)) rmQuiet(path);
  }
}
