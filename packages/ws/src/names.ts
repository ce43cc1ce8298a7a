import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BUILTINS, COMMANDS } from './commands.js';

/**
 * Every word `ws NAME` takes: ws's commands, its own words (help,
 * completion), and any other `ws-NAME` program on PATH (a plugin, as git
 * runs `git-NAME`).
 */
export function commandNames(env: NodeJS.ProcessEnv): string[] {
  const names = new Set([...COMMANDS, ...BUILTINS].map((c) => c.name));
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const name = entry.replace(/\.mjs$/, '').slice(3);
      if (!entry.startsWith('ws-') || !name || names.has(name) || !/^[\w.-]+$/.test(name)) continue;
      try {
        accessSync(join(dir, entry), constants.X_OK);
        names.add(name);
      } catch {
        /* not a program */
      }
    }
  }
  return [...names];
}

/** Optimal string alignment distance: edits, a swap of two neighbours counting as one (`lsit` → `list`). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The names nearest to a mistyped one, as git's "Did you mean": the
 * closest by edit distance if it is near enough (at most a third of the
 * word, at least one edit), else the names it starts (`serv` → service).
 */
export function nearestNames(typed: string, names: readonly string[]): string[] {
  const word = typed.toLowerCase();
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best = Infinity;
  let nearest: string[] = [];
  for (const name of names) {
    const distance = editDistance(word, name);
    if (distance > limit || distance > best) continue;
    if (distance < best) nearest = [];
    best = distance;
    nearest.push(name);
  }
  if (nearest.length === 0 && word.length >= 2) nearest = names.filter((name) => name.startsWith(word));
  return nearest.sort();
}

/** `Did you mean 'list'?` / `Did you mean 'a' or 'b'?`, or nothing. */
export function didYouMean(typed: string, names: readonly string[]): string | undefined {
  const near = nearestNames(typed, names).map((n) => `'${n}'`);
  if (near.length === 0) return undefined;
  return `Did you mean ${near.length === 1 ? near[0] : `${near.slice(0, -1).join(', ')} or ${near.at(-1)}`}?`;
}
