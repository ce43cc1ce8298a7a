import { renderUsage, runCommand, type ArgsDef, type CommandDef, type ParsedArgs } from 'citty';
import { colorsFor, stripAnsi } from './colors.js';
import { CliError, EX, exitCodeFor } from './errors.js';
import { VERSION } from './version.js';

/** What a command's run() receives: parsed flags, the words after `--`, and the process boundary. */
export interface CliContext<T extends ArgsDef> {
  args: ParsedArgs<T>;
  /** Everything after the first `--`. */
  rest: string[];
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

async function helpText<T extends ArgsDef>(spec: CliSpec<T>, command: CommandDef<T>, color: boolean): Promise<string> {
  let text = await renderUsage(command);
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
