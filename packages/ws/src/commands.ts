/** What the words after a command (or a flag) complete to. */
export type ArgKind = 'files' | 'shells' | 'services' | 'contexts' | 'event-types' | 'none';

export interface Completion {
  /** Every flag, long and short, as typed (`--json`, `-f`). `--help` and `--version` are added for all. */
  flags?: readonly string[];
  /** Flags that take a value, and what the value completes to. */
  values?: Readonly<Record<string, ArgKind>>;
  /** What a word that is not a flag completes to (default: files). */
  args?: ArgKind;
  /** First words that pick a subcommand (or a mode), each with its own completion. */
  subcommands?: Readonly<Record<string, Completion>>;
}

export interface Command extends Completion {
  /** `ws NAME` */
  name: string;
  /** The program it runs. */
  binary: string;
  /** Words put before the user's arguments (`ws envs` is `ws-export envs`). */
  prefix?: readonly string[];
  summary: string;
}

const SHELLS_WORDS = ['bash', 'zsh', 'fish', 'nu'] as const;
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;

const exportFlags: Completion = { flags: ['--pid', '--env', '--live'], values: { '--pid': 'none', '--env': 'none' }, args: 'none' };
const resourceFlags = ['--seed', '--transient', '--target', '--release', '--failure', '--pid', '--hold', '--retry', '--json'];
const resourceValues = { '--seed': 'none', '--target': 'none', '--release': 'none', '--failure': 'none', '--pid': 'none', '--hold': 'none' } as const;
const resource = (args: ArgKind): Completion => ({ flags: resourceFlags, values: resourceValues, args });

/**
 * Every ws command, in the order `ws` lists them, with what completes after
 * it (test-bats/ws.bats checks each flag list against the command's --help).
 */
export const COMMANDS: readonly Command[] = [
  {
    name: 'export',
    binary: 'ws-export',
    summary: 'load and unload the context of the current directory (the shell hook)',
    ...exportFlags,
    flags: [...exportFlags.flags!, '--json', '--bytes', '--out', '--build', '--interrupted'],
    subcommands: {
      ...Object.fromEntries(SHELLS_WORDS.map((shell) => [shell, exportFlags])),
      json: { ...exportFlags, flags: [...exportFlags.flags!, '--bytes'] },
      hook: { args: 'shells' },
      log: { flags: ['--follow', '-f'], args: 'none' },
      reload: { args: 'none' },
      cancel: { args: 'none' },
      envs: { flags: ['--json'], args: 'files' },
      // The cold path's bookkeeping (docs/hook.md), run by the hook's script.
      adopt: { flags: ['--pid', '--build', '--out'], values: { '--pid': 'none', '--build': 'none', '--out': 'files' }, args: 'shells' },
    },
  },
  {
    name: 'envs',
    binary: 'ws-export',
    prefix: ['envs'],
    summary: "the named environments of the context's env_file, aliases resolved",
    flags: ['--json'],
    args: 'files',
  },
  { name: 'allow', binary: 'ws-allow', summary: 'allow the current content of a workspace file', flags: ['--list', '--json'] },
  { name: 'deny', binary: 'ws-deny', summary: 'revoke and block a workspace file' },
  { name: 'edit', binary: 'ws-edit', summary: 'edit a workspace file and allow what was saved' },
  { name: 'on-unload', binary: 'ws-on-unload', summary: 'register what runs when the last user leaves', flags: ['--list', '--json', '--remove', '--run-now'] },
  {
    name: 'exec',
    binary: 'ws-exec',
    summary: "run one command with a directory's context loaded",
    flags: ['--env'],
    values: { '--env': 'none' },
    args: 'files',
  },
  {
    name: 'shell',
    binary: 'ws-shell',
    summary: 'an interactive shell with a context loaded, no rc file edited',
    flags: ['--shell', '--env'],
    values: { '--shell': 'shells', '--env': 'none' },
    args: 'files',
  },
  { name: 'reaper', binary: 'ws-reaper', summary: 'the tiny PID reaper that runs unloads', flags: ['--foreground', '--once', '--node', '--worker'], args: 'none' },
  {
    name: 'port',
    binary: 'allocate_port',
    summary: 'print a free port, reserved for the context (allocate_port)',
    flags: ['--tcp', '--udp', '--key', '--range', '--release', '--list', '--json'],
    values: { '--key': 'none', '--range': 'none' },
    args: 'none',
  },
  {
    name: 'service',
    binary: 'ws-service',
    summary: 'development servers that live as long as their users',
    args: 'none',
    subcommands: {
      start: {
        flags: ['--ready-port', '--ready-cmd', '--ready-timeout', '--after', '--restart', '--stop-timeout'],
        values: { '--ready-port': 'none', '--ready-cmd': 'none', '--ready-timeout': 'none', '--after': 'services', '--restart': 'none', '--stop-timeout': 'none' },
        args: 'none',
      },
      stop: { flags: ['--all'], args: 'services' },
      restart: { args: 'services' },
      status: { flags: ['--json'], args: 'services' },
      logs: { flags: ['--follow', '-f', '--lines', '-n'], values: { '--lines': 'none', '-n': 'none' }, args: 'services' },
    },
  },
  {
    name: 'resource',
    binary: 'ws-resource',
    summary: 'cached, hash-addressed resources, released when nobody holds them',
    ...resource('none'),
    subcommands: Object.fromEntries(['list', 'show', 'release', 'quarantine', 'root', 'unroot', 'retry', 'resolve', 'discard'].map((sub) => [sub, resource(sub === 'root' || sub === 'list' || sub === 'quarantine' || sub === 'unroot' ? 'none' : 'files')])),
  },
  {
    name: 'prompt',
    binary: 'ws-prompt',
    summary: 'a prompt segment: context name and state',
    flags: ['--glyphs', '--shell', '--json'],
    values: { '--glyphs': 'none', '--shell': 'none' },
    args: 'none',
    subcommands: { init: { flags: ['--glyphs'], values: { '--glyphs': 'none' }, args: 'shells' } },
  },
  {
    name: 'on-event',
    binary: 'ws-on-event',
    summary: 'follow the event stream, run a command per event',
    flags: ['--type', '--context', '--snapshot', '--once', '--since'],
    values: { '--type': 'event-types', '--context': 'contexts', '--since': 'none' },
    args: 'none',
  },
  {
    name: 'nix-watch-deps',
    binary: 'nix-watch-deps',
    summary: 'list the files a Nix evaluation read',
    flags: ['--flake', '--attr', '-A', '--null', '-0', '--json', '--gc-root', '--drv-out'],
    values: { '--flake': 'files', '--attr': 'none', '-A': 'none', '--gc-root': 'files', '--drv-out': 'files' },
  },
  { name: 'list', binary: 'ws-list', summary: 'everything ws holds: contexts, users, services, ports', flags: ['--json', '--resources'], args: 'none' },
  { name: 'gc', binary: 'ws-gc', summary: 'remove what nothing uses any more', flags: ['--dry-run', '--json', '--max-age'], values: { '--max-age': 'none' }, args: 'none' },
];

/** ws's own words, listed after the commands. */
export const BUILTINS: readonly Command[] = [
  { name: 'help', binary: '', summary: "list the commands; 'ws help NAME' shows NAME's --help", args: 'none' },
  { name: 'completion', binary: '', summary: 'print shell completions: ws completion bash|zsh|fish', args: 'none' },
];

/** The event types of SPEC §4 ws-on-event, for `--type`. */
export const EVENT_TYPES = [
  'context.load', 'context.unload', 'user.join', 'user.leave', 'build.start', 'build.done', 'build.fail', 'unload.hook',
  'service.start', 'service.ready', 'service.exit', 'service.stop', 'port.allocate', 'port.release',
  'resource.init', 'resource.fail', 'resource.release', 'allow', 'deny', 'gc',
] as const;

export const SHELL_WORDS = SHELLS_WORDS;

/** The command `ws NAME` means, if it is one of ws's own. */
export const commandNamed = (name: string): Command | undefined => COMMANDS.find((c) => c.name === name);

/** The command a binary is (`ws-service` → service), for completing it called by its own name. */
export const commandOfBinary = (binary: string): Command | undefined => COMMANDS.find((c) => c.binary === binary);
