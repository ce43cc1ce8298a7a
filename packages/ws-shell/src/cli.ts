import { basename } from 'node:path';
import { CliError, EX, isShell, locateBinary, refuseBlocked, runCli, runCommand, targetDir, type Shell } from '@ws/core';
import { removeLaunchDir, shellLaunch } from './rc.js';

/** --shell, else the user's login shell ($SHELL). */
function chooseShell(given: string | undefined, env: NodeJS.ProcessEnv): Shell {
  if (given !== undefined) {
    if (!isShell(given)) throw new CliError(EX.USAGE, `unknown shell '${given}': use bash, zsh or fish`);
    return given;
  }
  const name = basename(env.SHELL ?? '');
  if (isShell(name)) return name;
  throw new CliError(EX.USAGE, `SHELL is '${env.SHELL ?? ''}', not bash, zsh or fish: give --shell`);
}

function binary(name: string, env: NodeJS.ProcessEnv): string {
  const path = locateBinary(name, env);
  if (!path) throw new CliError(EX.UNAVAILABLE, `${name} not found beside ws-shell or on PATH`);
  return path;
}

await runCli({
  name: 'ws-shell',
  description: 'Start an interactive shell in DIR with its context loaded and the ws hook active, without editing any rc file.',
  args: {
    dir: { type: 'positional', description: 'the directory to start in (default: the current one)', required: false },
    shell: { type: 'string', description: 'bash, zsh or fish (default: the one $SHELL names)', valueHint: 'SHELL' },
    env: { type: 'string', description: 'select the named environment (sets WS_ENV in the shell)', valueHint: 'NAME' },
  },
  rest: 'CMD ARGS...',
  help: `The shell reads the user's own rc files first (bash: ~/.bashrc; zsh: .zshenv and
.zshrc from $ZDOTDIR, else $HOME; fish: config.fish), then the ws hook, which
loads the context at the first prompt. Leaving DIR (cd ..) unloads it as in any
hooked shell; exit leaves the context (the unload runs if it was the last user).
With -- CMD, runs CMD non-interactively in DIR instead, like ws-exec.

EXAMPLES
  ws-shell                          # a project shell here, in $SHELL
  ws-shell ~/src/shop --shell zsh
  ws-shell --env test               # WS_ENV=test: the "test" environment of env_file
  ws-shell ~/src/shop -- pnpm dev   # = cd ~/src/shop && ws-exec . -- pnpm dev

EXIT CODES
  the shell's (or CMD's) own status · 128+N killed by signal N · 64 bad usage
  66 DIR is not a directory · 69 ws-export or ws-exec not found
  77 the workspace file is blocked (ws-allow), or an unsafe state home
`,
  async run({ args, rest, dashDash, env, cwd, err }) {
    const dir = targetDir(args.dir ?? '.', cwd);
    const here = { ...env, PWD: dir };
    if (dashDash) {
      if (!rest.length) throw new CliError(EX.USAGE, 'nothing to run after --: give CMD ARGS...');
      const exec = binary('ws-exec', env);
      return runCommand([exec, ...(args.env ? ['--env', args.env] : []), '.', '--', ...rest], { name: 'ws-shell', env: here, cwd: dir, err });
    }
    const shell = chooseShell(args.shell, env);
    refuseBlocked(dir, env);
    const launch = shellLaunch(shell, { exporter: binary('ws-export', env), env });
    try {
      const shellEnv = { ...here, ...launch.env, ...(args.env ? { WS_ENV: args.env } : {}) };
      return await runCommand(launch.argv, { name: 'ws-shell', env: shellEnv, cwd: dir, err });
    } finally {
      removeLaunchDir(launch);
    }
  },
});
