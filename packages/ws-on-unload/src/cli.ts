import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CliError,
  EX,
  contextDirFor,
  sharedNameOf,
  contextPaths,
  describeHook,
  ensureStateHome,
  findContext,
  listUnloadHooks,
  registerUnloadHook,
  removeUnloadHook,
  runCli,
  runUnload,
  type UnloadHook,
  waitForAdoptions,
} from '@ws/core';

/** The context to act on: the loaded one (WS_ROOT), else the one of the current directory. */
function currentContextDir(home: string, env: NodeJS.ProcessEnv, cwd: string, err: (text: string) => void): { dir: string; root: string; name: string; file?: string } {
  if (env.WS_ROOT) return { dir: contextDirFor(home, env.WS_ROOT, env), root: env.WS_ROOT, name: env.WS_CONTEXT ?? env.WS_ROOT };
  const ctx = findContext({ env, cwd, warn: (line) => err(`${line}\n`) });
  if (!ctx) throw new CliError(EX.NOINPUT, `not in a context: WS_ROOT is not set and there is no workspace file in ${cwd} or above`);
  return { dir: contextDirFor(home, ctx.root), root: ctx.root, name: sharedNameOf(home, ctx.root) ?? ctx.name, file: ctx.file };
}

function hookFrom(file: string | undefined, rest: string[], cwd: string): UnloadHook {
  if (file !== undefined && rest.length) throw new CliError(EX.USAGE, 'give either FILE or -- CMD ARGS..., not both');
  if (rest.length) return { kind: 'argv', args: rest };
  if (file === undefined) throw new CliError(EX.USAGE, 'nothing to register: give FILE or -- CMD ARGS...');
  const path = resolve(cwd, file);
  try {
    if (!statSync(path).isFile()) throw new Error();
  } catch {
    throw new CliError(EX.NOINPUT, `${path}: no such file`);
  }
  return { kind: 'file', args: [path] };
}

await runCli({
  name: 'ws-on-unload',
  description: "Register a hook that runs when the current context's last user exits or leaves.",
  args: {
    file: { type: 'positional', description: 'a script to run at unload', required: false },
    list: { type: 'boolean', description: 'list the registered hooks in registration order' },
    json: { type: 'boolean', description: 'with --list: JSON' },
    remove: { type: 'boolean', description: 'remove FILE or -- CMD ARGS... instead of adding it' },
    // Spelled as typed: citty's usage shows the key as it is, and runs also accept runNow.
    'run-now': { type: 'boolean', description: "run the context's unload now (services, then hooks), whatever its users" },
  },
  rest: 'CMD ARGS...',
  help: `Hooks run in reverse order of registration, each once per unload, with
cwd = the context root, the context's loaded environment (and WS_UNLOAD=1),
stdin /dev/null and a timeout of WS_UNLOAD_TIMEOUT seconds (default 30).
Registering the same hook again keeps one entry, at its first position.
Their output, status and duration go to the context's unload.log.

EXAMPLES
  ws-on-unload ./scripts/stop-db.sh          # a file: run directly if executable, else with bash
  ws-on-unload -- docker compose down        # a command and its arguments, no shell
  ws-on-unload --list --json | jq .
  ws-on-unload --remove -- docker compose down
  ws-on-unload --run-now                     # unload now; the next prompt loads again

EXIT CODES
  0 ok · 1 a hook failed (--run-now) · 64 bad usage · 66 no context, or no such FILE or hook
  73 cannot create the state home · 75 an unload of this context is running: try again
  77 unsafe state home
`,
  async run({ args, rest, env, cwd, out, err }) {
    if (!args.list && !args.runNow && args.file === undefined && !rest.length) {
      throw new CliError(EX.USAGE, 'nothing to do: give FILE, -- CMD ARGS..., --list or --run-now');
    }
    const home = ensureStateHome(env);
    const ctx = currentContextDir(home, env, cwd, err);
    // Right after a cold entry, its adopt may still be registering the hooks
    // (never inside a build: an adopt may be waiting for that build).
    if (!env._WS_BUILD_ID) waitForAdoptions(ctx.dir);
    if (args.list) {
      const hooks = listUnloadHooks(ctx.dir, (name) => err(`ws-on-unload: skipping corrupt hook record ${name}\n`));
      if (args.json) out(`${JSON.stringify(hooks.map(({ seq, kind, args: a }) => ({ seq, kind, args: a })))}\n`);
      else for (const hook of hooks) out(`${hook.seq}  ${hook.kind.padEnd(4)}  ${describeHook(hook)}\n`);
      return;
    }
    if (args.runNow) {
      const result = await runUnload(home, ctx.dir, { env, reason: 'run-now' });
      if (!result) throw new CliError(EX.TEMPFAIL, 'an unload of this context is already running');
      // The context stays usable: its cache is gone, so the next prompt inside it evaluates again.
      err(`ws-on-unload: ran ${result.hooks} hook(s), ${result.failed} failed; see ${contextPaths(ctx.dir).unloadLog}\n`);
      return result.failed ? EX.FAIL : 0;
    }
    const hook = hookFrom(args.file, rest, cwd);
    if (args.remove) {
      if (!removeUnloadHook(ctx.dir, hook)) throw new CliError(EX.NOINPUT, `no such hook: ${describeHook(hook)}`);
      return;
    }
    registerUnloadHook(ctx.dir, hook);
  },
});
