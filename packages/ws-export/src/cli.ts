import { realpathSync } from 'node:fs';
import { CliError, EX, colorsFor, isShell, renderHook, runCli } from '@ws/core';
import { exportEnv } from './export.js';
import { resolveEnvFile } from './env-file.js';

const exporterPath = () => {
  try {
    return realpathSync(process.argv[1]!);
  } catch {
    return process.argv[1]!;
  }
};

await runCli({
  name: 'ws-export',
  // What ws-export says at a prompt starts with `ws:`; warnings too.
  warningPrefix: 'ws',
  description: 'Print shell code that loads the context of the current directory and unloads the previous one.',
  args: {
    shell: { type: 'positional', description: 'bash, zsh, fish or json; or `hook SHELL` for the rc-file hook', required: true },
    hookShell: { type: 'positional', description: 'the shell, after `hook`', required: false },
    pid: { type: 'string', description: 'register this PID as the user (default: the nearest shell)', valueHint: 'PID' },
    env: { type: 'string', description: 'select the named environment (sets WS_ENV)', valueHint: 'NAME' },
  },
  help: `Put the hook in your shell's rc file:
  bash  ~/.bashrc                  eval "$(ws-export hook bash)"
  zsh   ~/.zshrc                   eval "$(ws-export hook zsh)"
  fish  ~/.config/fish/config.fish ws-export hook fish | source

Exit codes: 0 ok (also for a blocked workspace file), 64 usage, 77 unsafe state home.`,
  async run({ args, env, cwd, out, err }) {
    const exporter = exporterPath();
    if (args.shell === 'hook') {
      if (!args.hookShell || !isShell(args.hookShell)) throw new CliError(EX.USAGE, 'hook needs a shell: bash, zsh or fish');
      out(renderHook(args.hookShell, exporter));
      return;
    }
    if (args.shell === 'env-file') {
      // Used by the stdlib's env_file: NUL-separated names and values, never code.
      if (!args.hookShell) throw new CliError(EX.USAGE, 'env-file needs a FILE');
      for (const [name, value] of resolveEnvFile(args.hookShell, env)) out(`${name}\0${value}\0`);
      return;
    }
    const format = args.shell;
    if (format !== 'json' && !isShell(format)) throw new CliError(EX.USAGE, `unknown shell '${format}': use bash, zsh, fish or json`);
    if (args.hookShell) throw new CliError(EX.USAGE, `unexpected argument '${args.hookShell}'`);
    let pid: number | undefined;
    if (args.pid !== undefined) {
      pid = Number(args.pid);
      if (!Number.isInteger(pid) || pid <= 0) throw new CliError(EX.USAGE, `--pid must be a process ID, not '${args.pid}'`);
    }
    out(await exportEnv({ format, pid, envName: args.env, env, cwd, exporter, err, errColors: colorsFor(process.stderr, env) }));
  },
});
