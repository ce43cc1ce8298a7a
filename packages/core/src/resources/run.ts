import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { appendText, openAppend, writeFileAtomic } from '../state/atomic.js';
import { formatHolder, readHolder } from '../state/lock.js';
import { isAlive, processStartTime } from '../process/proc.js';

export interface RunResult {
  /** The exit status, or null if it was killed by a signal or did not start. */
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Why it could not start. */
  error?: string;
  timedOut: boolean;
  durationMs: number;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here, after a line that says what runs. */
  log: string;
  /** Where its `PID START` goes while it runs (so that a successor can stop it). */
  pidFile?: string;
  /** SIGTERM to its group after this long, SIGKILL a second later. */
  timeoutMs?: number;
  label: string;
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs a command the way INIT and release commands run: its own process
 * group (so it can be stopped as a whole, also by a later process), stdin
 * /dev/null, stdout and stderr to `log`. A SIGINT, SIGTERM or SIGHUP that
 * this process gets is passed on to the group, so a ^C stops both.
 */
export function runLogged(command: string, args: string[], opts: RunOptions): Promise<RunResult> {
  appendText(opts.log, `[${new Date().toISOString()}] ws-resource: ${opts.label}\n`);
  const fd = openAppend(opts.log);
  const started = Date.now();
  return new Promise<RunResult>((resolve) => {
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const forward = (signal: NodeJS.Signals) => child.pid && killGroup(child.pid, signal);
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', fd, fd], detached: true });
    let done = false;
    const finish = (result: Omit<RunResult, 'durationMs' | 'timedOut'>) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      for (const signal of FORWARDED) process.off(signal, forward);
      closeSync(fd);
      const durationMs = Date.now() - started;
      const how = result.error ?? (result.signal ? `killed by ${result.signal}` : `exit ${result.status}`);
      appendText(opts.log, `[${new Date().toISOString()}] ws-resource: ${how}${timedOut ? ' (timed out)' : ''} after ${durationMs} ms\n`);
      resolve({ ...result, timedOut, durationMs });
    };
    for (const signal of FORWARDED) process.on(signal, forward);
    child.on('error', (error) => finish({ status: null, signal: null, error: `cannot run ${command}: ${error.message}` }));
    if (child.pid && opts.pidFile) writeFileAtomic(opts.pidFile, formatHolder({ pid: child.pid, start: processStartTime(child.pid) ?? '' }));
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        if (!child.pid) return;
        killGroup(child.pid, 'SIGTERM');
        setTimeout(() => child.pid && killGroup(child.pid, 'SIGKILL'), 1000).unref();
      }, opts.timeoutMs);
    }
    child.on('exit', (status, signal) => finish({ status, signal }));
  });
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* gone */
  }
}

/** Stops what a dead build or release left running (its `PID START` file names the group leader). */
export function stopLeftover(pidFile: string): void {
  const id = readHolder(pidFile);
  if (id && isAlive(id)) killGroup(id.pid, 'SIGKILL');
}
