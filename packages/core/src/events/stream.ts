import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { eventsPath, readersDir, rotatedEventsPath, type ReaderRecord, type WsEvent } from './emit.js';
import { rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { processStartTime } from '../process/proc.js';

/** One event as read from the stream: the exact line (without `\n`) and its parsed form. */
export interface EventLine {
  line: string;
  event: WsEvent;
}

export interface TailOptions {
  /**
   * `end` (default): only events appended from now on, like `tail -f -n0`.
   * `start`: first every event still on disk, `events.jsonl.1` then `events.jsonl`.
   */
  from?: 'end' | 'start';
  /**
   * How long (ms) a rotated-away file is still read after the rotation was
   * seen: a writer that opened it just before the rename may append a moment
   * later. Default 2000.
   */
  graceMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /**
   * Register as a follower in `readers/`, so that rotations wait until this
   * reader holds the live file (see rotateEvents). Default false for an
   * EventTail, true for followEvents.
   */
  register?: boolean;
}

export interface FollowOptions extends TailOptions {
  /** Polling interval (ms), the fallback when fs.watch misses or is unavailable. Default 250. */
  pollMs?: number;
  /** Use fs.watch on the state home (default true); polling runs either way. */
  watch?: boolean;
  /** Ends the stream. */
  signal?: AbortSignal;
  /** Called with each complete line that is not a valid event (it is skipped). */
  onMalformed?: (line: string) => void;
}

/** One file of the stream, identified by its inode, read through its own descriptor. */
interface Generation {
  fd: number;
  dev: number;
  ino: number;
  offset: number;
  /** Bytes after the last newline: the start of a line not yet complete. */
  partial: Buffer[];
  /** Drop bytes up to the first newline (we started reading in the middle of a line). */
  skipToNewline: boolean;
  /** When we saw this file renamed away; undefined while it is the live file. */
  rotatedAt?: number;
}

const CHUNK = 64 * 1024;
let registrations = 0;
const sameFile = (a: { dev: number; ino: number }, b: { dev: number; ino: number }) => a.dev === b.dev && a.ino === b.ino;

function statQuiet(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Parses one line of events.jsonl. Anything that is not a JSON object with a
 * string `type` and `ts` is undefined (a malformed line is skipped, never fatal).
 */
export function parseEventLine(line: string): WsEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const event = value as Record<string, unknown>;
  if (typeof event.type !== 'string' || typeof event.ts !== 'string') return undefined;
  if (typeof event.context !== 'string') event.context = '';
  if (typeof event.root !== 'string') event.root = '';
  return event as WsEvent;
}

/**
 * A synchronous reader of `events.jsonl` that survives rotation. It tracks
 * each file by inode and offset through its own open descriptor: when the
 * live file is renamed to `events.jsonl.1`, it finishes the old one (and keeps
 * reading it for `graceMs`, for late writers) before the new one, so no event
 * is lost or repeated. It only ever returns complete lines; a partial tail is
 * kept until its newline arrives.
 *
 * `discover()` is cheap (two stats) and should run on every wake-up, even
 * while the consumer is busy, so that a rotation is noticed promptly;
 * `read()` returns what has been appended since. With `register`, the tail
 * records the file it holds in `readers/`, and writers do not rotate a file
 * it has not opened yet (up to `rotationHardLimit`).
 */
export class EventTail {
  private readonly path: string;
  private readonly rotatedPath: string;
  private readonly graceMs: number;
  private readonly now: () => number;
  /** Oldest first; the last one is the live file. */
  private gens: Generation[] = [];
  /** Inode of events.jsonl.1 as last seen: a different one there is a generation we missed. */
  private knownRotated?: { dev: number; ino: number };

  /** Our file in readers/, if registered. */
  private registration?: string;
  private readonly start?: string;

  constructor(home: string, options: TailOptions = {}) {
    this.path = eventsPath(home);
    this.rotatedPath = rotatedEventsPath(home);
    this.graceMs = options.graceMs ?? 2000;
    this.now = options.now ?? Date.now;
    if (options.register) {
      // Registered before opening anything: no rotation can slip in unseen.
      this.registration = join(readersDir(home), `${process.pid}-${++registrations}`);
      this.start = processStartTime(process.pid) ?? '';
      this.register();
    }
    if (options.from === 'start') this.openFromStart();
    else this.openAtEnd();
    this.register();
  }

  /** Notices a rotation (or the first file appearing) and opens the new file. */
  discover(): void {
    const st = statQuiet(this.path);
    const live = this.gens.at(-1);
    // Missing: never written yet, or renamed and not yet re-created by the next writer.
    if (!st || (live && sameFile(st, live))) return;
    const now = this.now();
    if (live) live.rotatedAt = now;
    // events.jsonl.1 holding a file we never read: rotated twice since we last looked
    // (or rotated before we first saw any file). Read it all, before the new live file.
    const rotated = statQuiet(this.rotatedPath);
    if (rotated && !sameFile(rotated, st) && !this.isKnown(rotated)) {
      const gen = this.open(this.rotatedPath, 0);
      if (gen && !this.isKnown(gen)) {
        gen.rotatedAt = now;
        this.gens.push(gen);
      } else if (gen) closeSync(gen.fd);
    }
    if (rotated) this.knownRotated = { dev: rotated.dev, ino: rotated.ino };
    const gen = this.open(this.path, 0);
    if (gen && !this.isKnown(gen)) this.gens.push(gen);
    else if (gen) closeSync(gen.fd);
    this.register();
  }

  /**
   * Complete lines appended since the last call, oldest file first, reading
   * at most about `maxBytes` (call again for more). Closes rotated files once
   * their grace period is over and they are read to the end.
   */
  read(maxBytes = 1024 * 1024): string[] {
    const lines: string[] = [];
    let budget = maxBytes;
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (const gen of [...this.gens]) {
      const isLive = gen === this.gens.at(-1) && gen.rotatedAt === undefined;
      if (isLive && fstatSync(gen.fd).size < gen.offset) {
        // Truncated in place (by hand): start over from its beginning.
        gen.offset = 0;
        gen.partial = [];
        gen.skipToNewline = false;
      }
      let atEnd = false;
      while (budget > 0) {
        const n = readSync(gen.fd, chunk, 0, CHUNK, gen.offset);
        if (n === 0) {
          atEnd = true;
          break;
        }
        gen.offset += n;
        budget -= n;
        this.split(gen, chunk.subarray(0, n), lines);
      }
      if (budget <= 0) break;
      if (atEnd && gen !== this.gens.at(-1) && gen.rotatedAt !== undefined && this.now() - gen.rotatedAt >= this.graceMs) {
        closeSync(gen.fd);
        this.gens.splice(this.gens.indexOf(gen), 1);
      }
    }
    return lines;
  }

  close(): void {
    for (const gen of this.gens) closeSync(gen.fd);
    this.gens = [];
    if (this.registration) rmQuiet(this.registration);
    this.registration = undefined;
  }

  /** Records which file we hold (the live one), for rotators. */
  private register(): void {
    if (!this.registration) return;
    const live = this.gens.at(-1);
    const record: ReaderRecord = { pid: process.pid, start: this.start ?? '', dev: live?.dev ?? null, ino: live?.ino ?? null };
    try {
      writeFileAtomic(this.registration, `${JSON.stringify(record)}\n`);
    } catch {
      /* unregistered, rotations do not wait for us; discover() still recovers one missed file */
    }
  }

  private isKnown(file: { dev: number; ino: number }): boolean {
    return this.gens.some((gen) => sameFile(gen, file)) || (this.knownRotated !== undefined && sameFile(this.knownRotated, file));
  }

  private open(path: string, offset: number | 'end'): Generation | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined;
    }
    const st = fstatSync(fd);
    const gen: Generation = { fd, dev: st.dev, ino: st.ino, offset: 0, partial: [], skipToNewline: false };
    if (offset === 'end' && st.size > 0) {
      gen.offset = st.size;
      // Started in the middle of a line being written: that line is not ours.
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, st.size - 1);
      gen.skipToNewline = last[0] !== 0x0a;
    }
    return gen;
  }

  private openAtEnd(): void {
    const rotated = statQuiet(this.rotatedPath);
    if (rotated) this.knownRotated = { dev: rotated.dev, ino: rotated.ino };
    const gen = this.open(this.path, 'end');
    if (gen) this.gens.push(gen);
  }

  /** Opens both files so that they are consecutive generations: retried if a rotation slipped between. */
  private openFromStart(): void {
    for (let attempt = 0; attempt < 10; attempt++) {
      const old = this.open(this.rotatedPath, 0);
      const live = this.open(this.path, 0);
      const rotatedNow = statQuiet(this.rotatedPath);
      const stable = old ? rotatedNow !== undefined && sameFile(rotatedNow, old) : rotatedNow === undefined;
      if (stable || attempt === 9) {
        if (old && !(live && sameFile(old, live))) {
          old.rotatedAt = this.now();
          this.gens.push(old);
          this.knownRotated = { dev: old.dev, ino: old.ino };
        } else if (old) closeSync(old.fd);
        if (live) this.gens.push(live);
        return;
      }
      if (old) closeSync(old.fd);
      if (live) closeSync(live.fd);
    }
  }

  /** Splits new bytes into complete lines; keeps the unfinished rest in `gen.partial`. */
  private split(gen: Generation, bytes: Buffer, lines: string[]): void {
    let start = 0;
    for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
      const piece = bytes.subarray(start, nl);
      start = nl + 1;
      const whole = gen.partial.length > 0 ? Buffer.concat([...gen.partial, piece]) : piece;
      gen.partial = [];
      if (gen.skipToNewline) {
        gen.skipToNewline = false;
        continue;
      }
      if (whole.length > 0) lines.push(whole.toString('utf8'));
    }
    // Copied: `bytes` is a reused read buffer.
    if (start < bytes.length) gen.partial.push(Buffer.from(bytes.subarray(start)));
  }
}

/**
 * Every event still on disk (`events.jsonl.1`, then `events.jsonl`), complete
 * lines only; malformed lines are skipped.
 */
export function readEvents(home: string): EventLine[] {
  const tail = new EventTail(home, { from: 'start', graceMs: 0 });
  const events: EventLine[] = [];
  try {
    for (let lines = tail.read(); lines.length > 0; lines = tail.read()) {
      for (const line of lines) {
        const event = parseEventLine(line);
        if (event) events.push({ line, event });
      }
    }
  } finally {
    tail.close();
  }
  return events;
}

/**
 * Follows the event stream of a state home: yields each event once, in the
 * order it reached the file, across rotations. Wakes on fs.watch events for
 * the state home, and polls every `pollMs` as a fallback. The starting point
 * is fixed when this is called (not at the first `next()`), so a caller can
 * take a snapshot afterwards without missing what happens meanwhile. Ends
 * when `signal` aborts or the caller breaks out of `for await`; call
 * `.return()` on a stream that may not have been iterated, to close its
 * files and its registration.
 */
export function followEvents(home: string, options: FollowOptions = {}): AsyncGenerator<EventLine> {
  const tail = new EventTail(home, { register: true, ...options });
  const stream = follow(home, tail, options);
  // A generator never started skips its `finally`: close the tail here then.
  let started = false;
  return {
    next: (...args) => {
      started = true;
      return stream.next(...args);
    },
    return: (value) => {
      if (!started) tail.close();
      return stream.return(value);
    },
    throw: (error) => {
      if (!started) tail.close();
      return stream.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

async function* follow(home: string, tail: EventTail, options: FollowOptions): AsyncGenerator<EventLine> {
  const { signal, onMalformed } = options;
  let wake: (() => void) | undefined;
  let poked = false;
  const poke = () => {
    try {
      tail.discover();
    } catch {
      /* the next poll tries again */
    }
    poked = true;
    wake?.();
  };
  let watcher: FSWatcher | undefined;
  if (options.watch !== false) {
    try {
      watcher = watch(home, { persistent: true }, poke);
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // no inotify (or out of watches): polling alone
    }
  }
  const timer = setInterval(poke, options.pollMs ?? 250);
  const onAbort = () => wake?.();
  signal?.addEventListener('abort', onAbort);
  try {
    while (!signal?.aborted) {
      tail.discover();
      poked = false;
      const lines = tail.read();
      for (const line of lines) {
        const event = parseEventLine(line);
        if (event) yield { line, event };
        else onMalformed?.(line);
        if (signal?.aborted) return;
      }
      if (lines.length > 0 || poked) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    watcher?.close();
    clearInterval(timer);
    tail.close();
  }
}
