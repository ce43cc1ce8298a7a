import { runCliCommands } from '@ws/core';
import { HELP, logs, restart, start, status, stop } from './command.js';

await runCliCommands({
  name: 'ws-service',
  description: 'Development servers of the current context: started detached, ready-checked, stopped when its last user leaves.',
  help: HELP,
  subCommands: { start, stop, restart, status, logs },
});
