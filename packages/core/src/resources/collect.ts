import { diskUsage } from '../inventory/probe.js';
import { homePaths } from '../state/paths.js';
import { readHolders } from './holders.js';
import { releaseIfFree, removeDeadBuilds } from './release.js';
import { rootsByHash } from './roots.js';
import { listResources } from './store.js';

/** One thing ws-gc removed (the shape of GcItem: kind, path relative to the state home, bytes, reason). */
export interface ResourceGcItem {
  kind: 'resource' | 'leftover';
  path: string;
  bytes: number;
  reason: string;
  target?: string;
}

/**
 * ws-gc's part for resources (one call from the collector): every resource
 * that nothing holds (no live holder) and no root points at is released —
 * its release command runs — and deleted; so are builds whose builder is
 * gone. A resource that only a removed resource held goes in the same run.
 * With `dryRun` nothing changes and the same items are returned.
 * Quarantines are never collected: they wait for the user.
 */
export async function collectResources(
  home: string,
  opts: { env: NodeJS.ProcessEnv; dryRun: boolean; now?: () => Date; problem?: (p: { path: string; message: string }) => void },
): Promise<ResourceGcItem[]> {
  const items: ResourceGcItem[] = [];
  const rel = (path: string) => path.slice(home.length + 1);
  for (const dir of removeDeadBuilds(home, opts.dryRun)) {
    items.push({ kind: 'leftover', path: rel(dir), bytes: opts.dryRun ? diskUsage(dir).bytes : 0, reason: 'a resource build whose builder is gone' });
  }
  const gone = new Set<string>();
  const roots = rootsByHash(home);
  // A removed resource frees the ones it held: go round until nothing more goes.
  for (let changed = true; changed; ) {
    changed = false;
    const { resources, problems } = listResources(home);
    for (const p of problems) opts.problem?.(p);
    for (const r of resources) {
      if (gone.has(r.hash) || (r.state !== 'ready' && r.state !== 'releasing') || roots.has(r.hash)) continue;
      const held = readHolders(home, r.dir).some((h) => h.live && !(h.holder?.kind === 'resource' && gone.has(h.holder.hash)));
      if (held && r.state === 'ready') continue;
      const bytes = diskUsage(r.dir).bytes;
      if (!opts.dryRun) {
        const outcome = await releaseIfFree(home, r.hash, { env: opts.env, reason: 'gc', now: opts.now, cascade: false });
        if (outcome === 'failed') opts.problem?.({ path: `${homePaths(home).quarantine}/${r.hash}`, message: 'its release failed: quarantined' });
        if (outcome !== 'released') continue;
      }
      gone.add(r.hash);
      changed = true;
      items.push({ kind: 'resource', path: rel(r.dir), bytes, reason: 'nothing holds or roots it (its release ran)', target: r.path });
    }
  }
  return items;
}
