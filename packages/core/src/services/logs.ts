import { closeSync, fstatSync, openSync, readFileSync, readSync, renameSync, statSync, truncateSync, writeSync } from 'node:fs';
import { knob } from '../env/knobs.js';
import { openAppend, writeFileAtomic } from '../state/atomic.js';
import { servicePaths } from '../state/paths.js';

// A service's output: services/<name>/log (appended by the service itself)
// and one rotated generation, log.1, past WS_SERVICE_LOG_MAX bytes.

export const DEFAULT_LOG_MAX = 10 * 1024 * 1024;

/** `WS_SERVICE_LOG_MAX`: the size cap of a service's log, in bytes. */
export const serviceLogMax = (env: NodeJS.ProcessEnv) => knob(env, 'WS_SERVICE_LOG_MAX');

export const serviceLogPath = (contextDir: string, name: string) => servicePaths(contextDir, name).log;

/** ws-service's own lines in a log start with this (a run starts with `--- ws-service: starting `). */
const MARK = '--- ws-service: ';

/**
 * Keeps a log under `max` bytes: the old content goes to `log.1`. A log
 * that a live service writes is copied and truncated (its descriptor is
 * O_APPEND, so it goes on writing at the new end); a dead one is renamed.
 */
export function rotateServiceLog(logPath: string, max: number, live: boolean): boolean {
  let size: number;
  try {
    size = statSync(logPath).size;
  } catch {
    return false;
  }
  if (size <= max) return false;
  try {
    if (live) {
      writeFileAtomic(`${logPath}.1`, readFileSync(logPath));
      truncateSync(logPath, 0);
    } else {
      renameSync(logPath, `${logPath}.1`);
    }
    return true;
  } catch {
    return false;
  }
}

/** The last `n` lines of a file (without their newlines), reading backwards in chunks. */
export function tailLines(file: string, n: number): string[] {
  if (n <= 0) return [];
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    let pos = size;
    let text = '';
    const chunk = Buffer.alloc(64 * 1024);
    // n newlines plus the one ending the last line.
    while (pos > 0 && (text.match(/\n/g)?.length ?? 0) <= n) {
      const len = Math.min(chunk.length, pos);
      pos -= len;
      readSync(fd, chunk, 0, len, pos);
      text = chunk.subarray(0, len).toString('latin1') + text;
    }
    const lines = Buffer.from(text, 'latin1').toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n);
  } finally {
    closeSync(fd);
  }
}

/** The last `n` lines of a service's output, across the rotation (`log.1`, then `log`). */
export function serviceLogTail(contextDir: string, name: string, n: number): string[] {
  const { log, logOld } = servicePaths(contextDir, name);
  const lines = tailLines(log, n);
  return lines.length < n ? [...tailLines(logOld, n - lines.length), ...lines] : lines;
}

/** The lines the last run printed (after ws-service's own `starting` marker), at most `n`. */
export function lastRunLines(contextDir: string, name: string, n: number): string[] {
  const lines = serviceLogTail(contextDir, name, 200);
  const marker = lines.map((l) => l.startsWith(`${MARK}starting `)).lastIndexOf(true);
  return lines.slice(marker + 1).filter((l) => !l.startsWith(MARK)).slice(-n);
}

/** The line that opens a run in the log; lastRunLines finds the last run by it. */
export const runStartLine = (name: string, command: string, now = new Date()) => `${MARK}starting ${name} at ${now.toISOString()}: ${command} ---\n`;

/** Appends one of ws-service's own lines to the log: `--- ws-service: TEXT at TIME ---`. */
export function logNote(contextDir: string, name: string, text: string): void {
  try {
    const fd = openAppend(serviceLogPath(contextDir, name));
    try {
      writeSync(fd, `${MARK}${text} at ${new Date().toISOString()} ---\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* the log is a convenience */
  }
}
