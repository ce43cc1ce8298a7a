import { parseArgs, type ParseArgsConfig } from 'node:util';
import { renderUsage, type CommandDef } from 'citty';
import { colorsFor, stripAnsi } from './colors.js';
import { printable } from './display.js';
import { CliError, EX, describeError } from './errors.js';
import { parseArgv, type CliArgs, type CliArgsDef } from './parse-argv.js';
import { VERSION } from './version.js';
import { setWarningSink } from './warnings.js';
import { environWithBytes } from '../env/bytes.js';

/** What a command's run() receives: parsed flags, the words after `--`, and the process boundary. */
export interface CliContext<T extends CliArgsDef> {
  args: CliArgs<T>;
  /** Everything after the first `--`. */
  rest: string[];
  /** Whether the command line had a `--` (`rest` may still be empty). */
  dashDash: boolean;
  env: NodeJS.ProcessEnv;
  /** The working directory, read when first used: a removed one is a usage problem (66), not a crash. */
  cwd: string;
  /** Writes data to stdout. */
  out: (text: string) => void;
  /** Writes a message to stderr. */
  err: (text: string) => void;
}

export interface CliSpec<T extends CliArgsDef> {
  name: string;
  /** What warnings from deep code start with (default: `name`), as `<prefix>: warning: …`. */
  warningPrefix?: string;
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
 * The one entry point of every binary: parses argv (parseArgv: node's strict
 * parser over the citty definitions), handles --help (rendered by citty) and
 * --version, installs the warning sink, and is the single catch that turns
 * any error into its stderr lines and a sysexits code. Never calls
 * process.exit (it can cut piped stdout short); sets process.exitCode instead.
 */
export async function runCli<T extends CliArgsDef>(spec: CliSpec<T>, argv = process.argv.slice(2)): Promise<void> {
  // Values with bytes that are not UTF-8 as they are (bytes.ts), not U+FFFD.
  const env = environWithBytes(process.env);
  watchStdout();
  const warnColor = colorsFor(process.stderr, env);
  setWarningSink((message) => process.stderr.write(`${warnColor.yellow(`${spec.warningPrefix ?? spec.name}:`)} warning: ${shown(message)}\n`));
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
    const code = await spec.run(contextFor(parseArgv(spec.args ?? ({} as T), own), rest, dashDash !== -1, env));
    process.exitCode = code ?? 0;
  } catch (error) {
    reportError(spec.name, error, env);
  }
}

/** What a command's run() gets: its parsed words and the process boundary. */
function contextFor<T extends CliArgsDef>(args: CliArgs<T>, rest: string[], dashDash: boolean, env: NodeJS.ProcessEnv): CliContext<T> {
  return {
    args,
    rest,
    dashDash,
    env,
    // Read when a command asks: one that needs no directory runs even in a removed one.
    get cwd() {
      return currentDir();
    },
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  };
}

/** The working directory; one that was removed under the shell is the user's situation (66), not a bug. */
function currentDir(): string {
  try {
    return process.cwd();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new CliError(EX.NOINPUT, 'the current directory no longer exists');
  }
}

let watchingStdout = false;

function watchStdout(): void {
  if (watchingStdout) return;
  watchingStdout = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // A reader that went away (`| head`) is a normal end, not an error.
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

/** A message for a person: each line's control characters made visible (a name or path may hold any byte). */
const shown = (text: string) => text.split('\n').map(printable).join('\n');

/** `<command>: <message>`, the hint on the next line, the stack with WS_DEBUG=1; sets the exit code. */
function reportError(name: string, error: unknown, env: NodeJS.ProcessEnv): void {
  const { code, message, hint, stack } = describeError(error, env.WS_DEBUG === '1');
  const c = colorsFor(process.stderr, env);
  process.stderr.write(`${c.red(`${name}:`)} ${shown(message)}\n`);
  if (hint) process.stderr.write(`${shown(hint)}\n`);
  if (stack) process.stderr.write(`${stack}\n`);
  process.exitCode = code;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- citty's CommandDef is invariant in its args
async function helpText(spec: { rest?: string; help?: string }, command: CommandDef<any>, color: boolean, parent?: CommandDef<any>): Promise<string> {
  let text = await renderUsage(command, parent);
  if (spec.rest !== undefined) text = text.replace(/^(.*USAGE.*?)(\x1b\[39m)?$/m, `$1 [-- ${spec.rest}]$2`);
  if (spec.help) text += `\n${spec.help.trimEnd()}\n`;
  return `${color ? text : stripAnsi(text)}\n`;
}

/** One subcommand (`ws-service start`): its own flags, words after `--`, help and run. */
export type CliSubCommand<T extends CliArgsDef = CliArgsDef> = Omit<CliSpec<T>, 'name' | 'warningPrefix'>;

/** A command made of subcommands: `NAME SUBCOMMAND [OPTIONS] [-- REST]`. */
export interface CliCommandsSpec {
  name: string;
  description: string;
  /** Extra help text printed after the list of commands. */
  help?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each subcommand has its own flags
  subCommands: Record<string, CliSubCommand<any>>;
}

/**
 * runCli for a command of subcommands. The first word names the subcommand
 * (missing or unknown: a usage error listing them); each is parsed like a
 * command of its own (parseArgv; `--` only where it has `rest`; a flag of
 * another subcommand "does not apply"); `--help` shows the subcommand's help
 * if one is named (citty renders it, as `subCommands`), else the command's.
 * Errors take runCli's one path.
 */
export async function runCliCommands(spec: CliCommandsSpec, argv = process.argv.slice(2)): Promise<void> {
  // Values with bytes that are not UTF-8 as they are (bytes.ts), not U+FFFD.
  const env = environWithBytes(process.env);
  watchStdout();
  const warnColor = colorsFor(process.stderr, env);
  setWarningSink((message) => process.stderr.write(`${warnColor.yellow(`${spec.name}:`)} warning: ${shown(message)}\n`));
  const dashDash = argv.indexOf('--');
  const own = dashDash === -1 ? argv : argv.slice(0, dashDash);
  const rest = dashDash === -1 ? [] : argv.slice(dashDash + 1);
  const names = Object.keys(spec.subCommands);
  const subDefs: Record<string, CommandDef<CliArgsDef>> = {};
  for (const [name, sub] of Object.entries(spec.subCommands)) subDefs[name] = { meta: { name, description: sub.description }, args: sub.args };
  const command: CommandDef<CliArgsDef> = { meta: { name: spec.name, version: VERSION, description: spec.description }, subCommands: subDefs };
  try {
    const at = own.findIndex((word) => !word.startsWith('-') || word === '-');
    const name = at === -1 ? undefined : own[at];
    const sub = name !== undefined && Object.hasOwn(spec.subCommands, name) ? spec.subCommands[name] : undefined;
    if (own.includes('--help') || own.includes('-h')) {
      const color = colorsFor(process.stdout, env).isColorSupported;
      process.stdout.write(sub ? await helpText(sub, subDefs[name!], color, command) : await helpText(spec, command, color));
      return;
    }
    if (own.includes('--version') || own.includes('-V')) {
      process.stdout.write(`${spec.name} ${VERSION}\n`);
      return;
    }
    // Nothing may come before the subcommand's name.
    parseArgv({}, at === -1 ? own : own.slice(0, at));
    const list = `${names.slice(0, -1).join(', ')}${names.length > 1 ? ' or ' : ''}${names.at(-1) ?? ''}`;
    if (name === undefined) throw new CliError(EX.USAGE, `missing command: ${list}`);
    if (!sub) throw new CliError(EX.USAGE, `unknown command '${name.slice(0, 40)}': ${list}`);
    if (dashDash !== -1 && sub.rest === undefined) {
      const takers = names.filter((n) => spec.subCommands[n].rest !== undefined).map((n) => `'${n}'`);
      throw new CliError(EX.USAGE, takers.length ? `'--' only goes with ${takers.join(', ')}` : "unexpected '--'");
    }
    const words = own.slice(at + 1);
    checkApplies(words, name!, spec.subCommands);
    const code = await sub.run(contextFor(parseArgv(sub.args ?? {}, words), rest, dashDash !== -1, env));
    process.exitCode = code ?? 0;
  } catch (error) {
    reportError(spec.name, error, env);
  }
}

type ParseOptions = NonNullable<ParseArgsConfig['options']>;

/** The flags of a definition as node:util parseArgs options, for telling "not mine" from "unknown". */
function flagOptions(defs: CliArgsDef): ParseOptions {
  const options: ParseOptions = {};
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === 'positional') continue;
    const short = ('alias' in def && def.alias ? [def.alias].flat() : []).find((a) => a.length === 1);
    options[name.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)] = { type: def.type === 'boolean' ? 'boolean' : 'string', ...(short ? { short } : {}) };
  }
  return options;
}

/** A flag that another subcommand has and this one has not is "does not apply", not "unknown". */
function checkApplies(words: string[], name: string, subs: Record<string, CliSubCommand<CliArgsDef>>): void {
  const mine = flagOptions(subs[name].args ?? {});
  const others: ParseOptions = {};
  for (const [other, sub] of Object.entries(subs)) if (other !== name) Object.assign(others, flagOptions(sub.args ?? {}));
  const { tokens } = parseArgs({ args: words, options: { ...others, ...mine }, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option' && !(token.name in mine) && token.name in others) {
      throw new CliError(EX.USAGE, `option '--${token.name}' does not apply to '${name}'`);
    }
  }
}
