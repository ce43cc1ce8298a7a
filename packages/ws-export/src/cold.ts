import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, homePaths, sha256, UNTRACKED_NAMES, UNTRACKED_PREFIXES, writeFileAtomic } from '@ws/core';
import coldTemplate from './cold.bash';
import driver from './driver.bash';
import { PROGRESS_AFTER_MS } from './obtain.js';
import stdlib from './stdlib.bash';
import stdlibNix from './stdlib-nix.bash';

/** cold.bash with diff.ts's untracked names and prefixes as its case pattern (plain names: no quoting needed), and obtain.ts's progress delay. */
const cold = coldTemplate
  .replace('@UNTRACKED@', [...UNTRACKED_NAMES, ...UNTRACKED_PREFIXES.map((prefix) => `${prefix}*`)].join(' | '))
  .replace(/@PROGRESS_AFTER_MS@/g, String(PROGRESS_AFTER_MS));

/** The build's program, exactly as startBuild passes it to `bash -c`. */
export const buildProgram = () => `${stdlib}\n${stdlibNix}\n${driver}`;

/**
 * The cold path's files in the state home (docs/hook.md "The cold path"):
 * `cold/<hash>/cold.bash` (run by the hook), `build.bash` (the build's
 * program, read by it), `sleep` (a FIFO nobody writes: it waits on it with
 * `read -t`), and `cold/tmp/` for its hash inputs. Named by the hash of their
 * content, so a hook always runs the script of the ws-export that printed its
 * path. Returns the script's path, or undefined if it cannot be set up (then
 * the hook uses node).
 */
export function coldScript(home: string): string | undefined {
  const program = buildProgram();
  const dir = join(home, 'cold', sha256(`${cold}\0${program}`).slice(0, 16));
  const script = join(dir, 'cold.bash');
  const fifo = join(dir, 'sleep');
  try {
    if (existsSync(script) && lstatSync(fifo).isFIFO()) return script;
  } catch {
    /* set it up */
  }
  try {
    // The driver gets SIGINT back with env --default-signal (GNU coreutils 8.31+); without it, no cold path.
    if (spawnSync('env', ['--default-signal=INT', 'true'], { stdio: 'ignore' }).status !== 0) return undefined;
    ensureDir(homePaths(home).coldScratch);
    ensureDir(dir);
    writeFileAtomic(join(dir, 'build.bash'), program);
    if (!existsSync(fifo)) spawnSync('mkfifo', ['-m', '600', '--', fifo], { stdio: 'ignore' });
    if (!lstatSync(fifo).isFIFO()) return undefined;
    writeFileAtomic(script, cold);
    return script;
  } catch {
    return undefined;
  }
}
