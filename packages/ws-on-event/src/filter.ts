import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { WsEvent } from '@ws/core';

/**
 * A glob over event types: `*` matches any run of characters (dots included),
 * `?` one character; everything else is literal. Anchored at both ends.
 */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[\\^$.+()|{}[\]]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

/** True for a type matching any of the globs (no glob: every type). */
export function typeMatcher(globs: string[]): (type: string) => boolean {
  if (globs.length === 0) return () => true;
  const patterns = globs.map(globToRegExp);
  return (type) => patterns.some((pattern) => pattern.test(type));
}

/**
 * True for an event of any of the given contexts (none given: every event).
 * Each value is tried both as a context name and as a directory (relative to
 * `cwd`) against the event's root, comparing real paths too.
 */
export function contextMatcher(values: string[], cwd: string): (event: Pick<WsEvent, 'context' | 'root'>) => boolean {
  if (values.length === 0) return () => true;
  const names = new Set(values);
  const roots = new Set<string>();
  for (const value of values) {
    const dir = resolve(cwd, value);
    roots.add(dir);
    try {
      roots.add(realpathSync(dir));
    } catch {
      /* a root that is gone can still be named as it was */
    }
  }
  // An event's root is the path as the shell named it: compare its real path too (cached).
  const realRoots = new Map<string, string | undefined>();
  const realRoot = (root: string) => {
    if (!realRoots.has(root)) {
      let real: string | undefined;
      try {
        real = realpathSync(root);
      } catch {
        real = undefined;
      }
      if (realRoots.size > 1000) realRoots.clear();
      realRoots.set(root, real);
    }
    return realRoots.get(root);
  };
  return (event) => {
    if (names.has(event.context) || roots.has(event.root)) return true;
    const real = event.root ? realRoot(event.root) : undefined;
    return real !== undefined && roots.has(real);
  };
}

const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Parses `--since`: an ISO-8601 date or date-time. Without a zone it is local
 * time (a date alone is local midnight). Undefined if it is not one.
 */
export function parseSince(text: string): number | undefined {
  const value = text.trim();
  if (!ISO.test(value)) return undefined;
  const normal = value.replace(' ', 'T').replace(',', '.');
  const ms = Date.parse(normal.length === 10 ? `${normal}T00:00` : normal);
  return Number.isNaN(ms) ? undefined : ms;
}
