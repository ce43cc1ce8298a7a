import { closeSync, openSync, readSync, readFileSync, statSync } from 'node:fs';
import { servicePaths, serviceLogTail } from '@ws/core';

const read = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

/** The whole log (the rotated part first), or its last `lines` lines. */
export function printLog(contextDir: string, name: string, lines: number | undefined, out: (text: string) => void): void {
  const { log, logOld } = servicePaths(contextDir, name);
  if (lines === undefined) {
    out(read(logOld) + read(log));
    return;
  }
  const tail = serviceLogTail(contextDir, name, lines);
  if (tail.length) out(`${tail.join('\n')}\n`);
}

/**
 * Prints the last `lines` lines, then whatever is appended, until killed
 * (like `tail -F`): a log renamed away (a new run) is read to its end and
 * the new one opened; a log truncated by the size cap is read from its start.
 */
export async function followLog(contextDir: string, name: string, lines: number, out: (text: string) => void): Promise<never> {
  const { log } = servicePaths(contextDir, name);
  printLog(contextDir, name, lines, out);
  let fd: number | undefined;
  let ino = 0;
  let pos = 0;
  const open = (fromStart: boolean) => {
    try {
      fd = openSync(log, 'r');
      const st = statSync(log);
      ino = st.ino;
      pos = fromStart ? 0 : st.size;
    } catch {
      fd = undefined;
    }
  };
  const drain = () => {
    if (fd === undefined) return;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) return;
      pos += n;
      out(buf.subarray(0, n).toString());
    }
  };
  open(false);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    let st;
    try {
      st = statSync(log);
    } catch {
      st = undefined;
    }
    if (fd !== undefined && st && st.ino === ino && st.size < pos) pos = 0; // copied and truncated
    drain();
    if (st && st.ino !== ino) {
      if (fd !== undefined) closeSync(fd);
      open(true);
      drain();
    }
  }
}
