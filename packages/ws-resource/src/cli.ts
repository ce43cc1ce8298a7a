import { runCli } from '@ws/core';
import { ARGS, HELP, resourceCommand } from './command.js';

await runCli({
  name: 'ws-resource',
  description: 'Cached, hash-addressed resources: made once by INIT, kept while something holds them, released when nothing does.',
  args: ARGS,
  rest: 'INIT ARGS...',
  help: HELP,
  run: resourceCommand,
});
