import { spawn } from 'node:child_process';
import { CliError, EX, locateBinary, spawnWithRawEnv } from '@ws/core';

/** What `ws-export json` prints: the variables to set and those to unset. */
export interface EnvChange {
  set: Record<string, string>;
  unset: string[];
}

/** The waiting time given to ws-export: a command needs the finished build, not the last good one. */
const NO_BACKGROUND_MS = String(24 * 3600 * 1000);

/**
 * The environment of DIR's context, by running the real `ws-export json`
 * there, which also registers `pid` as a user of the context (and starts the
 * reaper, which notices when `pid` is gone). Its messages go to our stderr.
 */
export async function loadContextEnv(opts: { dir: string; pid: number; envName?: string; env: NodeJS.ProcessEnv }): Promise<NodeJS.ProcessEnv> {
  const { dir, env } = opts;
  const exporter = locateBinary('ws-export', env);
  if (!exporter) throw new CliError(EX.UNAVAILABLE, 'ws-export not found beside ws-exec or on PATH');
  // --bytes: values that are not UTF-8 as \udcNN escapes, which JSON.parse keeps (bytes.ts);
  // runCommand gives them to CMD exactly.
  const args = ['json', '--bytes', '--pid', String(opts.pid), ...(opts.envName ? ['--env', opts.envName] : [])];
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((done, fail) => {
    // The caller's own values that are not UTF-8 reach ws-export (and the build) exactly.
    const how = spawnWithRawEnv([exporter, ...args], { ...env, PWD: dir, WS_BUILD_TIMEOUT: NO_BACKGROUND_MS }, 'ws-exec');
    const child = spawn(how.command, how.args, {
      cwd: dir,
      env: how.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', (error) => {
      how.cleanup();
      fail(error);
    });
    child.on('close', (status, signal) => done({ code: status ?? (signal ? EX.SOFTWARE : 0), stdout: Buffer.concat(chunks).toString('utf8') }));
  });
  if (code !== 0) throw new CliError(code, `cannot load the environment of ${dir} (ws-export exited with ${code})`);
  return applyChange(env, parseChange(stdout));
}

export function parseChange(text: string): EnvChange {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError(EX.SOFTWARE, 'ws-export json printed something that is not JSON');
  }
  const change = value as Partial<EnvChange> | null;
  if (!change || typeof change.set !== 'object' || change.set === null || !Array.isArray(change.unset)) {
    throw new CliError(EX.SOFTWARE, 'ws-export json printed JSON without "set" and "unset"');
  }
  return { set: change.set, unset: change.unset };
}

export function applyChange(env: NodeJS.ProcessEnv, change: EnvChange): NodeJS.ProcessEnv {
  const next: NodeJS.ProcessEnv = { ...env };
  for (const name of change.unset) delete next[name];
  for (const [name, value] of Object.entries(change.set)) next[name] = String(value);
  return next;
}
