/** sysexits(3) codes used across the ws binaries. */
export const EX = {
  OK: 0,
  FAIL: 1,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  CANTCREAT: 73,
  IOERR: 74,
  TEMPFAIL: 75,
  NOPERM: 77,
  CONFIG: 78,
} as const;

/**
 * An error meant for the user: one line, an exit code, no stack trace.
 * Deep code throws it; runCli's single catch turns it into the exit status.
 */
export class CliError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(EX.USAGE, message);

/** Maps a Node system error to the closest sysexits code. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.code;
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return EX.NOINPUT;
  if (code === 'EACCES' || code === 'EPERM') return EX.NOPERM;
  if (code === 'ENOSPC' || code === 'EROFS' || code === 'EEXIST') return EX.CANTCREAT;
  if (code === 'EIO') return EX.IOERR;
  return EX.SOFTWARE;
}
