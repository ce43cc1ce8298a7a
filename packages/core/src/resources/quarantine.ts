import { chmodSync, existsSync, renameSync } from 'node:fs';
import { CliError, EX } from '../cli/errors.js';
import { locateBinary } from '../process/locate.js';
import { ensureDir, writeFileAtomic } from '../state/atomic.js';
import { homePaths, resourceDirPaths, resourcePaths } from '../state/paths.js';
import { quotePosix } from '../shells/quote.js';
import { deleteTree, readFailureRecord, type FailureRecord } from './store.js';

/**
 * The one message of a failure, on stderr as `ws-resource: failed (code
 * CODE): <reason>; quarantine: <path>` and exit 1 — the same for the call
 * that failed and for every identical call until the quarantine is resolved.
 */
export function failureError(code: string | null | undefined, reason: string, quarantine: string): CliError {
  return new CliError(EX.FAIL, `failed (code ${code ?? '-'}): ${reason}; quarantine: ${quarantine}`);
}

/** The error for a call whose hash is quarantined: the stored failure (or a note that its record is unreadable). */
export function quarantinedError(home: string, hash: string, code?: string): CliError {
  const dir = resourcePaths(home, hash).quarantine;
  const failure = readFailureRecord(resourceDirPaths(dir).failure);
  const reason = failure?.reason ?? 'its quarantine record is missing or corrupt';
  return failureError(code ?? failure?.code, reason, dir);
}

const SCRIPTS = {
  retry: {
    init: 'Runs INIT again with the inputs and environment in this directory. On success the resource exists (with its holders) and this quarantine is gone.',
    release: 'Runs the release command again. On success the release is done and this quarantine is gone.',
  },
  resolve: {
    init: "Accepts out/ as it is now (after your manual fix) as the resource: no check of --target, INIT does not run again.",
    release: 'Marks the release as done (after you cleaned up by hand) and deletes this quarantine.',
  },
  discard: {
    init: 'Deletes this quarantine. The next identical call runs INIT again.',
    release: 'Deletes this quarantine without marking the release as done.',
  },
} as const;

/** The three executable scripts of a quarantine: each calls `ws-resource ACTION HASH` of this state home. */
function writeScripts(home: string, dir: string, hash: string, phase: FailureRecord['phase'], env: NodeJS.ProcessEnv): void {
  const paths = resourceDirPaths(dir);
  const binary = locateBinary('ws-resource', env);
  const command = binary ? `${quotePosix(process.execPath)} ${quotePosix(binary)}` : 'ws-resource';
  for (const action of ['retry', 'resolve', 'discard'] as const) {
    const text = [
      '#!/bin/sh',
      `# ${action}: ${SCRIPTS[action][phase]}`,
      `# (docs/resources.md, "Quarantine"). Resource ${hash}.`,
      `WS_STATE_HOME=${quotePosix(home)} exec ${command} ${action} ${hash} "$@"`,
      '',
    ].join('\n');
    writeFileAtomic(paths[action], text, 0o700);
    chmodSync(paths[action], 0o700);
  }
}

export interface QuarantineOptions {
  home: string;
  hash: string;
  phase: FailureRecord['phase'];
  reason: string;
  code: string | null;
  context: FailureRecord['context'];
  env: NodeJS.ProcessEnv;
  now: Date;
}

/**
 * Moves the resource-shaped directory `from` (a build that failed, or a
 * resource whose release failed) to quarantine/<hash>/ with its log,
 * inputs and out/ as they are, writes quarantine.json and the scripts
 * retry, resolve and discard. An older quarantine of the same hash (a
 * retry that failed again) is replaced. Returns the quarantine directory.
 */
export function quarantine(from: string, opts: QuarantineOptions): string {
  const to = resourcePaths(opts.home, opts.hash).quarantine;
  ensureDir(homePaths(opts.home).quarantine);
  const record: FailureRecord = { v: 1, hash: opts.hash, phase: opts.phase, reason: opts.reason, code: opts.code, failed: opts.now.toISOString(), context: opts.context };
  const paths = resourceDirPaths(from);
  writeFileAtomic(paths.failure, `${JSON.stringify(record, null, 2)}\n`);
  writeScripts(opts.home, from, opts.hash, opts.phase, opts.env);
  if (from !== to) {
    if (existsSync(to)) deleteTree(opts.home, to);
    renameSync(from, to);
  }
  return to;
}
