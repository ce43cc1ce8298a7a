import { parseArgs, type ParseArgsConfig } from 'node:util';
import { renderUsage, runCommand, type ArgsDef, type CommandDef, type ParsedArgs } from 'citty';
import { colorsFor, stripAnsi } from './colors.js';
import { CliError, EX, exitCodeFor } from './errors.js';
import { VERSION } from './version.js';

/** What a command's run() receives: parsed flags, the words after `--`, and the process boundary. */
export interface CliContext<T extends ArgsDef> {
  args: ParsedArgs<T>;
  /** Everything after the first `--`. */
  rest: string[];
  /** The command's own words: before `--`, after a subcommand's name (for {@link flagValues}). */
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Writes data to stdout. */
  out: (text: string) => void;
  /** Writes a message to stderr. */
  err: (text: string) => void;
}

export interface CliSpec<T extends ArgsDef> {
  name: string;
  description: string;
  args?: T;
  /** Usage of the words after `--`, e.g. `CMD ARGS...`; undefined rejects `--`. */
  rest?: string;
  /** Extra help text (examples, exit codes) printed after the options. */
  help?: string;
  /** Returns the exit code (default 0). */
  run: (ctx: CliContext<T>) => number | void | Promise<number | void>;
}

/**
 * The one entry point of every binary: parses argv with citty, rejects
 * unknown flags, handles --help/--version, and turns any error into one
 * stderr line and a sysexits code. Never calls process.exit (it can cut
 * piped stdout short); sets process.exitCode instead.
 */
export async function runCli<T extends ArgsDef>(spec: CliSpec<T>, argv = process.argv.slice(2)): Promise<void> {
  const env = process.env;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // A reader that went away (`| head`) is a normal end, not an error.
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const dashDash = argv.indexOf('--');
  const own = dashDash === -1 ? argv : argv.slice(0, dashDash);
  const rest = dashDash === -1 ? [] : argv.slice(dashDash + 1);
  const command: CommandDef<T> = {
    meta: { name: spec.name, version: VERSION, description: spec.description },
    args: spec.args,
  };
  try {
    if (own.includes('--help') || own.includes('-h')) {
      process.stdout.write(await helpText(spec, command, colorsFor(process.stdout, env).isColorSupported));
      return;
    }
    if (own.includes('--version') || own.includes('-V')) {
      process.stdout.write(`${spec.name} ${VERSION}\n`);
      return;
    }
    if (dashDash !== -1 && spec.rest === undefined) throw new CliError(EX.USAGE, "unexpected '--'");
    checkArgv(own, spec.args ?? ({} as T));
    let code: number | void = 0;
    await runCommand(
      {
        ...command,
        run: async ({ args }) => {
          code = await spec.run({
            args: args as ParsedArgs<T>,
            rest,
            argv: own,
            env,
            cwd: process.cwd(),
            out: (text) => process.stdout.write(text),
            err: (text) => process.stderr.write(text),
          });
        },
      },
      { rawArgs: own },
    );
    process.exitCode = code ?? 0;
  } catch (error) {
    reportError(spec.name, error, env);
  }
}

function reportError(name: string, error: unknown, env: NodeJS.ProcessEnv): void {
  const isUsage = (error as Error)?.name === 'CLIError';
  const code = isUsage ? EX.USAGE : exitCodeFor(error);
  const message = stripAnsi((error as Error)?.message ?? String(error)).split('\n')[0];
  const c = colorsFor(process.stderr, env);
  process.stderr.write(`${c.red(`${name}:`)} ${message}\n`);
  if (env.WS_DEBUG === '1' && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exitCode = code;
}

async function helpText(spec: { rest?: string; help?: string }, command: CommandDef<any>, color: boolean, parent?: CommandDef<any>): Promise<string> {
  let text = await renderUsage(command, parent);
  if (spec.rest !== undefined) text = text.replace(/^(.*USAGE.*?)(\x1b\[39m)?$/m, `$1 [-- ${spec.rest}]$2`);
  if (spec.help) text += `\n${spec.help.trimEnd()}\n`;
  return `${color ? text : stripAnsi(text)}\n`;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);

/**
 * citty accepts unknown flags silently; a typo must not pass as a value.
 * Also rejects surplus positionals and a missing value after a string flag.
 */
export function checkArgv(argv: string[], defs: ArgsDef): void {
  const flags = new Map<string, ArgsDef[string]>();
  let positionals = 0;
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === 'positional') {
      positionals++;
      continue;
    }
    flags.set(name, def);
    flags.set(kebab(name), def);
    const aliases = 'alias' in def && def.alias ? [def.alias].flat() : [];
    for (const alias of aliases) flags.set(alias, def);
  }
  let seenPositionals = 0;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (!word.startsWith('-') || word === '-') {
      if (++seenPositionals > positionals) throw new CliError(EX.USAGE, `unexpected argument '${word}'`);
      continue;
    }
    const body = word.replace(/^--?/, '');
    const [name, inline] = body.includes('=') ? [body.slice(0, body.indexOf('=')), body.slice(body.indexOf('=') + 1)] : [body, undefined];
    let def = flags.get(name);
    if (!def && name.startsWith('no-') && flags.get(name.slice(3))?.type === 'boolean') def = flags.get(name.slice(3));
    if (!def || (word.startsWith('--') === false && name.length !== 1)) throw new CliError(EX.USAGE, `unknown option '${word.split('=')[0]}'`);
    if (def.type === 'boolean') {
      if (inline !== undefined) throw new CliError(EX.USAGE, `option '--${name}' takes no value`);
    } else if (inline === undefined) {
      if (i + 1 >= argv.length) throw new CliError(EX.USAGE, `option '${word}' needs a value`);
      i++;
    }
  }
}

/** One subcommand (`ws-service start`): its own flags, words after `--`, help and run. */
export type CliSubCommand<T extends ArgsDef = ArgsDef> = Omit<CliSpec<T>, 'name'>;

/** A command made of subcommands: `NAME SUBCOMMAND [OPTIONS] [-- REST]`. */
export interface CliCommandsSpec {
  name: string;
  description: string;
  /** Extra help text printed after the list of commands. */
  help?: string;
  subCommands: Record<string, CliSubCommand<any>>;
}

/**
 * runCli for a command of subcommands, dispatched by citty's `subCommands`.
 * The first word names the subcommand (missing or unknown: a usage error
 * listing them); each is checked like a command of its own (unknown flags,
 * `--` only where it has `rest`; a flag of another subcommand "does not
 * apply"); `--help` anywhere shows the subcommand's help if one is named,
 * else the command's. Errors take runCli's one path.
 */
export async function runCliCommands(spec: CliCommandsSpec, argv = process.argv.slice(2)): Promise<void> {
  const env = process.env;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const dashDash = argv.indexOf('--');
  const own = dashDash === -1 ? argv : argv.slice(0, dashDash);
  const rest = dashDash === -1 ? [] : argv.slice(dashDash + 1);
  const names = Object.keys(spec.subCommands);
  let code: number | void = 0;
  const subCommands: Record<string, CommandDef<ArgsDef>> = {};
  for (const [name, sub] of Object.entries(spec.subCommands)) {
    subCommands[name] = {
      meta: { name, description: sub.description },
      args: sub.args,
      run: async ({ args, rawArgs }) => {
        code = await sub.run({
          args,
          rest,
          argv: rawArgs,
          env,
          cwd: process.cwd(),
          out: (text) => process.stdout.write(text),
          err: (text) => process.stderr.write(text),
        });
      },
    };
  }
  const command: CommandDef<ArgsDef> = { meta: { name: spec.name, version: VERSION, description: spec.description }, subCommands };
  try {
    const at = own.findIndex((word) => !word.startsWith('-') || word === '-');
    const name = at === -1 ? undefined : own[at];
    const sub = name !== undefined && Object.hasOwn(spec.subCommands, name) ? spec.subCommands[name] : undefined;
    if (own.includes('--help') || own.includes('-h')) {
      const color = colorsFor(process.stdout, env).isColorSupported;
      process.stdout.write(sub ? await helpText(sub, subCommands[name!], color, command) : await helpText(spec, command, color));
      return;
    }
    if (own.includes('--version') || own.includes('-V')) {
      process.stdout.write(`${spec.name} ${VERSION}\n`);
      return;
    }
    checkArgv(at === -1 ? own : own.slice(0, at), {});
    const list = `${names.slice(0, -1).join(', ')}${names.length > 1 ? ' or ' : ''}${names.at(-1) ?? ''}`;
    if (name === undefined) throw new CliError(EX.USAGE, `missing command: ${list}`);
    if (!sub) throw new CliError(EX.USAGE, `unknown command '${name.slice(0, 40)}': ${list}`);
    if (dashDash !== -1 && sub.rest === undefined) {
      const takers = names.filter((n) => spec.subCommands[n].rest !== undefined).map((n) => `'${n}'`);
      throw new CliError(EX.USAGE, takers.length ? `'--' only goes with ${takers.join(', ')}` : "unexpected '--'");
    }
    const words = own.slice(at + 1);
    checkApplies(words, name!, spec.subCommands);
    checkArgv(words, sub.args ?? {});
    await runCommand(command, { rawArgs: own.slice(at) });
    process.exitCode = code ?? 0;
  } catch (error) {
    reportError(spec.name, error, env);
  }
}

type ParseOptions = NonNullable<ParseArgsConfig['options']>;

/** citty flag definitions as node:util parseArgs options (positionals left out). */
function parseOptions(defs: ArgsDef, multiple: readonly string[] = []): ParseOptions {
  const options: ParseOptions = {};
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === 'positional') continue;
    const short = ('alias' in def && def.alias ? [def.alias].flat() : []).find((a) => a.length === 1);
    const option = { type: def.type === 'boolean' ? ('boolean' as const) : ('string' as const), ...(short ? { short } : {}), ...(multiple.includes(name) ? { multiple: true } : {}) };
    options[name] = option;
    if (kebab(name) !== name) options[kebab(name)] = option;
  }
  return options;
}

/** A flag that another subcommand has and this one has not is "does not apply", not "unknown". */
function checkApplies(words: string[], name: string, subs: Record<string, CliSubCommand<ArgsDef>>): void {
  const mine = parseOptions(subs[name].args ?? {});
  const others: ParseOptions = {};
  for (const [other, sub] of Object.entries(subs)) if (other !== name) Object.assign(others, parseOptions(sub.args ?? {}));
  const { tokens } = parseArgs({ args: words, options: { ...others, ...mine }, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option' && !(token.name in mine) && token.name in others) {
      throw new CliError(EX.USAGE, `option '--${token.name}' does not apply to '${name}'`);
    }
  }
}

/**
 * Every value of repeatable flags (`--after a --after=b`; citty keeps only
 * the last), read with node:util parseArgs, strict, from a command's own
 * words (CliContext.argv) and its flag definitions. A value that starts
 * with `-` must be written `--flag=VALUE`.
 */
export function flagValues(argv: string[], defs: ArgsDef, names: readonly string[]): Record<string, string[]> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: parseOptions(defs, names), strict: true, allowPositionals: true }));
  } catch (error) {
    const line = (error as Error).message.split('\n')[0].replace(/\.$/, '');
    const message = line.charAt(0).toLowerCase() + line.slice(1);
    const ambiguous = (error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE';
    throw new CliError(EX.USAGE, ambiguous ? `${message}: write a value that starts with '-' as --FLAG=VALUE` : message);
  }
  return Object.fromEntries(names.map((name) => [name, (values[name] as string[] | undefined) ?? []]));
}
