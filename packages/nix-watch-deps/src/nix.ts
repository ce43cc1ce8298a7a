import { spawn } from 'node:child_process';
import { CliError, EX } from '@ws/core';
import { lineSplitter } from './nix-log.js';

/**
 * Passed to every Nix command: no sandbox (it does not work in every
 * container, and evaluation needs none) and no binary caches, so that
 * nothing waits on the network: an offline machine must not stall the
 * prompt on cache.nixos.org retries.
 */
export const NIX_OPTIONS = ['--option', 'sandbox', 'false', '--option', 'substituters', ''];

/** Needed by builtins.getFlake, still experimental in Nix 2.8. */
export const FLAKE_OPTIONS = ['--option', 'extra-experimental-features', 'nix-command flakes'];

export interface NixRun {
  code: number;
  stdout: string;
}

/**
 * Runs a Nix program with `args`, streaming its stderr line by line to
 * `onStderrLine`. A missing program is exit 69, `nix is not installed`.
 */
export function runNix(program: string, args: string[], env: NodeJS.ProcessEnv, onStderrLine: (line: string) => void): Promise<NixRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const lines = lineSplitter(onStderrLine);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') reject(new CliError(EX.UNAVAILABLE, 'nix is not installed'));
      else reject(new CliError(EX.UNAVAILABLE, `cannot run ${program}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      lines.end();
      resolve({ code: code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15), stdout });
    });
  });
}
