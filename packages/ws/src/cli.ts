import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { CliError, EX, colorsFor, runCli } from '@ws/core';
import { COMPLETION_SHELLS, commandNamed } from './commands.js';
import { complete } from './complete.js';
import { renderCompletion } from './completion.js';
import { resolveCommand } from './dispatch.js';
import { LIST_FOOTER, USAGE_LINE, commandList } from './list.js';

/** Runs the command with ws's stdio; resolves to its exit status (128+N for a signal). */
function run(path: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(path, args, { stdio: 'inherit' });
    // The child owns the terminal now; let it receive ^C and decide.
    for (const signal of ['SIGINT', 'SIGQUIT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
    child.on('error', (error) => {
      process.stderr.write(`ws: cannot run ${path}: ${error.message}\n`);
      resolve(EX.UNAVAILABLE);
    });
    child.on('exit', (code, signal) => {
      resolve(code ?? 128 + (signal ? ({ SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 1 : 1));
    });
  });
}

const self = () => {
  try {
    return realpathSync(process.argv[1]!);
  } catch {
    return process.argv[1]!;
  }
};

const argv = process.argv.slice(2);
const word = argv[0];
// `ws NAME ARGS...`: the arguments are NAME's, not ws's.
const passThrough = word !== undefined && !word.startsWith('-') && word !== 'help' && word !== 'completion';

await runCli(
  {
    name: 'ws',
    description: 'ws: a family of small tools that load per-directory environments and know who uses them.',
    args: {
      command: { type: 'positional', description: 'a command (below), help or completion', required: false },
      topic: { type: 'positional', description: 'after help: a command; after completion: bash, zsh or fish', required: false },
    },
    help: `COMMANDS\n\n${commandList()}${LIST_FOOTER}`,
    async run({ args, env, cwd, out }) {
      if (passThrough) {
        if (word === '__complete') {
          // What a TAB offers (completion.bash|zsh|fish): `words` and the candidates, or `files`.
          const candidates = complete({ words: argv.slice(1), env, cwd });
          out(candidates.kind === 'files' ? 'files\n' : `words\n${candidates.words.map((w) => `${w}\n`).join('')}`);
          return;
        }
        return run(resolveCommand(word!, env), [...(commandNamed(word!)?.prefix ?? []), ...argv.slice(1)]);
      }
      const c = colorsFor(process.stdout, env);
      if (args.command === undefined || (args.command === 'help' && (args.topic === undefined || args.topic === 'help'))) {
        out(`${USAGE_LINE}\n${commandList(c.bold)}${LIST_FOOTER}`);
        return;
      }
      if (args.command === 'help') {
        if (args.topic !== 'completion') return run(resolveCommand(args.topic!, env), [...(commandNamed(args.topic!)?.prefix ?? []), '--help']);
        out('usage: ws completion bash|zsh|fish\n');
        return;
      }
      if (!args.topic || !(COMPLETION_SHELLS as readonly string[]).includes(args.topic)) throw new CliError(EX.USAGE, 'completion needs a shell: bash, zsh or fish');
      out(renderCompletion(args.topic as (typeof COMPLETION_SHELLS)[number], self()));
    },
  },
  passThrough ? [] : argv,
);
