import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import {
  CliError,
  DEFAULT_READY_TIMEOUT,
  DEFAULT_STOP_TIMEOUT,
  EX,
  RESTART_POLICIES,
  ServiceError,
  contextDir,
  ensureReaper,
  ensureStateHome,
  findContext,
  parsePort,
  parseServiceName,
  readServiceSpec,
  readSavedEnv,
  startService,
  stopAllServices,
  stopService,
  type CliContext,
  type RestartPolicy,
  type ServiceOptions,
} from '@ws/core';
import { followLog, printLog } from './logs.js';
import { statusJson, statusTable } from './status.js';

export const ARGS = {
  command: { type: 'positional', required: false, valueHint: 'COMMAND', description: 'start, stop, restart, status or logs' },
  name: { type: 'positional', required: false, valueHint: 'NAME', description: 'the service' },
  'ready-port': { type: 'string', valueHint: 'PORT', description: 'start: ready once PORT accepts TCP connections' },
  'ready-cmd': { type: 'string', valueHint: 'CMD', description: 'start: ready once CMD (bash -c, the service environment) succeeds' },
  'ready-timeout': { type: 'string', valueHint: 'SECS', description: `start: give up (and stop it) after SECS (default ${DEFAULT_READY_TIMEOUT})` },
  after: { type: 'string', valueHint: 'NAME', description: 'start: wait until NAME is ready first (repeat, or NAME,NAME)' },
  restart: { type: 'string', valueHint: 'POLICY', description: 'start: no (default), on-failure or always' },
  'stop-timeout': { type: 'string', valueHint: 'SECS', description: `start: SIGKILL this long after SIGTERM (default ${DEFAULT_STOP_TIMEOUT})` },
  all: { type: 'boolean', description: 'stop: every service of the context' },
  json: { type: 'boolean', description: 'status: JSON' },
  follow: { type: 'boolean', alias: 'f', description: 'logs: keep printing what is appended' },
  lines: { type: 'string', alias: 'n', valueHint: 'N', description: 'logs: only the last N lines' },
} as const;

export const HELP = `COMMANDS

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

type Args = CliContext<typeof ARGS>['args'];
const START_ONLY = ['ready-port', 'ready-cmd', 'ready-timeout', 'after', 'restart', 'stop-timeout'] as const;
const flagName = (key: string) => `--${key}`;

/** Every value of a repeatable string flag, from the words before `--` (each may be a comma list). */
export function repeatedFlag(argv: string[], flag: string, valued: readonly string[]): string[] {
  const values: string[] = [];
  const own = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  for (let i = 0; i < own.length; i++) {
    const word = own[i];
    if (word === `--${flag}`) values.push(own[++i] ?? '');
    else if (word.startsWith(`--${flag}=`)) values.push(word.slice(flag.length + 3));
    else if (valued.includes(word)) i++; // the value of another flag, even if it looks like --after
  }
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

function seconds(text: string, flag: string, min: number): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || Number(text) < min) {
    throw new CliError(EX.USAGE, `invalid ${flag} '${text.slice(0, 40)}': expected a number of seconds${min > 0 ? ' above 0' : ''}`);
  }
  return Number(text);
}

/** The context to act on: WS_ROOT, else the one of the current directory; none is 66. */
function currentContext(home: string, env: NodeJS.ProcessEnv, cwd: string, warn: (line: string) => void) {
  if (env.WS_ROOT) {
    const root = resolve(cwd, env.WS_ROOT);
    if (!existsSync(root)) throw new CliError(EX.NOINPUT, `WS_ROOT=${env.WS_ROOT}: no such directory`);
    return { root, name: env.WS_CONTEXT || basename(root) || '/', dir: contextDir(home, root) };
  }
  const found = findContext({ env, cwd, warn });
  if (!found) throw new CliError(EX.NOINPUT, `not in a context: WS_ROOT is not set and there is no workspace file in ${cwd} or above`);
  return { root: found.root, name: found.name, dir: contextDir(home, found.root) };
}

/** Rejects flags that mean nothing to the subcommand (a typo must not pass silently). */
function checkFlags(command: string, args: Args, rest: string[], argv: string[]): void {
  const allowed: Record<string, string[]> = {
    start: [...START_ONLY],
    stop: ['all'],
    restart: [],
    status: ['json'],
    logs: ['follow', 'lines'],
  };
  for (const key of ['ready-port', 'ready-cmd', 'ready-timeout', 'after', 'restart', 'stop-timeout', 'all', 'json', 'follow', 'lines'] as const) {
    const given = args[key] !== undefined && args[key] !== false;
    if (given && !allowed[command].includes(key)) throw new CliError(EX.USAGE, `option '${flagName(key)}' does not apply to '${command}'`);
  }
  if (command !== 'start' && argv.includes('--')) throw new CliError(EX.USAGE, `'--' only goes with 'start'`);
  if (command === 'start' && !rest.length) throw new CliError(EX.USAGE, 'start needs the command to run: ws-service start NAME [OPTIONS] -- CMD ARGS...');
}

function startOptions(args: Args, argv: string[]): ServiceOptions {
  const valued = ARGS_VALUED.filter((w) => w !== '--after');
  const after = repeatedFlag(argv, 'after', valued).map(parseServiceName);
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

/** The words that take a value (so that a value is never read as a flag). */
const ARGS_VALUED = Object.entries(ARGS)
  .filter(([, def]) => def.type === 'string')
  .flatMap(([key, def]) => [flagName(key), ...('alias' in def ? [`-${def.alias}`] : [])]);

const fmtSeconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The one command function: dispatches start, stop, restart, status and logs. */
export async function serviceCommand(ctx: CliContext<typeof ARGS>, argv: string[]): Promise<number> {
  const { args, rest, env, cwd, out, err } = ctx;
  const command = args.command;
  if (!command) throw new CliError(EX.USAGE, 'missing command: start, stop, restart, status or logs');
  if (!['start', 'stop', 'restart', 'status', 'logs'].includes(command)) throw new CliError(EX.USAGE, `unknown command '${command.slice(0, 40)}': start, stop, restart, status or logs`);
  checkFlags(command, args, rest, argv);
  const name = args.name !== undefined ? parseServiceName(args.name) : undefined;
  if (!name && command !== 'status' && !(command === 'stop' && args.all)) throw new CliError(EX.USAGE, `${command} needs a service NAME`);
  if (name && command === 'stop' && args.all) throw new CliError(EX.USAGE, 'give either NAME or --all, not both');
  const options = command === 'start' ? startOptions(args, argv) : undefined;

  const home = ensureStateHome(env);
  const context = currentContext(home, env, cwd, (line) => err(`${line}\n`));
  const known = (n: string) => {
    const spec = readServiceSpec(context.dir, n);
    if (!spec) throw new CliError(EX.NOINPUT, `no service named '${n}' in context ${context.name}`);
    return spec;
  };
  const say = (line: string) => err(`ws-service: ${line}\n`);

  try {
    switch (command) {
      case 'start':
      case 'restart': {
        const spec = command === 'restart' ? known(name!) : undefined;
        const started = await startService({
          home,
          contextDir: context.dir,
          root: spec?.root ?? context.root,
          context: context.name,
          name: name!,
          argv: spec?.argv ?? rest,
          options: spec ?? options!,
          env: spec ? savedEnv(context.dir, name!) ?? env : env,
          force: command === 'restart',
          say,
        });
        if (started.result !== 'unchanged') {
          say(`${name} ${started.result === 'restarted' ? 'restarted, ' : ''}ready (pid ${started.pid}, ${fmtSeconds(started.readyMs ?? 0)})`);
          if ((spec ?? options!).restart !== 'no') ensureReaper(home, env);
        }
        return 0;
      }
      case 'stop': {
        if (args.all) {
          await stopAllServices(home, context.dir, env, 'stop');
          return 0;
        }
        known(name!);
        const result = await stopService(home, context.dir, name!, env);
        if (result.killed) say(`${name} did not stop after SIGTERM; killed it`);
        return 0;
      }
      case 'status': {
        if (name) known(name);
        const text = args.json ? statusJson(context.dir, name) : statusTable(context.dir, name);
        out(text);
        return 0;
      }
      case 'logs': {
        known(name!);
        const lines = args.lines !== undefined ? count(args.lines) : undefined;
        if (args.follow) await followLog(context.dir, name!, lines ?? 10, out);
        else printLog(context.dir, name!, lines, out);
        return 0;
      }
    }
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    say(error.message);
    if (error.logLines.length) {
      err(`ws-service: last lines of ${error.logPath}:\n`);
      for (const line of error.logLines) err(`  ${line}\n`);
    }
    return EX.FAIL;
  }
  return 0;
}

function count(text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new CliError(EX.USAGE, `invalid -n '${text.slice(0, 40)}': expected a number of lines`);
  return Number(text);
}

/** The environment a service was last started with (restart reuses it). */
const savedEnv = (dir: string, name: string) => readSavedEnv(dir, name);
