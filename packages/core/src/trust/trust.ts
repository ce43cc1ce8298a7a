import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import * as contextModule from '../context/discover.js';
import { CliError, EX } from '../cli/errors.js';
import { readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { sha256 } from '../state/home.js';

/** allow/<sha256 of path>: the content hash that was approved, for the path the user approved (trustPath). */
export interface AllowRecord {
  path: string;
  sha256: string;
  allowed: string;
}

export type TrustState = 'allowed' | 'trusted-dir' | 'blocked' | 'denied' | 'changed';

const realpathOr = (path: string) => {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
};

/**
 * The path trust is bound to: the file's own name in its directory's real
 * path. Directory links are resolved (a project reached through a linked
 * directory is the same project), the file itself is not: a workspace file
 * that is a symlink to an allowed one elsewhere is another path, approved on
 * its own, with the content it points to (docs/reliability.md, Symlinks).
 */
export function trustPath(file: string): string {
  const full = resolve(file);
  const parent = dirname(full);
  return parent === full ? full : join(realpathOr(parent), basename(full));
}

export const trustKey = (file: string) => sha256(trustPath(file));
export const allowRecordPath = (home: string, file: string) => join(home, 'allow', trustKey(file));
export const denyRecordPath = (home: string, file: string) => join(home, 'deny', trustKey(file));

export function contentHash(file: string): string {
  return sha256(readFileSync(file));
}

/**
 * True if the file is in or below a directory of `WS_TRUSTED_DIRS`: both its
 * own path (trustPath) and, if it is a symlink, the file it points to. A link
 * elsewhere to a file in a trusted directory is not trusted, nor is a link in
 * one to a file outside.
 */
export function inTrustedDir(file: string, env: NodeJS.ProcessEnv): boolean {
  const bases = (env.WS_TRUSTED_DIRS ?? '')
    .split(':')
    .filter((dir) => dir && isAbsolute(dir))
    .map((dir) => realpathOr(dir));
  const inside = (path: string) => bases.some((base) => path === base || path.startsWith(base.endsWith(sep) ? base : base + sep));
  return inside(trustPath(file)) && inside(realpathOr(file));
}

/**
 * What the trust gate lets through: content whose sha256 an allow record
 * names, or a file under WS_TRUSTED_DIRS (any content). The build is handed
 * exactly this and verifies it before it runs anything.
 */
export type Approval = { kind: 'allowed'; sha256: string } | { kind: 'trusted-dir' };

/** The trust gate's answer for one file: an approval, or why it is blocked. */
export type TrustDecision = Approval | { kind: 'blocked'; state: 'blocked' | 'denied' | 'changed' };

/**
 * The trust gate: whether a workspace file may run. Its content is read and
 * hashed once; it is allowed if an allow record names exactly that hash, and
 * then the approval carries that hash (the record's, equal to the content's),
 * so nothing downstream needs to hash the file again. A file under
 * WS_TRUSTED_DIRS gets the explicit trusted-dir marker instead. A corrupt
 * record counts as no record. Throws only if the file itself cannot be read.
 */
export function trustGate(home: string, file: string, env: NodeJS.ProcessEnv): TrustDecision {
  const hash = contentHash(file);
  const record = readJson<AllowRecord>(allowRecordPath(home, file));
  if (record && typeof record.sha256 === 'string') {
    return record.sha256 === hash ? { kind: 'allowed', sha256: record.sha256 } : { kind: 'blocked', state: 'changed' };
  }
  if (readJson(denyRecordPath(home, file)) !== undefined) return { kind: 'blocked', state: 'denied' };
  return inTrustedDir(file, env) ? { kind: 'trusted-dir' } : { kind: 'blocked', state: 'blocked' };
}

/** The gate's answer as one word (for listings and prompts, which only need the state). */
export function trustState(home: string, file: string, env: NodeJS.ProcessEnv): TrustState {
  const decision = trustGate(home, file, env);
  return decision.kind === 'blocked' ? decision.state : decision.kind;
}

export const isTrusted = (state: TrustState) => state === 'allowed' || state === 'trusted-dir';

export function allowFile(home: string, file: string, now = new Date()): AllowRecord {
  const record: AllowRecord = { path: trustPath(file), sha256: contentHash(file), allowed: now.toISOString() };
  writeFileAtomic(allowRecordPath(home, file), `${JSON.stringify(record)}\n`);
  rmQuiet(denyRecordPath(home, file));
  return record;
}

export function denyFile(home: string, file: string, now = new Date()): void {
  writeFileAtomic(denyRecordPath(home, file), `${JSON.stringify({ path: trustPath(file), denied: now.toISOString() })}\n`);
  rmQuiet(allowRecordPath(home, file));
}

export interface TrustListing {
  path: string;
  status: 'allowed' | 'changed' | 'missing' | 'denied';
  sha256?: string;
}

/** Every allow and deny record, with whether allowed content still matches the file. */
export function listTrust(home: string): TrustListing[] {
  const rows: TrustListing[] = [];
  for (const kind of ['allow', 'deny'] as const) {
    let names: string[] = [];
    try {
      names = readdirSync(join(home, kind));
    } catch {
      continue;
    }
    for (const name of names) {
      const record = readJson<Partial<AllowRecord>>(join(home, kind, name));
      if (!record || typeof record.path !== 'string') continue;
      if (kind === 'deny') {
        rows.push({ path: record.path, status: 'denied' });
        continue;
      }
      let status: TrustListing['status'];
      try {
        status = contentHash(record.path) === record.sha256 ? 'allowed' : 'changed';
      } catch {
        status = 'missing';
      }
      rows.push({ path: record.path, status, sha256: record.sha256 });
    }
  }
  return rows.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The files `ws-allow`/`ws-deny`/`ws-edit` act on: a file as given; a
 * directory's workspace file and the `.workspace.local` beside it; with no
 * path, those of the current context. Throws 66 if there is none.
 */
export function trustTargets(path: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string[] {
  const { findContext, workspaceFileIn, LOCAL_FILE, WORKSPACE_FILE } = contextModule;
  let file: string | undefined;
  if (path === undefined) {
    file = findContext({ env, cwd })?.file;
    if (!file) throw new CliError(EX.NOINPUT, `no workspace file in ${cwd} or above`);
  } else {
    const full = resolve(cwd, path);
    let isDir = false;
    try {
      isDir = statSync(full).isDirectory();
    } catch {
      throw new CliError(EX.NOINPUT, `${full}: no such file or directory`);
    }
    if (!isDir) return [full];
    file = workspaceFileIn(full, env);
    if (!file) throw new CliError(EX.NOINPUT, `no workspace file in ${full}`);
  }
  const local = join(dirname(file), LOCAL_FILE);
  return basename(file) === WORKSPACE_FILE && existsSync(local) ? [file, local] : [file];
}

/** The context a workspace file belongs to, for the allow/deny event it causes. */
export function trustEventSource(file: string, env: NodeJS.ProcessEnv): { root: string; context: string } {
  const root = dirname(file);
  const ctx = contextModule.findContext({ env: { ...env, WS_WORKSPACE: '' }, cwd: root });
  return { root, context: ctx?.root === root ? ctx.name : basename(root) || '/' };
}
