import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJson, rmQuiet, writeFileAtomic } from '../state/atomic.js';
import { lock } from '../state/lock.js';

/** An unload hook: a file to run, a shell command line (`bash -c`), or an argv. */
export interface UnloadHook {
  kind: 'file' | 'sh' | 'argv';
  args: string[];
}

/** contexts/<id>/unload/<seq>: one registered hook; seq orders registration. */
export interface UnloadHookRecord extends UnloadHook {
  seq: string;
  registered: string;
}

const hooksDir = (contextDir: string) => join(contextDir, 'unload');
const identity = (hook: UnloadHook) => JSON.stringify([hook.kind, hook.args]);

/** How a hook is shown in listings and in unload.log. */
export function describeHook(hook: UnloadHook): string {
  if (hook.kind === 'argv') return hook.args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  return hook.args[0] ?? '';
}

/** Every registered hook of a context, in order of registration. Corrupt records are reported, not fatal. */
export function listUnloadHooks(contextDir: string, onCorrupt?: (name: string) => void): UnloadHookRecord[] {
  let names: string[];
  try {
    names = readdirSync(hooksDir(contextDir)).filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const hooks: UnloadHookRecord[] = [];
  for (const name of names.sort()) {
    const record = readJson<UnloadHookRecord>(join(hooksDir(contextDir), name));
    const valid = record && ['file', 'sh', 'argv'].includes(record.kind) && Array.isArray(record.args) && record.args.every((a) => typeof a === 'string');
    if (valid) hooks.push({ ...record, seq: name });
    else onCorrupt?.(name);
  }
  return hooks;
}

/**
 * Registers a hook unless the same one is already registered: every
 * re-evaluation registers its hooks again, and each must stay one entry, at
 * its first position. Returns true if it was added.
 */
export function registerUnloadHook(contextDir: string, hook: UnloadHook, now = new Date()): boolean {
  const release = lock(join(contextDir, 'unload.lock'));
  try {
    const existing = listUnloadHooks(contextDir);
    if (existing.some((h) => identity(h) === identity(hook))) return false;
    const last = existing.length ? Number(existing[existing.length - 1].seq) : 0;
    const seq = String(last + 1).padStart(6, '0');
    const record: UnloadHookRecord = { kind: hook.kind, args: hook.args, seq, registered: now.toISOString() };
    writeFileAtomic(join(hooksDir(contextDir), seq), `${JSON.stringify(record)}\n`);
    return true;
  } finally {
    release();
  }
}

/**
 * Takes hooks out of the registry once an unload has them in its journal:
 * they belong to the load that registered them, and the next load registers
 * its own again. Only entries with the same seq and the same hook go; one
 * registered meanwhile stays for the next unload.
 */
export function dropUnloadHooks(contextDir: string, hooks: UnloadHookRecord[]): void {
  const release = lock(join(contextDir, 'unload.lock'));
  try {
    const taken = new Set(hooks.map((h) => `${h.seq}\0${identity(h)}`));
    for (const h of listUnloadHooks(contextDir)) if (taken.has(`${h.seq}\0${identity(h)}`)) rmQuiet(join(hooksDir(contextDir), h.seq));
  } finally {
    release();
  }
}

/** Removes a registered hook; returns true if there was one. */
export function removeUnloadHook(contextDir: string, hook: UnloadHook): boolean {
  const release = lock(join(contextDir, 'unload.lock'));
  try {
    const match = listUnloadHooks(contextDir).find((h) => identity(h) === identity(hook));
    if (match) rmQuiet(join(hooksDir(contextDir), match.seq));
    return Boolean(match);
  } finally {
    release();
  }
}
