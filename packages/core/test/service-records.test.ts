import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../src/process/proc.js';
import { listServices, readServiceState, runningServiceCount, runningServices, serviceProcess } from '../src/services/services.js';
import { servicePaths } from '../src/state/paths.js';

// The one reader of "which services run": every consumer (ws-service
// status, ws-list, ws-gc, the snapshot, prompts) gets its answer from
// listServices / runningServices, so these cases are what they all agree on.

let base: string;
let ctx: string;
const self = { pid: process.pid, start: processStartTime(process.pid)! };
/** A PID that is certainly not running (above the kernel's pid_max). */
const DEAD_PID = 999_999_999;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'ws-service-records-'));
  ctx = join(base, 'contexts', 'proj-test');
  mkdirSync(ctx, { recursive: true });
});

afterEach(() => rmSync(base, { recursive: true, force: true }));

const spec = (name: string, order = 1) => ({
  v: 1,
  name,
  argv: ['sleep', '30'],
  cwd: base,
  root: base,
  context: 'proj',
  fingerprint: 'x',
  readyTimeout: 30,
  after: [],
  restart: 'no',
  stopTimeout: 10,
  order,
  created: '2025-01-01T00:00:00.000Z',
  updated: '2025-01-01T00:00:00.000Z',
});

function service(name: string, files: { spec?: unknown; state?: unknown; pid?: string }, order = 1): void {
  const p = servicePaths(ctx, name);
  mkdirSync(p.dir, { recursive: true });
  if (files.spec !== undefined) writeFileSync(p.spec, typeof files.spec === 'string' ? files.spec : JSON.stringify(files.spec ?? spec(name, order)));
  if (files.state !== undefined) writeFileSync(p.state, typeof files.state === 'string' ? files.state : JSON.stringify(files.state));
  if (files.pid !== undefined) writeFileSync(p.pid, files.pid);
}

const pidFile = (id: { pid: number; start: string }) => `${JSON.stringify(id)}\n`;

describe('the running services of a context', () => {
  it('a live recorded process runs; its state is shown as is', () => {
    service('web', { spec: spec('web'), state: { state: 'ready', ...self, restarts: 0 }, pid: pidFile(self) });
    expect(listServices(ctx)).toMatchObject([{ name: 'web', running: true, shown: 'ready', pid: process.pid }]);
    expect(runningServices(ctx).map((s) => s.name)).toEqual(['web']);
    expect(runningServiceCount(ctx)).toBe(1);
  });

  it('a dead service PID does not run, and shows as exited', () => {
    service('web', { spec: spec('web'), state: { state: 'ready', pid: DEAD_PID, start: '1', restarts: 0 }, pid: pidFile({ pid: DEAD_PID, start: '1' }) });
    expect(listServices(ctx)).toMatchObject([{ name: 'web', running: false, shown: 'exited' }]);
    expect(listServices(ctx)[0].pid).toBeUndefined();
    expect(runningServiceCount(ctx)).toBe(0);
  });

  it('a recycled PID (same number, another start time) does not run', () => {
    const recycled = { pid: process.pid, start: `${self.start}0` };
    service('web', { spec: spec('web'), state: { state: 'ready', ...recycled, restarts: 0 }, pid: pidFile(recycled) });
    expect(serviceProcess(ctx, 'web')).toBeUndefined();
    expect(listServices(ctx)[0].running).toBe(false);
    expect(runningServices(ctx)).toEqual([]);
  });

  it('a live pid file counts before state.json knows the process (just spawned)', () => {
    service('web', { spec: spec('web'), state: { state: 'stopped', restarts: 0 }, pid: pidFile(self) });
    expect(listServices(ctx)).toMatchObject([{ name: 'web', running: true, shown: 'starting', pid: process.pid }]);
    expect(runningServiceCount(ctx)).toBe(1);
  });

  it('a live process without a readable spec is not listed, but runs (it holds the context)', () => {
    service('orphan', { spec: '{"v":1,"na', pid: pidFile(self) });
    service('bare', { pid: `${process.pid}\n` }); // hand-made or older: no start time
    expect(listServices(ctx)).toEqual([]);
    expect(runningServices(ctx)).toMatchObject([
      { name: 'bare', pid: process.pid },
      { name: 'orphan', pid: process.pid },
    ]);
    expect(runningServices(ctx)[0].spec).toBeUndefined();
  });

  it('a stopped service with no pid file, a corrupt state and odd directories do not run', () => {
    service('db', { spec: spec('db', 1), state: { state: 'stopped', pid: process.pid, start: self.start, restarts: 0 } });
    service('cache', { spec: spec('cache', 2), state: '{"state":' });
    service('.hidden', { pid: pidFile(self) });
    expect(readServiceState(ctx, 'cache')).toEqual({ state: 'stopped', restarts: 0 });
    expect(listServices(ctx).map((s) => [s.name, s.running, s.shown])).toEqual([
      ['db', false, 'stopped'],
      ['cache', false, 'stopped'],
    ]);
    expect(runningServiceCount(ctx)).toBe(0);
  });

  it('a context without services has none', () => {
    expect(listServices(join(base, 'none'))).toEqual([]);
    expect(runningServiceCount(join(base, 'none'))).toBe(0);
  });
});
