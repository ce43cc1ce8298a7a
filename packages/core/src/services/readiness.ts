import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../process/proc.js';
import { killGroup } from './process-tree.js';
import { recordedStatus, stateProcess } from './records.js';
import type { ServiceSpec, ServiceState } from './spec.js';

// When is a started service ready: its --ready-port accepts connections,
// its --ready-cmd succeeds, or (with neither) it is alive after a second.

/** With neither --ready-port nor --ready-cmd, a service is ready once alive this long. */
export const SETTLE_MS = 1000;
/** How often readiness (and a dependency's) is polled. */
export const POLL_MS = 100;

/** True if something accepts TCP connections on the port (127.0.0.1, else ::1). */
export async function portAccepting(port: number, timeoutMs = 300): Promise<boolean> {
  for (const host of ['127.0.0.1', '::1']) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      const done = (result: boolean) => {
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
    if (ok) return true;
  }
  return false;
}

/** Runs a --ready-cmd (bash -c) once; kills its process group if it outlasts `timeoutMs`. */
function runReadyCmd(cmd: string, env: Record<string, string>, cwd: string, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn('bash', ['--noprofile', '--norc', '-c', cmd], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (data: Buffer) => {
      output = (output + data.toString()).slice(-2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timer = setTimeout(() => child.pid && killGroup(child.pid, 'SIGKILL'), Math.max(timeoutMs, 50));
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, output: error.message });
    });
    // 'exit', not 'close': something the command left behind may hold its pipes.
    child.once('exit', (code) => {
      clearTimeout(timer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      if (child.pid) killGroup(child.pid, 'SIGKILL');
      resolve({ ok: code === 0, output: output.trim() });
    });
  });
}

/** One readiness check; `startedAt` for the "alive for a second" rule. */
export async function probeReady(spec: ServiceSpec, env: Record<string, string>, startedAt: number, budgetMs: number): Promise<{ ok: boolean; detail?: string }> {
  if (spec.readyPort !== undefined) {
    const ok = await portAccepting(spec.readyPort, Math.min(300, Math.max(budgetMs, 50)));
    if (!ok && spec.readyCmd === undefined) return { ok, detail: `port ${spec.readyPort} is not accepting connections` };
    if (!ok) return { ok };
  }
  if (spec.readyCmd !== undefined) {
    const result = await runReadyCmd(spec.readyCmd, env, spec.cwd, Math.min(budgetMs, 10_000));
    return { ok: result.ok, detail: result.ok ? undefined : `--ready-cmd failed${result.output ? `: ${result.output.split('\n').pop()}` : ''}` };
  }
  if (spec.readyPort !== undefined) return { ok: true };
  return { ok: Date.now() - startedAt >= SETTLE_MS };
}

export type Readiness = { kind: 'ready' } | { kind: 'exited'; status: number | null } | { kind: 'timeout'; detail?: string };

/** Polls until the service is ready, its process is gone, or the deadline passes. */
export async function awaitReady(contextDir: string, spec: ServiceSpec, env: Record<string, string>, state: ServiceState, deadline: number): Promise<Readiness> {
  const id = stateProcess(state)!;
  const startedAt = state.startedAt ?? Date.now();
  let detail: string | undefined;
  for (;;) {
    if (!isAlive(id)) return { kind: 'exited', status: recordedStatus(contextDir, spec.name, id.pid) };
    const left = deadline - Date.now();
    if (spec.readyPort === undefined && spec.readyCmd === undefined) {
      // Alive for a second counts as ready.
      if (Date.now() - startedAt >= SETTLE_MS) return { kind: 'ready' };
      if (left <= 0) return { kind: 'timeout' };
      await sleep(Math.min(POLL_MS, startedAt + SETTLE_MS - Date.now(), left));
      continue;
    }
    const probe = await probeReady(spec, env, startedAt, Math.max(left, 100));
    if (probe.ok && isAlive(id)) return { kind: 'ready' };
    detail = probe.detail ?? detail;
    if (Date.now() >= deadline) return { kind: 'timeout', detail };
    await sleep(Math.min(POLL_MS, Math.max(deadline - Date.now(), 0)));
  }
}
