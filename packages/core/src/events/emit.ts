import { closeSync, fstatSync, ftruncateSync, mkdirSync, readdirSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { openAppend, readJson, rmQuiet } from '../state/atomic.js';
import { isAlive } from '../process/proc.js';
import { tryLock } from '../state/lock.js';
import { knob } from '../env/knobs.js';

export const EVENTS_FILE = 'events.jsonl';
/** Where `events.jsonl` goes when it passes the size limit (one generation is kept). */
export const ROTATED_EVENTS_FILE = `${EVENTS_FILE}.1`;
export const DEFAULT_EVENTS_MAX = 10 * 1024 * 1024;

/** One line of events.jsonl (SPEC §4 ws-on-event, docs/events.md). */
export interface WsEvent {
  v: 1;
  ts: string;
  type: string;
  context: string;
  root: string;
  [field: string]: unknown;
}

/**
 * The context an event is about. `name` is accepted for `context` so that a
 * core `Context` ({root, name, file}) can be passed as it is.
 */
export type EventSource = { root: string; context?: string; name?: string };

/** Keys every event has; type-specific fields cannot override them. */
const ENVELOPE = new Set(['v', 'ts', 'type', 'context', 'root']);

export const eventsPath = (home: string) => join(home, EVENTS_FILE);
export const rotatedEventsPath = (home: string) => join(home, ROTATED_EVENTS_FILE);
/** Followers of the stream register here (`readers/<pid>-<n>`), see {@link ReaderRecord}. */
export const readersDir = (home: string) => join(home, 'readers');

/** `WS_EVENTS_MAX` (bytes) if it is a positive number, else 10 MB. */
export function eventsMax(env: NodeJS.ProcessEnv): number {
  return knob(env, 'WS_EVENTS_MAX');
}

/** The JSON line (with its `\n`) for an event: the envelope first, then the type's own fields. */
export function formatEvent(type: string, source: EventSource, fields: Record<string, unknown> = {}, now: Date = new Date()): string {
  const event: Record<string, unknown> = {
    v: 1,
    ts: now.toISOString(),
    type,
    context: source.context ?? source.name ?? '',
    root: source.root,
  };
  for (const [key, value] of Object.entries(fields)) if (!ENVELOPE.has(key)) event[key] = value;
  // JSON.stringify escapes newlines in strings, so one event is always one line.
  return `${JSON.stringify(event)}\n`;
}

/**
 * Appends one event as a single write(2) on an O_APPEND descriptor, so lines
 * from concurrent writers never interleave or tear (on a local file system,
 * where the kernel serialises appends to one file). Rotates the file to
 * `events.jsonl.1` past `WS_EVENTS_MAX` bytes. Never throws: losing an event
 * must not fail the command that caused it.
 */
export function emitEvent(
  home: string,
  type: string,
  source: EventSource,
  fields: Record<string, unknown> = {},
  // The caller's environment (WS_EVENTS_MAX); none given: the defaults.
  env: NodeJS.ProcessEnv = {},
  now: Date = new Date(),
): void {
  try {
    const data = Buffer.from(formatEvent(type, source, fields, now));
    const path = eventsPath(home);
    mkdirSync(home, { recursive: true, mode: 0o700 });
    // Opened by path for every append: after a rotation, the next append lands in the new file.
    // Never through a planted symlink (openAppend).
    const fd = openAppend(path);
    let size: number;
    const before = fstatSync(fd).size;
    let written = 0;
    try {
      written = writeSync(fd, data);
      // A short write only happens on a full disk; finishing the line beats leaving it torn.
      while (written > 0 && written < data.length) written += writeSync(fd, data, written);
      size = fstatSync(fd).size;
    } catch (error) {
      // It could not be finished: cut the torn line off again, unless another line came after it.
      if (written > 0 && fstatSync(fd).size === before + written) ftruncateSync(fd, before);
      throw error;
    } finally {
      closeSync(fd);
    }
    const max = eventsMax(env);
    if (size > max) rotateEvents(home, max);
  } catch {
    /* best effort */
  }
}

/**
 * A follower's registration, `readers/<pid>-<n>`: the newest events file it
 * holds open (`ino`/`dev` null while it holds none yet). A rotation waits for
 * every live follower to hold the live file, so that no file is unlinked
 * before every follower has opened it (event-stream.ts).
 */
export interface ReaderRecord {
  pid: number;
  start: string;
  dev: number | null;
  ino: number | null;
}

/**
 * How many live followers do not hold the file `live` yet. Registrations of
 * dead followers (or recycled PIDs) are removed on the way.
 */
export function readersBehind(home: string, live: { dev: number; ino: number }): number {
  let names: string[];
  try {
    names = readdirSync(readersDir(home));
  } catch {
    return 0;
  }
  let behind = 0;
  for (const name of names) {
    if (name.includes('.tmp.')) continue; // being written
    const path = join(readersDir(home), name);
    const record = readJson<Partial<ReaderRecord>>(path);
    if (!record || typeof record.pid !== 'number' || !isAlive({ pid: record.pid, start: String(record.start ?? '') })) {
      rmQuiet(path);
      continue;
    }
    if (record.ino !== live.ino || record.dev !== live.dev) behind++;
  }
  return behind;
}

/** How far past `max` a rotation waits for followers: a stopped one must not let the file grow without bound. */
export const rotationHardLimit = (max: number) => Math.max(2 * max, max + 4 * 1024 * 1024);

/**
 * Renames `events.jsonl` to `events.jsonl.1` if it is still over `max` bytes
 * and every registered follower holds it (or it has reached
 * {@link rotationHardLimit}). One rotator at a time
 * (a lock); a busy lock means someone else is doing it. Lines appended
 * between the size check and the rename land in the renamed file, which a
 * follower finishes through its open descriptor.
 */
export function rotateEvents(home: string, max: number): boolean {
  const release = tryLock(join(home, 'events.lock'));
  if (!release) return false;
  try {
    const path = eventsPath(home);
    const st = statSync(path);
    if (st.size <= max) return false; // rotated by another writer meanwhile
    if (st.size <= rotationHardLimit(max) && readersBehind(home, st) > 0) return false; // the next append tries again
    renameSync(path, rotatedEventsPath(home));
    return true;
  } catch {
    return false;
  } finally {
    release();
  }
}
