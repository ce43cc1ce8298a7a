import { basename } from 'node:path';
import { ensureDir } from '../state/atomic.js';
import { contextId } from '../state/home.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, EX } from '../cli/errors.js';
import { lock } from '../state/lock.js';
import { servicePaths } from '../state/paths.js';
import { serviceEnv, serviceFingerprint, writeSavedEnv } from './environment.js';
import { launch } from './launch.js';
import { lastRunLines, serviceLogPath } from './logs.js';
import { mainPid } from './process-tree.js';
import { POLL_MS, awaitReady } from './readiness.js';
import { dropPidFile, listServices, readServiceSpec, readServiceState, serviceEvent, stateAlive, writeServiceSpec, writeServiceState } from './records.js';
import { RUNNING_STATES, type ServiceOptions, type ServiceSpec, type ServiceState } from './spec.js';
import { stopInstance } from './stop.js';

/** A service that did not come up: the message plus the last lines it printed. */
export class ServiceError extends CliError {
  constructor(
    message: string,
    readonly logLines: string[],
    readonly logPath: string,
  ) {
    super(EX.FAIL, message);
    this.name = 'ServiceError';
  }
}

export interface StartRequest {
  home: string;
  contextDir: string;
  root: string;
  /** The context's name, for events. */
  context: string;
  name: string;
  argv: string[];
  options: ServiceOptions;
  /** The environment the service gets (the caller's; inside an evaluation, the context's). */
  env: NodeJS.ProcessEnv;
  /** Stop and start even if the same command is running (`ws-service restart`). */
  force?: boolean;
  /** Progress lines for the user (stderr). */
  say?: (line: string) => void;
}

export interface StartResult {
  result: 'unchanged' | 'started' | 'restarted';
  pid: number;
  readyMs?: number;
}

/**
 * `ws-service start`: makes the service run the given command and returns
 * once it is ready. The same command (and environment) already running is
 * left alone; a changed one is stopped and started again. `--after`
 * services must exist (else 66) and be ready first. A service that exits
 * or is not ready in time is stopped and a ServiceError (exit 1) carries
 * its last log lines.
 */
export async function startService(req: StartRequest): Promise<StartResult> {
  const { home, contextDir, name, options } = req;
  const env = serviceEnv(req.env);
  for (const dep of options.after) {
    if (dep === name) throw new CliError(EX.USAGE, `${name} cannot start --after itself`);
    if (!readServiceSpec(contextDir, dep)) throw new CliError(EX.NOINPUT, `no service named '${dep}' in context ${req.context} (--after ${dep})`);
  }
  const paths = servicePaths(contextDir, name);
  ensureDir(paths.dir);
  // Another start of the same service may be waiting for its readiness: wait for it, then look.
  const release = lock(paths.lock, (options.readyTimeout + options.stopTimeout + 10) * 1000);
  try {
    // A shared context's service is the same from any of its roots (docs/contexts.md): their root and cwd do not count.
    const shared = basename(contextDir) !== contextId(req.root);
    const fingerprint = shared ? serviceFingerprint(req.argv, '', withoutRoot(env), req.env) : serviceFingerprint(req.argv, req.root, env, req.env);
    const old = readServiceSpec(contextDir, name);
    let state = readServiceState(contextDir, name);
    const now = new Date().toISOString();
    const spec: ServiceSpec = {
      v: 1,
      name,
      argv: req.argv,
      cwd: req.root,
      root: req.root,
      context: req.context,
      fingerprint,
      ...options,
      order: old?.order ?? nextOrder(contextDir),
      created: old?.created ?? now,
      updated: now,
    };
    const running = RUNNING_STATES.has(state.state) && stateAlive(state);
    let restarted = false;
    if (running && old?.fingerprint === fingerprint && !req.force && state.state !== 'stopping') {
      writeServiceSpec(contextDir, spec);
      if (state.state === 'ready') return { result: 'unchanged', pid: mainPid(state.pid!) };
      // Started by someone who died before it was ready, or restarted by the reaper: wait for it.
      return await finishStart(req, spec, env, state, Date.now() + options.readyTimeout * 1000, 'unchanged');
    }
    if (running) {
      const why = req.force ? 'restart' : state.state === 'stopping' ? 'stop' : 'changed';
      if (why === 'changed') req.say?.(`restarting ${name}: its command or environment changed`);
      await stopInstance(home, contextDir, old ?? spec, state, why, req.env);
      state = readServiceState(contextDir, name);
      restarted = true;
    } else if (state.pid) {
      dropPidFile(contextDir, name, state.pid);
    }
    const deadline = Date.now() + options.readyTimeout * 1000;
    await waitForDependencies(contextDir, spec, deadline);
    writeServiceSpec(contextDir, spec);
    writeSavedEnv(contextDir, name, env);
    const fresh = launch(home, contextDir, spec, env, req.env, 0, Date.now() + options.readyTimeout * 1000);
    return await finishStart(req, spec, env, fresh, fresh.readyDeadline!, restarted ? 'restarted' : 'started');
  } finally {
    release();
  }
}

/** The next start order number in the context (one more than any service's). */
function nextOrder(contextDir: string): number {
  return listServices(contextDir).reduce((max, s) => Math.max(max, s.spec.order), 0) + 1;
}

/** Waits for readiness after a start; records and reports the outcome. */
async function finishStart(req: StartRequest, spec: ServiceSpec, env: Record<string, string>, state: ServiceState, deadline: number, result: StartResult['result']): Promise<StartResult> {
  const { home, contextDir, name } = req;
  const outcome = await awaitReady(contextDir, spec, env, state, deadline);
  const startedAt = state.startedAt ?? Date.now();
  if (outcome.kind === 'ready') {
    const ready: ServiceState = { ...state, state: 'ready', readyAt: Date.now(), readyDeadline: undefined };
    writeServiceState(contextDir, name, ready);
    const readyMs = ready.readyAt! - startedAt;
    serviceEvent(home, 'service.ready', spec, state.pid, { duration_ms: readyMs }, req.env);
    return { result, pid: mainPid(state.pid!), readyMs };
  }
  let message: string;
  if (outcome.kind === 'exited') {
    dropPidFile(contextDir, name, state.pid);
    writeServiceState(contextDir, name, { ...state, state: 'failed', exitedAt: Date.now(), status: outcome.status, reason: 'exited before it was ready', readyDeadline: undefined });
    serviceEvent(home, 'service.exit', spec, state.pid, { status: outcome.status }, req.env);
    message = `${name} exited ${outcome.status === null ? '' : `with status ${outcome.status} `}before it was ready`;
  } else {
    await stopInstance(home, contextDir, spec, state, 'not ready', req.env, 'failed');
    message = `${name} was not ready after ${spec.readyTimeout} s${outcome.detail ? ` (${outcome.detail})` : ''}; stopped it`;
  }
  throw new ServiceError(message, lastRunLines(contextDir, name, 10), serviceLogPath(contextDir, name));
}

/** Waits until every `--after` service is ready; one that is not running and not about to be fails at once. */
async function waitForDependencies(contextDir: string, spec: ServiceSpec, deadline: number): Promise<void> {
  for (const dep of spec.after) {
    for (;;) {
      const state = readServiceState(contextDir, dep);
      const alive = stateAlive(state);
      if (state.state === 'ready' && alive) break;
      const coming = (state.state === 'starting' && alive) || state.state === 'backoff' || (state.state === 'ready' && !alive);
      if (!coming) {
        throw new ServiceError(`${spec.name} needs ${dep}, which is not running (${state.state})`, [], serviceLogPath(contextDir, dep));
      }
      if (Date.now() >= deadline) {
        throw new ServiceError(`${spec.name} needs ${dep}, which was not ready after ${spec.readyTimeout} s`, [], serviceLogPath(contextDir, dep));
      }
      await sleep(POLL_MS);
    }
  }
}

/** A service's environment without the variable that names the root it was started from. */
function withoutRoot(env: Record<string, string>): Record<string, string> {
  const { WS_ROOT: _root, ...rest } = env;
  return rest;
}
