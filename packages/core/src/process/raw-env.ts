import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBytes, hasRawBytes } from '../env/bytes.js';

/**
 * spawn() encodes an environment's values as UTF-8, so a value holding bytes
 * that are not UTF-8 (bytes.ts's escapes) would reach the child as U+FFFD.
 * Such values travel instead in a private file, NUL-separated `NAME=VALUE`
 * words with their exact bytes, named by `_WS_RAW_ENV`; the bash that starts
 * the command exports them (IMPORT_RAW_ENV) before its `exec`, and removes
 * the file. docs/reliability.md, "Any bytes but NUL".
 */

/**
 * Bash code (a prefix for a `bash -c` script) that exports the words of
 * `$_WS_RAW_ENV` and removes the file. (bash's `exec` undoes its own SHLVL
 * increment; a caller without SHLVL gives the command SHLVL=0.) `read` runs
 * in the C locale: in a UTF-8 one, bash 5.2 takes a trailing invalid byte and
 * the NUL after it for the start of one character, and the last word is lost.
 */
export const IMPORT_RAW_ENV =
  'if [[ -n ${_WS_RAW_ENV-} ]]; then ' +
  'while LC_ALL=C IFS= read -r -d "" _ws_kv; do export "${_ws_kv%%=*}=${_ws_kv#*=}"; done <"$_WS_RAW_ENV"; ' +
  'command -p rm -f -- "$_WS_RAW_ENV"; unset _ws_kv _WS_RAW_ENV; fi\n';

export interface RawEnv {
  /** The environment to spawn with: its raw values replaced by `_WS_RAW_ENV`. */
  env: NodeJS.ProcessEnv;
  /** True if there is a file for IMPORT_RAW_ENV. */
  raw: boolean;
  /** Removes the file (when the child could not start; the child's bash removes it otherwise). */
  cleanup: () => void;
}

/** The environment with its values that are not UTF-8 moved to a private file (0600, created exclusively). */
export function splitRawEnv(env: NodeJS.ProcessEnv): RawEnv {
  const raw = Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && hasRawBytes(entry[1]));
  if (!raw.length) return { env, raw: false, cleanup: () => undefined };
  const plain: NodeJS.ProcessEnv = { ...env };
  for (const [name] of raw) delete plain[name];
  const path = join(tmpdir(), `ws-raw-env.${process.pid}.${randomBytes(8).toString('hex')}`);
  try {
    // A fresh random name, O_EXCL (never through a planted link), readable by this user alone;
    // the reader starts only after the write is done.
    writeFileSync(path, Buffer.concat(raw.map(([name, value]) => encodeBytes(`${name}=${value}\0`))), { flag: 'wx', mode: 0o600 });
  } catch {
    // No temporary file (a full or read-only TMPDIR): the values as spawn() gives them, U+FFFD,
    // rather than a command, hook or service that does not start.
    rmSync(path, { force: true });
    return { env, raw: false, cleanup: () => undefined };
  }
  return {
    env: { ...plain, _WS_RAW_ENV: path },
    raw: true,
    cleanup: () => rmSync(path, { force: true }),
  };
}

/** Wraps a `bash -c` script so that it imports the raw values first (when there are any). */
export const withRawImport = (script: string, split: RawEnv) => (split.raw ? IMPORT_RAW_ENV + script : script);

/**
 * How to spawn `argv` with `env` so that every value keeps its bytes: as is
 * when all are UTF-8, else through `bash -c` importing the raw values and
 * exec-ing argv (the same process: exit status and signals are argv's own).
 * `name` is the program that reports a command not found.
 */
export function spawnWithRawEnv(argv: string[], env: NodeJS.ProcessEnv, name = argv[0]!): { command: string; args: string[] } & RawEnv {
  const split = splitRawEnv(env);
  if (!split.raw) return { command: argv[0]!, args: argv.slice(1), ...split };
  // A command not found says so as runCommand does (`NAME: CMD: command not found`, 127).
  const script = 'command -v -- "$1" >/dev/null || { printf \'%s: %s: command not found\\n\' "$0" "$1" >&2; exit 127; }; exec -- "$@"';
  return { command: 'bash', args: ['--noprofile', '--norc', '-c', withRawImport(script, split), name, ...argv], ...split };
}
