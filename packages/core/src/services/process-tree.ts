import { readFileSync, readdirSync } from 'node:fs';
import { isAlive } from '../process/proc.js';

// The processes of a running service: its process group, its session, and
// whatever it started that left both (PostgreSQL's backends call setsid).
// A cgroup would be exact; this is the portable part of it.

interface ProcEntry {
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  start: string;
}

/** Every live (non-zombie) process, from /proc; undefined where there is no /proc. */
function scanProcesses(): ProcEntry[] | undefined {
  if (process.platform !== 'linux') return undefined;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const procs: ProcEntry[] = [];
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z' || f[0] === 'X') continue;
      procs.push({ pid: Number(entry), ppid: Number(f[1]), pgrp: Number(f[2]), sid: Number(f[3]), start: f[19] });
    } catch {
      /* exited meanwhile */
    }
  }
  return procs;
}

/**
 * The command's own PID: the only child of the bash that waits for it
 * (`/proc/<pid>/task/<pid>/children` on Linux), else that bash's PID.
 */
export function mainPid(groupLeader: number): number {
  try {
    const children = readFileSync(`/proc/${groupLeader}/task/${groupLeader}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (children.length) return Number(children[0]);
  } catch {
    /* not Linux, or gone */
  }
  return groupLeader;
}

/** Sends a signal to a whole process group; a group that is gone is fine. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* gone */
  }
}

/**
 * Adds to `members` (PID -> start time) every live process of the service
 * led by `leader`: its process group and session, and the descendants of
 * the leader and of every member already known, even those that left the
 * session. Returns false where /proc is missing.
 */
export function collectMembers(leader: number, members: Map<number, string>): boolean {
  const procs = scanProcesses();
  if (!procs) return false;
  const children = new Map<number, ProcEntry[]>();
  for (const p of procs) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid)!.push(p);
  }
  const queue: number[] = [leader];
  for (const p of procs) {
    if (p.pgrp === leader || p.sid === leader || members.get(p.pid) === p.start) queue.push(p.pid);
  }
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    const p = byPid.get(pid);
    if (!p || members.get(pid) === p.start) {
      if (p) for (const child of children.get(pid) ?? []) if (members.get(child.pid) !== child.start) queue.push(child.pid);
      continue;
    }
    members.set(pid, p.start);
    for (const child of children.get(pid) ?? []) queue.push(child.pid);
  }
  return true;
}

/**
 * The variable every process of a service inherits (launch.ts): the
 * service's directory. A process that left the service's group, session and
 * tree (a double fork and setsid) still carries it, so a stop finds it.
 */
export const SERVICE_MARK = '_WS_SERVICE';

/**
 * Adds to `members` every live process whose environment (as it was
 * exec'd: /proc/<pid>/environ) holds `_WS_SERVICE=<mark>`. One /proc scan:
 * done when a stop begins and once more before its SIGKILL, not per poll.
 */
export function collectMarked(mark: string, members: Map<number, string>): void {
  const needle = Buffer.from(`\0${SERVICE_MARK}=${mark}\0`);
  for (const p of scanProcesses() ?? []) {
    if (p.pid === process.pid || members.get(p.pid) === p.start) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${p.pid}/environ`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (Buffer.concat([Buffer.from([0]), environ]).includes(needle)) members.set(p.pid, p.start);
  }
}

/**
 * Sends a signal to the service, once to each process: to its process
 * group, then to each member found by collectMembers that is still the
 * same process and is not in that group (the group signal did not reach
 * it). A server with a handler per signal (redis-server logs each SIGTERM)
 * sees one request, not two.
 */
export function signalService(leader: number, members: Map<number, string>, signal: NodeJS.Signals): void {
  killGroup(leader, signal);
  if (!members.size) return;
  const now = new Map((scanProcesses() ?? []).map((p) => [p.pid, p]));
  for (const [pid, start] of members) {
    const p = now.get(pid);
    if (!p || p.start !== start || p.pgrp === leader) continue;
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/** True while any process of the service is alive (members refreshed first; without /proc, its group). */
export function serviceAlive(leader: number, members: Map<number, string>): boolean {
  if (!collectMembers(leader, members)) return groupAlive(leader);
  for (const [pid, start] of members) if (isAlive({ pid, start })) return true;
  return false;
}

/** True while any process of the group is alive (zombies do not count). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const procs = scanProcesses();
  return procs === undefined || procs.some((p) => p.pgrp === pgid);
}
