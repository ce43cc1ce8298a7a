import { join } from 'node:path';
import { readJson, writeFileAtomic } from '../state/atomic.js';

export type ContextState = 'ready' | 'building' | 'stale' | 'error' | 'blocked' | 'unloaded';

/** contexts/<id>/context.json */
export interface ContextRecord {
  root: string;
  name: string;
  file: string;
  created: string;
  lastUsed: string;
  state: ContextState;
  /** The selected environment name (WS_ENV). */
  env: string;
  /** A root's record: the shared context (`ws_context NAME`) its last evaluation declared. */
  context?: string;
  /** A shared context's record: every root that declared it (docs/contexts.md). */
  roots?: string[];
}

export const contextRecordPath = (contextDir: string) => join(contextDir, 'context.json');

export function readContextRecord(contextDir: string): ContextRecord | undefined {
  const record = readJson<ContextRecord>(contextRecordPath(contextDir));
  return record && typeof record.root === 'string' && typeof record.name === 'string' ? record : undefined;
}

/** Updates context.json, keeping `created` from the existing record. */
export function writeContextRecord(
  contextDir: string,
  fields: Omit<ContextRecord, 'created' | 'lastUsed'> & Partial<Pick<ContextRecord, 'lastUsed'>>,
  now = new Date(),
): ContextRecord {
  const existing = readContextRecord(contextDir);
  const record: ContextRecord = { ...fields, created: existing?.created ?? now.toISOString(), lastUsed: fields.lastUsed ?? now.toISOString() };
  writeFileAtomic(contextRecordPath(contextDir), `${JSON.stringify(record)}\n`);
  return record;
}
