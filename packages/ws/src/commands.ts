/** Every ws command, one line each, in the order `ws` lists them. */
export const COMMANDS: ReadonlyArray<readonly [name: string, summary: string]> = [
  ['ws-export', 'load and unload the context of the current directory (the shell hook)'],
  ['ws-allow', 'allow the current content of a workspace file'],
  ['ws-deny', 'revoke and block a workspace file'],
  ['ws-edit', 'edit a workspace file and allow what was saved'],
  ['ws-on-unload', 'register what runs when the last user leaves'],
  ['ws-exec', "run one command with a directory's context loaded"],
  ['ws-shell', 'an interactive shell with a context loaded, no rc file edited'],
  ['ws-reaper', 'the tiny PID reaper that runs unloads'],
  ['allocate_port', 'print a free port, reserved for the context'],
  ['ws-service', 'development servers that live as long as their users'],
  ['ws-resource', 'cached, hash-addressed resources, released when nobody holds them'],
  ['ws-prompt', 'a prompt segment: context name and state'],
  ['ws-on-event', 'follow the event stream, run a command per event'],
  ['nix-watch-deps', 'list the files a Nix evaluation read'],
  ['ws-list', 'everything ws holds: contexts, users, services, ports'],
  ['ws-gc', 'remove what nothing uses any more'],
];
