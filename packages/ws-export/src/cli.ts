import { realpathSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { CliError, EX, colorsFor, environWithBytes, isHookShell, printable, quotePosix, renderHook, runCli, stateHomePath, writeFileAtomic } from '@ws/core';
import { adoptDone } from './adopt.js';
import { exportEnv } from './export.js';
import { resolveEnvFile } from './env-file.js';
import { printEnvs } from './envs.js';
import { cancelBuild, printBuildLog, requestReload } from './control.js';

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
    shell: { type: 'positional', description: 'bash, zsh, fish, nu or json; `hook SHELL` for the rc-file hook; `log`, `reload` or `cancel` for the current build; `envs [FILE]` for the named environments', required: true },
    hookShell: { type: 'positional', description: 'the shell, after `hook`; the env file, after `envs`', required: false },
    pid: { type: 'string', description: 'register this PID as the user (default: the nearest shell)', valueHint: 'PID' },
    env: { type: 'string', description: 'select the named environment (sets WS_ENV)', valueHint: 'NAME' },
    follow: { type: 'boolean', alias: 'f', description: 'with log: follow a running build until it finishes' },
    interrupted: { type: 'boolean', description: 'the hook saw a Ctrl-C already (its cold path): send the build to the background at once' },
    live: { type: 'boolean', description: "the calling shell's hook applies a background build's result on SIGUSR1 (live apply)" },
    json: { type: 'boolean', description: 'with envs: JSON' },
    out: { type: 'string', description: 'with adopt: the file the shell code goes to', valueHint: 'FILE' },
    build: { type: 'string', description: 'with adopt: the id of the build the hook ran', valueHint: 'ID' },
    bytes: { type: 'boolean', description: 'with json: bytes that are not UTF-8 as \\udcNN escapes, exact (for ws-exec), not U+FFFD' },
  },
  help: `Put the hook in your shell's rc file:
  bash  ~/.bashrc                  eval "$(ws-export hook bash)"
  zsh   ~/.zshrc                   eval "$(ws-export hook zsh)"
  fish  ~/.config/fish/config.fish ws-export hook fish | source
  nu    ~/.config/nushell/config.nu  ws-export hook nu | save -f ($nu.user-autoload-dirs.0 | path join ws.nu)

The build of the current directory's context:
  ws-export log [-f]   print the last build's log (-f: follow a running build)
  ws-export reload     evaluate the workspace file again at the next prompt
  ws-export cancel     stop a running build; the last good environment stays

The hook's cold path (docs/hook.md) starts, detached:
  ws-export adopt bash|zsh --pid PID --build ID --out FILE   an export's
                       bookkeeping after the hook ran build ID itself; its
                       shell code to FILE

The named environments of an env_file (WS_ENV or --env selects one):
  ws-export envs [FILE] [--json]   those FILE defines, public and private (<git
                       root>/.git/ws/<basename>, which wins), aliases resolved;
                       without FILE, those the context's last evaluation read

With no last good environment, ws-export waits up to WS_BUILD_WAIT seconds
(default 2; a progress line on a terminal) before the build goes on in the
background; else WS_BUILD_TIMEOUT ms (default 100). Ctrl-C sends it to the
background at once. A shell waiting for a background build applies its result
when it is over (live apply: SIGUSR1 to the hook; WS_LIVE_APPLY=0 turns it off).

Exit codes: 0 ok (also for a blocked workspace file), 1 cancel: no build was running,
64 usage, 66 log/reload/cancel: no workspace file here (log: no build yet), 77 unsafe state home.`,
  async run({ args, env: decoded, cwd, out, err }) {
    // Values with bytes that are not UTF-8 as they are (bytes.ts), not U+FFFD.
    const env = environWithBytes(decoded);
    const exporter = exporterPath();
    if (args.shell === 'hook') {
      if (!args.hookShell || !isHookShell(args.hookShell)) throw new CliError(EX.USAGE, 'hook needs a shell: bash, zsh, fish or nu');
      out(renderHook(args.hookShell, exporter));
      return;
    }
    if (args.shell === 'env-file') {
      // Used by the stdlib's env_file: NUL-separated names and values, never code.
      if (!args.hookShell) throw new CliError(EX.USAGE, 'env-file needs a FILE');
      try {
        for (const [name, value] of resolveEnvFile(args.hookShell, env)) out(`${name}\0${value}\0`);
      } catch (error) {
        // Seen in the build's log as `ws: FILE:LINE:COL: what`; the status tells env_file whether the file is broken.
        if (!(error instanceof CliError)) throw error;
        err(`ws: ${printable(error.message)}\n`);
        return error.code;
      }
      return;
    }
    if (args.shell === 'adopt') {
      // The bookkeeping of a cold entry (cold.bash, docs/hook.md "The cold path"), started
      // detached by it: a normal export in the environment the shell now has, whose
      // shell code goes to --out (written whole, atomically) for the hook to source.
      const pid = Number(args.pid);
      const shell = args.hookShell;
      if ((shell !== 'bash' && shell !== 'zsh') || !Number.isInteger(pid) || pid <= 0 || !args.out || !isAbsolute(args.out) || !args.build) throw new CliError(EX.USAGE, 'adopt needs bash or zsh, --pid PID, --build ID and --out FILE');
      const live = Boolean(args.live) && env.WS_LIVE_APPLY !== '0';
      try {
        // What it says (a rebuild's log, a file blocked meanwhile) is shown when the hook sources it.
        let said = '';
        const text = await exportEnv({ format: shell, pid, env, cwd, exporter, err: (t) => void (said += t), live, adopting: args.build });
        writeFileAtomic(args.out, (said ? `printf '%s' ${quotePosix(said)} >&2;\n` : '') + text);
      } finally {
        adoptDone(stateHomePath(env), dirname(dirname(args.out)), pid, args.out);
      }
      return;
    }
    if (args.out || args.build) throw new CliError(EX.USAGE, '--out and --build go with adopt');
    if (args.shell === 'envs') return printEnvs({ file: args.hookShell, json: Boolean(args.json), env, cwd, out });
    if (args.json) throw new CliError(EX.USAGE, '--json goes with envs');
    if (args.shell === 'log' || args.shell === 'reload' || args.shell === 'cancel') {
      if (args.hookShell) throw new CliError(EX.USAGE, `unexpected argument '${args.hookShell}'`);
      if (args.follow && args.shell !== 'log') throw new CliError(EX.USAGE, '--follow goes with log');
      const control = { env, cwd, out, err };
      if (args.shell === 'log') return printBuildLog({ ...control, follow: Boolean(args.follow) });
      if (args.shell === 'reload') return requestReload(control);
      return (await cancelBuild(control)) ? 0 : 1;
    }
    if (args.follow) throw new CliError(EX.USAGE, '--follow goes with log');
    const format = args.shell;
    if (args.bytes && format !== 'json') throw new CliError(EX.USAGE, '--bytes goes with json');
    if (format !== 'json' && !isHookShell(format)) throw new CliError(EX.USAGE, `unknown shell '${format}': use bash, zsh, fish, nu or json`);
    if (args.hookShell) throw new CliError(EX.USAGE, `unexpected argument '${args.hookShell}'`);
    let pid: number | undefined;
    if (args.pid !== undefined) {
      pid = Number(args.pid);
      if (!Number.isInteger(pid) || pid <= 0) throw new CliError(EX.USAGE, `--pid must be a process ID, not '${args.pid}'`);
    }
    // Ctrl-C sends the build to the background (it runs in a session of its own and goes on).
    const interrupt = new AbortController();
    const onInterrupt = () => interrupt.abort();
    process.on('SIGINT', onInterrupt);
    if (args.interrupted) interrupt.abort();
    try {
      const progress = process.stderr.isTTY ? (text: string) => process.stderr.write(text) : undefined;
      const live = Boolean(args.live) && env.WS_LIVE_APPLY !== '0';
      out(await exportEnv({ format, bytes: Boolean(args.bytes), pid, envName: args.env, env, cwd, exporter, err, errColors: colorsFor(process.stderr, env), interrupted: interrupt.signal, progress, live }));
    } finally {
      process.off('SIGINT', onInterrupt);
    }
  },
});
