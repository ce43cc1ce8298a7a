import { closeSync, constants, existsSync, fstatSync, linkSync, lstatSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { emitEvent } from '../events/emit.js';
import { ensureDir, plantedLink, readDirNames, rmQuiet } from '../state/atomic.js';
import { contextDirOf, homePaths, portReservationPath } from '../state/paths.js';
import { isAlive, type ProcessId } from '../process/proc.js';
import type { Proto } from './parse.js';

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

/** A file that is not valid JSON is trusted for this long (a foreign writer mid-write), then reclaimed. */
const CORRUPT_GRACE_MS = 2_000;
/** Temporaries and unreadable files of killed claimers older than this are pruned. */
const LEFTOVER_MS = 60_000;
const NAME_RE = /^(tcp|udp)-([0-9]{1,5})$/;
const ID_RE = /^[A-Za-z0-9._-]+$/;

/** The reservation file of a port (= portReservationPath of state/paths.ts). */
export const reservationPath = (home: string, proto: Proto, port: number) => portReservationPath(home, proto, port);

interface Found {
  record: PortReservation | undefined;
  ino: number;
  mtimeMs: number;
}

/** Reads a reservation file: the record (undefined if corrupt), its inode and mtime; undefined if absent. */
export function readReservation(path: string): Found | undefined {
  let fd: number;
  try {
    // Never through a link: a planted one (or a ports/ that is one) is corrupt state.
    if (plantedLink(path)) return undefined;
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
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

/**
 * The stale rules (docs/state-home.md): the context's directory is gone;
 * outside a context, `expires` passed and the holder is dead (or `until`
 * passed); a file that is not a valid record and older than 2 s.
 */
function isStale(home: string, found: Omit<Found, 'ino'>, now: number): boolean {
  const r = found.record;
  if (!r) return now - found.mtimeMs > CORRUPT_GRACE_MS;
  if (r.context) return !existsSync(contextDirOf(home, r.context));
  if (r.expires && Date.parse(r.expires) > now) return false;
  return !(r.holder && r.until && Date.parse(r.until) > now && isAlive(r.holder));
}

let tempCounter = 0;

/** Creates a new file (O_EXCL), never through a symlink. */
function writeNewFile(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/**
 * Claims `ports/<proto>-<port>` atomically: the full record is written to a
 * temporary file and hard-linked into place, so link(2) fails with EEXIST
 * if anyone holds it, and no reader ever sees a half-written reservation.
 * A stale holder's file is moved aside (checked by inode) and the claim retried.
 */
export function claimPort(home: string, record: PortReservation, now: number): boolean {
  const dir = homePaths(home).ports;
  const path = portReservationPath(home, record.proto, record.port);
  // Fast path for a port held by a live reservation (no temp file to write); link(2) below stays the real claim.
  const current = readReservation(path);
  if (current && !isStale(home, current, now)) return false;
  const temp = join(dir, `.tmp.${process.pid}.${++tempCounter}`);
  try {
    // ports/ as a planted symlink is replaced, never written through (ensureDir).
    if (plantedLink(temp)) throw Object.assign(new Error('ports/ is a symlink'), { code: 'ENOENT' });
    writeNewFile(temp, `${JSON.stringify(record)}\n`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    ensureDir(dir);
    writeNewFile(temp, `${JSON.stringify(record)}\n`);
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
  const aside = join(dirname(path), `.stale.${process.pid}.${++tempCounter}`);
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

/** Removes one reservation file and emits `port.release`. */
export function releaseReservation(home: string, record: PortReservation, env: NodeJS.ProcessEnv | undefined, now: Date | undefined): void {
  rmQuiet(portReservationPath(home, record.proto, record.port));
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
    const { stale: _stale, ...record } = r;
    releaseReservation(home, record, opts.env, opts.now);
    released.push(record);
  }
  return released;
}

/** Every reservation in the state home, by protocol and port; corrupt files are skipped. */
export function listPorts(home: string, now: Date = new Date()): PortListing[] {
  const dir = homePaths(home).ports;
  const names = readDirNames(dir);
  const rows: PortListing[] = [];
  for (const name of names) {
    if (!NAME_RE.test(name)) continue;
    const found = readReservation(join(dir, name));
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
    const path = portReservationPath(home, r.proto, r.port);
    const found = readReservation(path);
    if (found && isStale(home, found, now.getTime()) && reclaim(path, found.ino)) removed.push(r);
  }
  const dir = homePaths(home).ports;
  const names = readDirNames(dir);
  for (const name of names) {
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      const corrupt = NAME_RE.test(name) && !readReservation(path)?.record;
      if ((name.startsWith('.tmp.') || name.startsWith('.stale.') || corrupt) && now.getTime() - st.mtimeMs > LEFTOVER_MS) rmQuiet(path);
    } catch {
      /* gone meanwhile */
    }
  }
  return removed;
}
