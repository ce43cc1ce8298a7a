import { runCli } from '@ws/core';
import { ARGS, HELP, serviceCommand } from './command.js';

await runCli({
  name: 'ws-service',
  description: 'Development servers of the current context: started detached, ready-checked, stopped when its last user leaves.',
  args: ARGS,
  rest: 'CMD ARGS...',
  help: HELP,
  // citty keeps only the last of a repeated flag: --after is collected from the raw words.
  run: (ctx) => serviceCommand(ctx, process.argv.slice(2)),
});
