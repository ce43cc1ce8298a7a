import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import {
  CliError,
  DEFAULT_READY_TIMEOUT,
  DEFAULT_STOP_TIMEOUT,
  EX,
  RESTART_POLICIES,
  ServiceError,
  contextDirFor,
  sharedNameOf,
  ensureReaper,
  ensureStateHome,
  findContext,
  parsePort,
  parseServiceName,
  readSavedEnv,
  readServiceSpec,
  startService,
  stopAllServices,
  stopService,
  type CliContext,
  type CliSubCommand,
  type RestartPolicy,
  type ServiceOptions,
} from '@ws/core';
import { followLog, printLog } from './logs.js';
import { statusJson, statusTable } from './status.js';

// The five subcommands of ws-service, each a citty subcommand of its own
// (cli.ts puts them together): flags, checks, then one call into core.

// (The blank first line parts it from the list of commands above it.)
export const HELP = `
SYNOPSIS

  ws-service start NAME [--ready-port PORT] [--ready-cmd CMD] [--ready-timeout SECS]
                        [--after NAME]... [--restart no|on-failure|always]
                        [--stop-timeout SECS] -- CMD ARGS...
  ws-service stop NAME | --all
  ws-service restart NAME
  ws-service status [NAME] [--json]
  ws-service logs NAME [-f] [-n N]

The context is the one in WS_ROOT (a loaded shell, or a workspace file being
evaluated), else the one of the current directory. CMD runs with cwd = the
context root and ws-service's own environment, detached (own session and
process group, stdin /dev/null, output to the service's log, no other file
descriptor). start returns once it is ready: PORT accepts connections, or CMD
succeeds, or (with neither) it is still alive after 1 s. The same NAME and
command already running is left alone; a changed command or environment
restarts it. Services stop when the context unloads, in reverse start order.

EXIT CODES

  0 ok · 1 the service exited or was not ready in time (its last log lines
  follow the error) · 64 usage · 66 no context, or no such service (also for
  --after) · 75 another ws-service holds the service's lock · 77 unsafe state home`;

const NAME = { type: 'positional', required: false, description: 'the service' } as const;

const START_ARGS = {
  name: NAME,
  'ready-port': { type: 'string', valueHint: 'PORT', description: 'ready once PORT accepts TCP connections' },
  'ready-cmd': { type: 'string', valueHint: 'CMD', description: 'ready once CMD (bash -c, the service environment) succeeds' },
  'ready-timeout': { type: 'string', valueHint: 'SECS', description: `give up (and stop it) after SECS (default ${DEFAULT_READY_TIMEOUT})` },
  after: { type: 'string', multiple: true, valueHint: 'NAME', description: 'wait until NAME is ready first (repeat, or NAME,NAME)' },
  restart: { type: 'string', valueHint: 'POLICY', description: 'no (default), on-failure or always' },
  'stop-timeout': { type: 'string', valueHint: 'SECS', description: `SIGKILL this long after SIGTERM (default ${DEFAULT_STOP_TIMEOUT})` },
} as const;
const STOP_ARGS = { name: NAME, all: { type: 'boolean', description: 'every service of the context' } } as const;
const RESTART_ARGS = { name: NAME } as const;
const STATUS_ARGS = { name: NAME, json: { type: 'boolean', description: 'JSON' } } as const;
const LOGS_ARGS = {
  name: NAME,
  follow: { type: 'boolean', alias: 'f', description: 'keep printing what is appended' },
  lines: { type: 'string', alias: 'n', valueHint: 'N', description: 'only the last N lines' },
} as const;

/** The context to act on: WS_ROOT, else the one of the current directory; none is 66. */
function currentContext(home: string, env: NodeJS.ProcessEnv, cwd: string, warn: (line: string) => void) {
  if (env.WS_ROOT) {
    const root = resolve(cwd, env.WS_ROOT);
    if (!existsSync(root)) throw new CliError(EX.NOINPUT, `WS_ROOT=${env.WS_ROOT}: no such directory`);
    return { root, name: env.WS_CONTEXT || basename(root) || '/', dir: contextDirFor(home, root, env) };
  }
  const found = findContext({ env, cwd, warn });
  if (!found) throw new CliError(EX.NOINPUT, `not in a context: WS_ROOT is not set and there is no workspace file in ${cwd} or above`);
  return { root: found.root, name: sharedNameOf(home, found.root) ?? found.name, dir: contextDirFor(home, found.root) };
}

type Context = ReturnType<typeof currentContext>;

interface Session {
  home: string;
  context: Context;
  /** The spec of a service the context has; else 66. */
  known: (name: string) => NonNullable<ReturnType<typeof readServiceSpec>>;
  /** A progress line on stderr. */
  say: (line: string) => void;
}

/**
 * Runs a subcommand inside the current context. A service that did not come
 * up (ServiceError) is reported with its last log lines and exits 1.
 */
async function inContext(ctx: CliContext<any>, fn: (session: Session) => Promise<number | void>): Promise<number> {
  const { env, cwd, err } = ctx;
  const home = ensureStateHome(env);
  const context = currentContext(home, env, cwd, (line) => err(`${line}\n`));
  const say = (line: string) => err(`ws-service: ${line}\n`);
  const known = (name: string) => {
    const spec = readServiceSpec(context.dir, name);
    if (!spec) throw new CliError(EX.NOINPUT, `no service named '${name}' in context ${context.name}`);
    return spec;
  };
  try {
    return (await fn({ home, context, known, say })) ?? 0;
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    say(error.message);
    if (error.logLines.length) {
      err(`ws-service: last lines of ${error.logPath}:\n`);
      for (const line of error.logLines) err(`  ${line}\n`);
    }
    return EX.FAIL;
  }
}

/** The NAME a subcommand needs. */
function nameOf(command: string, text: string | undefined): string {
  if (text === undefined) throw new CliError(EX.USAGE, `${command} needs a service NAME`);
  return parseServiceName(text);
}

function seconds(text: string, flag: string, min: number): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || Number(text) < min) {
    throw new CliError(EX.USAGE, `invalid ${flag} '${text.slice(0, 40)}': expected a number of seconds${min > 0 ? ' above 0' : ''}`);
  }
  return Number(text);
}

function count(text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new CliError(EX.USAGE, `invalid -n '${text.slice(0, 40)}': expected a number of lines`);
  return Number(text);
}

function startOptions(ctx: CliContext<typeof START_ARGS>): ServiceOptions {
  const { args } = ctx;
  const after = args.after
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean)
    .map(parseServiceName);
  const restart = (args.restart ?? 'no') as RestartPolicy;
  if (!RESTART_POLICIES.includes(restart)) throw new CliError(EX.USAGE, `invalid --restart '${String(args.restart).slice(0, 40)}': expected no, on-failure or always`);
  return {
    readyPort: args['ready-port'] !== undefined ? parsePort(args['ready-port']) : undefined,
    readyCmd: args['ready-cmd'] !== undefined ? args['ready-cmd'] : undefined,
    readyTimeout: args['ready-timeout'] !== undefined ? seconds(args['ready-timeout'], '--ready-timeout', 0.001) : DEFAULT_READY_TIMEOUT,
    after: [...new Set(after)],
    restart,
    stopTimeout: args['stop-timeout'] !== undefined ? seconds(args['stop-timeout'], '--stop-timeout', 0) : DEFAULT_STOP_TIMEOUT,
  };
}

const fmtSeconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** start, or restart (the same command again, with the environment it had). */
async function run(ctx: CliContext<any>, s: Session, name: string, restart: boolean, options?: ServiceOptions): Promise<number> {
  const spec = restart ? s.known(name) : undefined;
  const started = await startService({
    home: s.home,
    contextDir: s.context.dir,
    root: spec?.root ?? s.context.root,
    context: s.context.name,
    name,
    argv: spec?.argv ?? ctx.rest,
    options: spec ?? options!,
    env: spec ? (readSavedEnv(s.context.dir, name) ?? ctx.env) : ctx.env,
    force: restart,
    say: s.say,
  });
  if (started.result !== 'unchanged') {
    s.say(`${name} ${started.result === 'restarted' ? 'restarted, ' : ''}ready (pid ${started.pid}, ${fmtSeconds(started.readyMs ?? 0)})`);
    if ((spec ?? options!).restart !== 'no') ensureReaper(s.home, ctx.env, { wake: true });
  }
  return 0;
}

export const start: CliSubCommand<typeof START_ARGS> = {
  description: 'Start NAME running CMD, detached, and return once it is ready',
  args: START_ARGS,
  rest: 'CMD ARGS...',
  run: (ctx) => {
    if (!ctx.rest.length) throw new CliError(EX.USAGE, 'start needs the command to run: ws-service start NAME [OPTIONS] -- CMD ARGS...');
    const name = nameOf('start', ctx.args.name);
    const options = startOptions(ctx);
    return inContext(ctx, (s) => run(ctx, s, name, false, options));
  },
};

export const restart: CliSubCommand<typeof RESTART_ARGS> = {
  description: 'Stop NAME and start the same command again, with the environment it had',
  args: RESTART_ARGS,
  run: (ctx) => {
    const name = nameOf('restart', ctx.args.name);
    return inContext(ctx, (s) => run(ctx, s, name, true));
  },
};

export const stop: CliSubCommand<typeof STOP_ARGS> = {
  description: 'Stop NAME (SIGTERM to its processes, SIGKILL after its --stop-timeout), or --all',
  args: STOP_ARGS,
  run: (ctx) => {
    const all = Boolean(ctx.args.all);
    if (all && ctx.args.name !== undefined) throw new CliError(EX.USAGE, 'give either NAME or --all, not both');
    const name = all ? undefined : nameOf('stop', ctx.args.name);
    return inContext(ctx, async (s) => {
      if (!name) return stopAllServices(s.home, s.context.dir, ctx.env, 'stop');
      s.known(name);
      const result = await stopService(s.home, s.context.dir, name, ctx.env);
      if (result.killed) s.say(`${name} did not stop after SIGTERM; killed it`);
    });
  },
};

export const status: CliSubCommand<typeof STATUS_ARGS> = {
  description: 'List the services of the context (NAME: only that one)',
  args: STATUS_ARGS,
  run: (ctx) => {
    const name = ctx.args.name !== undefined ? parseServiceName(ctx.args.name) : undefined;
    return inContext(ctx, async (s) => {
      if (name) s.known(name);
      ctx.out(ctx.args.json ? statusJson(s.context.dir, name) : statusTable(s.context.dir, name));
    });
  },
};

export const logs: CliSubCommand<typeof LOGS_ARGS> = {
  description: "Print NAME's log (-n N: the last N lines; -f: then follow it)",
  args: LOGS_ARGS,
  run: (ctx) => {
    const name = nameOf('logs', ctx.args.name);
    const lines = ctx.args.lines !== undefined ? count(ctx.args.lines) : undefined;
    return inContext(ctx, async (s) => {
      s.known(name);
      if (ctx.args.follow) await followLog(s.context.dir, name, lines ?? 10, ctx.out);
      else printLog(s.context.dir, name, lines, ctx.out);
    });
  },
};
