import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tryLock } from './state.js';

export const EVENTS_FILE = 'events.jsonl';
const DEFAULT_MAX = 10 * 1024 * 1024;

/** One line of events.jsonl (SPEC §4 ws-on-event, docs/events.md). */
export interface WsEvent {
  v: 1;
  ts: string;
  type: string;
  context: string;
  root: string;
  [field: string]: unknown;
}

export interface EventSource {
  context: string;
  root: string;
}

/**
 * Appends one event as a single write(2) on an O_APPEND descriptor, so lines
 * from concurrent writers never interleave or tear. Rotates the file to
 * `events.jsonl.1` past `WS_EVENTS_MAX` bytes. Never throws: losing an event
 * must not fail the command that caused it.
 */
export function emitEvent(
  home: string,
  type: string,
  source: EventSource,
  fields: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
  now: Date = new Date(),
): void {
  const event: WsEvent = { v: 1, ts: now.toISOString(), type, context: source.context, root: source.root, ...fields };
  const path = join(home, EVENTS_FILE);
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const fd = openSync(path, 'a', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(event)}\n`);
      const max = Number(env.WS_EVENTS_MAX) > 0 ? Number(env.WS_EVENTS_MAX) : DEFAULT_MAX;
      if (fstatSync(fd).size > max) rotate(home, path, max);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

function rotate(home: string, path: string, max: number): void {
  const release = tryLock(join(home, 'events.lock'));
  if (!release) return; // someone else is rotating
  try {
    const fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    closeSync(fd);
    if (size > max) renameSync(path, `${path}.1`);
  } finally {
    release();
  }
}
