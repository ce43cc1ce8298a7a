import { readdirSync } from 'node:fs';
import { tryLock } from '../state/lock.js';
import { contextPaths, servicePaths } from '../state/paths.js';
import { readSavedEnv, serviceEnv } from './environment.js';
import { launch } from './launch.js';
import { logNote, rotateServiceLog, serviceLogMax } from './logs.js';
import { serviceAlive, signalService } from './process-tree.js';
import { probeReady } from './readiness.js';
import { dropPidFile, exitedRecently, readServiceSpec, readServiceState, recordedStatus, serviceEvent, stateAlive, writeServiceState } from './records.js';
import { RUNNING_STATES, isServiceName, type ServiceSpec, type ServiceState } from './spec.js';
import { stopInstance } from './stop.js';

// The reaper's supervision of services: noticing exits, restart policies
// with backoff, readiness of restarted services, stops whose stopper died.
// No process stays behind per service but the service itself (and the bash
// that records its exit status): whoever sweeps does this.

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
/** A service that ran this long before it exited starts its backoff over. */
const BACKOFF_RESET_MS = 60_000;

/** Backoff before restart number `n` (1, 2, 4 … 60 s). */
export const backoffMs = (n: number) => Math.min(BACKOFF_BASE_MS * 2 ** Math.max(n - 1, 0), BACKOFF_MAX_MS);

export interface SuperviseOptions {
  now?: () => number;
}

/**
 * One supervision pass over a context's services, for the reaper's sweep:
 * a service whose process is gone gets service.exit (with its status) and,
 * with `--restart on-failure` (non-zero status) or `always`, a restart after
 * an exponential backoff kept in state.json; a restarted service is checked
 * for readiness on later passes; an interrupted stop is finished; logs of
 * live services are kept under their size cap. Cheap when nothing changed:
 * reads state.json, takes no lock.
 */
export async function superviseServices(home: string, contextDir: string, env: NodeJS.ProcessEnv, opts: SuperviseOptions = {}): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(contextPaths(contextDir).services);
  } catch {
    return;
  }
  const now = opts.now ?? Date.now;
  for (const name of names) {
    if (!isServiceName(name)) continue;
    const peek = readServiceState(contextDir, name);
    const alive = stateAlive(peek);
    const due =
      (RUNNING_STATES.has(peek.state) && !alive) ||
      peek.state === 'starting' ||
      peek.state === 'stopping' ||
      (peek.state === 'backoff' && now() >= (peek.nextRestartAt ?? 0));
    if (alive) rotateServiceLog(servicePaths(contextDir, name).log, serviceLogMax(env), true);
    if (!due) continue;
    const release = tryLock(servicePaths(contextDir, name).lock);
    if (!release) continue; // a ws-service command is at it
    try {
      await superviseOne(home, contextDir, name, env, now);
    } catch {
      /* the next pass tries again */
    } finally {
      release();
    }
  }
}

/**
 * Does a context have a service the reaper must keep watching: one meant to
 * run (starting, ready, stopping) or waiting for a restart? The Node reaper
 * stays resident while one does (docs/unload.md, "The watcher").
 */
export function needsSupervision(contextDir: string): boolean {
  let names: string[];
  try {
    names = readdirSync(contextPaths(contextDir).services);
  } catch {
    return false;
  }
  return names.some((name) => {
    if (!isServiceName(name)) return false;
    const state = readServiceState(contextDir, name).state;
    return RUNNING_STATES.has(state) || state === 'backoff';
  });
}

async function superviseOne(home: string, contextDir: string, name: string, env: NodeJS.ProcessEnv, now: () => number): Promise<void> {
  const spec = readServiceSpec(contextDir, name);
  const state = readServiceState(contextDir, name);
  if (!spec) return;
  const alive = stateAlive(state);
  if (state.state === 'stopping') {
    // Its stopper died: finish the stop.
    await stopInstance(home, contextDir, spec, state, state.reason ?? 'stop', env);
    return;
  }
  if ((state.state === 'starting' || state.state === 'ready') && !alive) {
    noticeExit(home, contextDir, spec, state, env, now);
    return;
  }
  if (state.state === 'starting' && alive) {
    const deadline = state.readyDeadline ?? (state.startedAt ?? now()) + spec.readyTimeout * 1000;
    const probe = await probeReady(spec, savedEnv(contextDir, name, env), state.startedAt ?? now(), Math.min(1000, Math.max(deadline - now(), 100)));
    if (probe.ok && stateAlive(state)) {
      writeServiceState(contextDir, name, { ...state, state: 'ready', readyAt: now(), readyDeadline: undefined });
      serviceEvent(home, 'service.ready', spec, state.pid, { duration_ms: now() - (state.startedAt ?? now()) }, env);
    } else if (now() >= deadline) {
      await stopInstance(home, contextDir, spec, state, 'not ready', env, 'failed');
      scheduleRestart(contextDir, spec, readServiceState(contextDir, name), now, true);
    }
    return;
  }
  if (state.state === 'backoff' && now() >= (state.nextRestartAt ?? 0)) {
    logNote(contextDir, name, `restart ${state.restarts} (--restart ${spec.restart})`);
    try {
      launch(home, contextDir, spec, savedEnv(contextDir, name, env), env, state.restarts, now() + spec.readyTimeout * 1000);
    } catch (error) {
      writeServiceState(contextDir, name, { ...state, state: 'failed', nextRestartAt: undefined, reason: (error as Error).message });
    }
  }
}

/** The environment saved at the last start (the context's), else the given one. */
const savedEnv = (contextDir: string, name: string, env: NodeJS.ProcessEnv) => readSavedEnv(contextDir, name) ?? serviceEnv(env);

/** Records an exit noticed by the supervisor: service.exit, then a restart if the policy wants one. */
function noticeExit(home: string, contextDir: string, spec: ServiceSpec, state: ServiceState, env: NodeJS.ProcessEnv, now: () => number): void {
  const status = recordedStatus(contextDir, spec.name, state.pid);
  dropPidFile(contextDir, spec.name, state.pid);
  // Whatever the command left in its group goes too, so a restart finds its port free; only
  // right after the exit, while the group's number cannot belong to anyone else yet.
  if (state.pid && exitedRecently(contextDir, spec.name, now())) {
    const members = new Map<number, string>();
    if (serviceAlive(state.pid, members)) signalService(state.pid, members, 'SIGTERM');
  }
  const exited: ServiceState = { ...state, state: 'exited', exitedAt: now(), status, readyDeadline: undefined, reason: 'exited' };
  writeServiceState(contextDir, spec.name, exited);
  serviceEvent(home, 'service.exit', spec, state.pid, { status }, env);
  const failed = status !== 0;
  if (spec.restart === 'always' || (spec.restart === 'on-failure' && failed)) scheduleRestart(contextDir, spec, exited, now, state.state !== 'ready');
}

function scheduleRestart(contextDir: string, spec: ServiceSpec, state: ServiceState, now: () => number, neverReady: boolean): void {
  if (spec.restart === 'no') return;
  const ranFor = now() - (state.startedAt ?? now());
  const restarts = !neverReady && ranFor >= BACKOFF_RESET_MS ? 1 : state.restarts + 1;
  const delay = backoffMs(restarts);
  writeServiceState(contextDir, spec.name, { ...state, state: 'backoff', restarts, nextRestartAt: now() + delay });
  logNote(contextDir, spec.name, `restarting in ${delay / 1000} s`);
}
