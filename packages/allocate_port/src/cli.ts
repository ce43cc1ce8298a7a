import { runCli } from '@ws/core';
import { HELP, allocatePortCommand } from './command.js';

await runCli({
  name: 'allocate_port',
  description: 'Print a free port and a newline; inside a context the port is reserved for (context, key) and sticky.',
  args: {
    preferred: { type: 'positional', required: false, valueHint: 'PREFERRED', description: 'Port to return if free (with --release: the KEY to release)' },
    tcp: { type: 'boolean', description: 'A TCP port (the default)' },
    udp: { type: 'boolean', description: 'A UDP port' },
    key: { type: 'string', valueHint: 'NAME', description: 'Reservation key in the context (default <proto>-<PREFERRED>, or <proto>)' },
    range: { type: 'string', valueHint: 'LO-HI', description: 'Only a port from LO to HI (inclusive)' },
    release: { type: 'boolean', description: "Release the context's reservation of KEY (every one without KEY)" },
    list: { type: 'boolean', description: 'List every reservation in the state home' },
    json: { type: 'boolean', description: 'With --list: one JSON array' },
  },
  help: HELP,
  run: allocatePortCommand,
});
