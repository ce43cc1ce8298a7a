import { existsSync } from 'node:fs';
import { cachePaths, contextDir, contextDirOf, contextId, decodeDiff, encodeDiff, readContextRecord, readText, revertDiff, sha256, writeFileAtomic, type Env, type EnvDiff } from '@ws/core';

/**
 * What the shell has applied, as recorded by WS_DIFF (`<context id>/<sha256>`):
 * the diff is stored content-addressed in `cache/applied/<sha256>.json` of the
 * context, so the next export can undo exactly it.
 */
export interface Applied {
  key: string;
  diff: EnvDiff;
  root?: string;
}

/** The record WS_DIFF names, if it is well-formed and still there. */
export function loadApplied(home: string, key: string | undefined): Applied | undefined {
  // `<contextId>/<sha256>`: nothing else, so the key can never reach outside contexts/.
  if (!key || !/^[\w.-]*-[0-9a-f]{12}\/[0-9a-f]{64}$/.test(key) || key.startsWith('.')) return undefined;
  const [id, hash] = key.split('/');
  const diff = decodeDiff(readText(cachePaths(contextDirOf(home, id)).appliedRecord(hash)) ?? '');
  // A record that applies nothing (a blocked context whose user the shell stays) names its context by its id.
  return diff && { key, diff, root: diff.next.WS_ROOT ?? readContextRecord(contextDirOf(home, id))?.root };
}

/** Stores what is applied (relative to the base) and returns the WS_DIFF value naming it. */
export function saveApplied(home: string, root: string, diff: EnvDiff): string {
  const text = encodeDiff(diff);
  const hash = sha256(text);
  const path = cachePaths(contextDir(home, root)).appliedRecord(hash);
  if (!existsSync(path)) writeFileAtomic(path, text);
  return `${contextId(root)}/${hash}`;
}

/**
 * The shell's environment without what ws applied: WS_DIFF reverted and
 * removed. WS_ENV is the user's choice: one set after the load survives.
 */
export function baseOf(current: Env, applied: Applied | undefined): Env {
  const base: Env = applied ? revertDiff(current, applied.diff) : { ...current };
  delete base.WS_DIFF;
  if (applied && current.WS_ENV !== applied.diff.next.WS_ENV) {
    if (current.WS_ENV === undefined) delete base.WS_ENV;
    else base.WS_ENV = current.WS_ENV;
  }
  return base;
}
