import { CliError, EX } from '../cli/errors.js';

// What a service is: its name, the options of `ws-service start`, and the
// two records that describe it on disk, spec.json (what runs) and
// state.json (what it is doing). docs/services.md is the protocol.

export type RestartPolicy = 'no' | 'on-failure' | 'always';
export const RESTART_POLICIES: readonly RestartPolicy[] = ['no', 'on-failure', 'always'];

/** The options of `ws-service start` (times in seconds). */
export interface ServiceOptions {
  readyPort?: number;
  readyCmd?: string;
  readyTimeout: number;
  after: string[];
  restart: RestartPolicy;
  stopTimeout: number;
}

export const DEFAULT_READY_TIMEOUT = 30;
export const DEFAULT_STOP_TIMEOUT = 10;

/** services/<name>/spec.json: what to run and how (the fingerprint decides "changed"). */
export interface ServiceSpec extends ServiceOptions {
  v: 1;
  name: string;
  argv: string[];
  cwd: string;
  root: string;
  context: string;
  /** sha256 of argv, cwd and the environment without per-terminal variables. */
  fingerprint: string;
  /** Start order: given when the service is first started; unload stops in reverse. */
  order: number;
  created: string;
  updated: string;
}

export type ServiceStateName = 'starting' | 'ready' | 'stopping' | 'stopped' | 'exited' | 'failed' | 'backoff';

/** The states in which a process is meant to run (and is, if its PID and start time still match). */
export const RUNNING_STATES: ReadonlySet<ServiceStateName> = new Set<ServiceStateName>(['starting', 'ready', 'stopping']);

/** services/<name>/state.json: what the service is doing (times in ms since the epoch). */
export interface ServiceState {
  state: ServiceStateName;
  pid?: number;
  start?: string;
  startedAt?: number;
  readyAt?: number;
  /** While starting: when it counts as not ready. */
  readyDeadline?: number;
  /** While stopping: when SIGKILL follows SIGTERM. */
  stopDeadline?: number;
  exitedAt?: number;
  /** Exit status of the last run (128+N for signal N); null when unknown. */
  status?: number | null;
  /** Restarts since the service last ran long enough (the backoff exponent). */
  restarts: number;
  nextRestartAt?: number;
  reason?: string;
}

const SERVICE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** True for a valid service name (a directory under `services/` with another name is not a service). */
export const isServiceName = (text: string) => SERVICE_NAME_RE.test(text);

/** A service name: letters, digits, `.`, `_`, `-`, at most 64; anything else is a usage error (64). */
export function parseServiceName(text: string): string {
  if (!isServiceName(text)) {
    throw new CliError(EX.USAGE, `invalid service name '${text.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 80)}': use letters, digits, '.', '_', '-' (at most 64)`);
  }
  return text;
}

/** An argv as one readable line (quoted only where needed). */
export function describeArgv(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
