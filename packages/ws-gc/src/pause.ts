import { existsSync, writeFileSync } from 'node:fs';
import type { GcOptions } from './result.js';

/**
 * For the test suite only: with _WS_GC_PAUSE=FILE, ws-gc creates FILE.paused
 * once it has planned and waits (up to 60 s) for FILE to exist before it
 * removes anything, so that a test can enter a context in between.
 */
export function pauseHook(env: NodeJS.ProcessEnv): GcOptions['hooks'] {
  const file = env._WS_GC_PAUSE;
  if (!file) return undefined;
  return {
    afterPlan: async () => {
      writeFileSync(`${file}.paused`, '');
      const deadline = Date.now() + 60_000;
      while (!existsSync(file) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    },
  };
}
