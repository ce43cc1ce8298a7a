import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCAL_FILE, findContext } from '../context/discover.js';
import { CliError, EX } from '../cli/errors.js';
import { knob } from '../env/knobs.js';
import { emitEvent } from '../events/emit.js';
import { readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { sha256 } from '../state/home.js';
import { contextIdFor, sharedNameOf } from '../context/shared.js';
import { lock, tryLock } from '../state/lock.js';
import { contextDirOf, contextPaths, portReservationPath } from '../state/paths.js';
import type { ProcessId } from '../process/proc.js';
import { isTrusted, trustState } from '../trust/trust.js';
import type { Proto } from './parse.js';
import { ephemeralPort, isPortFree } from './probe.js';
import { claimPort, listPorts, readReservation, releaseReservation, type PortReservation } from './reservations.js';

// Allocation: PREFERRED if free, else another port; inside a context sticky
// per (context, key), remembered in contexts/<id>/ports.json, one key
// allocated at a time (contexts/<id>/port-locks/<hash>).

/** The context a port is reserved for. */
export interface PortContext {
  id: string;
  root: string;
  name: string;
}

export interface AllocateOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  home: string;
  now?: Date;
  proto?: Proto;
  preferred?: number;
  /** Default `<proto>-<preferred>`, or `<proto>` without a preferred port. */
  key?: string;
  range?: readonly [number, number];
  /** Inside which context; default: `portContext({env, cwd, home})`. null forces "outside". */
  context?: PortContext | null;
  /** Minimum hold of an outside-context reservation; default `WS_PORT_HOLD` seconds, else 30 s. */
  holdMs?: number;
  /** Outside a context: the process (the calling shell) whose life extends the hold. */
  holder?: ProcessId;
  /** Whether a port is free to bind; default a real probe (get-port for TCP). */
  probe?: (proto: Proto, port: number) => Promise<boolean>;
}

export interface Allocation {
  port: number;
  proto: Proto;
  key: string;
  context: PortContext | undefined;
  /** True when an existing reservation for (context, key) was returned. */
  sticky: boolean;
  reservation: PortReservation;
}

const NEAR = 100;
const EPHEMERAL_TRIES = 64;
const MIN_HOLD_MS = 1_000;
/** A holder that lives on (an interactive shell) keeps an outside-context port at most this long. */
const MAX_HOLD_MS = 10 * 60_000;
const LOCK_WAIT_MS = 15_000;

/** `contexts/<id>/ports.json`: key -> last port, kept after release so the next allocation tries it first. */
export const portMemoryPath = (home: string, id: string) => contextPaths(contextDirOf(home, id)).portsJson;

/**
 * The context that allocations are reserved for: `WS_ROOT` when set (a
 * loaded shell, or a workspace file being evaluated), else the allowed
 * context of the current directory, else none.
 */
export function portContext({ env, cwd, home }: { env: NodeJS.ProcessEnv; cwd: string; home: string }): PortContext | undefined {
  if (env.WS_ROOT) {
    const root = resolve(cwd, env.WS_ROOT);
    // A shared context's reservations are keyed by the shared context (docs/contexts.md).
    return { id: contextIdFor(home, root, env), root, name: env.WS_CONTEXT || basename(root) || '/' };
  }
  const found = findContext({ env, cwd });
  if (!found) return undefined;
  try {
    if (!isTrusted(trustState(home, found.file, env))) return undefined;
    const local = join(found.root, LOCAL_FILE);
    if (existsSync(local) && !isTrusted(trustState(home, local, env))) return undefined;
  } catch {
    return undefined;
  }
  return { id: contextIdFor(home, found.root), root: found.root, name: sharedNameOf(home, found.root) ?? found.name };
}

interface PortMemory {
  v: 1;
  keys: Record<string, { proto: Proto; port: number; allocated: string }>;
}

function readMemory(home: string, id: string): PortMemory | undefined {
  const memory = readJson<PortMemory>(portMemoryPath(home, id));
  return memory && typeof memory.keys === 'object' && memory.keys !== null ? memory : undefined;
}

/** Rebuilds a lost or corrupt ports.json from the context's live reservations. */
function rebuildMemory(home: string, id: string): PortMemory {
  const memory: PortMemory = { v: 1, keys: {} };
  for (const r of listPorts(home)) {
    if (r.context === id) memory.keys[r.key] = { proto: r.proto, port: r.port, allocated: r.created };
  }
  return memory;
}

/** Records the key's port in ports.json: a short synchronous read-modify-write under `ports.lock`. */
function rememberPort(home: string, id: string, key: string, record: PortReservation): void {
  const release = lock(contextPaths(contextDirOf(home, id)).portsLock, LOCK_WAIT_MS);
  try {
    const memory = readMemory(home, id) ?? rebuildMemory(home, id);
    memory.keys[key] = { proto: record.proto, port: record.port, allocated: record.created };
    writeFileAtomic(portMemoryPath(home, id), `${JSON.stringify(memory)}\n`);
  } finally {
    release();
  }
}

/**
 * The allocation lock of one (context, key): same-key callers (two shells
 * evaluating one workspace file) wait for each other, other keys never do.
 * Waits without blocking the event loop (several allocations may share a process).
 */
async function withKeyLock<T>(home: string, id: string, key: string, fn: () => Promise<T>): Promise<T> {
  const path = join(contextPaths(contextDirOf(home, id)).portLocks, sha256(key).slice(0, 16));
  const deadline = Date.now() + LOCK_WAIT_MS;
  let release: (() => void) | undefined;
  for (let delay = 1; !(release = tryLock(path)); delay = Math.min(delay * 2, 32)) {
    if (Date.now() >= deadline) throw new CliError(EX.TEMPFAIL, `port key '${key}' of context ${id} is locked by another allocation; try again`);
    await sleep(delay + Math.random() * delay);
  }
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Candidate ports in order of preference; 0 stands for "one the kernel picks". */
function* candidates(first: number[], preferred: number | undefined, range: readonly [number, number] | undefined): Generator<number> {
  const seen = new Set<number>();
  const once = function* (port: number) {
    if (!seen.has(port)) {
      seen.add(port);
      yield port;
    }
  };
  for (const port of first) yield* once(port);
  if (preferred !== undefined) yield* once(preferred);
  if (range) {
    const [lo, hi] = range;
    const start = preferred !== undefined && preferred >= lo && preferred <= hi ? preferred : lo;
    for (let port = start; port <= hi; port++) yield* once(port);
    for (let port = lo; port < start; port++) yield* once(port);
    return;
  }
  if (preferred !== undefined) for (let port = preferred + 1; port <= Math.min(preferred + NEAR, 65535); port++) yield* once(port);
  for (let i = 0; i < EPHEMERAL_TRIES; i++) yield 0;
}

/**
 * Allocates a port (SPEC §4 allocate_port): PREFERRED if free, else the
 * last port of the key, near PREFERRED, in the range, or any ephemeral one.
 * Inside a context the reservation is sticky per (context, key): a live one
 * is returned as is, without probing, since the project's own server may be
 * listening on it. Outside a context the port is held for a short while so
 * that concurrent callers never get the same one. Throws 75 if nothing is free.
 */
export async function allocatePort(opts: AllocateOptions): Promise<Allocation> {
  const { env, cwd, home } = opts;
  const proto = opts.proto ?? 'tcp';
  const key = opts.key ?? (opts.preferred !== undefined ? `${proto}-${opts.preferred}` : proto);
  const context = opts.context === null ? undefined : (opts.context ?? portContext({ env, cwd, home }));
  const now = opts.now ?? new Date();
  const probe = opts.probe ?? isPortFree;
  // At least MIN_HOLD_MS: the hold must outlive the claim-then-probe of concurrent callers.
  const holdMs = Math.max(MIN_HOLD_MS, opts.holdMs ?? knob(env, 'WS_PORT_HOLD') * 1000);
  const acceptable = (port: number) => !opts.range || (port >= opts.range[0] && port <= opts.range[1]) || port === opts.preferred;

  const base = {
    key,
    context: context?.id ?? null,
    name: context?.name ?? null,
    root: context?.root ?? null,
    created: now.toISOString(),
    ...(context
      ? {}
      : {
          expires: new Date(now.getTime() + holdMs).toISOString(),
          ...(opts.holder ? { holder: opts.holder, until: new Date(now.getTime() + Math.max(holdMs, MAX_HOLD_MS)).toISOString() } : {}),
        }),
  };

  const search = async (first: number[]): Promise<PortReservation> => {
    for (const candidate of candidates(first, opts.preferred, opts.range)) {
      const port = candidate === 0 ? await ephemeralPort(proto) : candidate;
      if (port === undefined) continue;
      const record: PortReservation = { v: 1, proto, port, ...base };
      if (!claimPort(home, record, now.getTime())) continue;
      // Probed only once the port is ours, so no two callers probe-and-take the same one.
      if (await probe(proto, port)) return record;
      rmQuiet(portReservationPath(home, proto, port));
    }
    const where = opts.range ? ` in range ${opts.range[0]}-${opts.range[1]}` : '';
    throw new CliError(EX.TEMPFAIL, `no free ${proto} port${where}; try again later`);
  };

  const announce = (record: PortReservation) => {
    emitEvent(home, 'port.allocate', { context: context?.name ?? '', root: context?.root ?? '' }, { proto, port: record.port, key, preferred: opts.preferred ?? null }, env, now);
  };

  if (!context) {
    const record = await search([]);
    announce(record);
    return { port: record.port, proto, key, context, sticky: false, reservation: record };
  }

  return withKeyLock(home, context.id, key, async () => {
    const memory = readMemory(home, context.id) ?? rebuildMemory(home, context.id);
    const last = memory.keys[key];
    const known = last && Number.isInteger(last.port) && (last.proto === 'tcp' || last.proto === 'udp');
    const held = known ? readReservation(portReservationPath(home, last.proto, last.port)) : undefined;
    const ours = held?.record && held.record.context === context.id && held.record.key === key ? held.record : undefined;
    if (ours && ours.proto === proto && acceptable(ours.port)) {
      return { port: ours.port, proto, key, context, sticky: true, reservation: ours };
    }
    // The key now asks for something its reservation does not satisfy: give that one back.
    if (ours) releaseReservation(home, ours, env, now);
    const first = last && last.proto === proto && acceptable(last.port) ? [last.port] : [];
    const record = await search(first);
    rememberPort(home, context.id, key, record);
    announce(record);
    return { port: record.port, proto, key, context, sticky: false, reservation: record };
  });
}
