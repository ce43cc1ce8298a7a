import { basename } from 'node:path';
import { contextDirFor, contextDirOf, contextIds, findContext, listServices, readContextRecord, stateHomePath } from '@ws/core';
import { COMMANDS, COMPLETION_SHELLS, EVENT_TYPES, SHELL_WORDS, commandNamed, commandOfBinary, type ArgKind, type Command, type Completion } from './commands.js';
import { commandNames } from './names.js';

export interface CompleteInput {
  /** The command line up to the cursor: the command word first, the word being typed last ('' for a new one). */
  words: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** What the shell offers: these words, or its own file name completion. */
export type Candidates = { kind: 'words'; words: string[] } | { kind: 'files' };

const FILES: Candidates = { kind: 'files' };
const ALWAYS = ['--help', '--version'];

/**
 * The candidates for the last word of a `ws ...` command line (or of a ws
 * command called by its own name: `ws-service stop <TAB>`): command names,
 * subcommands, flags, and the values that name something ws knows — the
 * current context's services, the contexts in the state home, shells,
 * event types. Reads the state home, never changes it.
 */
export function complete({ words, env, cwd }: CompleteInput): Candidates {
  if (words.length < 2) return { kind: 'words', words: [] };
  const current = words.at(-1)!;
  const before = words.slice(1, -1);
  let command: Command | undefined;
  if (basename(words[0]!) === 'ws') {
    const name = before[0];
    if (name === undefined) return pick(commandNames(env), current);
    if (name === 'help') return before.length === 1 ? pick(COMMANDS.map((c) => c.name), current) : none();
    if (name === 'completion') return before.length === 1 ? pick(COMPLETION_SHELLS, current) : none();
    command = commandNamed(name);
    before.shift();
  } else {
    command = commandOfBinary(basename(words[0]!));
  }
  if (!command) return FILES;
  return completeCommand(command, before, current, { env, cwd });
}

function completeCommand(command: Command, before: string[], current: string, where: { env: NodeJS.ProcessEnv; cwd: string }): Candidates {
  // After `--` come a command and its arguments.
  if (before.includes('--')) return FILES;
  const positionals = before.filter((word, i) => !word.startsWith('-') && !takesValue(command, before[i - 1]));
  const sub = command.subcommands && positionals[0] !== undefined ? command.subcommands[positionals[0]] : undefined;
  const spec: Completion = sub ?? command;
  const flags = [...(spec.flags ?? []), ...ALWAYS];
  const eq = current.indexOf('=');
  if (current.startsWith('--') && eq > 0) {
    const flag = current.slice(0, eq);
    const kind = spec.values?.[flag];
    if (!kind) return none();
    const values = valuesOf(kind, where);
    return values.kind === 'files' ? values : pick(values.words.map((v) => `${flag}=${v}`), current);
  }
  const previous = before.at(-1);
  if (previous !== undefined && spec.values?.[previous]) {
    const values = valuesOf(spec.values[previous]!, where);
    return values.kind === 'files' ? values : pick(values.words, current);
  }
  if (current.startsWith('-')) return pick(flags, current);
  if (command.subcommands && !sub) return pick(Object.keys(command.subcommands), current);
  return valuesOf(spec.args ?? 'files', where, current);
}

function takesValue(command: Command, word: string | undefined): boolean {
  if (word === undefined || !word.startsWith('-')) return false;
  return [command, ...Object.values(command.subcommands ?? {})].some((spec) => spec.values?.[word] !== undefined);
}

function valuesOf(kind: ArgKind, { env, cwd }: { env: NodeJS.ProcessEnv; cwd: string }, current?: string): Candidates {
  const words = (): string[] => {
    switch (kind) {
      case 'shells':
        return [...SHELL_WORDS];
      case 'event-types':
        return [...EVENT_TYPES];
      case 'services':
        return serviceNames(env, cwd);
      case 'contexts':
        return contextNames(env);
      default:
        return [];
    }
  };
  if (kind === 'files') return FILES;
  return current === undefined ? { kind: 'words', words: words() } : pick(words(), current);
}

/** The services of the current context (the loaded one, else the one of the directory). */
function serviceNames(env: NodeJS.ProcessEnv, cwd: string): string[] {
  try {
    const root = env.WS_ROOT || findContext({ env, cwd })?.root;
    if (!root) return [];
    return listServices(contextDirFor(stateHomePath(env), root, env)).map((s) => s.name);
  } catch {
    return [];
  }
}

/** The name of every context in the state home. */
function contextNames(env: NodeJS.ProcessEnv): string[] {
  try {
    const home = stateHomePath(env);
    const names = contextIds(home).map((id) => readContextRecord(contextDirOf(home, id))?.name);
    return [...new Set(names.filter((n): n is string => Boolean(n)))];
  } catch {
    return [];
  }
}

const none = (): Candidates => ({ kind: 'words', words: [] });

function pick(words: readonly string[], current: string): Candidates {
  return { kind: 'words', words: [...new Set(words.filter((w) => w.startsWith(current)))].sort() };
}
