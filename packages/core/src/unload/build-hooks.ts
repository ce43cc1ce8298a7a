import { existsSync } from 'node:fs';
import { readNulWords } from '../env/bytes.js';
import { writeFileAtomic } from '../state/atomic.js';
import { liveHolder } from '../state/lock.js';
import { cachePaths } from '../state/paths.js';
import { registerUnloadHook, type UnloadHook } from './hooks.js';

/** Parses the build driver's NUL-separated hook list: `kind, count, args…` repeated. */
export function parseHookList(words: string[]): UnloadHook[] {
  const hooks: UnloadHook[] = [];
  for (let i = 0; i + 1 < words.length; ) {
    const kind = words[i];
    const count = Number(words[i + 1]);
    if (!Number.isInteger(count) || count < 0) break; // torn: the rest is unreadable
    if (kind === 'file' || kind === 'sh' || kind === 'argv') hooks.push({ kind, args: words.slice(i + 2, i + 2 + count) });
    i += 2 + count;
  }
  return hooks;
}

/** NUL-separated words of a file (a trailing partial word, from a writer killed midway, is dropped). */
export function readNulList(path: string): string[] {
  // Bytes kept (bytes.ts): the driver's env may hold values that are not UTF-8.
  return readNulWords(path);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Before an unload takes its hooks: a build of the context that is still
 * running is waited for (up to `waitMs`, then stopped: its process group
 * gets SIGTERM), and whatever the last build registered with `on_unload` is
 * put into the registry — even if no shell ever applied that build's result
 * (the last shell exited while it ran). Registration deduplicates, so hooks a
 * shell already registered are not added twice; `adopted` marks the build so
 * a later unload does not take its hooks again.
 */
export async function adoptBuildHooks(contextDir: string, waitMs: number, now: () => Date): Promise<number> {
  const paths = cachePaths(contextDir);
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (existsSync(paths.buildStatus)) break;
    const owner = liveHolder(paths.buildOwner);
    if (!owner) break;
    if (Date.now() >= deadline) {
      try {
        process.kill(-owner.pid, 'SIGTERM'); // the build runs in its own session: its group is its PID
      } catch {
        /* gone meanwhile */
      }
      break;
    }
    await sleep(50);
  }
  if (existsSync(paths.buildAdopted)) return 0;
  let added = 0;
  for (const hook of parseHookList(readNulList(paths.buildOnUnload))) if (registerUnloadHook(contextDir, hook, now())) added++;
  if (existsSync(paths.build)) writeFileAtomic(paths.buildAdopted, `${now().toISOString()}\n`);
  return added;
}
