import {
  CliError,
  EX,
  discardQuarantine,
  ensureReaper,
  ensureStateHome,
  findResource,
  holderFor,
  listResources,
  makeRoot,
  dropHolder,
  obtainResource,
  quarantinedError,
  parseFailureCode,
  releaseIfFree,
  removeRoot,
  resolveQuarantine,
  resourceInfo,
  resourcePaths,
  retryQuarantine,
  describeHolder,
  type CliContext,
  type Holder,
} from '@ws/core';
import { infoJson, quarantineTable, resourceTable, showText } from './format.js';

export const ARGS = {
  command: { type: 'positional', required: false, valueHint: 'COMMAND', description: 'list, show, release, quarantine, root, unroot, retry, resolve or discard (none: make a resource)' },
  arg: { type: 'positional', required: false, valueHint: 'HASH|PATH|NAME', description: 'what the command acts on' },
  path: { type: 'positional', required: false, valueHint: 'PATH', description: 'root: the resource the root keeps' },
  seed: { type: 'string', valueHint: 'S', description: 'one more input of the hash (a version, a checksum of other files)' },
  transient: { type: 'boolean', description: 'a new resource at every call' },
  target: { type: 'string', multiple: true, valueHint: 'NAME', description: 'INIT must create exactly these entries in $out (repeat)' },
  release: { type: 'string', valueHint: 'CMD', description: 'run (bash -c, $out set, cwd $out) before the resource is deleted' },
  failure: { type: 'string', valueHint: 'CODE', description: 'the code a failure is reported with (a whole number; default -)' },
  pid: { type: 'string', valueHint: 'PID', description: 'PID holds the resource (default: the calling shell, or the context)' },
  hold: { type: 'string', valueHint: 'WHO', description: 'context (default in a context) or shell' },
  retry: { type: 'boolean', description: 'run INIT again even though this resource is quarantined' },
  json: { type: 'boolean', description: 'list, show, quarantine: JSON' },
} as const;

export const HELP = `COMMANDS

  ws-resource [--seed S] [--transient] [--target NAME]... [--release CMD]
              [--failure CODE] [--pid PID | --hold context|shell] [--retry] -- INIT ARGS...
  ws-resource list [--json]               every resource: hash, state, holders, roots, size, age
  ws-resource show HASH|PATH [--json]     one resource: inputs, holders, log
  ws-resource release HASH|PATH           drop your hold now (released if nothing else holds it)
  ws-resource quarantine [--json]         the failed ones, with their retry/resolve/discard scripts
  ws-resource root NAME PATH              keep the resource PATH alive through roots/NAME
  ws-resource unroot NAME
  ws-resource retry|resolve|discard HASH|PATH   what a quarantine's scripts run

The first form prints the path of the resource's directory ($out) and
nothing else: export GNUPGHOME=$(ws-resource --target pubring.kbx -- ./make-gpg-home)
Its hash covers INIT and its arguments, the content of INIT (and of its first
argument) when it is a file, --seed, the targets and --release: the same
inputs give the same path at once, without running INIT again. Else INIT runs
with $out set to a fresh directory, cwd = the context root (in a context) or
the current directory, stdin /dev/null, its output to the resource's log.

The caller's shell holds the resource (--pid: that process; in a context, the
context, until it unloads; inside another resource's INIT, that resource).
When nothing holds it and no root points at it, the reaper runs its release
command and deletes it. A failed INIT, a target mismatch or a failed release
is moved to quarantine/<hash>/ and reported as
  ws-resource: failed (code CODE): <reason>; quarantine: <path>
and every identical call fails the same way until the quarantine is retried,
resolved or discarded (or a call gives --retry). See docs/resources.md.

EXAMPLES

  export GNUPGHOME=$(ws-resource --target pubring.kbx --target private-keys-v1.d -- ./make-gpg-home)
  repo=$(ws-resource --seed v2.1.0 -- git clone -q --branch v2.1.0 https://example.org/lib.git '$out/lib')
  ws-resource root gpg "$GNUPGHOME"; ws-resource unroot gpg
  ws-resource list --json | jq -r '.[] | select(.state == "quarantined") | .path'

EXIT CODES

  0 ok · 1 INIT or a release failed (quarantined), or the resource is quarantined
  64 usage (no INIT, a bad --failure, --target, --pid or root name, a root outside
  resources/) · 65 a corrupt quarantine that cannot be retried · 66 no such
  resource, root or process · 73 cannot create · 75 INIT was killed (nothing
  kept: the next call runs it again) or a lock is busy · 77 unsafe state home`;

type Args = CliContext<typeof ARGS>['args'];
const COMMANDS = ['list', 'show', 'release', 'quarantine', 'root', 'unroot', 'retry', 'resolve', 'discard'] as const;
type Command = (typeof COMMANDS)[number];

/** Which options each command takes ('' is the making of a resource). */
const ALLOWED: Record<Command | '', string[]> = {
  '': ['seed', 'transient', 'target', 'release', 'failure', 'pid', 'hold', 'retry'],
  list: ['json'],
  show: ['json'],
  release: ['pid', 'hold'],
  quarantine: ['json'],
  root: [],
  unroot: [],
  retry: ['pid', 'hold'],
  resolve: ['pid', 'hold'],
  discard: [],
};

function checkOptions(command: Command | '', args: Args, rest: string[], dashDash: boolean): void {
  for (const key of Object.keys(ARGS)) {
    if (key === 'command' || key === 'arg' || key === 'path') continue;
    const value = args[key as keyof Args];
    const given = Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false;
    if (given && !ALLOWED[command].includes(key)) {
      throw new CliError(EX.USAGE, `option '--${key}' does not apply to '${command}'`);
    }
  }
  if (command && dashDash) throw new CliError(EX.USAGE, `'--' does not go with '${command}'`);
  const wanted = command === 'root' ? 2 : ['list', 'quarantine'].includes(command) ? 0 : 1;
  const given = [args.arg, args.path].filter((a) => a !== undefined).length;
  if (command && given !== wanted) {
    const usage: Record<Command, string> = {
      list: 'list [--json]',
      quarantine: 'quarantine [--json]',
      show: 'show HASH|PATH',
      release: 'release HASH|PATH',
      root: 'root NAME PATH',
      unroot: 'unroot NAME',
      retry: 'retry HASH|PATH',
      resolve: 'resolve HASH|PATH',
      discard: 'discard HASH|PATH',
    };
    throw new CliError(EX.USAGE, `usage: ws-resource ${usage[command]}`);
  }
  if (!command && !rest.length) {
    throw new CliError(EX.USAGE, dashDash ? "no INIT after '--'" : 'nothing to do: give -- INIT ARGS..., or a command: list, show, release, quarantine, root, unroot');
  }
}

/** After a process became a holder: the reaper must be there to notice when it is gone. */
function watchHolder(home: string, env: NodeJS.ProcessEnv, holder: Holder): void {
  if (holder.kind === 'pid') ensureReaper(home, env, { wake: true });
}

/** The one command function of ws-resource. */
export async function resourceCommand(ctx: CliContext<typeof ARGS>): Promise<number | void> {
  const { args, rest, env, cwd, out, err } = ctx;
  const command = (args.command ?? '') as Command | '';
  if (command && !COMMANDS.includes(command as Command)) {
    throw new CliError(EX.USAGE, `unknown command '${command.slice(0, 40)}': ${COMMANDS.join(', ')}, or -- INIT ARGS...`);
  }
  checkOptions(command, args, rest, ctx.dashDash);
  const failure = parseFailureCode(args.failure);
  const targets = args.target ?? [];
  const home = ensureStateHome(env);
  const holder = () => holderFor({ home, env, pid: args.pid, hold: args.hold });

  switch (command) {
    case '': {
      const who = holder();
      const made = await obtainResource({ home, env, cwd, argv: rest, seed: args.seed, transient: args.transient, targets, release: args.release, failure, holder: who, retry: args.retry });
      watchHolder(home, env, who);
      out(`${made.path}\n`);
      return;
    }
    case 'list': {
      const { resources, problems } = listResources(home);
      for (const p of problems) err(`ws-resource: ${p.path} ${p.message}\n`);
      out(args.json ? `${JSON.stringify(resources.map((r) => infoJson(r, new Date())), null, 2)}\n` : resourceTable(resources, new Date()));
      return;
    }
    case 'quarantine': {
      const { resources, problems } = listResources(home);
      for (const p of problems) err(`ws-resource: ${p.path} ${p.message}\n`);
      const quarantined = resources.filter((r) => r.state === 'quarantined');
      out(args.json ? `${JSON.stringify(quarantined.map((r) => infoJson(r, new Date())), null, 2)}\n` : quarantineTable(quarantined));
      return;
    }
    case 'show': {
      const info = resourceInfo(home, findResource(home, args.arg!, cwd));
      if (!info) throw new CliError(EX.NOINPUT, `no resource ${args.arg}`);
      if (info.problem) err(`ws-resource: ${info.problem.path} ${info.problem.message}\n`);
      out(args.json ? `${JSON.stringify(infoJson(info, new Date(), true), null, 2)}\n` : showText(info));
      return;
    }
    case 'release': {
      const hash = findResource(home, args.arg!, cwd);
      const who = holder();
      dropHolder(resourcePaths(home, hash).dir, who);
      const outcome = await releaseIfFree(home, hash, { env, reason: 'released' });
      if (outcome === 'held') {
        const info = resourceInfo(home, hash);
        const by = [...(info?.holders ?? []).map((h) => (h.holder ? describeHolder(h.holder) : h.key)), ...(info?.roots ?? []).map((r) => `root ${r}`)];
        err(`ws-resource: ${describeHolder(who)} let go of ${hash}; still held by ${by.join(', ')}\n`);
      } else if (outcome === 'busy') err(`ws-resource: ${describeHolder(who)} let go of ${hash}; it is busy (being built or released): the reaper releases it when nothing holds it\n`);
      else if (outcome === 'failed') throw quarantinedError(home, hash);
      return;
    }
    case 'root': {
      makeRoot(home, args.arg!, args.path!, cwd);
      return;
    }
    case 'unroot': {
      const hash = removeRoot(home, args.arg!);
      // Nothing else may hold it now: release at once rather than at the reaper's next sweep.
      if (hash && (await releaseIfFree(home, hash, { env, reason: 'unrooted' })) === 'failed') throw quarantinedError(home, hash);
      return;
    }
    case 'retry':
    case 'resolve': {
      const hash = findResource(home, args.arg!, cwd);
      const who = holder();
      const act = command === 'retry' ? retryQuarantine : resolveQuarantine;
      const made = await act(hash, { home, env, cwd, holder: who });
      if (made) {
        watchHolder(home, env, who);
        out(`${made.path}\n`);
      } else err(`ws-resource: the release of ${hash} is done; its quarantine is gone\n`);
      return;
    }
    case 'discard': {
      const dir = await discardQuarantine(findResource(home, args.arg!, cwd), { home });
      err(`ws-resource: discarded ${dir}\n`);
      return;
    }
  }
}
