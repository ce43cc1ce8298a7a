import {
  checkStateHome, ownStateHome,
  lastUsedOf,
  printable,
  readInventory,
  resourceSummary,
  stateHomePath,
  type Colors,
  type ContextEntry,
  type Inventory,
  type PortListing,
  type Problem,
} from '@ws/core';

/** The stable JSON of `ws-list --json` (v 1; README.md documents every field). */
export interface ListJson {
  v: 1;
  home: string;
  contexts: Array<{
    id: string;
    name: string;
    root: string | null;
    file: string | null;
    state: string;
    env: string | null;
    created: string | null;
    lastUsed: string | null;
    inUse: boolean;
    rootExists: boolean | null;
    fileExists: boolean | null;
    users: Array<{ pid: number; start: string; shell: string | null; tty: string | null; joined: string | null }>;
    deadUsers: number;
    services: Array<{ name: string; state: string; running: boolean; pid: number | null; port: number | null }>;
    ports: Array<{ proto: string; port: number; key: string; created: string }>;
    disk: number;
    building: boolean;
    unloadPending: boolean;
    hooks: number;
    roots: string[];
    /** A shared context (ws_context NAME): the roots that declared it; null for a context of one root. */
    sharedRoots: string[] | null;
    problems: Problem[];
  }>;
  ports: Array<{ proto: string; port: number; key: string; context: string | null; name: string | null; root: string | null; created: string; expires: string | null; stale: boolean }>;
  roots?: Array<{ name: string; link: string | null; target: string | null; kind: string; holds: string | null }>;
  resources?: Array<{ kind: string; hash: string; path: string; disk: number; roots: string[]; state: string; holders: string[] }>;
  problems: Problem[];
}

/**
 * The contexts as listed: a root of a shared context holds only its own
 * cache, and is shown as one of the shared context's roots (docs/contexts.md).
 */
const listed = (inv: Inventory) => inv.contexts.filter((c) => c.sharedIn === undefined);

/** Reads the state home of `env` without creating or changing anything. */
export function inventoryOf(env: NodeJS.ProcessEnv, resources: boolean, now: Date): Inventory {
  const home = stateHomePath(env);
  checkStateHome(home);
  ownStateHome(home); // planted links in it are never followed (state/atomic.ts)
  return readInventory(home, { resources, now });
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function toJson(inv: Inventory, resources: boolean, now: Date): ListJson {
  const json: ListJson = {
    v: 1,
    home: inv.home,
    contexts: listed(inv).map((c) => ({
      id: c.id,
      name: c.name,
      root: c.root ?? null,
      file: c.file ?? null,
      state: c.state,
      env: c.env ?? null,
      created: c.created ?? null,
      lastUsed: iso(lastUsedOf(c, now)),
      inUse: c.users.length > 0,
      rootExists: c.rootExists ?? null,
      fileExists: c.fileExists ?? null,
      users: c.users.map((u) => ({ pid: u.pid, start: u.start, shell: u.shell ?? null, tty: u.tty ?? null, joined: u.joined ?? null })),
      deadUsers: c.deadUsers.length,
      services: c.services,
      ports: c.ports.map((r) => ({ proto: r.proto, port: r.port, key: r.key, created: r.created })),
      disk: c.disk,
      building: c.building,
      unloadPending: c.unloadPending,
      hooks: c.hooks,
      roots: c.rootedBy,
      sharedRoots: c.roots ?? null,
      problems: c.problems,
    })),
    ports: inv.ports.map((r) => ({
      proto: r.proto,
      port: r.port,
      key: r.key,
      context: r.context,
      name: r.name,
      root: r.root,
      created: r.created,
      expires: r.expires ?? null,
      stale: r.stale,
    })),
    problems: inv.problems,
  };
  if (resources) {
    json.roots = inv.roots.map((r) => ({ name: r.name, link: r.link ?? null, target: r.target ?? null, kind: r.kind, holds: r.holds ?? null }));
    json.resources = inv.resources.map((r) => ({ kind: r.kind, hash: r.hash, path: r.path, disk: r.disk, roots: r.rootedBy, ...resourceSummary(inv.home, r.hash) }));
  }
  return json;
}

/** `0 B`, `812 B`, `4.0 KiB`, `12.3 MiB`, `1.2 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** `now` while in use, else `5m ago`, `3h ago`, `12d ago`; `-` if unknown. */
export function formatLastUsed(c: ContextEntry, now: Date): string {
  if (c.users.length) return 'now';
  if (c.lastUsedMs === undefined) return '-';
  const s = Math.max(0, Math.round((now.getTime() - c.lastUsedMs) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

const tty = (path: string | undefined) => (path ? path.replace(/^\/dev\//, '') : '-');

/** A cell: its plain text (for widths) and how it is shown. */
interface Cell {
  text: string;
  shown: string;
}

function table(headers: string[], rows: Cell[][], c: Colors): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].text.length)));
  const line = (cells: Cell[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell.shown : cell.shown + ' '.repeat(widths[i] - cell.text.length)))
      .join('  ')
      .trimEnd();
  const head = headers.map((h) => ({ text: h, shown: c.bold(h) }));
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/** A cell of plain text, its control characters made visible (names and paths come from anywhere). */
const plain = (raw: string): Cell => {
  const text = printable(raw);
  return { text, shown: text };
};

function stateCell(state: string, c: Colors): Cell {
  const paint: Record<string, (s: string) => string> = { ready: c.green, building: c.yellow, stale: c.yellow, degraded: c.yellow, error: c.red, blocked: c.magenta, unloaded: c.dim, unknown: c.red };
  return { text: state, shown: (paint[state] ?? ((s: string) => s))(state) };
}

/** The aligned table of `ws-list` (colored on a terminal, plain when piped or with NO_COLOR). */
export function renderTable(inv: Inventory, resources: boolean, now: Date, c: Colors): string {
  const rows = listed(inv).map((ctx): Cell[] => {
    const users = ctx.users.map((u) => `${u.pid} ${u.shell ?? '?'} ${tty(u.tty)}`).join(', ');
    const dead = ctx.deadUsers.length ? `${users ? ' ' : ''}(+${ctx.deadUsers.length} dead)` : '';
    const services = ctx.services.map((s) => [s.name, s.state, s.pid ?? '', s.port ? `:${s.port}` : ''].filter((x) => x !== '').join(' ')).join(', ');
    const ports = ctx.ports.map((r) => `${r.proto}/${r.port}`).join(', ');
    const gone = ctx.rootExists === false ? ' (gone)' : ctx.fileExists === false ? ' (no workspace file)' : '';
    const root = printable(ctx.roots?.join(', ') || ctx.root || '?');
    return [
      plain(ctx.name),
      stateCell(ctx.state, c),
      users || dead ? { text: (users || '') + dead, shown: (users || '') + c.dim(dead) } : { text: '-', shown: c.dim('-') },
      services ? plain(services) : { text: '-', shown: c.dim('-') },
      ports ? plain(ports) : { text: '-', shown: c.dim('-') },
      plain(formatBytes(ctx.disk)),
      plain(formatLastUsed(ctx, now)),
      { text: root + gone, shown: root + c.red(gone) },
    ];
  });
  let out = table(['NAME', 'STATE', 'USERS', 'SERVICES', 'PORTS', 'DISK', 'LAST USED', 'ROOT'], rows, c);
  if (inv.ports.length) out += `\n${table(['PORT', 'KEY', 'CONTEXT', 'HELD UNTIL'], inv.ports.map(portRow), c)}`;
  if (resources) {
    const res = inv.resources.map((r) => {
      const { state, holders } = resourceSummary(inv.home, r.hash);
      return [plain(r.kind), plain(r.hash), plain(formatBytes(r.disk)), plain(r.rootedBy.join(', ') || '-'), plain(state), plain(holders.join(', ') || '-'), plain(r.path)];
    });
    out += `\n${table(['RESOURCE', 'HASH', 'DISK', 'ROOTS', 'STATE', 'HOLDERS', 'PATH'], res, c)}`;
    const roots = inv.roots.map((r) => [plain(r.name), r.kind === 'dangling' || r.kind === 'invalid' ? { text: r.kind, shown: c.red(r.kind) } : plain(r.kind), plain(r.holds ?? '-'), plain(r.target ?? '-')]);
    out += `\n${table(['ROOT', 'KIND', 'HOLDS', 'TARGET'], roots, c)}`;
  }
  return out;
}

function portRow(r: PortListing): Cell[] {
  const until = r.context ? 'its context is gone' : (r.until ?? r.expires ?? '-');
  return [plain(`${r.proto}/${r.port}`), plain(r.key), plain(r.name ?? r.context ?? '(none)'), plain(r.stale ? 'stale' : until)];
}
