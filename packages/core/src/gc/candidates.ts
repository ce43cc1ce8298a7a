import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { ReaderRecord } from '../events/emit.js';
import { diskUsage, lstatOr, pathExists, pidExists, readNames } from '../inventory/probe.js';
import { listPorts } from '../ports/ports.js';
import { isAlive } from '../process/proc.js';
import { readJson } from '../state/atomic.js';
import { liveHolder } from '../state/lock.js';
import { cachePaths, homePaths } from '../state/paths.js';
import { homeRelative, type GcItem } from './item.js';

// Scanners of what ws-gc may remove besides contexts and their users, read
// without changing anything: each returns the candidates it found, and the
// collection decides what to do with them.

/** How long an unreadable record or a temporary file is left alone: a writer may be mid-way. */
export const LEFTOVER_AGE_MS = 60_000;
/** A lock file this young may be one being taken (written, then linked). */
const LOCK_GRACE_MS = 2_000;

const isTemporary = (name: string) => name.includes('.tmp.');
const followerAlive = (record: Partial<ReaderRecord> | undefined) =>
  record !== undefined && typeof record.pid === 'number' && isAlive({ pid: record.pid, start: String(record.start ?? '') });

/** Symlinks under cache/nix/ of a context: the GC roots `use nix` made (nix-watch-deps --gc-root). */
export function nixRoots(contextDir: string): Array<{ path: string; target: string }> {
  const out: Array<{ path: string; target: string }> = [];
  const walk = (p: string) => {
    const st = lstatOr(p);
    if (!st) return;
    if (st.isSymbolicLink()) {
      try {
        out.push({ path: p, target: readlinkSync(p) });
      } catch {
        /* gone */
      }
    } else if (st.isDirectory()) {
      for (const name of readNames(p)) walk(join(p, name));
    }
  };
  walk(cachePaths(contextDir).nix);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * What a ws-gc that was stopped left in .gc/. Without gc.lock (a dry run),
 * what a collector running now works on is left out.
 */
export function trashLeftovers(home: string, holdingGcLock: boolean): GcItem[] {
  const trash = homePaths(home).gcTrash;
  const items: GcItem[] = [];
  for (const name of readNames(trash)) {
    const pid = Number(/\.(\d+)\.\d+$/.exec(name)?.[1]);
    if (!holdingGcLock && pid !== process.pid && pidExists(pid)) continue;
    const path = join(trash, name);
    items.push({ kind: 'leftover', path: homeRelative(home, path), bytes: diskUsage(path).bytes, reason: 'left by a ws-gc that was stopped' });
  }
  return items;
}

/** Temporaries a killed allocation left in ports/ and unreadable reservations, older than a minute (prunePorts removes them). */
export function portLeftovers(home: string, now: number): GcItem[] {
  const dir = homePaths(home).ports;
  const names = readNames(dir);
  if (!names.length) return [];
  const valid = new Set(listPorts(home).map((r) => `${r.proto}-${r.port}`));
  const items: GcItem[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const st = lstatOr(path);
    if (!st || now - st.mtimeMs <= LEFTOVER_AGE_MS) continue;
    const temp = name.startsWith('.tmp.') || name.startsWith('.stale.');
    const corrupt = /^(tcp|udp)-[0-9]{1,5}$/.test(name) && !valid.has(name);
    if (temp || corrupt) items.push({ kind: 'leftover', path: homeRelative(home, path), bytes: st.isFile() ? st.size : 0, reason: temp ? 'a temporary file of an allocation that died' : 'an unreadable reservation' });
  }
  return items;
}

/** A trust record that may go, with the inode judged (a rewrite meanwhile is another inode). */
export type TrustCandidate = GcItem & { ino: number };

/** allow/ and deny/ records of files that no longer exist (like `direnv prune`), and unreadable ones. */
export function trustCandidates(home: string, now: number): TrustCandidate[] {
  const paths = homePaths(home);
  const items: TrustCandidate[] = [];
  for (const dir of [paths.allow, paths.deny]) {
    for (const name of readNames(dir)) {
      const path = join(dir, name);
      const rel = homeRelative(home, path);
      const st = lstatOr(path);
      if (!st?.isFile()) continue;
      const old = now - st.mtimeMs > LEFTOVER_AGE_MS;
      if (isTemporary(name)) {
        if (old) items.push({ kind: 'leftover', path: rel, bytes: st.size, reason: 'a temporary file of a writer that died', ino: st.ino });
        continue;
      }
      const record = readJson<{ path?: unknown }>(path);
      if (!record || typeof record.path !== 'string') {
        if (old) items.push({ kind: 'trust', path: rel, bytes: st.size, reason: 'an unreadable trust record', ino: st.ino });
        continue;
      }
      if (!pathExists(record.path)) {
        items.push({ kind: 'trust', path: rel, bytes: st.size, reason: `${record.path} no longer exists`, target: record.path, ino: st.ino });
      }
    }
  }
  return items;
}

/** Registrations of stream followers (readers/) whose process is gone. */
export function deadReaders(home: string, now: number): GcItem[] {
  const dir = homePaths(home).readers;
  const items: GcItem[] = [];
  for (const name of readNames(dir)) {
    const path = join(dir, name);
    const st = lstatOr(path);
    if (!st?.isFile()) continue;
    if (isTemporary(name) && now - st.mtimeMs <= LEFTOVER_AGE_MS) continue;
    if (followerAlive(readJson<Partial<ReaderRecord>>(path))) continue;
    items.push({ kind: 'leftover', path: homeRelative(home, path), bytes: st.size, reason: 'a registration of an event follower that is gone' });
  }
  return items;
}

/** Lock files in locks/ whose holder is gone (dead, or its PID recycled). */
export function deadLocks(home: string, now: number): GcItem[] {
  const dir = homePaths(home).locks;
  const items: GcItem[] = [];
  for (const name of readNames(dir)) {
    const path = join(dir, name);
    const st = lstatOr(path);
    if (!st?.isFile() || now - st.mtimeMs <= LOCK_GRACE_MS) continue;
    if (liveHolder(path)) continue;
    items.push({ kind: 'leftover', path: homeRelative(home, path), bytes: st.size, reason: 'a lock whose holder is gone' });
  }
  return items;
}

/**
 * The cold path's scratch files (`cold/tmp/<pid>.out` and the hash inputs)
 * of shells that are gone: each shell's first cold entry leaves its answer
 * there, and nothing else removes it without a process.
 */
export function coldLeftovers(home: string, now: number): GcItem[] {
  const dir = homePaths(home).coldScratch;
  const items: GcItem[] = [];
  for (const name of readNames(dir)) {
    const pid = Number(/^(\d+)\.[a-z]+$/.exec(name)?.[1]);
    const path = join(dir, name);
    const st = lstatOr(path);
    if (!st?.isFile() || now - st.mtimeMs <= LEFTOVER_AGE_MS || (pid > 0 && pidExists(pid))) continue;
    items.push({ kind: 'leftover', path: homeRelative(home, path), bytes: st.size, reason: 'a cold entry\'s scratch file of a shell that is gone' });
  }
  return items;
}

/** Live followers that do not hold `live` yet (read-only, unlike readersBehind: for the dry run's forecast). */
export function followersBehind(home: string, live: { dev: number; ino: number }): number {
  const dir = homePaths(home).readers;
  let behind = 0;
  for (const name of readNames(dir)) {
    if (isTemporary(name)) continue;
    const record = readJson<Partial<ReaderRecord>>(join(dir, name));
    if (followerAlive(record) && (record!.ino !== live.ino || record!.dev !== live.dev)) behind++;
  }
  return behind;
}
