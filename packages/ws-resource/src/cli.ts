import { runCli, setWarningSink } from '@ws/core';
import { ARGS, HELP, resourceCommand } from './command.js';

// Warnings from deep code (a corrupt record being rebuilt) go to stderr with our name.
setWarningSink((message) => process.stderr.write(`ws-resource: ${message}\n`));

await runCli({
  name: 'ws-resource',
  description: 'Cached, hash-addressed resources: made once by INIT, kept while something holds them, released when nothing does.',
  args: ARGS,
  rest: 'INIT ARGS...',
  help: HELP,
  // citty keeps only the last of a repeated flag: --target is read again from the raw words.
  run: (ctx) => resourceCommand(ctx, process.argv.slice(2)),
});
