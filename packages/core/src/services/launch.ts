import { spawn } from 'node:child_process';
import { closeSync, statSync, writeSync } from 'node:fs';
import { CliError, EX } from '../cli/errors.js';
import { openAppend, ensureDir, rmQuiet } from '../state/atomic.js';
import { servicePaths } from '../state/paths.js';
import { processStartTime, type ProcessId } from '../process/proc.js';
import { SERVICE_MARK } from './process-tree.js';
import { splitRawEnv, withRawImport } from '../process/raw-env.js';
import { rotateServiceLog, runStartLine, serviceLogMax } from './logs.js';
import { serviceEvent, writePidFile, writeServiceState } from './records.js';
import { describeArgv, type ServiceSpec, type ServiceState } from './spec.js';

/**
 * The process a service runs in: bash closes every inherited descriptor but
 * the log (so nobody waiting on a pipe, like ws-export reading a workspace
 * file's output, is ever held by the server), runs the command as its child
 * and records its exit status in `exit`, then drops the `pid` file. Its
 * signal traps are reset by exec, so the command gets default dispositions;
 * the trap only keeps bash alive until the command is done.
 */
const WRAPPER = `unset _WS_SERVICE_WRAPPER
for _ws_fd in /dev/fd/*; do _ws_fd=\${_ws_fd##*/}; if ((_ws_fd > 2)); then eval "exec \${_ws_fd}>&-"; fi; done
_ws_dir=$1
shift
unset _ws_fd
trap : TERM INT HUP QUIT
"$@"
_ws_status=$?
printf '{"pid":%d,"status":%d}\\n' "$$" "$_ws_status" >"$_ws_dir/exit.tmp.$$" && command -p mv -f "$_ws_dir/exit.tmp.$$" "$_ws_dir/exit"
_ws_line=
read -r _ws_line <"$_ws_dir/pid" 2>/dev/null
[[ $_ws_line == "{\\"pid\\":$$,"* ]] && command -p rm -f "$_ws_dir/pid"
printf -- '--- ws-service: exited with status %d ---\\n' "$_ws_status"
exit "$_ws_status"`;

/** Starts the service's process, detached in its own session and process group, output to its log. */
function spawnService(contextDir: string, spec: ServiceSpec, env: Record<string, string>, ownEnv: NodeJS.ProcessEnv): ProcessId {
  const paths = servicePaths(contextDir, spec.name);
  ensureDir(paths.dir);
  let cwdOk = false;
  try {
    cwdOk = statSync(spec.cwd).isDirectory();
  } catch {
    /* reported below */
  }
  if (!cwdOk) throw new CliError(EX.NOINPUT, `cannot start ${spec.name}: no such directory ${spec.cwd}`);
  rotateServiceLog(paths.log, serviceLogMax(ownEnv), false);
  rmQuiet(paths.exit);
  const fd = openAppend(paths.log);
  try {
    writeSync(fd, runStartLine(spec.name, describeArgv(spec.argv)));
    // The script travels in the environment (and leaves it at once) so that `ps` shows a short line.
    // Values that are not UTF-8 keep their bytes (raw-env.ts): the wrapper imports them first.
    const split = splitRawEnv(env);
    const child = spawn('bash', ['--noprofile', '--norc', '-c', 'eval "$_WS_SERVICE_WRAPPER"', `ws-service:${spec.name}`, paths.dir, ...spec.argv], {
      cwd: spec.cwd,
      // SERVICE_MARK: found again at the stop even in a process that left the group and session.
      env: { ...split.env, _WS_SERVICE_WRAPPER: withRawImport(WRAPPER, split), [SERVICE_MARK]: paths.dir },
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    child.on('error', split.cleanup);
    child.unref();
    if (!child.pid) throw new CliError(EX.UNAVAILABLE, `cannot start ${spec.name}: bash is not available`);
    const id: ProcessId = { pid: child.pid, start: processStartTime(child.pid) ?? '' };
    writePidFile(contextDir, spec.name, id);
    return id;
  } finally {
    closeSync(fd);
  }
}

/**
 * Spawns the process and records it: the `pid` file, state `starting`
 * (`restarts` carried over for the backoff), a service.start event.
 */
export function launch(home: string, contextDir: string, spec: ServiceSpec, env: Record<string, string>, ownEnv: NodeJS.ProcessEnv, restarts: number, readyDeadline: number): ServiceState {
  const id = spawnService(contextDir, spec, env, ownEnv);
  const state: ServiceState = { state: 'starting', pid: id.pid, start: id.start, startedAt: Date.now(), readyDeadline, restarts };
  writeServiceState(contextDir, spec.name, state);
  serviceEvent(home, 'service.start', spec, id.pid, { command: spec.argv, ...(restarts ? { restart: restarts } : {}) }, ownEnv);
  return state;
}
