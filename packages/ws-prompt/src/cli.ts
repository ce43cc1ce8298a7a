import { join } from 'node:path';
import {
  CliError,
  EX,
  contextDir,
  contextDirFor,
  sharedNameOf,
  ensureStateHome,
  findContext,
  isHookShell,
  isTrusted,
  listUsers,
  LOCAL_FILE,
  contextState,
  listServices,
  runCli,
  trustState,
} from '@ws/core';
import { existsSync } from 'node:fs';
import { DEFAULT_FORMAT, parseFormat, parseGlyphs, renderSegment, type Markers, type PromptState } from './format.js';
import { renderInit } from './init.js';

/** The state of the current directory's context, as ws-list shows it (contextState), for this shell. */
function stateOf(home: string, env: NodeJS.ProcessEnv, root: string, files: string[]): PromptState {
  try {
    if (!files.every((file) => isTrusted(trustState(home, file, env)))) return 'blocked';
  } catch {
    return 'blocked';
  }
  const state = contextState(contextDir(home, root));
  if (state === 'error' || state === 'building' || state === 'blocked' || state === 'degraded') return state;
  // Allowed but not what this shell has loaded: its inputs are not applied yet.
  return env.WS_ROOT === root && state === 'ready' ? 'ready' : 'stale';
}

/** %S: how many services run; `RUNNING/EXPECTED` while some that should run do not (1/2). */
function servicesShown(services: ReturnType<typeof listServices>): string {
  const running = services.filter((s) => s.running).length;
  const down = services.filter((s) => ['exited', 'failed', 'backoff'].includes(s.shown)).length;
  return down ? `${running}/${running + down}` : String(running);
}

await runCli({
  name: 'ws-prompt',
  description: 'Print a prompt segment for the context of the current directory (empty outside one).',
  args: {
    format: { type: 'positional', description: `placeholders %n name, %e environment, %s state glyph, %u users, %S services, %% (default '${DEFAULT_FORMAT}'); or 'init'`, required: false },
    initArg: { type: 'positional', description: 'after init: bash, zsh, fish or nu', required: false },
    initFormat: { type: 'positional', description: 'after init SHELL: the FORMAT', required: false },
    glyphs: { type: 'string', description: "state glyphs, e.g. 'ready=●,building=◌,stale=○,degraded=◐,error=✗,blocked=⊘'" },
    shell: { type: 'string', description: "wrap colors in the shell's non-printing markers: bash, zsh or plain" },
    json: { type: 'boolean', description: 'print {name, root, env, state, glyph, users, services} as JSON (null outside a workspace)' },
  },
  help: `States: ready, building, stale (inputs changed, build pending), degraded (ready,
but a service that should run does not), error, blocked.
In an rc file, after the ws hook line (renders $WS_PROMPT at each prompt, no process):
  bash  eval "$(ws-prompt init bash)";  PS1='\${WS_PROMPT:+$WS_PROMPT }\\w \\$ '
  zsh   eval "$(ws-prompt init zsh)";   setopt prompt_subst; PROMPT='\${WS_PROMPT:+$WS_PROMPT }%~ %# '
  fish  ws-prompt init fish | source;  then use $WS_PROMPT in fish_prompt
  nu    ws-prompt init nu | save -f ($nu.user-autoload-dirs.0 | path join ws-prompt.nu)
It also exports WS_PROMPT_STATE (the state, a plain word) and WS_PROMPT_CONTEXT
(the name), unset outside a workspace: starship's env_var module and
powerlevel10k draw their own segment from them (docs/prompt.md).

Exit codes: 0 ok, 64 usage, 77 unsafe state home.`,
  run({ args, env, cwd, out }) {
    const glyphs = parseGlyphs(args.glyphs);
    if (args.format === 'init') {
      if (!args.initArg || !isHookShell(args.initArg)) throw new CliError(EX.USAGE, 'init needs a shell: bash, zsh, fish or nu');
      if (args.json) throw new CliError(EX.USAGE, '--json does not go with init');
      out(renderInit(args.initArg, parseFormat(args.initFormat ?? DEFAULT_FORMAT), glyphs));
      return;
    }
    if (args.initArg !== undefined) throw new CliError(EX.USAGE, `unexpected argument '${args.initArg}'`);
    if (args.shell !== undefined && !['bash', 'zsh', 'plain'].includes(args.shell)) throw new CliError(EX.USAGE, `--shell must be bash, zsh or plain, not '${args.shell}'`);
    const tokens = parseFormat(args.format ?? DEFAULT_FORMAT);
    if (args.json && (args.shell !== undefined || args.format !== undefined)) throw new CliError(EX.USAGE, '--json takes no FORMAT and no --shell');
    const ctx = findContext({ env, cwd });
    if (!ctx) {
      if (args.json) out('null\n');
      return;
    }
    const home = ensureStateHome(env);
    const local = join(ctx.root, LOCAL_FILE);
    const files = [ctx.file, ...(ctx.file.endsWith('/.workspace') && existsSync(local) ? [local] : [])];
    // Services and users are the shared context's (ws_context, docs/contexts.md); the state is the root's.
    const dir = contextDirFor(home, ctx.root, env);
    const noColor = 'NO_COLOR' in env;
    // In a prompt the output is captured, not a terminal: --shell says it is meant for one.
    const color: Markers | undefined = noColor ? undefined : args.shell ? (args.shell as Markers) : process.stdout.isTTY ? 'plain' : undefined;
    const services = listServices(dir);
    const data = {
      name: env.WS_ROOT === ctx.root && env.WS_CONTEXT ? env.WS_CONTEXT : (sharedNameOf(home, ctx.root) ?? ctx.name),
      env: env.WS_ROOT === ctx.root ? env.WS_ENV ?? 'default' : env.WS_ENV || 'default',
      state: stateOf(home, env, ctx.root, files),
      users: listUsers(dir).live.length,
      services: servicesShown(services),
    };
    if (args.json) {
      const running = services.filter((s) => s.running).length;
      out(`${JSON.stringify({ name: data.name, root: ctx.root, env: data.env, state: data.state, glyph: glyphs[data.state], users: data.users, services: running })}\n`);
      return;
    }
    out(`${renderSegment(tokens, data, glyphs, color)}\n`);
  },
});
