// Development servers of a context (docs/services.md): what the rest of ws
// uses of services/, one file per concern.
//   spec.ts          what a service is: names, options, spec and state types
//   records.ts       spec.json, state.json, pid, exit; THE reader of which services run
//   environment.ts   the service's environment, its fingerprint, env.json
//   logs.ts          log rotation and tails
//   process-tree.ts  the processes of a service: /proc scan, members, signals
//   readiness.ts     port probe, --ready-cmd, waiting for ready
//   launch.ts        spawning the process (the wrapper that records its exit)
//   start.ts, stop.ts  ws-service start / stop, restart, the unload's stop
//   supervisor.ts    the reaper's pass: exits, restart policies, backoff

export {
  DEFAULT_READY_TIMEOUT,
  DEFAULT_STOP_TIMEOUT,
  RESTART_POLICIES,
  describeArgv,
  isServiceName,
  parseServiceName,
  type RestartPolicy,
  type ServiceOptions,
  type ServiceSpec,
  type ServiceState,
  type ServiceStateName,
} from './spec.js';
export {
  hasService,
  listServices,
  readServiceSpec,
  readServiceState,
  runningServiceCount,
  runningServices,
  serviceProcess,
  type RunningService,
  type ServiceInfo,
} from './records.js';
export { readSavedEnv, serviceEnv, serviceFingerprint } from './environment.js';
export { DEFAULT_LOG_MAX, rotateServiceLog, serviceLogPath, serviceLogTail, tailLines } from './logs.js';
export { groupAlive, mainPid } from './process-tree.js';
export { SETTLE_MS, portAccepting } from './readiness.js';
export { ServiceError, startService, type StartRequest, type StartResult } from './start.js';
export { stopAllServices, stopOrder, stopService, type StopResult } from './stop.js';
export { backoffMs, needsSupervision, superviseServices, type SuperviseOptions } from './supervisor.js';
