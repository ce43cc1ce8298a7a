import { runCli } from '@ws/core';
import { ARGS, HELP, resourceCommand } from './command.js';

await runCli({
  name: 'ws-resource',
  description: 'Cached, hash-addressed resources: made once by INIT, kept while something holds them, released when nothing does.',
  args: ARGS,
  rest: 'INIT ARGS...',
  help: HELP,
  // citty keeps only the last of a repeated flag: --target is read again from the raw words.
  run: (ctx) => resourceCommand(ctx, process.argv.slice(2)),
});
