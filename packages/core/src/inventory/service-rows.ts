import { statSync } from 'node:fs';
import { listServices, runningServices } from '../services/services.js';
import { contextPaths, servicePaths } from '../state/paths.js';
import { lstatOr, readNames, type Problem } from './probe.js';

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
 * What listServices does not report: a service directory without a valid
 * spec.json (listed as `unknown`, or `running` if its process lives) and a
 * live process that state.json does not know about — both from the services
 * reader's runningServices, the one liveness rule (PID and start time).
 */
function addBareServiceFiles(contextDir: string, rows: Map<string, ServiceRow>): void {
  const live = new Map(runningServices(contextDir).map((r) => [r.name, r]));
  for (const name of readNames(contextPaths(contextDir).services)) {
    if (name.startsWith('.')) continue; // ws's own temporaries
    if (!isDirectory(servicePaths(contextDir, name).dir)) continue;
    const running = live.get(name);
    const row = rows.get(name);
    if (row) {
      if (!running) continue;
      row.running = true;
      row.pid ??= running.pid;
    } else {
      rows.set(name, { name, state: running ? 'running' : 'unknown', running: Boolean(running), pid: running?.pid ?? null, port: null });
    }
  }
}

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};
