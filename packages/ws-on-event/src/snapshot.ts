import { readInventory } from '@ws/core';

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

/**
 * One `snapshot` event per context in the state home, sorted by name then
 * root, read by the same inventory as `ws-list`: the same live users (PID and
 * start time), the same services (every services/<name>/, whatever its
 * state), the same state. A context whose context.json is missing or corrupt
 * (as ws-list reports it) is skipped.
 */
export function snapshotEvents(home: string, now: Date = new Date()): SnapshotEvent[] {
  const events: SnapshotEvent[] = [];
  for (const entry of readInventory(home, { disk: false, now }).contexts) {
    const record = entry.record;
    if (!record) continue;
    const event: SnapshotEvent = {
      v: 1,
      ts: now.toISOString(),
      type: 'snapshot',
      context: record.name,
      root: record.root,
      state: entry.state,
      users: entry.users.map((u) => u.pid),
      services: entry.services.map((s) => s.name).sort(),
    };
    if (typeof record.file === 'string') event.file = record.file;
    if (typeof record.env === 'string') event.env = record.env;
    events.push(event);
  }
  return events.sort((a, b) => a.context.localeCompare(b.context) || a.root.localeCompare(b.root));
}
