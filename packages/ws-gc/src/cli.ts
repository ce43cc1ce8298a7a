import { colorsFor, parseMaxAge, runCli } from '@ws/core';
import { collectGarbage } from './collect.js';
import { pauseHook } from './pause.js';
import { renderReport, toJson } from './report.js';

await runCli({
  name: 'ws-gc',
  description: 'Remove what ws keeps that nothing uses any more; never what a live user, a running service or a root holds.',
  args: {
    'dry-run': { type: 'boolean', description: 'remove nothing; print what would be removed' },
    json: { type: 'boolean', description: 'print the result as one JSON document' },
    'max-age': { type: 'string', valueHint: 'AGE', description: 'also remove contexts unused longer than AGE: 45s, 90m, 12h, 30d, 2w' },
  },
  help: `Removes: registrations of dead users; contexts whose root or workspace file
is gone, or unused longer than --max-age, that have no live user, no running
service, no running build, no pending unload and no root; port reservations
of removed contexts and of dead allocations outside contexts; roots whose
target is gone; the Nix GC roots of removed contexts; trust records of files
that no longer exist; events beyond WS_EVENTS_MAX; the cold path's scratch
files of shells that are gone; leftovers of killed writers. Sizes count the
bytes of regular files. Safe while other ws commands run: see
docs/state-home.md.

A root keeps its target alive; inside a loaded context:
  ln -s "$WS_STATE_DIR/.." ~/.local/state/ws/roots/shop

EXAMPLES
  ws-gc --dry-run
  ws-gc --max-age 30d
  ws-gc --json | jq .bytes

EXIT CODES
  0 ok (also with problems reported) · 64 bad usage (a bad --max-age)
  75 another ws-gc is running · 77 unsafe state home
`,
  async run({ args, env, out, err }) {
    const maxAge = args.maxAge === undefined ? undefined : parseMaxAge(String(args.maxAge));
    const result = await collectGarbage({ env, dryRun: Boolean(args.dryRun), maxAgeMs: maxAge, hooks: pauseHook(env) });
    const c = colorsFor(process.stderr, env);
    for (const p of result.problems) err(`${c.yellow('ws-gc:')} ${p.path} ${p.message}\n`);
    if (args.json) out(`${JSON.stringify(toJson(result), null, 2)}\n`);
    else out(renderReport(result, colorsFor(process.stdout, env)));
  },
});
