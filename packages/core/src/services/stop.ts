import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, EX } from '../cli/errors.js';
import { tryLock } from '../state/lock.js';
import { servicePaths } from '../state/paths.js';
import { logNote } from './logs.js';
import { collectMarked, collectMembers, serviceAlive, signalService } from './process-tree.js';
import { dropPidFile, listServices, readServiceSpec, readServiceState, recordedStatus, serviceEvent, stateAlive, writeServiceState, type ServiceInfo } from './records.js';
import { RUNNING_STATES, type ServiceSpec, type ServiceState, type ServiceStateName } from './spec.js';

/** After SIGKILL, how long to wait for the group to be gone. */
const KILL_WAIT_MS = 2000;

/**
 * Stops one running instance: one SIGTERM to each of its processes (the
 * group, and members outside it), SIGKILL after its stop timeout, then
 * waits (at most 2 s more) until they are gone. Records state `final`
 * (default `stopped`) and emits service.stop. The one place that stops a
 * service: stop, restart, a changed command, a failed start, the unload
 * and the supervisor all come here, once per instance.
 */
export async function stopInstance(
  home: string,
  contextDir: string,
  spec: ServiceSpec,
  state: ServiceState,
  reason: string,
  env: NodeJS.ProcessEnv,
  final: ServiceStateName = 'stopped',
): Promise<{ killed: boolean }> {
  const pgid = state.pid;
  if (!pgid) return { killed: false };
  const stopDeadline = state.state === 'stopping' && state.stopDeadline ? state.stopDeadline : Date.now() + spec.stopTimeout * 1000;
  writeServiceState(contextDir, spec.name, { ...state, state: 'stopping', stopDeadline, reason });
  // Only a group whose leader is the recorded process is surely ours: a dead
  // leader's number may have been given to another process since.
  const ours = stateAlive(state);
  let killed = false;
  if (ours) {
    const members = new Map<number, string>();
    // Its group, session and tree, and every process carrying its mark (one
    // that double-forked and called setsid left all three): each is
    // SIGKILLed after the grace if still alive, even once the leader exited.
    const mark = servicePaths(contextDir, spec.name).dir;
    collectMembers(pgid, members);
    collectMarked(mark, members);
    signalService(pgid, members, 'SIGTERM');
    while (serviceAlive(pgid, members) && Date.now() < stopDeadline) await sleep(50);
    collectMarked(mark, members);
    if (serviceAlive(pgid, members)) {
      killed = true;
      signalService(pgid, members, 'SIGKILL');
      const end = Date.now() + KILL_WAIT_MS;
      while (serviceAlive(pgid, members) && Date.now() < end) await sleep(20);
    }
  }
  const status = recordedStatus(contextDir, spec.name, pgid);
  dropPidFile(contextDir, spec.name, pgid);
  writeServiceState(contextDir, spec.name, { ...state, state: final, stopDeadline: undefined, readyDeadline: undefined, exitedAt: Date.now(), status, reason });
  logNote(contextDir, spec.name, `stopped (${reason})${killed ? ' with SIGKILL' : ''}`);
  serviceEvent(home, 'service.stop', spec, pgid, { status, reason, killed }, env);
  return { killed };
}

/**
 * tryLock, waiting without blocking the event loop: in the reaper, the
 * holder may be a supervision pass of the same process awaiting a probe.
 */
export async function lockWithin(file: string, waitMs: number): Promise<(() => void) | undefined> {
  const end = Date.now() + waitMs;
  for (;;) {
    const release = tryLock(file);
    if (release || Date.now() >= end) return release;
    await sleep(50);
  }
}

export interface StopResult {
  /** The service was running and is stopped now. */
  stopped: boolean;
  killed: boolean;
}

/** `ws-service stop NAME`: stops it if it runs and cancels a pending restart. Unknown NAME: 66. */
export async function stopService(home: string, contextDir: string, name: string, env: NodeJS.ProcessEnv, reason = 'stop'): Promise<StopResult> {
  const spec = readServiceSpec(contextDir, name);
  if (!spec) throw new CliError(EX.NOINPUT, `no service named '${name}' in this context`);
  // A start waiting for readiness holds the lock; stopping wins after a while.
  const release = await lockWithin(servicePaths(contextDir, name).lock, 5000);
  try {
    const state = readServiceState(contextDir, name);
    if (RUNNING_STATES.has(state.state) && stateAlive(state)) {
      const { killed } = await stopInstance(home, contextDir, spec, state, reason, env);
      return { stopped: true, killed };
    }
    // Stopped on purpose: no longer "should run" (a crash's status and time stay in the record).
    if (state.state !== 'stopped') writeServiceState(contextDir, name, { ...state, state: 'stopped', nextRestartAt: undefined, reason });
    if (state.pid) dropPidFile(contextDir, name, state.pid);
    return { stopped: false, killed: false };
  } finally {
    release?.();
  }
}

/** Services in the order to stop them: reverse start order, and never one before a service that runs `--after` it. */
export function stopOrder(infos: ServiceInfo[]): ServiceInfo[] {
  const remaining = [...infos].sort((a, b) => b.spec.order - a.spec.order || b.name.localeCompare(a.name));
  const out: ServiceInfo[] = [];
  while (remaining.length) {
    const free = remaining.findIndex((s) => !remaining.some((o) => o !== s && o.spec.after.includes(s.name)));
    out.push(...remaining.splice(free === -1 ? 0 : free, 1));
  }
  return out;
}

/**
 * Stops every service of a context, in reverse start order (SIGTERM to the
 * group, SIGKILL after its stop timeout) and cancels pending restarts.
 * Called by the unload before its hooks run.
 */
export async function stopAllServices(home: string, contextDir: string, env: NodeJS.ProcessEnv, reason = 'unload'): Promise<void> {
  for (const info of stopOrder(listServices(contextDir))) {
    try {
      await stopService(home, contextDir, info.name, env, reason);
    } catch {
      /* one service must not keep the others running */
    }
  }
}
