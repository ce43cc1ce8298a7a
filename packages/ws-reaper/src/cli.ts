import { spawn } from 'node:child_process';
import { ensureStateHome, runCli, runningReaper } from '@ws/core';
import { reaperLoop } from './reaper-loop.js';

await runCli({
  name: 'ws-reaper',
  description: 'Watch the users of every context and run the unload of a context whose last user is gone.',
  args: {
    foreground: { type: 'boolean', description: 'run in the foreground instead of detaching' },
    once: { type: 'boolean', description: 'one sweep, then exit (for cron and tests)' },
  },
  help: `Started on demand by ws-export; one per state home; exits by itself after
WS_REAPER_IDLE seconds (default 60) with no users anywhere.

Exit codes: 0 ok (also when another reaper is already running), 64 usage, 77 unsafe state home.`,
  async run({ args, env, err }) {
    const home = ensureStateHome(env);
    if (!args.foreground && !args.once) {
      const running = runningReaper(home);
      if (running) {
        err(`ws-reaper: already running (pid ${running})\n`);
        return;
      }
      const child = spawn(process.execPath, [process.argv[1]!, '--foreground'], { detached: true, stdio: 'ignore', env, cwd: '/' });
      child.unref();
      err(`ws-reaper: started (pid ${child.pid})\n`);
      return;
    }
    const ran = await reaperLoop({ home, env, once: Boolean(args.once) });
    if (!ran && args.once) err('ws-reaper: another reaper is running; it does the sweeping\n');
  },
});
