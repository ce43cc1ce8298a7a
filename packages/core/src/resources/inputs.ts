import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError, EX } from '../cli/errors.js';
import { readText, writeFileAtomic } from '../state/atomic.js';
import { sha256 } from '../state/home.js';
import { ensureLockDir, lock } from '../state/lock.js';
import { resourceAreaPaths } from '../state/paths.js';

/**
 * Everything that goes into a resource's hash (docs/resources.md): the same
 * inputs always name the same directory; one byte more anywhere, a new one.
 */
export interface ResourceInputs {
  v: 1;
  /** INIT and its arguments, as given. */
  argv: string[];
  /** sha256 of INIT when it names a file, and of its first argument when that is a file (`bash setup.sh`). */
  files: Record<string, string>;
  seed: string | null;
  /** Sorted, without duplicates. */
  targets: string[];
  release: string | null;
  /** `--transient`: the sequence number of the call, so that every call is a new resource. */
  transient: number | null;
}

/** A hash is this many hex digits of sha256 (128 bits: collisions are not a concern). */
export const HASH_LENGTH = 32;
export const isResourceHash = (text: string) => new RegExp(`^[0-9a-f]{${HASH_LENGTH}}$`).test(text);

/** A target is one entry of `$out`: a plain name. */
export function checkTarget(name: string): string {
  if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new CliError(EX.USAGE, `invalid --target '${name.slice(0, 40)}': expected the name of an entry of $out (no '/')`);
  }
  return name;
}

/** `--failure CODE`: a whole number, or undefined. */
export function parseFailureCode(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,9}$/.test(text)) throw new CliError(EX.USAGE, `invalid --failure '${text.slice(0, 40)}': expected a whole number`);
  return String(Number(text));
}

/** The sha256 of a regular file, or undefined. Names are resolved against `dir`, where INIT runs. */
function fileHash(name: string, dir: string): string | undefined {
  const path = resolve(dir, name);
  try {
    if (!statSync(path).isFile()) return undefined;
    return sha256(readFileSync(path));
  } catch {
    return undefined;
  }
}

export interface InputOptions {
  argv: string[];
  /** Where INIT runs: relative file names are resolved there. */
  dir: string;
  seed?: string;
  targets?: string[];
  release?: string;
  /** The sequence number of a `--transient` call (see nextSequence). */
  transient?: number;
}

/** The inputs of a call; `files` reads INIT (if it names a path) and a file named as its first argument. */
export function resourceInputs(opts: InputOptions): ResourceInputs {
  const [init, first] = opts.argv;
  if (!init) throw new CliError(EX.USAGE, 'no INIT: ws-resource [OPTIONS] -- INIT ARGS...');
  const files: Record<string, string> = {};
  if (init.includes('/')) {
    const hash = fileHash(init, opts.dir);
    if (hash) files[init] = hash;
  }
  if (first !== undefined && !first.startsWith('-')) {
    const hash = fileHash(first, opts.dir);
    if (hash) files[first] = hash;
  }
  return {
    v: 1,
    argv: opts.argv,
    files,
    seed: opts.seed ?? null,
    targets: [...new Set((opts.targets ?? []).map(checkTarget))].sort(),
    release: opts.release ?? null,
    transient: opts.transient ?? null,
  };
}

/** The hash of the inputs: sha256 of their JSON (keys in a fixed order), first HASH_LENGTH digits. */
export const inputsHash = (inputs: ResourceInputs) =>
  sha256(JSON.stringify([inputs.v, inputs.argv, Object.entries(inputs.files).sort(), inputs.seed, inputs.targets, inputs.release, inputs.transient])).slice(0, HASH_LENGTH);

/** The next number of the state home's sequence (resources/.seq), under a lock. */
export function nextSequence(home: string): number {
  const paths = resourceAreaPaths(home);
  ensureLockDir(paths.seqLock);
  const release = lock(paths.seqLock);
  try {
    const last = Number(readText(paths.seq)?.trim());
    const next = Number.isInteger(last) && last >= 0 ? last + 1 : 1;
    writeFileAtomic(paths.seq, `${next}\n`);
    return next;
  } finally {
    release();
  }
}
