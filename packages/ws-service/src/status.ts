import { describeArgv, listServices, printable, serviceLogPath, type ServiceInfo } from '@ws/core';

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

/** `2h05m`, `3m12s`, `8s`. */
function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function stateText(info: ServiceInfo, now: number): string {
  const { state } = info;
  if (info.shown === 'backoff') return `backoff ${duration((state.nextRestartAt ?? now) - now)}`;
  if ((info.shown === 'exited' || info.shown === 'failed') && state.status !== undefined && state.status !== null) return `${info.shown} ${state.status}`;
  return info.shown;
}

const pick = (infos: ServiceInfo[], name: string | undefined) => (name ? infos.filter((i) => i.name === name) : infos);

/** One line per service under a header: NAME STATE PID UPTIME PORT COMMAND. */
export function statusTable(contextDir: string, name?: string, now = Date.now()): string {
  const infos = pick(listServices(contextDir), name);
  if (!infos.length) return '';
  const rows = [['NAME', 'STATE', 'PID', 'UPTIME', 'PORT', 'COMMAND']];
  for (const info of infos) {
    rows.push([
      info.name,
      stateText(info, now),
      info.running ? String(info.mainPid ?? info.pid) : '-',
      info.running && info.state.startedAt ? duration(now - info.state.startedAt) : '-',
      info.spec.readyPort !== undefined ? String(info.spec.readyPort) : '-',
      describeArgv(info.spec.argv),
    ]);
  }
  for (const row of rows) for (let col = 0; col < row.length; col++) row[col] = printable(row[col]);
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  return rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]))).join('  ')).join('\n') + '\n';
}

/** A JSON array: one object per service (docs/services.md). */
export function statusJson(contextDir: string, name?: string): string {
  const infos = pick(listServices(contextDir), name).map((info) => ({
    name: info.name,
    state: info.shown,
    running: info.running,
    pid: info.running ? (info.mainPid ?? info.pid ?? null) : null,
    pgid: info.running ? (info.pid ?? null) : null,
    startedAt: info.running ? iso(info.state.startedAt) : null,
    readyAt: info.running ? iso(info.state.readyAt) : null,
    status: info.state.status ?? null,
    restarts: info.state.restarts,
    nextRestartAt: info.shown === 'backoff' ? iso(info.state.nextRestartAt) : null,
    command: info.spec.argv,
    cwd: info.spec.cwd,
    readyPort: info.spec.readyPort ?? null,
    readyCmd: info.spec.readyCmd ?? null,
    readyTimeout: info.spec.readyTimeout,
    after: info.spec.after,
    restart: info.spec.restart,
    stopTimeout: info.spec.stopTimeout,
    order: info.spec.order,
    log: serviceLogPath(contextDir, info.name),
  }));
  return `${JSON.stringify(infos, null, 2)}\n`;
}
