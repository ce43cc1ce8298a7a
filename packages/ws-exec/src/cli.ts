import { CliError, EX, refuseBlocked, runCli, runCommand, targetDir } from '@ws/core';
import { loadContextEnv } from './load.js';

await runCli({
  name: 'ws-exec',
  description: "Run one command with DIR's context loaded, registered as a user while it runs (like direnv exec).",
  args: {
    dir: { type: 'positional', description: 'a directory of the context (its workspace file is found as at a prompt)', required: true },
    env: { type: 'string', description: 'select the named environment (sets WS_ENV)', valueHint: 'NAME' },
  },
  rest: 'CMD ARGS...',
  help: `CMD runs in the current directory (as with direnv exec) with the environment a
shell gets at a prompt in DIR, and without any hook: for scripts, editors and CI.
While it runs, ws-exec is a user of the context, so its services stay up; when
it ends and nobody else uses the context, the context unloads as usual.
A slow build is waited for. SIGINT, SIGQUIT, SIGTERM and SIGHUP are passed on.

EXAMPLES
  ws-exec . -- pnpm dev                    # services stay up while it runs
  ws exec ~/src/shop -- sh -c 'echo $DATABASE_URL'
  ws-exec --env test . -- pnpm test        # the "test" environment of env_file

EXIT CODES
  CMD's own status · 128+N CMD was killed by signal N · 126 CMD cannot run
  127 CMD not found · 64 bad usage · 66 DIR is not a directory
  69 ws-export not found · 77 the workspace file is blocked (ws-allow), or unsafe state home
`,
  async run({ args, rest, env, cwd, err }) {
    if (!rest.length) throw new CliError(EX.USAGE, 'nothing to run: give -- CMD ARGS...');
    const dir = targetDir(args.dir, cwd);
    refuseBlocked(dir, env);
    const loaded = await loadContextEnv({ dir, pid: process.pid, envName: args.env, env });
    return runCommand(rest, { name: 'ws-exec', env: loaded, cwd, err });
  },
});
