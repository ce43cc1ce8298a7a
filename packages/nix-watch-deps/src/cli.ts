import { resolve } from 'node:path';
import { CliError, EX, runCli, writeFileAtomic } from '@ws/core';
import wrapper from './logged-evaluation.nix';
import { formatList } from './paths.js';
import { resolveTarget } from './target.js';
import { watchDeps } from './watch-deps.js';

/** --drv-out: a path the user gave; a directory missing there is theirs to fix (73), not a bug. */
function writeDrvOut(path: string, drvs: string[]): void {
  try {
    writeFileAtomic(path, drvs.map((drv) => `${drv}\n`).join(''), 0o644);
  } catch (error) {
    throw new CliError(EX.CANTCREAT, `cannot write --drv-out ${path}: ${(error as Error).message}`);
  }
}

await runCli({
  name: 'nix-watch-deps',
  description: 'Evaluate a Nix file or flake with the real Nix and print every file outside the store that it read.',
  args: {
    file: { type: 'positional', required: false, valueHint: 'FILE', description: 'Nix file or directory (default: shell.nix, else default.nix)' },
    flake: { type: 'string', valueHint: 'REF', description: 'evaluate a flake instead (REF#ATTR picks the attribute)' },
    attr: { type: 'string', alias: 'A', valueHint: 'A', description: 'the attribute to instantiate' },
    null: { type: 'boolean', alias: '0', description: 'end each path with NUL instead of a newline' },
    json: { type: 'boolean', description: 'print {"files","drvs","roots"} as JSON' },
    'gc-root': { type: 'string', valueHint: 'DIR', description: 'pin the .drv and its built outputs as GC roots in DIR' },
    'drv-out': { type: 'string', valueHint: 'FILE', description: 'write the instantiated .drv path(s) to FILE' },
  },
  help: `Examples:
  nix-watch-deps                          # shell.nix (else default.nix) here
  nix-watch-deps -0 default.nix -A dev | xargs -0 ls -l
  nix-watch-deps --flake . --gc-root .ws/gcroots --drv-out .ws/drv

Every Nix command gets --option sandbox false --option substituters ''.

Exit codes: 0 ok, 64 usage, 65 the evaluation failed (Nix's message is
printed), 66 no such file / no shell.nix, 69 nix is not installed,
73 cannot write --drv-out or create --gc-root.`,
  async run({ args, cwd, env, out, err }) {
    const target = resolveTarget({ file: args.file, flake: args.flake, attr: args.attr, cwd });
    const gcRoot = args['gc-root'] ? resolve(cwd, args['gc-root']) : undefined;
    const result = await watchDeps({ target, wrapper, gcRoot, env, err });
    if (args['drv-out']) writeDrvOut(resolve(cwd, args['drv-out']), result.drvs);
    out(args.json ? `${JSON.stringify(result)}\n` : formatList(result.files, args.null));
  },
});
