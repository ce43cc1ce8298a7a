import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isAlive, readJson } from '@ws/core';

/** The current state of one context, as a `snapshot` event. */
export interface SnapshotEvent {
  v: 1;
  ts: string;
  type: 'snapshot';
  context: string;
  root: string;
  state: string;
  users: number[];
  services: string[];
  file?: string;
  env?: string;
  [field: string]: unknown;
}

interface ContextRecord {
  root?: unknown;
  name?: unknown;
  file?: unknown;
  state?: unknown;
  env?: unknown;
}

const listDir = (dir: string) => {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
};

const isDir = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** PIDs of the context's users that are still alive (same PID and start time), ascending. */
function liveUsers(contextDir: string): number[] {
  const pids: number[] = [];
  for (const name of listDir(join(contextDir, 'users'))) {
    const record = readJson<{ pid?: unknown; start?: unknown }>(join(contextDir, 'users', name));
    if (!record || typeof record !== 'object') continue;
    const pid = Number(record.pid ?? name);
    if (Number.isInteger(pid) && pid > 0 && isAlive({ pid, start: String(record.start ?? '') })) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

/**
 * One `snapshot` event per context in the state home, sorted by name then
 * root. A context whose context.json is missing or corrupt is skipped.
 */
export function snapshotEvents(home: string, now: Date = new Date()): SnapshotEvent[] {
  const events: SnapshotEvent[] = [];
  for (const id of listDir(join(home, 'contexts'))) {
    const dir = join(home, 'contexts', id);
    const record = readJson<ContextRecord>(join(dir, 'context.json'));
    if (!record || typeof record !== 'object' || typeof record.root !== 'string') continue;
    const event: SnapshotEvent = {
      v: 1,
      ts: now.toISOString(),
      type: 'snapshot',
      context: typeof record.name === 'string' ? record.name : basename(record.root),
      root: record.root,
      state: typeof record.state === 'string' ? record.state : 'unknown',
      users: liveUsers(dir),
      services: listDir(join(dir, 'services')).filter((name) => isDir(join(dir, 'services', name))),
    };
    if (typeof record.file === 'string') event.file = record.file;
    if (typeof record.env === 'string') event.env = record.env;
    events.push(event);
  }
  return events.sort((a, b) => a.context.localeCompare(b.context) || a.root.localeCompare(b.root));
}
