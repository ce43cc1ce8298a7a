import { colorsFor, runCli } from '@ws/core';
import { inventoryOf, renderTable, toJson } from './list.js';

await runCli({
  name: 'ws-list',
  description: 'List everything ws holds: every context with its users, services, ports, disk use and last use.',
  args: {
    json: { type: 'boolean', description: 'print one JSON document (schema in the README) instead of the table' },
    resources: { type: 'boolean', description: 'also list resources, quarantines and roots' },
  },
  help: `One row per context: NAME, STATE (ready, building, stale, degraded — ready
but a service is down —, error, blocked, unloaded; unknown if its context.json
is missing or corrupt), USERS (PID,
shell, tty of each live user), SERVICES (name, state, PID, port), PORTS
(reservations), DISK (bytes of the files in its state directory), LAST USED
and ROOT. Colored on a terminal, plain when piped or with NO_COLOR. Anything
in the state home that is not as it should be is reported on stderr.

EXAMPLES
  ws-list
  ws-list --json | jq -r '.contexts[] | select(.inUse | not) | .root'
  ws-list --resources

EXIT CODES
  0 ok (also with problems reported) · 64 bad usage · 77 unsafe state home
`,
  run({ args, env, out, err }) {
    const now = new Date();
    const resources = Boolean(args.resources);
    const inv = inventoryOf(env, resources, now);
    const c = colorsFor(process.stderr, env);
    for (const p of inv.problems) err(`${c.yellow('ws-list:')} ${p.path} ${p.message}\n`);
    if (args.json) out(`${JSON.stringify(toJson(inv, resources, now), null, 2)}\n`);
    else out(renderTable(inv, resources, now, colorsFor(process.stdout, env)));
  },
});
