import { spawn } from 'node:child_process';
import { CliError, EX, colorsFor, locateBinary, runCli } from '@ws/core';
import { COMMANDS } from './commands.js';

function dispatch(name: string, args: string[]): void {
  if (!/^[\w.-]+$/.test(name)) {
    process.stderr.write(`ws: '${name}' is not a ws command. See 'ws'.\n`);
    process.exitCode = EX.USAGE;
    return;
  }
  const command = name === 'port' ? 'allocate_port' : `ws-${name}`;
  const path = locateBinary(command, process.env);
  if (!path) {
    process.stderr.write(`ws: '${name}' is not a ws command (no ${command} on PATH). See 'ws'.\n`);
    process.exitCode = EX.USAGE;
    return;
  }
  const child = spawn(path, args, { stdio: 'inherit' });
  // The child owns the terminal now; let it receive ^C and decide.
  for (const signal of ['SIGINT', 'SIGQUIT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('error', (error) => {
    process.stderr.write(`ws: cannot run ${path}: ${error.message}\n`);
    process.exitCode = EX.UNAVAILABLE;
  });
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? 128 + (signal ? ({ SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 1 : 1);
  });
}

const argv = process.argv.slice(2);
if (argv.length > 0 && !argv[0].startsWith('-')) {
  dispatch(argv[0], argv.slice(1));
} else {
  await runCli({
    name: 'ws',
    description: 'ws: a family of small tools that load per-directory environments and know who uses them.',
    help: 'Run `ws NAME ARGS...` to run `ws-NAME ARGS...`, like git.',
    run({ env, out }) {
      if (argv.length > 0) throw new CliError(EX.USAGE, 'no command given');
      const c = colorsFor(process.stdout, env);
      const width = Math.max(...COMMANDS.map(([name]) => name.length));
      out('usage: ws <command> [args...]\n\n');
      for (const [name, summary] of COMMANDS) out(`  ${c.bold(name.padEnd(width))}  ${summary}\n`);
    },
  });
}
