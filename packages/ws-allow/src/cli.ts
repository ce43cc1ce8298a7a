import { CliError, EX, allowFile, colorsFor, printable, emitEvent, ensureStateHome, listTrust, runCli, trustEventSource, trustTargets } from '@ws/core';

await runCli({
  name: 'ws-allow',
  description: "Allow the current content of a workspace file (default: the current context's, with its .workspace.local).",
  args: {
    path: { type: 'positional', description: 'a workspace file, or a directory meaning its workspace file and .workspace.local', required: false },
    list: { type: 'boolean', description: 'list every allowed and denied file, and whether the allowed content still matches' },
    json: { type: 'boolean', description: 'with --list: one JSON array of {path, status, sha256}' },
  },
  help: 'Exit codes: 0 ok, 64 usage, 66 no workspace file, 77 unsafe state home.',
  run({ args, env, cwd, out, err }) {
    const home = ensureStateHome(env);
    if (args.list) {
      const rows = listTrust(home);
      if (args.json) {
        // One document, indented, like allocate_port --list --json and ws-service status --json.
        out(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const c = colorsFor(process.stdout, env);
      const paint = { allowed: c.green, changed: c.yellow, missing: c.dim, denied: c.red } as const;
      for (const row of rows) out(`${paint[row.status](row.status.padEnd(7))}  ${row.path}\n`);
      return;
    }
    if (args.json) throw new CliError(EX.USAGE, '--json needs --list');
    for (const file of trustTargets(args.path, env, cwd)) {
      allowFile(home, file);
      emitEvent(home, 'allow', trustEventSource(file, env), { path: file }, env);
      err(`ws-allow: allowed ${printable(file)}\n`);
    }
  },
});
