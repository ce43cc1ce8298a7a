import { readdirSync, statSync } from 'node:fs';
import { emitEvent } from '../events/emit.js';
import { readJson, readText, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { contextPaths, servicePaths } from '../state/paths.js';
import { isAlive, type ProcessId } from '../process/proc.js';
import { mainPid } from './process-tree.js';
import { RUNNING_STATES, isServiceName, type ServiceSpec, type ServiceState, type ServiceStateName } from './spec.js';

// The files of services/<name>/ (spec.json, state.json, pid, exit) and the
// one reader of "the services of a context and which of them run". Every
// reader of running services — ws-service status, ws-list, ws-gc, the event
// snapshot, a prompt's count — goes through listServices or runningServices,
// so they all apply the one liveness rule of serviceProcess.

export function readServiceSpec(contextDir: string, name: string): ServiceSpec | undefined {
  const spec = readJson<ServiceSpec>(servicePaths(contextDir, name).spec);
  if (!spec || typeof spec.name !== 'string' || !Array.isArray(spec.argv) || !spec.argv.length || typeof spec.cwd !== 'string') return undefined;
  return { ...spec, after: Array.isArray(spec.after) ? spec.after : [], order: Number(spec.order) || 0 };
}

export const writeServiceSpec = (contextDir: string, spec: ServiceSpec) => writeFileAtomic(servicePaths(contextDir, spec.name).spec, `${JSON.stringify(spec)}\n`);

/** True if the service directory has a valid spec (the context "has" the service). */
export const hasService = (contextDir: string, name: string) => readServiceSpec(contextDir, name) !== undefined;

/** state.json; a missing or corrupt one reads as `stopped`. */
export function readServiceState(contextDir: string, name: string): ServiceState {
  const state = readJson<ServiceState>(servicePaths(contextDir, name).state);
  return state && typeof state.state === 'string' ? { ...state, restarts: Number(state.restarts) || 0 } : { state: 'stopped', restarts: 0 };
}

export const writeServiceState = (contextDir: string, name: string, state: ServiceState) =>
  writeFileAtomic(servicePaths(contextDir, name).state, `${JSON.stringify(state)}\n`);

/** The process state.json records, if it has both PID and start time. */
export const stateProcess = (state: ServiceState): ProcessId | undefined =>
  state.pid && state.start !== undefined ? { pid: state.pid, start: state.start } : undefined;

/** The process state.json records is alive (not a recycled PID), whatever the state says. */
export function stateAlive(state: ServiceState): boolean {
  const id = stateProcess(state);
  return id !== undefined && isAlive(id);
}

/** The `pid` file: `{"pid","start"}`; a bare number (hand-made, older ws) gives no start. */
export function readPidFile(contextDir: string, name: string): { pid: number; start?: string } | undefined {
  const text = readText(servicePaths(contextDir, name).pid);
  if (text === undefined) return undefined;
  let id: { pid?: unknown; start?: unknown } | undefined;
  try {
    id = JSON.parse(text) as typeof id;
  } catch {
    id = undefined;
  }
  if (id && typeof id === 'object' && Number.isInteger(id.pid) && (id.pid as number) > 0) {
    return { pid: id.pid as number, ...(typeof id.start === 'string' ? { start: id.start } : {}) };
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? { pid } : undefined;
}

export const writePidFile = (contextDir: string, name: string, id: ProcessId) =>
  writeFileAtomic(servicePaths(contextDir, name).pid, `${JSON.stringify({ pid: id.pid, start: id.start })}\n`, 0o644);

/** Drops the `pid` file if it still names this process (or is unreadable). */
export function dropPidFile(contextDir: string, name: string, pid: number | undefined): void {
  const record = readPidFile(contextDir, name);
  if (!record || record.pid === pid) rmQuiet(servicePaths(contextDir, name).pid);
}

/** The exit status the wrapper recorded for this PID: a number, or null if it was killed before it could. */
export function recordedStatus(contextDir: string, name: string, pid: number | undefined): number | null {
  const exit = readJson<{ pid: number; status: number }>(servicePaths(contextDir, name).exit);
  return exit && exit.pid === pid && Number.isInteger(exit.status) ? exit.status : null;
}

/** True if the wrapper recorded an exit in the last few seconds. */
export function exitedRecently(contextDir: string, name: string, now: number): boolean {
  try {
    return now - statSync(servicePaths(contextDir, name).exit).mtimeMs < 5000;
  } catch {
    return false;
  }
}

const pidExists = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * The one liveness rule of a service: the PID of its live process group
 * leader, or undefined. Live means the very process recorded, PID and start
 * time (a recycled PID is not the service): state.json's while its state is
 * a running one, else the `pid` file's, which exists only while the
 * service runs — it also covers the moment between the spawn and the
 * state's first write, and a service whose spec or state is torn. A `pid`
 * file without a start time counts while some process has that PID.
 */
export function serviceProcess(contextDir: string, name: string, state: ServiceState = readServiceState(contextDir, name)): number | undefined {
  if (RUNNING_STATES.has(state.state) && stateAlive(state)) return state.pid;
  const file = readPidFile(contextDir, name);
  if (!file) return undefined;
  const alive = file.start !== undefined ? isAlive({ pid: file.pid, start: file.start }) : pidExists(file.pid);
  return alive ? file.pid : undefined;
}

/** One service of a context, as the one reader sees it. */
export interface ServiceInfo {
  name: string;
  spec: ServiceSpec;
  state: ServiceState;
  /** Its process is alive (serviceProcess). */
  running: boolean;
  /** The state as the user should see it: `exited` for a running state whose process is gone, `starting` for a live process that state.json does not know yet. */
  shown: ServiceStateName;
  /** While running: its process group leader (the bash that waits for the command). */
  pid?: number;
  /** While running: the command's own PID. */
  mainPid?: number;
}

/** A service directory whose process is alive; `spec` is undefined if its spec.json is missing or corrupt. */
export interface RunningService {
  name: string;
  pid: number;
  mainPid: number;
  spec?: ServiceSpec;
}

/** The names of the service directories of a context (valid names only). */
function serviceNames(contextDir: string): string[] {
  try {
    return readdirSync(contextPaths(contextDir).services).filter(isServiceName);
  } catch {
    return [];
  }
}

function readService(contextDir: string, name: string): { spec?: ServiceSpec; state: ServiceState; pid?: number } {
  const state = readServiceState(contextDir, name);
  return { spec: readServiceSpec(contextDir, name), state, pid: serviceProcess(contextDir, name, state) };
}

/**
 * The services of a context that have a spec, in start order, with their
 * state and liveness (serviceProcess). A service whose spec.json is missing
 * or corrupt is not listed (docs/state-home.md); runningServices still
 * counts it while its process lives.
 */
export function listServices(contextDir: string): ServiceInfo[] {
  const infos: ServiceInfo[] = [];
  for (const name of serviceNames(contextDir)) {
    const { spec, state, pid } = readService(contextDir, name);
    if (!spec) continue;
    const running = pid !== undefined;
    const meantToRun = RUNNING_STATES.has(state.state);
    const shown: ServiceStateName = running ? (meantToRun ? state.state : 'starting') : meantToRun ? 'exited' : state.state;
    infos.push({ name, spec, state, running, shown, ...(running ? { pid, mainPid: mainPid(pid) } : {}) });
  }
  return infos.sort((a, b) => a.spec.order - b.spec.order || a.name.localeCompare(b.name));
}

/**
 * Every service of a context whose process is alive (serviceProcess),
 * by name — also one without a readable spec: a live process in a context
 * keeps it alive (ws-gc) and counts as running (ws-list, prompts).
 */
export function runningServices(contextDir: string): RunningService[] {
  const out: RunningService[] = [];
  for (const name of serviceNames(contextDir)) {
    const { spec, pid } = readService(contextDir, name);
    if (pid !== undefined) out.push({ name, pid, mainPid: mainPid(pid), ...(spec ? { spec } : {}) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** How many services of the context run (`%S` of a prompt). */
export const runningServiceCount = (contextDir: string) => runningServices(contextDir).length;

/**
 * Emits a service.* event: `service`, `pid` (the service's process group,
 * the same in all events of one run), `port` (its --ready-port or null) and
 * `status` (null unless it ended), then the type's own fields (docs/events.md).
 */
export function serviceEvent(home: string, type: string, spec: ServiceSpec, pid: number | undefined, fields: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  emitEvent(home, type, { context: spec.context, root: spec.root }, { service: spec.name, pid: pid ?? null, port: spec.readyPort ?? null, status: null, ...fields }, env);
}
