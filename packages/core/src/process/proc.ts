import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readlinkSync } from 'node:fs';

/** A process identity that survives PID reuse: the PID plus its start time. */
export interface ProcessId {
  pid: number;
  start: string;
}

/**
 * The start time of a process, as an opaque string: `/proc/<pid>/stat` field 22
 * (clock ticks since boot) on Linux, `ps -o lstart=` elsewhere. Undefined if gone.
 */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (process.platform === 'linux') {
    const stat = readStat(pid);
    return stat?.[19];
  }
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** One buffer for every /proc/<pid>/stat read (a line of a few hundred bytes): the reaper reads one per user per sweep. */
const statBuffer = Buffer.alloc(4096);

/** /proc/<pid>/stat after the command name (`S PPID … STARTTIME …`), or undefined if the process is gone. */
function readStatText(pid: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/stat`, 'r');
  } catch {
    return undefined;
  }
  try {
    // One open, one read, one close (readFileSync adds an fstat and a read to EOF).
    const text = statBuffer.toString('latin1', 0, readSync(fd, statBuffer, 0, statBuffer.length, 0));
    // The command name is in parentheses and may itself contain spaces or ')'.
    return text.slice(text.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Fields of /proc/<pid>/stat after the command name: [0] state, [1] ppid, ..., [19] starttime. */
function readStat(pid: number): string[] | undefined {
  return readStatText(pid)?.split(' ');
}

/** Field `index` (as in readStat) of a stat text, without splitting all fifty of them. */
function statField(text: string, index: number): string | undefined {
  let at = 0;
  for (let i = 0; i < index; i++) {
    at = text.indexOf(' ', at) + 1;
    if (at === 0) return undefined;
  }
  const end = text.indexOf(' ', at);
  return text.slice(at, end === -1 ? undefined : end);
}

/** True while the very process identified (not a recycled PID) is alive and not a zombie. */
export function isAlive(id: ProcessId): boolean {
  if (process.platform === 'linux') {
    // Called for every user at every sweep of the reaper: read two fields, split nothing.
    const stat = readStatText(id.pid);
    return stat !== undefined && stat[0] !== 'Z' && statField(stat, 19) === id.start;
  }
  return processStartTime(id.pid) === id.start;
}

export function parentPid(pid: number): number | undefined {
  if (process.platform === 'linux') {
    const ppid = Number(readStat(pid)?.[1]);
    return ppid > 0 ? ppid : undefined;
  }
  try {
    const ppid = Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim());
    return ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    try {
      return execFileSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' }).trim().split('/').pop();
    } catch {
      return undefined;
    }
  }
}

export function processTty(pid: number): string | undefined {
  try {
    const tty = readlinkSync(`/proc/${pid}/fd/0`);
    return tty.startsWith('/dev/pts/') || tty.startsWith('/dev/tty') ? tty : undefined;
  } catch {
    return undefined;
  }
}

const SHELLS = new Set(['bash', 'zsh', 'fish', 'sh', 'dash', 'ksh', 'mksh', 'tcsh', 'csh', 'nu', 'elvish', 'xonsh']);

/**
 * The process that should count as the user: the nearest shell in our own
 * ancestry (skipping the subshell of a `$(...)`), else our parent.
 */
export function nearestShell(fromPid = process.ppid): number {
  let pid: number | undefined = fromPid;
  for (let depth = 0; pid && pid > 1 && depth < 16; depth++) {
    const name = processName(pid)?.replace(/^-/, '');
    if (name && SHELLS.has(name)) {
      // `eval "$(ws-export bash)"` runs us in a forked subshell: the shell is its parent.
      const parent = parentPid(pid);
      if (parent && processName(parent)?.replace(/^-/, '') === name && sameCommandLine(pid, parent)) return parent;
      return pid;
    }
    pid = parentPid(pid);
  }
  return fromPid;
}

function sameCommandLine(a: number, b: number): boolean {
  try {
    return readFileSync(`/proc/${a}/cmdline`, 'utf8') === readFileSync(`/proc/${b}/cmdline`, 'utf8');
  } catch {
    return false;
  }
}

/** Sleeps without spinning the CPU; for short waits in synchronous code paths. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Wraps a command so that it starts with only stdin, stdout and stderr open.
 * Node passes every descriptor it inherited to its children; a long-lived
 * detached process (the reaper, a server, a build) holding a caller's pipe
 * would keep `$(...)`, a test runner or a terminal waiting forever.
 */
export function withoutInheritedFds(command: string, args: string[]): [string, string[]] {
  // No redirection on the loop: bash would park stderr on a descriptor the loop closes.
  const script = 'fds=(/proc/$$/fd/*); for f in "${fds[@]}"; do f=${f##*/}; [[ $f -gt 2 && -e /proc/$$/fd/$f ]] && eval "exec $f>&-"; done; exec "$@"';
  return ['bash', ['--noprofile', '--norc', '-c', script, 'ws-spawn', command, ...args]];
}
