import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, EX, allowFile, emitEvent, ensureStateHome, findContext, runCli, trustEventSource, trustTargets } from '@ws/core';

await runCli({
  name: 'ws-edit',
  description: 'Open a workspace file in $VISUAL or $EDITOR, then allow what was saved.',
  args: {
    path: { type: 'positional', description: 'a workspace file or a directory (default: the current context, else ./.workspace)', required: false },
  },
  help: "Exit codes: 0 ok, 64 usage, 66 a directory without a workspace file, 69 no editor (VISUAL, EDITOR, else vi),\n77 unsafe state home; the editor's own status if it fails (nothing is allowed then).",
  run({ args, env, cwd, err }) {
    const home = ensureStateHome(env);
    let file: string;
    if (args.path === undefined && !findContext({ env, cwd })) file = join(cwd, '.workspace');
    else if (args.path !== undefined && !existsSync(resolve(cwd, args.path))) file = resolve(cwd, args.path);
    else file = trustTargets(args.path, env, cwd)[0];
    const editor = env.VISUAL || env.EDITOR || 'vi';
    // EDITOR may carry arguments ("code --wait"): let sh split it; the file is passed as "$1", never pasted.
    const result = spawnSync('sh', ['-c', `${editor} "$1"`, 'ws-edit', file], { stdio: 'inherit' });
    const hint = 'set VISUAL or EDITOR to your editor, e.g. export EDITOR=nano';
    if (result.error) throw new CliError(EX.UNAVAILABLE, `cannot run editor '${editor}': ${result.error.message}`, hint);
    // sh's own status for a command it cannot run: 127 not found, 126 not executable.
    if (result.status === 127 || result.status === 126) {
      throw new CliError(EX.UNAVAILABLE, `cannot run editor '${editor}': ${result.status === 127 ? 'not found' : 'not executable'}`, hint);
    }
    if (result.status !== 0) return result.status ?? 1;
    if (!existsSync(file)) {
      err(`ws-edit: ${file} was not saved; nothing allowed\n`);
      return 0;
    }
    allowFile(home, file);
    emitEvent(home, 'allow', trustEventSource(file, env), { path: file }, env);
    err(`ws-edit: allowed ${file}\n`);
  },
});
