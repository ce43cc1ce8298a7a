import { closeSync, existsSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import {
  CliError,
  EX,
  cachePaths,
  contextDir,
  ensureStateHome,
  findContext,
  liveHolder,
  readText,
  writeFileAtomic,
  type Context,
} from '@ws/core';

/**
 * `ws-export log|reload|cancel`: the commands a person uses on the build of
 * the current directory's context (docs/hook.md, "Seeing and steering builds").
 */
interface ControlOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  out: (text: string) => void;
  err: (text: string) => void;
}

function currentContext(opts: ControlOptions): { ctx: Context; dir: string; paths: ReturnType<typeof cachePaths> } {
  const ctx = findContext({ env: opts.env, cwd: opts.cwd, warn: (text) => opts.err(`${text}\n`) });
  if (!ctx) throw new CliError(EX.NOINPUT, `no workspace file in ${opts.cwd} or above`);
  const dir = contextDir(ensureStateHome(opts.env), ctx.root);
  return { ctx, dir, paths: cachePaths(dir) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Prints the last build's log; with `follow`, goes on printing what a
 * running build adds until it finishes (like `tail -f`, but it ends).
 */
export async function printBuildLog(opts: ControlOptions & { follow: boolean }): Promise<void> {
  const { ctx, paths } = currentContext(opts);
  if (!existsSync(paths.buildLog)) throw new CliError(EX.NOINPUT, `${ctx.name} has no build log yet`, `enter ${ctx.root} to build it`);
  let offset = 0;
  const buffer = Buffer.alloc(64 * 1024);
  const drain = () => {
    let fd: number;
    try {
      fd = openSync(paths.buildLog, 'r');
    } catch {
      return;
    }
    try {
      // A new build replaced the log: start from its beginning.
      if (statSync(paths.buildLog).size < offset) offset = 0;
      for (let n; (n = readSync(fd, buffer, 0, buffer.length, offset)) > 0; offset += n) opts.out(buffer.subarray(0, n).toString());
    } finally {
      closeSync(fd);
    }
  };
  drain();
  if (!opts.follow) return;
  while (!existsSync(paths.buildStatus) && liveHolder(paths.buildOwner)) {
    await sleep(100);
    drain();
  }
  drain();
}

/**
 * Re-evaluates the context at the next prompt, even though no input changed
 * (like `direnv reload`): builds that started before now are not reused, and
 * the cached results the hook checks are dropped so it asks ws-export.
 */
export function requestReload(opts: ControlOptions): void {
  const { ctx, dir, paths } = currentContext(opts);
  writeFileAtomic(reloadMarker(dir), `${new Date().toISOString()}\n`);
  rmSync(paths.stamps, { recursive: true, force: true });
  opts.err(`ws-export: ${ctx.name} is evaluated again at the next prompt\n`);
}

/** When a reload was last asked for (ms since the epoch; 0 if never): builds from before it are void. */
export function reloadTime(contextDirectory: string): number {
  const at = Date.parse(readText(reloadMarker(contextDirectory))?.trim() ?? '');
  return Number.isFinite(at) ? at : 0;
}

const reloadMarker = (contextDirectory: string) => cachePaths(contextDirectory).reload;

/**
 * Stops a running build: SIGTERM to its process group (it runs in a session
 * of its own), SIGKILL after 5 s. The build counts as failed (status 130),
 * so the last good environment stays and the context is not built again
 * until an input changes or `ws-export reload`.
 */
export async function cancelBuild(opts: ControlOptions): Promise<boolean> {
  const { ctx, paths } = currentContext(opts);
  const owner = liveHolder(paths.buildOwner);
  if (!owner || existsSync(paths.buildStatus)) {
    opts.err(`ws-export: no build of ${ctx.name} is running\n`);
    return false;
  }
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-owner.pid, name);
    } catch {
      /* gone */
    }
  };
  // Marked first: the driver's exit trap may still write a status of its own.
  writeFileAtomic(paths.buildCancelled, `${new Date().toISOString()}\n`);
  signal('SIGTERM');
  const deadline = Date.now() + 5000;
  while (liveHolder(paths.buildOwner) && Date.now() < deadline) await sleep(50);
  if (liveHolder(paths.buildOwner)) signal('SIGKILL');
  if (!existsSync(paths.buildStatus)) writeFileAtomic(paths.buildStatus, '130 cancelled\n');
  opts.err(`ws-export: cancelled the build of ${ctx.name}; the last good environment stays\n`);
  return true;
}
