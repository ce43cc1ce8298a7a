import {
  appendFileSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

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
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = tempName(path);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
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
 * them are corrupt state, treated as missing (SPEC §8).
 */
export function readText(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    return readFileSync(fd, 'utf8');
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
  try {
    unlinkSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') removeCorrupt(path);
    /* otherwise already gone */
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
    appendFileSync(path, text, { mode: 0o600 });
  } catch (error) {
    if (!isNoSpace(error)) throw error;
  }
}
