import { existsSync, readdirSync, renameSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CliError, EX } from '../cli/errors.js';
import { warn } from '../cli/warnings.js';
import { emitEvent } from '../events/emit.js';
import { ensureDir, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { ensureLockDir, tryLock } from '../state/lock.js';
import { resourceAreaPaths, resourceDirPaths, resourcePaths } from '../state/paths.js';
import { addHolder, copyHolders, type Holder } from './holders.js';
import { inputsHash, nextSequence, resourceInputs, type ResourceInputs } from './inputs.js';
import { failureError, quarantine, quarantinedError } from './quarantine.js';
import { releaseLocked, runRelease } from './release.js';
import { runLogged, stopLeftover } from './run.js';
import { buildsOf, deleteTree, readFailureRecord, readResourceRecord, type ResourceRecord } from './store.js';

export interface ObtainOptions {
  home: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** INIT and its arguments. */
  argv: string[];
  seed?: string;
  transient?: boolean;
  /** A `--transient` call being retried keeps its sequence number. */
  sequence?: number;
  targets?: string[];
  release?: string;
  /** `--failure CODE` (checked by parseFailureCode). */
  failure?: string;
  holder: Holder;
  /** Run INIT again even though this hash is quarantined (`--retry`, the `retry` script). */
  retry?: boolean;
  /** The quarantine this call retries: its holders carry over, and it is removed once the call is done. */
  retryOf?: string;
  now?: () => Date;
}

export interface Obtained {
  hash: string;
  /** `$out`: what ws-resource prints. */
  path: string;
  cached: boolean;
}

/** The context a call is made in (WS_ROOT), for events and records. */
export function callContext(env: NodeJS.ProcessEnv): ResourceRecord['context'] {
  if (!env.WS_ROOT) return null;
  return { name: env.WS_CONTEXT || basename(env.WS_ROOT) || '/', root: env.WS_ROOT };
}

/** Where INIT runs: the context root in a context, else the caller's directory. */
export function initDir(env: NodeJS.ProcessEnv, cwd: string): string {
  return env.WS_ROOT && statSync(env.WS_ROOT, { throwIfNoEntry: false })?.isDirectory() ? env.WS_ROOT : cwd;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Takes the lock of a resource, waiting as long as its holder (an INIT, a release) lives. */
export async function waitLock(path: string): Promise<() => void> {
  ensureLockDir(path);
  for (;;) {
    const release = tryLock(path);
    if (release) return release;
    await sleep(50);
  }
}

/**
 * The path of the resource for these inputs: at once if it exists (the
 * caller becomes a holder), else after INIT made it. Identical concurrent
 * calls wait for one INIT (the resource's lock). A quarantined hash fails at
 * once with its stored failure unless `retry`.
 */
export async function obtainResource(opts: ObtainOptions): Promise<Obtained> {
  const now = opts.now ?? (() => new Date());
  const dir = initDir(opts.env, opts.cwd);
  const sequence = opts.sequence ?? (opts.transient ? nextSequence(opts.home) : undefined);
  const inputs = resourceInputs({ argv: opts.argv, dir, seed: opts.seed, targets: opts.targets, release: opts.release, transient: sequence });
  const hash = inputsHash(inputs);
  const paths = resourcePaths(opts.home, hash);
  const context = callContext(opts.env);
  const source = { context: context?.name ?? '', root: context?.root ?? '' };
  const started = Date.now();
  const unlock = await waitLock(paths.lock);
  try {
    // We hold the lock: any build of this hash is a dead one's.
    for (const build of buildsOf(opts.home, hash)) {
      stopLeftover(resourceDirPaths(build).initPid);
      deleteTree(opts.home, build);
    }
    if (existsSync(paths.quarantine)) {
      if (!opts.retry) throw quarantinedError(opts.home, hash, opts.failure);
      opts = { ...opts, retryOf: opts.retryOf ?? paths.quarantine };
      if (readFailureRecord(resourceDirPaths(paths.quarantine).failure)?.phase === 'release') await retryRelease(opts.home, hash, opts.env, now);
    }
    let record = readResourceRecord(paths.record);
    if (record?.state === 'releasing') {
      // A release was killed midway: finish it, then build anew.
      if ((await releaseLocked(opts.home, hash, { env: opts.env, reason: 'resumed' }, now)) === 'failed') throw quarantinedError(opts.home, hash, opts.failure);
      record = undefined;
    }
    if (record) {
      addHolder(paths.dir, opts.holder);
      emitEvent(opts.home, 'resource.init', source, { hash, path: paths.out, cached: true, duration_ms: Date.now() - started }, opts.env, now());
      return { hash, path: paths.out, cached: true };
    }
    if (existsSync(paths.dir)) {
      warn(`${paths.dir}: its resource.json is missing or corrupt; building it again`);
      deleteTree(opts.home, paths.dir);
    }
    await build(opts, { hash, inputs, dir, context, source, started, now });
    return { hash, path: paths.out, cached: false };
  } finally {
    unlock();
    if (opts.retryOf && opts.retryOf !== paths.quarantine && existsSync(opts.retryOf)) deleteTree(opts.home, opts.retryOf);
  }
}

/** What `--target` asks for and what INIT made differ: the reason, else undefined. */
function targetMismatch(out: string, targets: string[]): string | undefined {
  if (!targets.length) return undefined;
  const entries = readdirSync(out).sort();
  const missing = targets.filter((t) => !entries.includes(t));
  const extra = entries.filter((e) => !targets.includes(e));
  if (!missing.length && !extra.length) return undefined;
  const parts = [missing.length ? `missing ${missing.join(' ')}` : '', extra.length ? `unexpected ${extra.join(' ')}` : ''].filter(Boolean);
  return `$out does not hold exactly the targets ${targets.join(' ')}: ${parts.join('; ')}`.replace(/[\x00-\x1f\x7f]/g, '?');
}

let buildCounter = 0;

interface BuildContext {
  hash: string;
  inputs: ResourceInputs;
  dir: string;
  context: ResourceRecord['context'];
  source: { context: string; root: string };
  started: number;
  now: () => Date;
}

/**
 * Runs INIT in a fresh build directory (resources/.build/<hash>.<pid>.<n>/)
 * and renames it into place when it succeeded and made exactly the targets;
 * else moves it to quarantine/. A build is complete only once renamed: one
 * killed midway leaves nothing that looks like a resource. INIT killed by a
 * signal is an interruption, not a failure: nothing is kept or quarantined.
 */
async function build(opts: ObtainOptions, b: BuildContext): Promise<void> {
  const { home, env } = opts;
  const paths = resourcePaths(home, b.hash);
  const buildDir = join(resourceAreaPaths(home).build, `${b.hash}.${process.pid}.${++buildCounter}`);
  const bp = resourceDirPaths(buildDir);
  ensureDir(bp.out);
  ensureDir(bp.holders);
  writeFileAtomic(bp.inputs, `${JSON.stringify({ ...b.inputs, hash: b.hash, cwd: b.dir, failure: opts.failure ?? null }, null, 2)}\n`);
  writeFileAtomic(bp.env, JSON.stringify(env), 0o600);
  const [init, ...args] = b.inputs.argv;
  const result = await runLogged(init, args, {
    cwd: b.dir,
    env: { ...env, out: bp.out, WS_RESOURCE_HASH: b.hash },
    log: bp.log,
    pidFile: bp.initPid,
    label: `INIT: ${b.inputs.argv.join(' ')}`,
  });
  rmQuiet(bp.initPid);
  if (result.signal) {
    deleteTree(home, buildDir);
    throw new CliError(EX.TEMPFAIL, `INIT was killed by ${result.signal}: nothing was kept; the next call runs it again`);
  }
  const reason = result.error ?? (result.status !== 0 ? `INIT exited with status ${result.status}` : targetMismatch(bp.out, b.inputs.targets));
  addHolder(buildDir, opts.holder);
  if (opts.retryOf && existsSync(opts.retryOf)) copyHolders(home, opts.retryOf, buildDir);
  const now = b.now();
  if (reason) {
    const dir = quarantine(buildDir, { home, hash: b.hash, phase: 'init', reason, code: opts.failure ?? null, context: b.context, env, now });
    emitEvent(home, 'resource.fail', b.source, { hash: b.hash, phase: 'init', code: opts.failure ?? null, reason, quarantine: dir }, env, now);
    throw failureError(opts.failure, reason, dir);
  }
  const durationMs = Date.now() - b.started;
  const record: ResourceRecord = { v: 1, hash: b.hash, state: 'ready', created: now.toISOString(), duration_ms: durationMs, context: b.context };
  writeFileAtomic(bp.record, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(buildDir, paths.dir);
  if (existsSync(paths.quarantine)) deleteTree(home, paths.quarantine);
  emitEvent(home, 'resource.init', b.source, { hash: b.hash, path: paths.out, cached: false, duration_ms: durationMs }, env, now);
}

/** Runs the release of a quarantined release again; on success the quarantine is gone. The caller holds the lock. */
export async function retryRelease(home: string, hash: string, env: NodeJS.ProcessEnv, now: () => Date): Promise<void> {
  const dir = resourcePaths(home, hash).quarantine;
  const failure = readFailureRecord(resourceDirPaths(dir).failure);
  const failed = await runRelease(dir, hash, env);
  if (failed) {
    quarantine(dir, { home, hash, phase: 'release', reason: failed, code: failure?.code ?? null, context: failure?.context ?? null, env, now: now() });
    throw failureError(failure?.code, failed, dir);
  }
  deleteTree(home, dir);
  emitEvent(home, 'resource.release', { context: failure?.context?.name ?? '', root: failure?.context?.root ?? '' }, { hash, path: resourceDirPaths(dir).out, reason: 'retried' }, env, now());
}
