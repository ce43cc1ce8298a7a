import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readText, type Env } from '@ws/core';
import driver from './driver.bash';
import stdlib from './stdlib.bash';

/** An unload hook as registered by `on_unload`: a file, a shell command line, or an argv. */
export interface HookSpec {
  kind: 'file' | 'sh' | 'argv';
  args: string[];
}

export interface Evaluation {
  ok: boolean;
  status: number;
  /** `file:line` of the last command that failed, when known. */
  failAt?: string;
  env?: Env;
  watches: string[];
  hooks: HookSpec[];
}

export interface EvaluateOptions {
  /** Scratch directory root (the context's cache dir). */
  scratch: string;
  root: string;
  file: string;
  local?: string;
  /** The environment the file runs in: base environment plus WS_* variables. */
  env: Env;
  /** Path of ws-export, for stdlib helpers that call back (env_file). */
  exporter: string;
  /** Where the file's output goes: a descriptor (2 = our stderr). */
  output: number;
}

const nulSplit = (path: string): string[] => {
  try {
    return readFileSync(path, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
};

/**
 * Runs a workspace file in bash with the stdlib, from its root, stdin from
 * /dev/null and stdout sent to `output`. Waits for bash to exit, not for its
 * pipes to close: a background process the file started may keep them open
 * forever (direnv#755), so results come back through files.
 */
export async function evaluate(opts: EvaluateOptions): Promise<Evaluation> {
  mkdirSync(opts.scratch, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(opts.scratch, 'eval-'));
  try {
    const env: Env = {
      ...opts.env,
      _WS_EVAL: dir,
      _WS_FILE: opts.file,
      _WS_LOCAL: opts.local ?? '',
      _WS_EXPORT: opts.exporter,
    };
    const status = await new Promise<number>((resolve) => {
      const child = spawn('bash', ['--noprofile', '--norc', '-c', `${stdlib}\n${driver}`, 'ws-eval'], {
        cwd: opts.root,
        env: env as NodeJS.ProcessEnv,
        stdio: ['ignore', opts.output, opts.output],
      });
      child.on('error', () => resolve(69));
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
    const [code, failAt] = (readText(join(dir, 'status'))?.trim() || `${status}`).split(' ');
    const watches = nulSplit(join(dir, 'watches'));
    const hooks = parseHooks(nulSplit(join(dir, 'on_unload')));
    const ok = Number(code) === 0 && status === 0;
    if (!ok) return { ok, status: Number(code) || status || 1, failAt: failAt || undefined, watches, hooks };
    const envOut: Env = {};
    for (const entry of nulSplit(join(dir, 'env'))) {
      const eq = entry.indexOf('=');
      if (eq > 0) envOut[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return { ok, status: 0, env: envOut, watches, hooks };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseHooks(words: string[]): HookSpec[] {
  const hooks: HookSpec[] = [];
  for (let i = 0; i + 1 < words.length; ) {
    const kind = words[i] as HookSpec['kind'];
    const count = Number(words[i + 1]);
    hooks.push({ kind, args: words.slice(i + 2, i + 2 + count) });
    i += 2 + count;
  }
  return hooks;
}
