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
  help: `Started on demand (detached) by every command that registers a user; one per
state home (reaper.pid is its lock). It notices a dead user within a second
(a PID with another start time is dead), and unloads a context whose last
user is gone for WS_UNLOAD_GRACE seconds (default 2). It exits by itself
after WS_REAPER_IDLE seconds (default 60) with no users anywhere. Without
options it starts one in the background and returns. Problems go to
reaper.log in the state home.

EXAMPLES
  ws-reaper                      # make sure one runs
  ws-reaper --foreground         # run it here (debugging)
  ws-reaper --once               # one sweep, unloads included, then exit (cron, tests)

EXIT CODES
  0 ok (also when another reaper is running) · 64 bad usage
  73 cannot create the state home · 77 unsafe state home
`,
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
    const stop = new AbortController();
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop.abort());
    const ran = await reaperLoop({ home, env, once: Boolean(args.once), stop: stop.signal });
    if (!ran && args.once) err('ws-reaper: another reaper is running; it does the sweeping\n');
  },
});
