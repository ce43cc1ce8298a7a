import {
  CliError,
  EX,
  allocatePort,
  ensureStateHome,
  listPorts,
  nearestShell,
  parseKey,
  parsePort,
  parseRange,
  portContext,
  processStartTime,
  releasePorts,
  type PortListing,
  type Proto,
} from '@ws/core';

export const HELP = `EXAMPLES
  export PGPORT=$(allocate_port --tcp 5432)      # 5432 if free, else near it
  export DNS_PORT=$(allocate_port --udp 5353)
  export WEB_PORT=$(allocate_port --key web --range 8000-8099)
  allocate_port --release web                    # give the context's 'web' port back
  allocate_port --list --json | jq .

EXIT CODES
  0 ok · 64 bad usage or input (one line on stderr) · 66 --release outside a context
  73 cannot create the state home · 75 no free port (or busy lock): try again
  77 unsafe state home`;

/** The parsed command line (citty's ParsedArgs fits this shape). */
export interface Flags {
  preferred?: string;
  tcp?: boolean;
  udp?: boolean;
  key?: string;
  range?: string;
  release?: boolean;
  list?: boolean;
  json?: boolean;
}

interface Io {
  args: Flags;
  env: NodeJS.ProcessEnv;
  cwd: string;
  out: (text: string) => void;
}

type Request =
  | { mode: 'list'; json: boolean }
  | { mode: 'release'; protos: Proto[]; keys?: string[] }
  | { mode: 'allocate'; proto: Proto; preferred?: number; key?: string; range?: [number, number] };

/** Validates the flags; every problem is one usage error (64). */
export function parseRequest(args: Flags): Request {
  const given = (value: unknown) => value !== undefined && value !== false;
  if (args.tcp && args.udp) throw new CliError(EX.USAGE, 'choose one of --tcp and --udp');
  const preferred = given(args.preferred) ? String(args.preferred) : undefined;
  if (args.list) {
    if (given(preferred) || given(args.key) || given(args.range) || args.release || args.tcp || args.udp) {
      throw new CliError(EX.USAGE, '--list takes no other option than --json');
    }
    return { mode: 'list', json: Boolean(args.json) };
  }
  if (args.json) throw new CliError(EX.USAGE, '--json goes with --list');
  const protos: Proto[] = args.udp ? ['udp'] : args.tcp ? ['tcp'] : ['tcp', 'udp'];
  if (args.release) {
    if (given(args.range)) throw new CliError(EX.USAGE, '--release takes no --range');
    if (preferred !== undefined && given(args.key)) throw new CliError(EX.USAGE, 'give the KEY to --release once, as KEY or --key');
    const named = preferred ?? args.key;
    if (named === undefined) return { mode: 'release', protos };
    const key = parseKey(named);
    // `--release 5432` also means the default key of `allocate_port 5432`.
    const keys = /^[0-9]+$/.test(key) ? [key, ...protos.map((proto) => `${proto}-${parsePort(key)}`)] : [key];
    return { mode: 'release', protos, keys };
  }
  return {
    mode: 'allocate',
    proto: args.udp ? 'udp' : 'tcp',
    preferred: preferred === undefined ? undefined : parsePort(preferred),
    key: given(args.key) ? parseKey(String(args.key)) : undefined,
    range: given(args.range) ? parseRange(String(args.range)) : undefined,
  };
}

/** allocate_port: allocate (the default), --release or --list. Bad input is one usage error (64), printed by runCli. */
export async function allocatePortCommand({ args, env, cwd, out }: Io): Promise<number> {
  const request = parseRequest(args);
  const home = ensureStateHome(env);
  if (request.mode === 'list') {
    const rows = listPorts(home);
    out(request.json ? `${JSON.stringify(rows, null, 2)}\n` : formatTable(rows));
    return EX.OK;
  }
  if (request.mode === 'release') {
    const context = portContext({ env, cwd, home });
    if (!context) throw new CliError(EX.NOINPUT, 'not in a context: --release needs WS_ROOT or an allowed workspace file here');
    releasePorts(home, context.id, request.keys, { env });
    return EX.OK;
  }
  // Outside a context the hold lasts while the calling shell does (capped): a script that
  // allocates and then starts its server keeps the port, however slow the machine.
  const shell = nearestShell();
  const start = processStartTime(shell);
  const { port } = await allocatePort({ env, cwd, home, ...request, holder: start ? { pid: shell, start } : undefined });
  out(`${port}\n`);
  return EX.OK;
}

function formatTable(rows: PortListing[]): string {
  if (rows.length === 0) return '';
  const cells = rows.map((r) => [
    r.proto,
    String(r.port),
    r.key,
    r.name ?? '-',
    r.root ?? '-',
    r.stale ? 'stale' : r.context ? 'held' : r.holder && r.until && Date.parse(r.expires ?? '') <= Date.now() ? `pid ${r.holder.pid}, until ${r.until}` : `until ${r.expires}`,
  ]);
  const table = [['PROTO', 'PORT', 'KEY', 'CONTEXT', 'ROOT', 'STATE'], ...cells];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}
