import { closeSync, existsSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import getPort, { clearLockedPorts } from 'get-port';
import { LOCAL_FILE, findContext } from '../context/discover.js';
import { CliError, EX } from '../cli/errors.js';
import { emitEvent } from '../events/emit.js';
import { readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { isAlive, type ProcessId } from '../process/proc.js';
import { contextId, sha256 } from '../state/home.js';
import { lock, tryLock } from '../state/lock.js';
import { isTrusted, trustState } from '../trust/trust.js';
import { knob } from '../env/knobs.js';

export type Proto = 'tcp' | 'udp';

/**
 * `ports/<proto>-<port>`: one reservation (docs/state-home.md, "ports/").
 * Inside a context it lives until the context unloads (or its directory in
 * the state home is gone). Outside one it is held until `expires`, and past
 * that while its `holder` lives, up to `until`.
 */
export interface PortReservation {
  v: 1;
  proto: Proto;
  port: number;
  key: string;
  /** Context id (`contexts/<id>`), or null for a call outside any context. */
  context: string | null;
  /** Context name (`WS_CONTEXT`), or null. */
  name: string | null;
  root: string | null;
  created: string;
  /** Outside a context only: the hold lasts at least until then. */
  expires?: string;
  /** Outside a context only: the calling shell; the hold goes on while it lives... */
  holder?: ProcessId;
  /** ...but never past this time. */
  until?: string;
}

export interface PortListing extends PortReservation {
  /** The holder is gone (context removed, hold expired): the next claim may take it. */
  stale: boolean;
}

/** The context a port is reserved for. */
export interface PortContext {
  id: string;
  root: string;
  name: string;
}

export interface AllocateOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  home: string;
  now?: Date;
  proto?: Proto;
  preferred?: number;
  /** Default `<proto>-<preferred>`, or `<proto>` without a preferred port. */
  key?: string;
  range?: readonly [number, number];
  /** Inside which context; default: `portContext({env, cwd, home})`. null forces "outside". */
  context?: PortContext | null;
  /** Minimum hold of an outside-context reservation; default `WS_PORT_HOLD` seconds, else 30 s. */
  holdMs?: number;
  /** Outside a context: the process (the calling shell) whose life extends the hold. */
  holder?: ProcessId;
  /** Whether a port is free to bind; default a real probe (get-port for TCP). */
  probe?: (proto: Proto, port: number) => Promise<boolean>;
}

export interface Allocation {
  port: number;
  proto: Proto;
  key: string;
  context: PortContext | undefined;
  /** True when an existing reservation for (context, key) was returned. */
  sticky: boolean;
  reservation: PortReservation;
}

const PORTS_DIR = 'ports';
const NEAR = 100;
const EPHEMERAL_TRIES = 64;
const MIN_HOLD_MS = 1_000;
/** A holder that lives on (an interactive shell) keeps an outside-context port at most this long. */
const MAX_HOLD_MS = 10 * 60_000;
const LOCK_WAIT_MS = 15_000;
/** A file that is not valid JSON is trusted for this long (a foreign writer mid-write), then reclaimed. */
const CORRUPT_GRACE_MS = 2_000;
const NAME_RE = /^(tcp|udp)-([0-9]{1,5})$/;
const ID_RE = /^[A-Za-z0-9._-]+$/;

export const portsDir = (home: string) => join(home, PORTS_DIR);
export const reservationPath = (home: string, proto: Proto, port: number) => join(home, PORTS_DIR, `${proto}-${port}`);
/** `contexts/<id>/ports.json`: key -> last port, kept after release so the next allocation tries it first. */
export const portMemoryPath = (home: string, id: string) => join(home, 'contexts', id, 'ports.json');

/** Parses a port number 1-65535; anything else is a usage error (64). */
export function parsePort(text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new CliError(EX.USAGE, `invalid port '${oneLine(text)}': expected a number 1-65535`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new CliError(EX.USAGE, `invalid port '${oneLine(text)}': expected a number 1-65535`);
  return port;
}

/** Parses `LO-HI` (inclusive, LO <= HI, both valid ports). */
export function parseRange(text: string): [number, number] {
  const match = /^([0-9]+)-([0-9]+)$/.exec(text);
  if (!match) throw new CliError(EX.USAGE, `invalid range '${oneLine(text)}': expected LO-HI, e.g. 8000-8100`);
  const [lo, hi] = [Number(match[1]), Number(match[2])];
  if (lo < 1 || hi > 65535) throw new CliError(EX.USAGE, `invalid range '${oneLine(text)}': ports are 1-65535`);
  if (lo > hi) throw new CliError(EX.USAGE, `empty range '${oneLine(text)}': LO must not be above HI`);
  return [lo, hi];
}

/** A reservation key: one printable line. */
export function parseKey(text: string): string {
  if (!text || text.length > 200 || /[\x00-\x1f\x7f]/.test(text)) {
    throw new CliError(EX.USAGE, `invalid key '${oneLine(text)}': expected 1-200 printable characters`);
  }
  return text;
}

const oneLine = (text: string) => text.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 80);

/**
 * The context that allocations are reserved for: `WS_ROOT` when set (a
 * loaded shell, or a workspace file being evaluated), else the allowed
 * context of the current directory, else none.
 */
export function portContext({ env, cwd, home }: { env: NodeJS.ProcessEnv; cwd: string; home: string }): PortContext | undefined {
  if (env.WS_ROOT) {
    const root = resolve(cwd, env.WS_ROOT);
    return { id: contextId(root), root, name: env.WS_CONTEXT || basename(root) || '/' };
  }
  const found = findContext({ env, cwd });
  if (!found) return undefined;
  try {
    if (!isTrusted(trustState(home, found.file, env))) return undefined;
    const local = join(found.root, LOCAL_FILE);
    if (existsSync(local) && !isTrusted(trustState(home, local, env))) return undefined;
  } catch {
    return undefined;
  }
  return { id: contextId(found.root), root: found.root, name: found.name };
}

/**
 * Whether a port can be bound now. TCP asks get-port (every local address);
 * its in-process lock is cleared first, so this is a pure probe: the
 * cross-process claim is the reservation file, not get-port's memory.
 */
export async function isPortFree(proto: Proto, port: number): Promise<boolean> {
  if (proto === 'udp') return udpFree(port);
  try {
    clearLockedPorts();
    return (await getPort({ port })) === port;
  } catch {
    return false;
  }
}

/** A port the kernel picks from its ephemeral range, free at that moment. */
async function ephemeralPort(proto: Proto): Promise<number | undefined> {
  try {
    if (proto === 'tcp') {
      clearLockedPorts();
      return await getPort();
    }
    const port = await bindUdp('udp4', '0.0.0.0', 0);
    return typeof port === 'number' && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

async function udpFree(port: number): Promise<boolean> {
  const v4 = await bindUdp('udp4', '0.0.0.0', port);
  if (v4 === 'busy') return false;
  const v6 = await bindUdp('udp6', '::', port);
  return v6 !== 'busy' && !(v4 === 'skip' && v6 === 'skip');
}

/** Binds and closes a UDP socket: the bound port, 'busy', or 'skip' if that family is unavailable. */
async function bindUdp(type: 'udp4' | 'udp6', address: string, port: number): Promise<number | 'busy' | 'skip'> {
  const { createSocket } = await import('node:dgram');
  return new Promise((done) => {
    const socket = createSocket({ type, reuseAddr: false });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.close();
      done(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT'].includes(error.code ?? '') ? 'skip' : 'busy');
    });
    socket.bind({ port, address, exclusive: true }, () => {
      const bound = socket.address().port;
      socket.close(() => done(bound));
    });
  });
}

/** Reads a reservation file: the record (undefined if corrupt), its inode and mtime; undefined if absent. */
function readReservation(path: string): { record: PortReservation | undefined; ino: number; mtimeMs: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    let record: PortReservation | undefined;
    try {
      record = validReservation(JSON.parse(readFileSync(fd, 'utf8')), basename(path));
    } catch {
      record = undefined;
    }
    return { record, ino: st.ino, mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

function validReservation(value: unknown, fileName: string): PortReservation | undefined {
  const r = value as PortReservation;
  const name = NAME_RE.exec(fileName);
  if (!r || typeof r !== 'object' || !name || r.proto !== name[1] || r.port !== Number(name[2])) return undefined;
  if (typeof r.key !== 'string' || typeof r.created !== 'string') return undefined;
  if (r.context !== null && (typeof r.context !== 'string' || !ID_RE.test(r.context) || r.context === '..')) return undefined;
  if (r.holder !== undefined && (typeof r.holder?.pid !== 'number' || typeof r.holder.start !== 'string')) return undefined;
  return r;
}

function isStale(home: string, found: { record: PortReservation | undefined; mtimeMs: number }, now: number): boolean {
  const r = found.record;
  if (!r) return now - found.mtimeMs > CORRUPT_GRACE_MS;
  if (r.context) return !existsSync(join(home, 'contexts', r.context));
  if (r.expires && Date.parse(r.expires) > now) return false;
  return !(r.holder && r.until && Date.parse(r.until) > now && isAlive(r.holder));
}

let tempCounter = 0;

/**
 * Claims `ports/<proto>-<port>` atomically: the full record is written to a
 * temporary file and hard-linked into place, so link(2) fails with EEXIST
 * if anyone holds it, and no reader ever sees a half-written reservation.
 * A stale holder's file is moved aside (checked by inode) and the claim retried.
 */
function claim(home: string, record: PortReservation, now: number): boolean {
  const path = reservationPath(home, record.proto, record.port);
  // Fast path for a port held by a live reservation (no temp file to write); link(2) below stays the real claim.
  const current = readReservation(path);
  if (current && !isStale(home, current, now)) return false;
  const temp = join(portsDir(home), `.tmp.${process.pid}.${++tempCounter}`);
  try {
    writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(portsDir(home), { recursive: true, mode: 0o700 });
    writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  }
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkOrCreate(temp, path, record);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const found = readReservation(path);
      if (found && (!isStale(home, found, now) || !reclaim(path, found.ino))) return false;
    }
    return false;
  } finally {
    rmQuiet(temp);
  }
}

/** link(2), or O_EXCL creation on a file system without hard links (readers allow a fresh empty file CORRUPT_GRACE_MS). */
function linkOrCreate(temp: string, path: string, record: PortReservation): void {
  try {
    linkSync(temp, path);
  } catch (error) {
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeFileSync(fd, `${JSON.stringify(record)}\n`);
    } finally {
      closeSync(fd);
    }
  }
}

/** Moves a stale reservation aside; if another process replaced it meanwhile, puts that one back. */
function reclaim(path: string, staleIno: number): boolean {
  const aside = `${join(path, '..')}/.stale.${process.pid}.${++tempCounter}`;
  try {
    renameSync(path, aside);
  } catch {
    return true; // already gone: just retry the claim
  }
  try {
    if (lstatSync(aside).ino === staleIno) return true;
    try {
      linkSync(aside, path);
    } catch {
      /* a third process claimed it in between; nothing better to do */
    }
    return false;
  } finally {
    rmQuiet(aside);
  }
}

interface PortMemory {
  v: 1;
  keys: Record<string, { proto: Proto; port: number; allocated: string }>;
}

function readMemory(home: string, id: string): PortMemory | undefined {
  const memory = readJson<PortMemory>(portMemoryPath(home, id));
  return memory && typeof memory.keys === 'object' && memory.keys !== null ? memory : undefined;
}

/** Rebuilds a lost or corrupt ports.json from the context's live reservations. */
function rebuildMemory(home: string, id: string): PortMemory {
  const memory: PortMemory = { v: 1, keys: {} };
  for (const r of listPorts(home)) {
    if (r.context === id) memory.keys[r.key] = { proto: r.proto, port: r.port, allocated: r.created };
  }
  return memory;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * The allocation lock of one (context, key): same-key callers (two shells
 * evaluating one workspace file) wait for each other, other keys never do.
 * Waits without blocking the event loop (several allocations may share a process).
 */
async function withKeyLock<T>(home: string, id: string, key: string, fn: () => Promise<T>): Promise<T> {
  const path = join(home, 'contexts', id, 'port-locks', sha256(key).slice(0, 16));
  const deadline = Date.now() + LOCK_WAIT_MS;
  let release: (() => void) | undefined;
  for (let delay = 1; !(release = tryLock(path)); delay = Math.min(delay * 2, 32)) {
    if (Date.now() >= deadline) throw new CliError(EX.TEMPFAIL, `port key '${key}' of context ${id} is locked by another allocation; try again`);
    await sleep(delay + Math.random() * delay);
  }
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Records the key's port in ports.json: a short synchronous read-modify-write under `ports.lock`. */
function rememberPort(home: string, id: string, key: string, record: PortReservation): void {
  const release = lock(join(home, 'contexts', id, 'ports.lock'), LOCK_WAIT_MS);
  try {
    const memory = readMemory(home, id) ?? rebuildMemory(home, id);
    memory.keys[key] = { proto: record.proto, port: record.port, allocated: record.created };
    writeFileAtomic(portMemoryPath(home, id), `${JSON.stringify(memory)}\n`);
  } finally {
    release();
  }
}

/** Candidate ports in order of preference; 0 stands for "one the kernel picks". */
function* candidates(first: number[], preferred: number | undefined, range: readonly [number, number] | undefined): Generator<number> {
  const seen = new Set<number>();
  const once = function* (port: number) {
    if (!seen.has(port)) {
      seen.add(port);
      yield port;
    }
  };
  for (const port of first) yield* once(port);
  if (preferred !== undefined) yield* once(preferred);
  if (range) {
    const [lo, hi] = range;
    const start = preferred !== undefined && preferred >= lo && preferred <= hi ? preferred : lo;
    for (let port = start; port <= hi; port++) yield* once(port);
    for (let port = lo; port < start; port++) yield* once(port);
    return;
  }
  if (preferred !== undefined) for (let port = preferred + 1; port <= Math.min(preferred + NEAR, 65535); port++) yield* once(port);
  for (let i = 0; i < EPHEMERAL_TRIES; i++) yield 0;
}

/**
 * Allocates a port (SPEC §4 allocate_port): PREFERRED if free, else the
 * last port of the key, near PREFERRED, in the range, or any ephemeral one.
 * Inside a context the reservation is sticky per (context, key): a live one
 * is returned as is, without probing, since the project's own server may be
 * listening on it. Outside a context the port is held for a short while so
 * that concurrent callers never get the same one. Throws 75 if nothing is free.
 */
export async function allocatePort(opts: AllocateOptions): Promise<Allocation> {
  const { env, cwd, home } = opts;
  const proto = opts.proto ?? 'tcp';
  const key = opts.key ?? (opts.preferred !== undefined ? `${proto}-${opts.preferred}` : proto);
  const context = opts.context === null ? undefined : (opts.context ?? portContext({ env, cwd, home }));
  const now = opts.now ?? new Date();
  const probe = opts.probe ?? isPortFree;
  // At least MIN_HOLD_MS: the hold must outlive the claim-then-probe of concurrent callers.
  const holdMs = Math.max(MIN_HOLD_MS, opts.holdMs ?? knob(env, 'WS_PORT_HOLD') * 1000);
  const acceptable = (port: number) => !opts.range || (port >= opts.range[0] && port <= opts.range[1]) || port === opts.preferred;

  const base = {
    key,
    context: context?.id ?? null,
    name: context?.name ?? null,
    root: context?.root ?? null,
    created: now.toISOString(),
    ...(context
      ? {}
      : {
          expires: new Date(now.getTime() + holdMs).toISOString(),
          ...(opts.holder ? { holder: opts.holder, until: new Date(now.getTime() + Math.max(holdMs, MAX_HOLD_MS)).toISOString() } : {}),
        }),
  };

  const search = async (first: number[]): Promise<PortReservation> => {
    for (const candidate of candidates(first, opts.preferred, opts.range)) {
      const port = candidate === 0 ? await ephemeralPort(proto) : candidate;
      if (port === undefined) continue;
      const record: PortReservation = { v: 1, proto, port, ...base };
      if (!claim(home, record, now.getTime())) continue;
      // Probed only once the port is ours, so no two callers probe-and-take the same one.
      if (await probe(proto, port)) return record;
      rmQuiet(reservationPath(home, proto, port));
    }
    const where = opts.range ? ` in range ${opts.range[0]}-${opts.range[1]}` : '';
    throw new CliError(EX.TEMPFAIL, `no free ${proto} port${where}; try again later`);
  };

  const announce = (record: PortReservation) => {
    emitEvent(home, 'port.allocate', { context: context?.name ?? '', root: context?.root ?? '' }, { proto, port: record.port, key, preferred: opts.preferred ?? null }, env, now);
  };

  if (!context) {
    const record = await search([]);
    announce(record);
    return { port: record.port, proto, key, context, sticky: false, reservation: record };
  }

  return withKeyLock(home, context.id, key, async () => {
    const memory = readMemory(home, context.id) ?? rebuildMemory(home, context.id);
    const last = memory.keys[key];
    const lastPath = last && Number.isInteger(last.port) && (last.proto === 'tcp' || last.proto === 'udp') ? reservationPath(home, last.proto, last.port) : undefined;
    const held = lastPath ? readReservation(lastPath) : undefined;
    const ours = held?.record && held.record.context === context.id && held.record.key === key ? held.record : undefined;
    if (ours && ours.proto === proto && acceptable(ours.port)) {
      return { port: ours.port, proto, key, context, sticky: true, reservation: ours };
    }
    // The key now asks for something its reservation does not satisfy: give that one back.
    if (ours && lastPath) releaseFile(home, lastPath, ours, env, now);
    const first = last && last.proto === proto && acceptable(last.port) ? [last.port] : [];
    const record = await search(first);
    rememberPort(home, context.id, key, record);
    announce(record);
    return { port: record.port, proto, key, context, sticky: false, reservation: record };
  });
}

function releaseFile(home: string, path: string, record: PortReservation, env: NodeJS.ProcessEnv | undefined, now: Date | undefined): void {
  rmQuiet(path);
  emitEvent(home, 'port.release', { context: record.name ?? '', root: record.root ?? '' }, { proto: record.proto, port: record.port, key: record.key }, env, now);
}

/**
 * Releases the reservations of a context (all, or those of the given keys)
 * and emits `port.release` for each. The context's memory of key -> port is
 * kept, so the next allocation for a key tries its last port first. The
 * unload calls `releasePorts(home, id)`.
 */
export function releasePorts(
  home: string,
  contextId: string,
  key?: string | readonly string[],
  opts: { env?: NodeJS.ProcessEnv; now?: Date } = {},
): PortReservation[] {
  const keys = key === undefined ? undefined : new Set([key].flat());
  const released: PortReservation[] = [];
  for (const r of listPorts(home)) {
    if (r.context !== contextId || (keys && !keys.has(r.key))) continue;
    releaseFile(home, reservationPath(home, r.proto, r.port), r, opts.env, opts.now);
    const { stale: _stale, ...record } = r;
    released.push(record);
  }
  return released;
}

/** Every reservation in the state home, by protocol and port; corrupt files are skipped. */
export function listPorts(home: string, now: Date = new Date()): PortListing[] {
  let names: string[];
  try {
    names = readdirSync(portsDir(home));
  } catch {
    return [];
  }
  const rows: PortListing[] = [];
  for (const name of names) {
    if (!NAME_RE.test(name)) continue;
    const found = readReservation(join(portsDir(home), name));
    if (!found?.record) continue;
    rows.push({ ...found.record, stale: isStale(home, found, now.getTime()) });
  }
  return rows.sort((a, b) => a.proto.localeCompare(b.proto) || a.port - b.port);
}

/**
 * Removes stale reservations (context gone, hold expired, corrupt) and
 * temporary files that a killed allocation left in `ports/`. For ws-gc;
 * allocation itself reclaims stale files lazily. Returns what it removed.
 */
export function prunePorts(home: string, now: Date = new Date()): PortListing[] {
  const removed: PortListing[] = [];
  for (const r of listPorts(home, now)) {
    if (!r.stale) continue;
    const path = reservationPath(home, r.proto, r.port);
    const found = readReservation(path);
    if (found && isStale(home, found, now.getTime()) && reclaim(path, found.ino)) removed.push(r);
  }
  let names: string[] = [];
  try {
    names = readdirSync(portsDir(home));
  } catch {
    return removed;
  }
  for (const name of names) {
    const path = join(portsDir(home), name);
    try {
      const st = lstatSync(path);
      const corrupt = NAME_RE.test(name) && !readReservation(path)?.record;
      if ((name.startsWith('.tmp.') || name.startsWith('.stale.') || corrupt) && now.getTime() - st.mtimeMs > 60_000) rmQuiet(path);
    } catch {
      /* gone meanwhile */
    }
  }
  return removed;
}
