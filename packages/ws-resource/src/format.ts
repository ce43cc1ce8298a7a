import { describeHolder, resourceDirPaths, type Holder, type ResourceInfo } from '@ws/core';

/** Sizes as ws-list shows them: bytes, then KiB, MiB, GiB with one decimal. */
function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const exp = Math.min(3, Math.floor(Math.log(bytes) / Math.log(1024)));
  return `${(bytes / 1024 ** exp).toFixed(1)} ${['B', 'KiB', 'MiB', 'GiB'][exp]}`;
}

const holderJson = (h: { key: string; holder?: Holder }) => h.holder ?? { kind: 'unknown', key: h.key };

/** `list --json`, `quarantine --json`, `show --json` (with `detail`: inputs, log, failure). */
export function infoJson(r: ResourceInfo, now: Date, detail = false) {
  const created = r.created ? Date.parse(r.created) : NaN;
  const base = {
    hash: r.hash,
    path: r.path,
    state: r.state,
    holders: r.holders.map(holderJson),
    roots: r.roots,
    bytes: r.bytes,
    created: r.created ?? null,
    age_s: Number.isFinite(created) ? Math.max(0, Math.round((now.getTime() - created) / 1000)) : null,
    ...(r.failure ? { phase: r.failure.phase, reason: r.failure.reason, code: r.failure.code } : {}),
    ...(r.problem ? { problem: `${r.problem.path} ${r.problem.message}` } : {}),
  };
  if (!detail) return base;
  const paths = resourceDirPaths(r.dir);
  return {
    ...base,
    dir: r.dir,
    log: paths.log,
    inputs: r.inputs ?? null,
    ...(r.state === 'quarantined' ? { scripts: { retry: paths.retry, resolve: paths.resolve, discard: paths.discard } } : {}),
  };
}

function age(created: string | undefined, now: Date): string {
  const ms = created ? now.getTime() - Date.parse(created) : NaN;
  if (!Number.isFinite(ms)) return '?';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

const holdersText = (r: ResourceInfo) => r.holders.map((h) => (h.holder ? describeHolder(h.holder) : h.key)).join(', ') || '-';

/** `ws-resource list`: one line per resource, quarantine or build. */
export function resourceTable(resources: ResourceInfo[], now: Date): string {
  const rows = resources.map((r) => [r.hash, r.state, holdersText(r), r.roots.join(', ') || '-', formatBytes(r.bytes), age(r.created, now), r.path]);
  return table(['HASH', 'STATE', 'HOLDERS', 'ROOTS', 'SIZE', 'AGE', 'PATH'], rows);
}

/** `ws-resource quarantine`: what failed, when and why. */
export function quarantineTable(resources: ResourceInfo[]): string {
  const rows = resources.map((r) => [r.hash, r.failure?.phase ?? '?', r.failure?.code ?? '-', r.failure?.failed ?? '?', r.path, r.failure?.reason ?? 'its quarantine.json is missing or corrupt']);
  return table(['HASH', 'PHASE', 'CODE', 'FAILED', 'PATH', 'REASON'], rows);
}

/** `ws-resource show`: one `key: value` a line. */
export function showText(r: ResourceInfo): string {
  const lines: Array<[string, string]> = [
    ['hash', r.hash],
    ['state', r.state],
    ['path', r.path],
    ['holders', holdersText(r)],
    ['roots', r.roots.join(', ') || '-'],
    ['size', formatBytes(r.bytes)],
    ['created', r.created ?? '?'],
    ["log", resourceDirPaths(r.dir).log],
  ];
  if (r.inputs) {
    lines.push(['init', r.inputs.argv.map((a) => JSON.stringify(a)).join(' ')]);
    if (r.inputs.seed !== null) lines.push(['seed', r.inputs.seed]);
    if (r.inputs.targets.length) lines.push(['targets', r.inputs.targets.join(' ')]);
    if (r.inputs.release !== null) lines.push(['release', r.inputs.release]);
    if (r.inputs.transient !== null) lines.push(['transient', String(r.inputs.transient)]);
  }
  if (r.failure) lines.push(['phase', r.failure.phase], ['reason', r.failure.reason], ['code', r.failure.code ?? '-']);
  if (r.state === 'quarantined') lines.push(['retry', resourceDirPaths(r.dir).retry], ['resolve', resourceDirPaths(r.dir).resolve], ['discard', resourceDirPaths(r.dir).discard]);
  return lines.map(([k, v]) => `${`${k}:`.padEnd(9)} ${v}`).join('\n') + '\n';
}
