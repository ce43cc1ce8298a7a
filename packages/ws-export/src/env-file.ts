import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CliError, EX } from '@ws/core';

/** One named environment of an env file (SPEC §5). */
interface EnvSpec {
  'alias-for'?: string;
  vars?: Record<string, string>;
  prepend?: Record<string, string[]>;
}

interface EnvFile {
  envs: Record<string, EnvSpec>;
}

/** JSON with whole-line `//` comments. */
function parseEnvFile(path: string, required: boolean): EnvFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(EX.NOINPUT, `env_file: cannot read ${path}: ${(error as Error).message}`);
  }
  const json = text
    .split('\n')
    .map((line) => (/^\s*\/\//.test(line) ? '' : line))
    .join('\n');
  let data: EnvFile;
  try {
    data = JSON.parse(json) as EnvFile;
  } catch (error) {
    throw new CliError(EX.DATAERR, `env_file: ${path}: ${(error as Error).message}`);
  }
  if (!data || typeof data.envs !== 'object' || data.envs === null) throw new CliError(EX.DATAERR, `env_file: ${path}: no "envs" object`);
  return data;
}

function gitRoot(dir: string): string | undefined {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--show-toplevel'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The variables the env file gives for `$WS_ENV`: the public file merged with
 * the private `<git root>/.git/ws/<name>` (which wins, `alias-for` included),
 * aliases followed, `{{root}}`, `{{git_root}}`, `{{state_dir}}` expanded,
 * `prepend` lists put in front of the current values in their order.
 */
export function resolveEnvFile(path: string, env: NodeJS.ProcessEnv): Array<[string, string]> {
  const root = gitRoot(dirname(path));
  const publicFile = parseEnvFile(path, true)!;
  const privateFile = root ? parseEnvFile(join(root, '.git', 'ws', basename(path)), false) : undefined;
  const envs: Record<string, EnvSpec> = { ...publicFile.envs };
  for (const [name, spec] of Object.entries(privateFile?.envs ?? {})) {
    const merged: EnvSpec = { ...envs[name], ...spec };
    merged.vars = { ...envs[name]?.vars, ...spec.vars };
    merged.prepend = { ...envs[name]?.prepend, ...spec.prepend };
    envs[name] = merged;
  }
  let name = env.WS_ENV || 'default';
  const seen: string[] = [];
  while (envs[name]?.['alias-for']) {
    if (seen.includes(name)) throw new CliError(EX.DATAERR, `env_file: ${path}: alias loop ${[...seen, name].join(' -> ')}`);
    seen.push(name);
    name = envs[name]['alias-for']!;
  }
  const spec = envs[name];
  if (!spec) throw new CliError(EX.DATAERR, `env_file: ${path}: no environment '${name}'`);
  const expand = (value: string) =>
    String(value)
      .replaceAll('{{root}}', env.WS_ROOT ?? '')
      .replaceAll('{{git_root}}', root ?? '')
      .replaceAll('{{state_dir}}', env.WS_STATE_DIR ?? '');
  const out: Array<[string, string]> = [];
  const check = (key: string) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new CliError(EX.DATAERR, `env_file: ${path}: '${key}' is not a variable name`);
    if (key.startsWith('WS_')) throw new CliError(EX.DATAERR, `env_file: ${path}: may not set ${key} (WS_* variables belong to ws)`);
  };
  for (const [key, value] of Object.entries(spec.vars ?? {})) {
    check(key);
    out.push([key, expand(value)]);
  }
  for (const [key, list] of Object.entries(spec.prepend ?? {})) {
    check(key);
    if (!Array.isArray(list)) throw new CliError(EX.DATAERR, `env_file: ${path}: prepend.${key} must be a list`);
    const currentValue = out.find(([k]) => k === key)?.[1] ?? env[key];
    out.push([key, [...list.map(expand), ...(currentValue ? [currentValue] : [])].join(':')]);
  }
  return out;
}
