import { statSync } from 'node:fs';
import { readText } from '../state/atomic.js';
import { isAlive, type ProcessId } from '../process/proc.js';
import { listServices } from '../services/services.js';
import { contextPaths, servicePaths } from '../state/paths.js';
import { lstatOr, pidExists, readNames, type Problem } from './probe.js';

/** One service of a context as ws-list shows it, ws-gc judges it and the snapshot names it. */
export interface ServiceRow {
  name: string;
  /**
   * What `ws-service status` shows: starting, ready, stopping, stopped,
   * exited, failed, backoff; `running` for a bare pid file of a live process;
   * `unknown` for a service directory without a valid spec.json.
   */
  state: string;
  running: boolean;
  pid: number | null;
  port: number | null;
}

/**
 * The services of a context directory: every `services/<name>/`, as the
 * services reader (`listServices`) reports it, completed from the bare files
 * it does not read (see addBareServiceFiles).
 */
export function readServiceRows(contextDir: string, problems: Problem[]): ServiceRow[] {
  const dir = contextPaths(contextDir).services;
  const st = lstatOr(dir);
  if (!st) return [];
  if (!st.isDirectory()) {
    problems.push({ path: dir, message: 'is not a directory' });
    return [];
  }
  const rows = new Map<string, ServiceRow>();
  try {
    for (const info of listServices(contextDir)) {
      rows.set(info.name, {
        name: info.name,
        state: info.shown,
        running: info.running,
        pid: info.running ? (info.mainPid ?? info.state.pid ?? null) : null,
        port: info.spec.readyPort ?? null,
      });
    }
  } catch (error) {
    problems.push({ path: dir, message: `cannot be read: ${(error as Error).message}` });
  }
  addBareServiceFiles(contextDir, rows);
  return [...rows.values()];
}

/**
 * What listServices does not report, read from the bare files: a `pid` file
 * naming a live process makes a service running whatever its spec.json and
 * state.json say (the safe side for a collector), and a service directory
 * without a valid spec.json is listed as `unknown`. Kept apart so that the
 * services reader can take this over and replace it in one place.
 */
function addBareServiceFiles(contextDir: string, rows: Map<string, ServiceRow>): void {
  for (const name of readNames(contextPaths(contextDir).services)) {
    if (name.startsWith('.')) continue; // ws's own temporaries
    const paths = servicePaths(contextDir, name);
    if (!isDirectory(paths.dir)) continue;
    const pid = pidFileAlive(paths.pid);
    const row = rows.get(name);
    if (row) {
      if (!pid.alive) continue;
      row.running = true;
      row.pid ??= pid.pid ?? null;
    } else {
      rows.set(name, { name, state: pid.alive ? 'running' : 'unknown', running: pid.alive, pid: pid.alive ? (pid.pid ?? null) : null, port: null });
    }
  }
}

/**
 * A service's `pid` file (`{"pid","start"}`, present only while it runs)
 * names a live process. A bare number counts as alive while that PID exists.
 */
function pidFileAlive(path: string): { alive: boolean; pid?: number } {
  const text = readText(path);
  if (text === undefined) return { alive: false };
  let id: Partial<ProcessId> | undefined;
  try {
    id = JSON.parse(text) as Partial<ProcessId>;
  } catch {
    id = undefined;
  }
  if (id && typeof id === 'object' && Number.isInteger(id.pid)) {
    const pid = id.pid!;
    return { alive: typeof id.start === 'string' ? isAlive({ pid, start: id.start }) : pidExists(pid), pid };
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? { alive: pidExists(pid), pid } : { alive: false };
}

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};
