import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CliError, EX } from '../cli/errors.js';
import { contextIdFor } from '../context/shared.js';
import { isResourceHash } from './inputs.js';
import { ensureDir, readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { formatHolder, liveHolder, readHolder } from '../state/lock.js';
import { contextDirOf, resourceDirPaths, resourcePaths } from '../state/paths.js';
import { isAlive, nearestShell, processStartTime, type ProcessId } from '../process/proc.js';

/**
 * Who keeps a resource alive (docs/resources.md, "Holders and roots"):
 * - a process (the caller's shell, or `--pid`), recorded as PID + start time:
 *   it holds while that very process lives (the users/ rule);
 * - a context (a workspace file's `resource`): it holds until the context
 *   unloads (runUnload drops its holds) or its directory is gone;
 * - another resource whose INIT asked for this one: it holds while it
 *   exists, is being built, or is quarantined.
 */
export type Holder =
  | ({ kind: 'pid' } & ProcessId)
  | { kind: 'context'; id: string; root: string; name: string }
  | { kind: 'resource'; hash: string };

/** The file name of a holder in `holders/`. */
export function holderKey(holder: Holder): string {
  if (holder.kind === 'pid') return `pid-${holder.pid}`;
  if (holder.kind === 'context') return `context-${holder.id}`;
  return `resource-${holder.hash}`;
}

export function describeHolder(holder: Holder): string {
  if (holder.kind === 'pid') return `pid ${holder.pid}`;
  if (holder.kind === 'context') return `context ${holder.name}`;
  return `resource ${holder.hash}`;
}

/** Records `holder` in the resource directory `dir` (a build, a resource or a quarantine). */
export function addHolder(dir: string, holder: Holder): void {
  const path = join(resourceDirPaths(dir).holders, holderKey(holder));
  if (holder.kind === 'pid') writeFileAtomic(path, formatHolder(holder));
  else writeFileAtomic(path, `${JSON.stringify(holder)}\n`);
}

export const dropHolder = (dir: string, holder: Holder) => rmQuiet(join(resourceDirPaths(dir).holders, holderKey(holder)));

/** Reads one holder file; undefined if it is torn, foreign or of an unknown kind. */
function readHolderFile(path: string, name: string): Holder | undefined {
  if (name.startsWith('pid-')) {
    const id = readHolder(path);
    return id && `pid-${id.pid}` === name ? { kind: 'pid', ...id } : undefined;
  }
  const record = readJson<Holder>(path);
  if (!record || typeof record !== 'object') return undefined;
  if (record.kind === 'context' && typeof record.id === 'string' && typeof record.root === 'string' && name === `context-${record.id}`) return record;
  if (record.kind === 'resource' && typeof record.hash === 'string' && name === `resource-${record.hash}`) return record;
  return undefined;
}

export interface HolderEntry {
  key: string;
  /** undefined: the file cannot be read as a holder (it holds nothing). */
  holder?: Holder;
  live: boolean;
}

/** Is this holder still there? (See {@link Holder} for each kind's rule.) */
export function isLiveHolder(home: string, holder: Holder): boolean {
  if (holder.kind === 'pid') return isAlive(holder);
  if (holder.kind === 'context') return statSync(contextDirOf(home, holder.id), { throwIfNoEntry: false })?.isDirectory() === true;
  const paths = resourcePaths(home, holder.hash);
  return existsSync(paths.record) || existsSync(paths.quarantine) || liveHolder(paths.lock) !== undefined;
}

/** The holders recorded in the resource directory `dir`, live or not. */
export function readHolders(home: string, dir: string): HolderEntry[] {
  const holdersDir = resourceDirPaths(dir).holders;
  let names: string[];
  try {
    names = readdirSync(holdersDir);
  } catch {
    return [];
  }
  const out: HolderEntry[] = [];
  for (const key of names.sort()) {
    if (key.includes('.tmp.')) continue; // being written
    const holder = readHolderFile(join(holdersDir, key), key);
    out.push({ key, holder, live: holder !== undefined && isLiveHolder(home, holder) });
  }
  return out;
}

export const liveHolders = (home: string, dir: string) => readHolders(home, dir).filter((h) => h.live);

/** Removes the files of holders that are gone; returns how many were removed. */
export function pruneHolders(home: string, dir: string): number {
  const dead = readHolders(home, dir).filter((h) => !h.live);
  for (const h of dead) rmQuiet(join(resourceDirPaths(dir).holders, h.key));
  return dead.length;
}

/** Moves the holders of `from` to `to` (a retried or resolved quarantine keeps its holders). */
export function copyHolders(home: string, from: string, to: string): void {
  ensureDir(resourceDirPaths(to).holders);
  for (const h of readHolders(home, from)) if (h.holder && h.live) addHolder(to, h.holder);
}

export interface HolderChoice {
  home: string;
  env: NodeJS.ProcessEnv;
  /** `--pid PID`. */
  pid?: string;
  /** `--hold context|shell`. */
  hold?: string;
}

/**
 * Who holds what a call makes: `--pid PID`; else, inside an INIT, the
 * resource being built (WS_RESOURCE_HASH: a nested resource); else, in a
 * context (WS_ROOT, with its directory in the state home), the context —
 * unless `--hold shell`; else the caller's shell (the nearest interactive
 * shell in its ancestry, as ws-export finds it).
 */
export function holderFor(choice: HolderChoice): Holder {
  const { env } = choice;
  if (choice.hold !== undefined && choice.hold !== 'context' && choice.hold !== 'shell') {
    throw new CliError(EX.USAGE, `invalid --hold '${choice.hold.slice(0, 40)}': expected context or shell`);
  }
  if (choice.pid !== undefined) {
    if (choice.hold) throw new CliError(EX.USAGE, 'give --pid or --hold, not both');
    if (!/^[0-9]{1,10}$/.test(choice.pid) || Number(choice.pid) <= 0) throw new CliError(EX.USAGE, `invalid --pid '${choice.pid.slice(0, 40)}': expected a process ID`);
    const pid = Number(choice.pid);
    const start = processStartTime(pid);
    if (start === undefined) throw new CliError(EX.NOINPUT, `--pid ${pid}: no such process`);
    return { kind: 'pid', pid, start };
  }
  if (env.WS_RESOURCE_HASH && isResourceHash(env.WS_RESOURCE_HASH) && !choice.hold) return { kind: 'resource', hash: env.WS_RESOURCE_HASH };
  if (choice.hold !== 'shell' && env.WS_ROOT) {
    const id = contextIdFor(choice.home, env.WS_ROOT, env);
    if (statSync(contextDirOf(choice.home, id), { throwIfNoEntry: false })?.isDirectory()) {
      return { kind: 'context', id, root: env.WS_ROOT, name: env.WS_CONTEXT || basename(env.WS_ROOT) || '/' };
    }
  }
  if (choice.hold === 'context') throw new CliError(EX.NOINPUT, '--hold context: not in a loaded context (WS_ROOT is not set, or its context is unknown)');
  const pid = nearestShell();
  const start = processStartTime(pid);
  if (start === undefined) throw new CliError(EX.SOFTWARE, `cannot read the start time of the calling shell (pid ${pid})`);
  return { kind: 'pid', pid, start };
}
