import { denyFile, emitEvent, ensureStateHome, runCli, trustEventSource, trustTargets } from '@ws/core';

await runCli({
  name: 'ws-deny',
  description: "Revoke a workspace file's approval and block it (default: the current context's).",
  args: {
    path: { type: 'positional', description: 'a workspace file, or a directory meaning its workspace file and .workspace.local', required: false },
  },
  help: 'Exit codes: 0 ok, 64 usage, 66 no workspace file, 77 unsafe state home.',
  run({ args, env, cwd, err }) {
    const home = ensureStateHome(env);
    for (const file of trustTargets(args.path, env, cwd)) {
      denyFile(home, file);
      emitEvent(home, 'deny', trustEventSource(file, env), { path: file }, env);
      err(`ws-deny: blocked ${file}\n`);
    }
  },
});
