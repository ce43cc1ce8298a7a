import { formatMiB, type Colors, type GcItem } from '@ws/core';
import type { GcResult } from './result.js';

/** What one removed item is called in the report. */
function describe(item: GcItem): string {
  switch (item.kind) {
    case 'context':
      return `context ${item.context ?? item.id}${item.root ? ` (${item.root})` : ''}`;
    case 'user':
      return `user ${item.pid ?? item.path.split('/').pop()} of ${item.context ?? item.id}`;
    case 'port':
      return `port ${item.proto}/${item.port} (key ${item.key}${item.context ? `, ${item.context}` : ''})`;
    case 'root':
      return `root ${item.path} -> ${item.target}`;
    case 'nix-root':
      return `nix GC root ${item.path} -> ${item.target}`;
    case 'trust':
      return `trust record ${item.path}`;
    case 'events':
      return `old events ${item.path}`;
    default:
      return item.path;
  }
}

const size = (bytes: number) => (bytes ? ` [${bytes} bytes]` : '');

/** The text report: one line per removed item, kept contexts, and the total. */
export function renderReport(result: GcResult, c: Colors): string {
  const verb = result.dryRun ? 'would remove' : 'removed';
  let out = '';
  for (const item of result.removed) out += `${c.red(verb)} ${describe(item)}: ${item.reason}${size(item.bytes)}\n`;
  for (const kept of result.kept) {
    out += `${c.green('kept')} context ${kept.name}${kept.root ? ` (${kept.root})` : ''} (${kept.reason}): held by ${kept.heldBy.join('; ')}\n`;
  }
  const total = `${result.bytes} bytes (${formatMiB(result.bytes)})`;
  out += c.bold(result.dryRun ? `would recover ${total}` : `recovered ${total}`) + '\n';
  return out;
}

/** `ws-gc --json`: the same figures as the text. */
export function toJson(result: GcResult) {
  return {
    v: 1,
    dryRun: result.dryRun,
    home: result.home,
    bytes: result.bytes,
    mib: Math.round((result.bytes / 1048576) * 10) / 10,
    removed: result.removed,
    kept: result.kept,
    problems: result.problems,
  };
}
