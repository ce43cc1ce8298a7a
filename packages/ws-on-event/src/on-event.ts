import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { constants } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { CliError, EX, ensureStateHome, logicalCwd, warn, type CliArgsDef, type CliContext, type WsEvent } from '@ws/core';
import { followEvents } from '@ws/core';
import { commandEnv } from './event-env.js';
import { contextMatcher, parseSince, typeMatcher } from './filter.js';
import { watchOutput } from './output-watch.js';
import { snapshotEvents } from './snapshot.js';

/** The flags as runCli parses them from cli.ts's schema: the string flags are repeatable (`multiple`). */
export interface OnEventFlags {
  type: string[];
  context: string[];
  since: string[];
  snapshot?: boolean;
  once?: boolean;
}

export interface OnEventOptions {
  types: string[];
  contexts: string[];
  snapshot: boolean;
  once: boolean;
  /** Epoch ms: replay events with ts >= since. */
  since?: number;
  command: string[];
}

/** Turns the parsed flags into options; usage errors exit 64. */
export function parseOptions(flags: OnEventFlags, rest: string[], dashDash: boolean): OnEventOptions {
  const types = flags.type.flatMap((value) => value.split(',')).map((glob) => glob.trim());
  if (types.some((glob) => glob === '')) throw new CliError(EX.USAGE, 'empty --type glob');
  if (flags.context.some((value) => value === '')) throw new CliError(EX.USAGE, 'empty --context');
  if (flags.since.length > 1) throw new CliError(EX.USAGE, '--since given twice');
  let since: number | undefined;
  if (flags.since.length === 1) {
    since = parseSince(flags.since[0]);
    if (since === undefined) {
      throw new CliError(EX.USAGE, `--since '${flags.since[0]}' is not an ISO-8601 time (like 2024-05-01T12:00:00Z)`);
    }
  }
  if (dashDash && rest.length === 0) throw new CliError(EX.USAGE, "no command after '--'");
  return { types, contexts: flags.context, snapshot: Boolean(flags.snapshot), once: Boolean(flags.once), since, command: rest };
}

/** Where CMD would be found, as execvp(3) looks; undefined if nowhere. */
export function findExecutable(command: string, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd, command)]
    : (env.PATH ?? '').split(delimiter).map((dir) => join(dir || '.', command));
  return candidates.find((path) => {
    try {
      accessSync(path, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const SIGNAL_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** How the process around the stream behaves; tests and the CLI pass their own. */
export interface OnEventIo {
  /** Our own process, for signal handlers and the output watch. */
  proc: NodeJS.Process;
}

/**
 * Runs ws-on-event: optional snapshot, optional replay (`--since`), then
 * follows the stream until SIGINT/SIGTERM/SIGHUP (128 + signal), `--once`,
 * or the stdout reader going away (0). With CMD, runs it once per event,
 * sequentially, the event in its environment only.
 */
export async function onEvent(ctx: Omit<CliContext<CliArgsDef>, 'args'> & { args: OnEventFlags }, { proc }: OnEventIo): Promise<number> {
  const opts = parseOptions(ctx.args, ctx.rest, ctx.dashDash);
  const { env, out, err } = ctx;
  const cwd = logicalCwd(env, ctx.cwd);
  if (opts.command.length > 0 && !findExecutable(opts.command[0], env, cwd)) {
    throw new CliError(EX.UNAVAILABLE, `${opts.command[0]}: command not found`);
  }
  const home = ensureStateHome(env);
  const wantType = typeMatcher(opts.types);
  const wantContext = contextMatcher(opts.contexts, cwd);

  const controller = new AbortController();
  let exitCode = 0;
  let child: ReturnType<typeof spawn> | undefined;
  const stop = (code: number) => {
    if (controller.signal.aborted) return;
    exitCode = code;
    controller.abort();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    // The running CMD and everything it started (its own process group) get
    // the same signal; a second signal kills them.
    const again = controller.signal.aborted;
    stop(SIGNAL_CODES[signal] ?? 128);
    if (child?.pid) {
      try {
        proc.kill(-child.pid, again ? 'SIGKILL' : signal);
      } catch {
        /* already gone */
      }
    }
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) proc.on(signal, onSignal);
  // The reader of our stdout going away ends us, CMD or not (`ws-on-event | head -n1`).
  const stopWatch = watchOutput(1, proc.pid, () => stop(0));

  let malformed = 0;
  // Opened before the snapshot, so nothing that happens while it is taken is missed.
  const stream = followEvents(home, {
    from: opts.since === undefined ? 'end' : 'start',
    signal: controller.signal,
    onMalformed: () => {
      if (malformed++ === 0) warn(`skipped a malformed line in ${join(home, 'events.jsonl')}`);
    },
  });

  /** Prints the line or runs CMD for one event; returns CMD's status (0 when printing). */
  const deliver = async (line: string, event: WsEvent): Promise<number> => {
    if (opts.command.length === 0) {
      out(`${line}\n`);
      return 0;
    }
    const [file, ...args] = opts.command;
    const status = await new Promise<number | NodeJS.Signals | Error>((done) => {
      try {
        // Its own session and process group, so that a signal to us reaches a CMD's
        // children too (a shell waiting for a child does not pass SIGINT on).
        child = spawn(file, args, { cwd, env: commandEnv(env, line, event), stdio: ['ignore', 'inherit', 'inherit'], detached: true });
      } catch (error) {
        done(error as Error);
        return;
      }
      child.once('error', (error) => done(error));
      child.once('exit', (code, signal) => done(signal ?? code ?? 0));
    });
    child = undefined;
    if (status === 0) return 0;
    if (controller.signal.aborted && exitCode !== 0) return 1; // we were stopped: the command was told to stop too
    const what = status instanceof Error ? `could not be run: ${status.message}` : typeof status === 'string' ? `was killed by ${status}` : `exited with status ${status}`;
    err(`ws-on-event: ${file} ${what} (event ${event.type}, context ${event.context || '-'})\n`);
    return status instanceof Error ? EX.UNAVAILABLE : typeof status === 'string' ? 128 + (constants.signals[status] ?? 0) : status;
  };

  try {
    if (opts.snapshot) {
      for (const event of snapshotEvents(home)) {
        if (controller.signal.aborted) break;
        if (wantContext(event)) await deliver(JSON.stringify(event), event);
      }
    }
    for await (const { line, event } of stream) {
      if (!wantType(event.type) || !wantContext(event)) continue;
      if (opts.since !== undefined && !(Date.parse(event.ts) >= opts.since)) continue;
      const status = await deliver(line, event);
      if (opts.once) {
        stop(status);
        break;
      }
    }
  } finally {
    await stream.return(undefined);
    stopWatch();
    for (const signal of signals) proc.off(signal, onSignal);
  }
  return exitCode;
}
