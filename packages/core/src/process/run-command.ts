import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { spawnWithRawEnv } from './raw-env.js';

/**
 * True when the terminal's foreground process group is ours: a ^C or ^\
 * typed there reached the child too (it is in our group), and sending it
 * again would make it a double interrupt. Linux only; elsewhere: false.
 */
function terminalSentIt(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state ppid pgrp session tty_nr tpgid
    return Number(fields[5]) > 0 && fields[5] === fields[2];
  } catch {
    return false;
  }
}

const FORWARDED = ['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs the command with stdio inherited, forwards SIGINT, SIGQUIT, SIGTERM
 * and SIGHUP to it, and resolves with its exit status as a shell reports it:
 * its code, 128+N for a death by signal N, 127 not found, 126 not runnable.
 * Shared by the commands that run something in a context (ws-exec, ws-shell).
 * Values with bytes that are not UTF-8 keep them (raw-env.ts).
 */
export function runCommand(argv: string[], opts: { name: string; env: NodeJS.ProcessEnv; cwd: string; err: (text: string) => void }): Promise<number> {
  return new Promise((done) => {
    const how = spawnWithRawEnv(argv, opts.env, opts.name);
    const child = spawn(how.command, how.args, { stdio: 'inherit', env: how.env, cwd: opts.cwd });
    const forward = (signal: NodeJS.Signals) => {
      if ((signal === 'SIGINT' || signal === 'SIGQUIT') && terminalSentIt()) return;
      child.kill(signal);
    };
    for (const signal of FORWARDED) process.on(signal, forward);
    let finished = false;
    const finish = (code: number) => {
      // A command that cannot start reports 'error' and may report 'exit' too.
      if (finished) return;
      finished = true;
      for (const signal of FORWARDED) process.off(signal, forward);
      done(code);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      how.cleanup();
      opts.err(`${opts.name}: ${argv[0]}: ${error.code === 'ENOENT' ? 'command not found' : error.message}\n`);
      finish(error.code === 'ENOENT' ? 127 : 126);
    });
    child.on('exit', (code, signal) => finish(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
}
