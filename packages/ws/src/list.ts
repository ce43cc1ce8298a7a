import { BUILTINS, COMMANDS } from './commands.js';

/**
 * The command list `ws`, `ws help` and `ws --help` print: one line each,
 * `ws NAME` and what it does; `bold` marks the names on a terminal.
 */
export function commandList(bold: (text: string) => string = (t) => t): string {
  const all = [...COMMANDS, ...BUILTINS];
  const width = Math.max(...all.map((c) => c.name.length));
  return all.map((c) => `  ${bold(c.name.padEnd(width))}  ${c.summary}\n`).join('');
}

export const USAGE_LINE = 'usage: ws <command> [args...]\n';

export const LIST_FOOTER = `
'ws NAME ARGS...' runs ws-NAME (port: allocate_port) with ARGS, like git;
'ws help NAME' is 'ws-NAME --help'. Any ws-NAME program on PATH is a command too.
`;
