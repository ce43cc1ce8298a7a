import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CliError, EX } from '@ws/core';
import { jsonErrorAt } from './json-error.js';

/** One named environment of an env file (SPEC §5). */
interface EnvSpec {
  'alias-for'?: string;
  vars?: Record<string, string>;
  prepend?: Record<string, string[]>;
}

interface EnvFile {
  envs: Record<string, EnvSpec>;
}

// Exit statuses of `ws-export env-file` that the stdlib's env_file tells
// apart: a file that is not valid (malformed JSON, a WS_* name, an alias
// loop) fails the workspace file, keeping its last good environment; an
// environment the file does not define only fails env_file.
const BROKEN = EX.DATAERR;
const NO_SUCH_ENV = EX.NOINPUT;

/** JSON with `//` comment lines (a line holding nothing but the comment); errors as `FILE:LINE:COL: what`. */
function parseEnvFile(path: string, required: boolean): EnvFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(EX.NOINPUT, `${path}: cannot read it: ${(error as Error).message}`);
  }
  // A comment line becomes an empty one: line and column numbers stay the file's.
  const json = text
    .split('\n')
    .map((line) => (/^\s*\/\//.test(line) ? '' : line))
    .join('\n');
  let data: EnvFile;
  try {
    data = JSON.parse(json) as EnvFile;
  } catch {
    const at = jsonErrorAt(json);
    throw new CliError(BROKEN, `${path}:${at.line}:${at.column}: ${at.what}`);
  }
  if (!data || typeof data !== 'object' || typeof data.envs !== 'object' || data.envs === null || Array.isArray(data.envs)) {
    throw new CliError(BROKEN, `${path}: no "envs" object`);
  }
  for (const [name, spec] of Object.entries(data.envs)) {
    if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new CliError(BROKEN, `${path}: envs.${name} is not an object`);
    if (spec['alias-for'] !== undefined && typeof spec['alias-for'] !== 'string') throw new CliError(BROKEN, `${path}: envs.${name}.alias-for is not a string`);
    for (const part of ['vars', 'prepend'] as const) {
      const value = spec[part];
      if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) throw new CliError(BROKEN, `${path}: envs.${name}.${part} is not an object`);
    }
  }
  return data;
}

function gitRoot(dir: string): string | undefined {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--show-toplevel'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** An env file with its private counterpart merged in. */
interface Merged {
  path: string;
  gitRoot: string | undefined;
  /** `<git root>/.git/ws/<basename>`, when it exists. */
  privatePath: string | undefined;
  envs: Record<string, EnvSpec>;
  /** Where each environment is defined. */
  from: Record<string, 'public' | 'private' | 'both'>;
}

/** The public file merged with the private `<git root>/.git/ws/<name>`, which wins (`alias-for` included). */
function mergedEnvFile(path: string): Merged {
  const root = gitRoot(dirname(path));
  const publicFile = parseEnvFile(path, true)!;
  const privatePath = root ? join(root, '.git', 'ws', basename(path)) : undefined;
  const privateFile = privatePath ? parseEnvFile(privatePath, false) : undefined;
  const envs: Record<string, EnvSpec> = { ...publicFile.envs };
  const from: Merged['from'] = Object.fromEntries(Object.keys(envs).map((name) => [name, 'public' as const]));
  for (const [name, spec] of Object.entries(privateFile?.envs ?? {})) {
    const merged: EnvSpec = { ...envs[name], ...spec };
    merged.vars = { ...envs[name]?.vars, ...spec.vars };
    merged.prepend = { ...envs[name]?.prepend, ...spec.prepend };
    from[name] = envs[name] ? 'both' : 'private';
    envs[name] = merged;
  }
  return { path, gitRoot: root, privatePath: privateFile ? privatePath : undefined, envs, from };
}

/** The environment NAME stands for, aliases followed; undefined if the file does not define it. */
function resolveAlias(file: Merged, name: string): string | undefined {
  const seen: string[] = [];
  while (file.envs[name]?.['alias-for'] !== undefined) {
    if (seen.includes(name)) throw new CliError(BROKEN, `${file.path}: alias loop ${[...seen, name].join(' -> ')}`);
    seen.push(name);
    name = file.envs[name]['alias-for']!;
  }
  return file.envs[name] ? name : undefined;
}

/**
 * The variables the env file gives for `$WS_ENV`: the public file merged with
 * the private `<git root>/.git/ws/<name>` (which wins, `alias-for` included),
 * aliases followed, `{{root}}`, `{{git_root}}`, `{{state_dir}}` expanded,
 * `prepend` lists put in front of the current values in their order.
 */
export function resolveEnvFile(path: string, env: NodeJS.ProcessEnv): Array<[string, string]> {
  const file = mergedEnvFile(path);
  const wanted = env.WS_ENV || 'default';
  const name = resolveAlias(file, wanted);
  if (name === undefined) throw new CliError(NO_SUCH_ENV, `${path}: no environment '${wanted}'${file.envs[wanted] ? ' (its alias-for names none)' : ''} (it has: ${Object.keys(file.envs).sort().join(', ') || 'none'})`);
  const spec = file.envs[name];
  const root = file.gitRoot;
  const expand = (value: unknown) =>
    String(value)
      .replaceAll('{{root}}', env.WS_ROOT ?? '')
      .replaceAll('{{git_root}}', root ?? '')
      .replaceAll('{{state_dir}}', env.WS_STATE_DIR ?? '');
  const out: Array<[string, string]> = [];
  // Where a name comes from: the private file when it has that environment's name, else the public one.
  const where = (key: string) => (file.privatePath && file.from[name] !== 'public' ? `${file.path} (or ${file.privatePath})` : file.path) + `: envs.${name}: ${key}`;
  const check = (key: string) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new CliError(BROKEN, `${where(`'${key}' is not a variable name`)}`);
    if (key.startsWith('WS_')) throw new CliError(BROKEN, `${where(`may not set ${key} (WS_* variables belong to ws)`)}`);
  };
  for (const [key, value] of Object.entries(spec.vars ?? {})) {
    check(key);
    out.push([key, expand(value)]);
  }
  for (const [key, list] of Object.entries(spec.prepend ?? {})) {
    check(key);
    if (!Array.isArray(list)) throw new CliError(BROKEN, `${where(`prepend.${key} must be a list`)}`);
    const currentValue = out.find(([k]) => k === key)?.[1] ?? env[key];
    out.push([key, [...list.map(expand), ...(currentValue ? [currentValue] : [])].join(':')]);
  }
  return out;
}

/** One line of `ws-export envs`, one object of its `--json`. */
export interface EnvListing {
  name: string;
  /** Its `alias-for`, if it is an alias. */
  aliasFor: string | null;
  /** The environment it stands for, aliases followed (itself if it is none). */
  resolves: string;
  /** Where it is defined: the public file, the private one, or both (merged, the private winning). */
  from: 'public' | 'private' | 'both';
  /** The variables of the environment it resolves to, as written (templates not expanded). */
  vars: Record<string, string>;
  prepend: Record<string, string[]>;
}

/** The environments an env file defines, public and private, aliases resolved (`ws-export envs`). */
export function listEnvs(path: string): { file: string; private: string | null; envs: EnvListing[] } {
  const file = mergedEnvFile(path);
  const envs = Object.keys(file.envs)
    .sort()
    .map((name): EnvListing => {
      const resolves = resolveAlias(file, name);
      if (resolves === undefined) throw new CliError(BROKEN, `${path}: envs.${name}: alias-for '${file.envs[name]['alias-for']}' names no environment`);
      const spec = file.envs[resolves];
      return { name, aliasFor: file.envs[name]['alias-for'] ?? null, resolves, from: file.from[name], vars: { ...spec.vars }, prepend: { ...spec.prepend } };
    });
  return { file: path, private: file.privatePath ?? null, envs };
}
