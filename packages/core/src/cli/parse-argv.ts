import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ArgDef } from 'citty';
import { CliError, EX } from './errors.js';

/**
 * One flag or positional, as citty declares it (citty renders --help from
 * it), plus `multiple` for a string flag that may be repeated: its value is
 * then every occurrence, in order (none: `[]`).
 */
export type CliArgDef = ArgDef & { multiple?: boolean };
export type CliArgsDef = Record<string, CliArgDef>;

type ValueOf<D> = D extends { type: 'boolean' } ? boolean : D extends { multiple: true } ? string[] : string;
type Resolved<D, V> = D extends { default: unknown } | { required: true } | { multiple: true } ? V : V | undefined;

/** The parsed command line: each flag under its key (also in kebab-case and camelCase), positionals by name and in `_`. */
export type CliArgs<T extends CliArgsDef> = { _: string[] } & { -readonly [K in keyof T]: Resolved<T[K], ValueOf<T[K]>> } & Record<
    string,
    string | boolean | string[] | undefined
  >;

const kebab = (name: string) => name.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);
const camel = (name: string) => name.replace(/-([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
const aliasesOf = (def: CliArgDef) => ('alias' in def && def.alias ? [def.alias].flat() : []);

/**
 * Parses `argv` (the words before `--`) against citty-style definitions with
 * node's own parser in strict mode: an unknown flag, a flag without its
 * value, a value given to a boolean flag, a surplus or missing positional are
 * each one usage error (64) of one line. `--no-FLAG` sets a boolean flag to
 * false. A string flag given twice keeps the last value unless it is
 * `multiple`.
 */
export function parseArgv<T extends CliArgsDef>(defs: T, argv: string[]): CliArgs<T> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  const keyOf = new Map<string, string>();
  const positionals: [string, CliArgDef][] = [];
  for (const [key, def] of Object.entries(defs)) {
    if (def.type === 'positional') {
      positionals.push([key, def]);
      continue;
    }
    const type = def.type === 'boolean' ? 'boolean' : 'string';
    const multiple = type === 'string' && def.multiple === true;
    const aliases = aliasesOf(def);
    const short = aliases.find((alias) => alias.length === 1) ?? (key.length === 1 ? key : undefined);
    // node rejects an option property that is present but undefined.
    options[kebab(key)] = { type, multiple, ...(short ? { short } : {}) };
    keyOf.set(kebab(key), key);
    for (const alias of aliases.filter((alias) => alias.length > 1)) {
      options[alias] = { type, multiple };
      keyOf.set(alias, key);
    }
  }

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: positionals.length > 0, allowNegative: true, tokens: true });
  } catch (error) {
    throw usageErrorFrom(error, argv);
  }

  const values: Record<string, string | boolean | string[] | undefined> = {};
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option') continue;
    const key = keyOf.get(token.name)!;
    const def = defs[key];
    if (def.type === 'boolean') values[key] = !token.rawName.startsWith('--no-');
    else if (def.multiple) values[key] = [...((values[key] as string[] | undefined) ?? []), token.value ?? ''];
    else values[key] = token.value ?? '';
  }

  const words = [...parsed.positionals];
  for (const [key, def] of positionals) {
    const word = words.shift();
    if (word !== undefined) values[key] = word;
    else if (def.default !== undefined) values[key] = String(def.default);
    else if (def.required !== false) throw new CliError(EX.USAGE, `missing argument ${key.toUpperCase()}`);
  }
  if (words.length > 0) throw new CliError(EX.USAGE, `unexpected argument '${words[0]}'`);

  const args: Record<string, unknown> = { _: parsed.positionals };
  for (const [key, def] of Object.entries(defs)) {
    let value = values[key];
    if (value === undefined && def.type !== 'positional') value = def.multiple ? [] : (def.default as string | boolean | undefined);
    if (def.type === 'enum' && typeof value === 'string' && def.options?.length && !def.options.includes(value)) {
      throw new CliError(EX.USAGE, `invalid --${kebab(key)} '${value}': use ${def.options.join(', ')}`);
    }
    // citty's parser answers to every spelling of a key; binaries use both.
    for (const name of new Set([key, kebab(key), camel(key), ...(def.type === 'positional' ? [] : aliasesOf(def))])) args[name] = value;
  }
  return args as CliArgs<T>;
}

/** node's parser error as our one line: `unknown option '--x'`, `option '--x' needs a value`, ... */
function usageErrorFrom(error: unknown, argv: string[]): unknown {
  const { code, message } = error as NodeJS.ErrnoException;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return error;
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    // node names one letter of a group: show the word as typed (`-json`, not `-j`).
    const word = /^-[^-]$/.test(quoted) ? argv.find((w) => /^-[^-]/.test(w) && w.includes(quoted[1])) : undefined;
    return new CliError(EX.USAGE, `unknown option '${word ?? quoted}'`);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return new CliError(EX.USAGE, `unexpected argument '${quoted}'`);
  // `-A, --attr <value>`: name the long flag.
  const flag = /^(?:-., )?(\S+)/.exec(quoted)?.[1] ?? quoted;
  if (/does not take an argument/.test(message)) return new CliError(EX.USAGE, `option '${flag}' takes no value`);
  if (/ambiguous/.test(message)) {
    // The next word starts with '-': a flag, most likely; a value like that needs the = form.
    const long = /use '(--[^=']+)=/.exec(message)?.[1] ?? flag;
    return new CliError(EX.USAGE, `option '${flag}' needs a value (for one that starts with '-', write ${long}=VALUE)`);
  }
  if (/argument missing/.test(message)) return new CliError(EX.USAGE, `option '${flag}' needs a value`);
  return new CliError(EX.USAGE, message.split('\n')[0].replace(/^./, (ch) => ch.toLowerCase()));
}
