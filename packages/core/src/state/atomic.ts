import {

  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { printable } from '../cli/display.js';
import { warn } from '../cli/warnings.js';

/**
 * The state homes this process uses (ensureStateHome names them). Below one,
 * ws owns every directory: a symlink found where one belongs was planted
 * (ws makes none there, roots/ entries aside) and is never followed, so
 * nothing is read from or written into a directory outside (docs/reliability.md, Symlinks).
 */
const ownedHomes = new Set<string>();

export function ownStateHome(home: string): void {
  ownedHomes.add(resolve(home));
}

/** The directories from the state home down to `path` (excluded), top first; [] if `path` is not below one. */
function ownedAncestors(path: string): string[] {
  const full = resolve(path);
  for (const home of ownedHomes) {
    const top = home.endsWith(sep) ? home : home + sep;
    if (!full.startsWith(top)) continue;
    const parts = full.slice(top.length).split(sep).slice(0, -1);
    const dirs: string[] = [];
    let dir = home;
    for (const part of parts) dirs.push((dir = dir + sep + part));
    return dirs;
  }
  return [];
}

const isLink = (path: string) => {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
};

/**
 * The first directory between the state home and `path` (and `path` itself
 * if `self`) that is a symlink, reported once as corrupt state; undefined
 * if there is none (or `path` is not in a state home).
 */
export function plantedLink(path: string, self = false): string | undefined {
  const dirs = ownedAncestors(self ? resolve(path) + sep + 'x' : path);
  const link = dirs.find(isLink);
  if (link) warn(`${printable(link)} is a symlink where ws keeps a directory (corrupt state): not followed`);
  return link;
}

/**
 * mkdir -p (mode 0700) that never follows a link out of the state home: a
 * symlink in place of one of its directories is corrupt state, reported and
 * replaced by a real directory (the link itself is removed, never what it
 * points to). A file where a directory belongs still fails, as mkdir does.
 */
export function ensureDir(dir: string): void {
  const owned = ownedAncestors(resolve(dir) + sep + 'x');
  for (const path of owned) {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      break; // missing: made below, with everything under it
    }
    if (!st.isSymbolicLink()) continue;
    warn(`${printable(path)} is a symlink where ws keeps a directory (corrupt state): replaced by a directory`);
    try {
      unlinkSync(path);
    } catch {
      /* another process replaced it meanwhile */
    }
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch {
      /* made meanwhile: checked below */
    }
    if (isLink(path)) throw Object.assign(new Error(`${path} is a symlink (corrupt state)`), { code: 'ELOOP' });
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    // Node's recursive mkdir reports some failures of a parent (EROFS on a
    // read-only file system) as ENOENT: the first missing directory, made
    // alone, fails with the real reason, which is thrown instead.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    let missing = resolve(dir);
    while (dirname(missing) !== missing && !existsSync(dirname(missing))) missing = dirname(missing);
    try {
      mkdirSync(missing, { mode: 0o700 });
    } catch (real) {
      if ((real as NodeJS.ErrnoException).code !== 'EEXIST') throw real;
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
}

/**
 * A system error about a temporary sibling `temp`, made to name `path`, the
 * file the caller was writing (its code is kept): a message names the file
 * the user knows, never a temporary name.
 */
export function aimedAt<E>(error: E, temp: string, path: string): E {
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e.message === 'string' && e.path === temp) {
    e.message = e.message.split(temp).join(path);
    e.path = path;
  }
  return error;
}

/**
 * The names in a state directory, [] if it is missing, not a directory, or
 * a symlink (or below one: plantedLink): a planted link is never listed.
 */
export function readDirNames(dir: string): string[] {
  if (plantedLink(dir, true)) return [];
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

let counter = 0;
const tempName = (path: string) => `${path}.tmp.${process.pid}.${++counter}`;

/**
 * Writes a file so that readers see either the old or the new content, never
 * a torn one: write a sibling temp file, then rename over the target.
 * Whatever is in the way is corrupt state and is replaced: rename replaces a
 * FIFO, a socket or a symlink itself (never what a link points to); a
 * directory in place of the file is moved aside and removed first.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  ensureDir(dirname(path));
  const temp = tempName(path);
  let fd: number;
  try {
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (error) {
    throw aimedAt(error, temp, path);
  }
  try {
    // writeSync may write less than asked (a disk filling up): write the rest,
    // which then fails with ENOSPC rather than leave a torn file to rename.
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    if (process.env.WS_FSYNC === '1') fsyncSync(fd);
  } catch (error) {
    // A failed write (ENOSPC, EDQUOT) leaves no temp file behind.
    closeSync(fd);
    rmQuiet(temp);
    throw error;
  }
  closeSync(fd);
  try {
    try {
      renameSync(temp, path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      removeCorrupt(path);
      renameSync(temp, path);
    }
  } catch (error) {
    rmQuiet(temp);
    throw error;
  }
}

/**
 * Removes a directory found where a state file belongs: moved aside first
 * (one atomic step, so two processes cannot both act on half of it), then
 * removed without following any link inside it.
 */
function removeCorrupt(path: string): void {
  const aside = `${path}.corrupt.${process.pid}.${++counter}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // gone meanwhile, or replaced by another writer: the retry decides
  }
  rmSync(aside, { recursive: true, force: true });
}

/**
 * The text of a state file, or undefined unless it is a regular file. A
 * symlink is not followed (a state file is never a link: one planted there
 * could point out of the state home), a FIFO never blocks the reader (opened
 * with O_NONBLOCK, then refused), a directory or device is refused: all of
 * them are corrupt state, treated as missing (SPEC §8). So is a file
 * below a directory of the state home that is a symlink (plantedLink).
 */
export function readText(path: string): string | undefined {
  return readBytes(path)?.toString('utf8');
}

/** The bytes of a state file, or undefined unless it is a regular file (as readText: a FIFO never blocks). */
export function readBytes(path: string): Buffer | undefined {
  if (plantedLink(path)) return undefined;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Reads and parses a JSON file; a missing, truncated or corrupt file (or anything not a regular file: readText) is `undefined`, never a crash. */
export function readJson<T = unknown>(path: string): T | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** Is `path` a regular file (not followed if a symlink)? */
export function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Removes a state file if it exists. A directory in its place is corrupt
 * state and is removed too (without following links in it).
 */
export function rmQuiet(path: string): void {
  if (plantedLink(path)) return;
  try {
    unlinkSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') removeCorrupt(path);
    /* otherwise already gone */
  }
}

/**
 * Opens a state file to append (mode 0600), never through a symlink and
 * never blocking: a link planted in its place (or in place of a directory
 * above it) is corrupt state, reported and removed (the link, not its
 * target), and the file is started again in place. So is anything else that
 * is not a regular file: a FIFO (opened with O_NONBLOCK, so that no open
 * waits for a reader), a socket, a device or a directory. Returns the
 * descriptor (O_NONBLOCK is harmless on a regular file).
 */
export function openAppend(path: string): number {
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  if (plantedLink(path)) ensureDir(dirname(path));
  let what: string;
  try {
    const fd = openSync(path, flags, 0o600);
    let regular = false;
    try {
      regular = fstatSync(fd).isFile();
    } finally {
      if (!regular) closeSync(fd);
    }
    if (regular) return fd;
    what = 'not a regular file';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ELOOP: a symlink; ENXIO: a FIFO without a reader; EISDIR: a directory;
    // EOPNOTSUPP/ENXIO: a socket.
    if (code === 'ELOOP') what = 'a symlink';
    else if (code === 'ENXIO' || code === 'EISDIR' || code === 'EOPNOTSUPP') what = 'not a regular file';
    else throw error;
  }
  warn(`${printable(path)} is ${what} (corrupt state): replaced by a new file`);
  rmQuiet(path);
  return openSync(path, flags | constants.O_EXCL, 0o600);
}

/** Appends text to a state file (openAppend: never through a symlink). */
export function appendText(path: string, text: string): void {
  const fd = openAppend(path);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** A write failed for want of space (a full disk, a quota): something to report and retry later, never a crash. */
export const isNoSpace = (error: unknown): boolean => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
};

/** Appends to a log file (mode 0600); on a full disk the text is lost, the caller goes on. */
export function appendLog(path: string, text: string): void {
  try {
    appendText(path, text);
  } catch (error) {
    if (!isNoSpace(error)) throw error;
  }
}
