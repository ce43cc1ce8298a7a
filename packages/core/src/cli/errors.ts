import { stripAnsi } from './colors.js';

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

/**
 * Node system errors that describe the machine rather than a bug, with the
 * closest sysexits code: the user can act on them (permissions, a full or
 * read-only disk, a failing device), so they are reported as they are.
 * ENOENT is not among them: where the missing thing is the user's input the
 * code reading it throws CliError(EX.NOINPUT); anywhere else it is a bug.
 */
const SYSTEM_ERRORS: Record<string, number> = {
  EACCES: EX.NOPERM,
  EPERM: EX.NOPERM,
  ENOSPC: EX.CANTCREAT,
  EDQUOT: EX.CANTCREAT,
  EROFS: EX.CANTCREAT,
  EIO: EX.IOERR,
};

const systemCode = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && Object.hasOwn(SYSTEM_ERRORS, code) ? SYSTEM_ERRORS[code] : undefined;
};

/** citty's own usage errors (its parser, unknown subcommands). */
const isCittyUsage = (error: unknown) => (error as Error | undefined)?.name === 'CLIError';

/** The exit status for an error: a CliError's code, a system error's, else 70 (a bug). */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.code;
  if (isCittyUsage(error)) return EX.USAGE;
  return systemCode(error) ?? EX.SOFTWARE;
}

/**
 * What the top-level catch prints for an error, without the command's
 * prefix: the message (its first line), then a CliError's hint. Anything
 * that is neither a CliError, a usage error nor a system error is a bug and
 * says so; `debug` (WS_DEBUG=1) adds the stack.
 */
export function describeError(error: unknown, debug: boolean): { code: number; message: string; hint?: string; stack?: string } {
  const code = exitCodeFor(error);
  const text = error instanceof Error ? error.message : String(error);
  const first = stripAnsi(text).split('\n')[0];
  const stack = debug && error instanceof Error ? error.stack : undefined;
  if (error instanceof CliError) return { code, message: first, hint: error.hint, stack };
  if (isCittyUsage(error) || systemCode(error) !== undefined) return { code, message: first, stack };
  return { code, message: `internal error: ${first}${debug ? '' : ' (run with WS_DEBUG=1 for details)'}`, stack };
}
