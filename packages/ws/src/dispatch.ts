import { CliError, EX, locateBinary } from '@ws/core';
import { commandNamed } from './commands.js';
import { commandNames, didYouMean } from './names.js';

/** The program `ws NAME` runs: ws's own command's binary, else `ws-NAME` beside ws or on PATH. */
export function resolveCommand(name: string, env: NodeJS.ProcessEnv): string {
  if (!/^[\w.-]+$/.test(name)) throw new CliError(EX.USAGE, `'${name.slice(0, 60)}' is not a ws command. See 'ws help'.`);
  const program = commandNamed(name)?.binary ?? `ws-${name}`;
  const path = locateBinary(program, env);
  if (path) return path;
  const suggestion = didYouMean(name, commandNames(env));
  if (suggestion) throw new CliError(EX.USAGE, `'${name}' is not a ws command. ${suggestion}`);
  throw new CliError(EX.USAGE, `'${name}' is not a ws command (no ${program} on PATH). See 'ws help'.`);
}
