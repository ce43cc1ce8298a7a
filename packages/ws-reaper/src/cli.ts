import { spawn } from 'node:child_process';
import { clearStaleLock, EX, ensureStateHome, homePaths, reaperCommand, runCli, runningReaper } from '@ws/core';
import { reaperLoop } from './reaper-loop.js';

await runCli({
  name: 'ws-reaper',
  description: 'Watch the users of every context and run the unload of a context whose last user is gone.',
  args: {
    foreground: { type: 'boolean', description: 'run in the foreground instead of detaching' },
    once: { type: 'boolean', description: 'one sweep, then exit (for cron and tests)' },
    worker: { type: 'boolean', description: "(internal) the Node reaper started by the watcher: work, then exit when idle" },
    node: { type: 'boolean', description: '(internal) the Node reaper alone, without the watcher (systems without /proc)' },
  },
  help: `Started on demand (detached) by every command that registers a user; one per
state home (reaper.pid is its lock). It notices a dead user within a second
(a PID with another start time is dead), and unloads a context whose last
user is gone for WS_UNLOAD_GRACE seconds (default 2). It exits by itself
after WS_REAPER_IDLE seconds (default 60) with no users anywhere. Without
options it starts one in the background and returns. Problems go to
reaper.log in the state home.

What stays resident is a watcher in bash (builtins only, a few MB): it
starts the Node reaper (--worker) only when there is work — a dead or
departed user, a grace period, an unload, services to supervise — and
that exits when idle again (docs/unload.md).

EXAMPLES
  ws-reaper                      # make sure one runs
  ws-reaper --foreground         # run it here (debugging)
  ws-reaper --once               # one sweep, unloads included, then exit (cron, tests)

EXIT CODES
  0 ok (also when another reaper is running) · 64 bad usage
  73 cannot create the state home · 75 (--worker) another worker runs
  77 unsafe state home
`,
  async run({ args, env, err }) {
    const home = ensureStateHome(env);
    const binary = process.argv[1]!;
    if (!args.foreground && !args.once && !args.worker && !args.node) {
      const running = runningReaper(home);
      if (running) {
        err(`ws-reaper: already running (pid ${running})\n`);
        return;
      }
      clearStaleLock(homePaths(home).reaperPid);
      const [command, argv] = reaperCommand(binary, env);
      const child = spawn(command, argv, { detached: true, stdio: 'ignore', env: { ...env, WS_STATE_HOME: home }, cwd: '/' });
      child.unref();
      err(`ws-reaper: started (pid ${child.pid})\n`);
      return;
    }
    if (args.foreground && process.platform === 'linux') {
      // The watcher, here: its signals are ours (it stops its worker first).
      clearStaleLock(homePaths(home).reaperPid);
      const [command, argv] = reaperCommand(binary, env);
      const child = spawn(command, argv, { stdio: 'inherit', env: { ...env, WS_STATE_HOME: home } });
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
      const code = await new Promise<number>((resolve) => child.on('exit', (status) => resolve(status ?? 0)));
      if (code !== 0) process.exitCode = code;
      return;
    }
    const stop = new AbortController();
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop.abort());
    const ran = await reaperLoop({ home, env, once: Boolean(args.once), worker: Boolean(args.worker), stop: stop.signal });
    if (!ran && args.once) err('ws-reaper: another reaper is running; it does the sweeping\n');
    if (!ran && args.worker) process.exitCode = EX.TEMPFAIL;
  },
});
