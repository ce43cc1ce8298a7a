import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStartTime } from '../src/process/proc.js';
import { contextId } from '../src/state/home.js';

// Fixtures shared by the tests of ws-gc's mechanisms (core) and of its policy
// (packages/ws-gc): a state home in a temporary directory, and contexts in it
// as ws-export leaves them.

export const DAY = 86_400_000;

/** A fresh temporary directory with a state home `state/` (mode 0700, VERSION 1) in it. */
export function makeStateHome(): { dir: string; home: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'ws-gc-'));
  const home = join(dir, 'state');
  mkdirSync(home, { mode: 0o700 });
  writeFileSync(join(home, 'VERSION'), '1\n');
  return { dir, home, env: { WS_STATE_HOME: home } };
}

/** A context for the root `dir/work/<name>` as ws-export leaves it, last used `daysAgo` days ago. */
export function makeContext(dir: string, home: string, name: string, opts: { daysAgo?: number; state?: string } = {}): { root: string; ctx: string; id: string } {
  const root = join(dir, 'work', name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, '.workspace'), 'export X=1\n');
  const id = contextId(root);
  const ctx = join(home, 'contexts', id);
  mkdirSync(join(ctx, 'users'), { recursive: true });
  mkdirSync(join(ctx, 'data'));
  writeFileSync(join(ctx, 'data', 'db'), 'x'.repeat(1000));
  // A minute ago at the latest: a use at the very start of a collection counts as during it.
  const at = new Date(Date.now() - (opts.daysAgo ?? 0) * DAY - 60_000);
  const record = { root, name, file: join(root, '.workspace'), state: opts.state ?? 'unloaded', env: 'default', created: at.toISOString(), lastUsed: at.toISOString() };
  writeFileSync(join(ctx, 'context.json'), JSON.stringify(record));
  utimesSync(join(ctx, 'users'), at, at);
  return { root, ctx, id };
}

/** This process as a user record's identity. */
export const me = () => ({ pid: process.pid, start: processStartTime(process.pid)! });
