import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';

/**
 * Calls `onGone` when the reader of our stdout pipe goes away (`ws-on-event |
 * head -n1`), even while no event comes to write: Node cannot poll a pipe for
 * POLLERR, so a GNU `tail -f` with the same stdout does it for us (coreutils
 * >= 9 exits with SIGPIPE when its output breaks; `--pid` ends it with us).
 * Where that tail is missing or older, the next write's EPIPE ends us instead.
 * Returns a function that stops the helper.
 */
export function watchOutput(fd: number, ownPid: number, onGone: () => void): () => void {
  try {
    const st = fstatSync(fd);
    if (!st.isFIFO() && !st.isSocket()) return () => {};
  } catch {
    return () => {};
  }
  let stopped = false;
  const helper = spawn('tail', ['-f', '-s', '0.2', `--pid=${ownPid}`, '/dev/null'], {
    stdio: ['ignore', fd, 'ignore'],
  });
  helper.on('error', () => {}); // no tail: rely on EPIPE
  helper.on('exit', (code, signal) => {
    if (!stopped && (signal === 'SIGPIPE' || code === 141)) onGone();
  });
  helper.unref();
  return () => {
    stopped = true;
    if (helper.exitCode === null && helper.signalCode === null) helper.kill('SIGTERM');
  };
}
