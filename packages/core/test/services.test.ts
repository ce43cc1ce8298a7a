import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJson } from '../src/state/atomic.js';
import { isAlive } from '../src/process/proc.js';
import {
  DEFAULT_STOP_TIMEOUT,
  ServiceError,
  backoffMs,
  groupAlive,
  listServices,
  mainPid,
  readServiceState,
  rotateServiceLog,
  serviceEnv,
  serviceFingerprint,
  startService,
  stopAllServices,
  stopOrder,
  stopService,
  superviseServices,
  tailLines,
  type ServiceInfo,
  type ServiceOptions,
} from '../src/services/services.js';

let base: string;
let home: string;
let root: string;
let ctxDir: string;
const env = () => ({ ...process.env, WS_STATE_HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin' });

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'ws-services-'));
  home = join(base, 'state');
  root = join(base, 'proj');
  ctxDir = join(home, 'contexts', 'proj-test');
  mkdirSync(root, { recursive: true });
  mkdirSync(ctxDir, { recursive: true, mode: 0o700 });
});

afterEach(async () => {
  // Every service this test started, by its process group.
  for (const info of listServices(ctxDir)) if (info.state.pid && groupAlive(info.state.pid)) process.kill(-info.state.pid, 'SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

const options = (over: Partial<ServiceOptions> = {}): ServiceOptions => ({
  readyTimeout: 5,
  after: [],
  restart: 'no',
  stopTimeout: DEFAULT_STOP_TIMEOUT,
  ...over,
});

const start = (name: string, argv: string[], over: Partial<ServiceOptions> = {}, extraEnv: Record<string, string> = {}) =>
  startService({ home, contextDir: ctxDir, root, context: 'proj', name, argv, options: options(over), env: { ...env(), ...extraEnv } });

const events = () =>
  existsSync(join(home, 'events.jsonl'))
    ? readFileSync(join(home, 'events.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

const waitFor = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('environment and fingerprint', () => {
  it('drops ws internals from the service environment', () => {
    const out = serviceEnv({ _WS_EVAL: '/tmp/x', WS_DIFF: 'abc', WS_ROOT: '/r', PGPORT: '5432', EMPTY: '' });
    expect(out).toEqual({ WS_ROOT: '/r', PGPORT: '5432', EMPTY: '' });
  });

  it('ignores per-terminal variables but not the rest', () => {
    const a = serviceFingerprint(['x'], '/r', { PATH: '/bin', TMUX_PANE: '%1', OLDPWD: '/a', _: 'ws' });
    const b = serviceFingerprint(['x'], '/r', { PATH: '/bin', TMUX_PANE: '%2', OLDPWD: '/b' });
    expect(a).toBe(b);
    expect(serviceFingerprint(['x'], '/r', { PATH: '/usr/bin' })).not.toBe(serviceFingerprint(['x'], '/r', { PATH: '/bin' }));
    expect(serviceFingerprint(['x', 'y'], '/r', {})).not.toBe(serviceFingerprint(['x y'], '/r', {}));
  });

  it('ignores what WS_SERVICE_ENV_IGNORE names, with PREFIX*', () => {
    const own = { WS_SERVICE_ENV_IGNORE: 'RANDOM_SEED:CI_*' };
    const a = serviceFingerprint(['x'], '/r', { RANDOM_SEED: '1', CI_JOB: 'a', KEEP: '1' }, own);
    const b = serviceFingerprint(['x'], '/r', { RANDOM_SEED: '2', CI_JOB: 'b', KEEP: '1' }, own);
    expect(a).toBe(b);
    expect(serviceFingerprint(['x'], '/r', { KEEP: '2' }, own)).not.toBe(a);
  });
});

describe('helpers', () => {
  it('backs off exponentially up to a minute', () => {
    expect([1, 2, 3, 4, 7, 20].map(backoffMs)).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000]);
  });

  it('stops in reverse start order, dependents first', () => {
    const info = (name: string, order: number, after: string[] = []) => ({ name, spec: { order, after } }) as unknown as ServiceInfo;
    const order = stopOrder([info('db', 1), info('cache', 2, ['db']), info('web', 3, ['db', 'cache']), info('late', 4)]);
    expect(order.map((s) => s.name)).toEqual(['late', 'web', 'cache', 'db']);
    // A dependency started later than its dependent still stops after it.
    expect(stopOrder([info('api', 1, ['db']), info('db', 2)]).map((s) => s.name)).toEqual(['api', 'db']);
  });

  it('tails lines across chunk boundaries', () => {
    const file = join(base, 'log');
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(i % 40)}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect(tailLines(file, 3)).toEqual(lines.slice(-3));
    expect(tailLines(file, 4000)).toEqual(lines.slice(-4000));
    writeFileSync(file, 'no newline at the end');
    expect(tailLines(file, 2)).toEqual(['no newline at the end']);
    expect(tailLines(join(base, 'missing'), 2)).toEqual([]);
  });

  it('rotates a dead log by rename and a live one by copy and truncate', () => {
    const file = join(base, 'log');
    writeFileSync(file, 'a'.repeat(100));
    expect(rotateServiceLog(file, 200, true)).toBe(false);
    expect(rotateServiceLog(file, 50, true)).toBe(true);
    expect(statSync(file).size).toBe(0);
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('a'.repeat(100));
    writeFileSync(file, 'b'.repeat(100));
    expect(rotateServiceLog(file, 50, false)).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('b'.repeat(100));
  });
});

describe('start and stop', () => {
  it('starts detached, records pid and state, stops by process group', async () => {
    const started = await start('sleeper', ['sleep', '30']);
    expect(started.result).toBe('started');
    const state = readServiceState(ctxDir, 'sleeper');
    expect(state.state).toBe('ready');
    const pidFile = readJson<{ pid: number; start: string }>(join(ctxDir, 'services', 'sleeper', 'pid'))!;
    expect(pidFile.pid).toBe(state.pid);
    expect(isAlive(pidFile)).toBe(true);
    expect(mainPid(state.pid!)).not.toBe(state.pid);
    expect(readFileSync(`/proc/${started.pid}/cmdline`, 'utf8')).toBe('sleep\x0030\x00');
    // Its own session and process group, not ours.
    const stat = readFileSync(`/proc/${started.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(Number(fields[2])).toBe(state.pid);
    expect(Number(fields[3])).toBe(state.pid);

    const again = await start('sleeper', ['sleep', '30']);
    expect(again).toMatchObject({ result: 'unchanged', pid: started.pid });

    const stopped = await stopService(home, ctxDir, 'sleeper', env());
    expect(stopped).toEqual({ stopped: true, killed: false });
    expect(groupAlive(state.pid!)).toBe(false);
    expect(existsSync(join(ctxDir, 'services', 'sleeper', 'pid'))).toBe(false);
    expect(events().map((e) => e.type)).toEqual(['service.start', 'service.ready', 'service.stop']);
  });

  it('stops the processes the service moved to their own sessions too (like PostgreSQL backends)', async () => {
    const started = await start('tree', ['bash', '-c', 'setsid sleep 300 & echo $! >escaped; exec sleep 300']);
    const escaped = Number(readFileSync(join(root, 'escaped'), 'utf8'));
    const stat = readFileSync(`/proc/${escaped}/stat`, 'utf8');
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3])).toBe(escaped); // its own session
    expect(started.pid).not.toBe(escaped);
    await stopService(home, ctxDir, 'tree', env());
    await waitFor(() => !existsSync(`/proc/${escaped}/stat`) || readFileSync(`/proc/${escaped}/stat`, 'utf8').includes(') Z '), 2000);
  });

  it('restarts a service whose command changed', async () => {
    const first = await start('s', ['sleep', '30']);
    const second = await start('s', ['sleep', '31']);
    expect(second.result).toBe('restarted');
    expect(second.pid).not.toBe(first.pid);
    expect(isAlive({ pid: first.pid, start: '' })).toBe(false);
  });

  it('fails with the last log lines when the command exits at once', async () => {
    const error = await start('bad', ['bash', '-c', 'echo one; echo two >&2; exit 7']).catch((e) => e);
    expect(error).toBeInstanceOf(ServiceError);
    expect(error.message).toBe('bad exited with status 7 before it was ready');
    expect(error.logLines).toEqual(['one', 'two']);
    expect(readServiceState(ctxDir, 'bad')).toMatchObject({ state: 'failed', status: 7 });
    expect(events().find((e) => e.type === 'service.exit')).toMatchObject({ service: 'bad', status: 7 });
  });

  it('stops a service that is not ready in time', async () => {
    const t0 = Date.now();
    const error = await start('never', ['sleep', '30'], { readyCmd: 'false', readyTimeout: 0.5 }).catch((e) => e);
    expect(error).toBeInstanceOf(ServiceError);
    expect(error.message).toMatch(/^never was not ready after 0.5 s/);
    expect(Date.now() - t0).toBeLessThan(3000);
    const state = readServiceState(ctxDir, 'never');
    expect(state.state).toBe('failed');
    expect(groupAlive(state.pid!)).toBe(false);
  });

  it('SIGKILLs a service that ignores SIGTERM after its stop timeout', async () => {
    await start('stubborn', ['bash', '-c', 'trap "" TERM; while :; do sleep 0.1; done'], { stopTimeout: 0.5 });
    const pgid = readServiceState(ctxDir, 'stubborn').pid!;
    const t0 = Date.now();
    expect(await stopService(home, ctxDir, 'stubborn', env())).toEqual({ stopped: true, killed: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(groupAlive(pgid)).toBe(false);
  });

  it('--after: an unknown service is 66, a stopped one fails, a ready one sequences', async () => {
    await expect(start('web', ['sleep', '30'], { after: ['db'] })).rejects.toMatchObject({ code: 66 });
    await start('db', ['sleep', '30']);
    await stopService(home, ctxDir, 'db', env());
    await expect(start('web', ['sleep', '30'], { after: ['db'] })).rejects.toThrow(/needs db, which is not running/);
    await start('db', ['sleep', '30']);
    await start('web', ['sleep', '30'], { after: ['db'] });
    const order = events()
      .filter((e) => e.type === 'service.stop' || e.type === 'service.ready')
      .slice(-2)
      .map((e) => e.service);
    expect(order).toEqual(['db', 'web']);
    await stopAllServices(home, ctxDir, env());
    const stops = events()
      .filter((e) => e.type === 'service.stop' && e.reason === 'unload')
      .map((e) => e.service);
    expect(stops).toEqual(['web', 'db']);
    expect(listServices(ctxDir).every((s) => !s.running && s.state.state === 'stopped')).toBe(true);
  });
});

describe('superviseServices', () => {
  it('notices an exit, backs off, restarts with on-failure, and sees it ready', async () => {
    await start('flaky', ['sleep', '30'], { restart: 'on-failure' });
    const first = readServiceState(ctxDir, 'flaky');
    process.kill(mainPid(first.pid!), 'SIGKILL');
    await waitFor(() => !isAlive({ pid: first.pid!, start: first.start! }));
    let clock = Date.now();
    await superviseServices(home, ctxDir, env(), { now: () => clock });
    let state = readServiceState(ctxDir, 'flaky');
    expect(state).toMatchObject({ state: 'backoff', status: 137, restarts: 1 });
    expect(state.nextRestartAt).toBe(clock + 1000);
    expect(existsSync(join(ctxDir, 'services', 'flaky', 'pid'))).toBe(false);
    expect(events().find((e) => e.type === 'service.exit')).toMatchObject({ service: 'flaky', status: 137 });

    await superviseServices(home, ctxDir, env(), { now: () => clock });
    expect(readServiceState(ctxDir, 'flaky').state).toBe('backoff'); // not yet
    clock += 1000;
    await superviseServices(home, ctxDir, env(), { now: () => clock });
    state = readServiceState(ctxDir, 'flaky');
    expect(state.state).toBe('starting');
    expect(state.pid).not.toBe(first.pid);
    expect(existsSync(join(ctxDir, 'services', 'flaky', 'pid'))).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    await superviseServices(home, ctxDir, env());
    expect(readServiceState(ctxDir, 'flaky').state).toBe('ready');
    const types = events().map((e) => e.type);
    expect(types.slice(-2)).toEqual(['service.start', 'service.ready']);
    expect(events().at(-2)).toMatchObject({ restart: 1 });

    // A second crash soon after doubles the backoff.
    const second = readServiceState(ctxDir, 'flaky');
    process.kill(mainPid(second.pid!), 'SIGKILL');
    await waitFor(() => !isAlive({ pid: second.pid!, start: second.start! }));
    clock = Date.now();
    await superviseServices(home, ctxDir, env(), { now: () => clock });
    expect(readServiceState(ctxDir, 'flaky')).toMatchObject({ state: 'backoff', restarts: 2, nextRestartAt: clock + 2000 });
  });

  it('leaves a clean exit alone with on-failure, restarts it with always', async () => {
    await start('once', ['bash', '-c', 'sleep 1.2; exit 0'], { restart: 'on-failure' });
    await start('loop', ['bash', '-c', 'sleep 1.2; exit 0'], { restart: 'always' });
    await waitFor(() => !listServices(ctxDir).some((s) => s.running));
    await superviseServices(home, ctxDir, env());
    expect(readServiceState(ctxDir, 'once')).toMatchObject({ state: 'exited', status: 0 });
    expect(readServiceState(ctxDir, 'loop')).toMatchObject({ state: 'backoff', status: 0 });
  });

  it('with --restart no records the exit and does nothing else', async () => {
    await start('plain', ['sleep', '30']);
    const state = readServiceState(ctxDir, 'plain');
    process.kill(mainPid(state.pid!), 'SIGTERM');
    await waitFor(() => !isAlive({ pid: state.pid!, start: state.start! }));
    await superviseServices(home, ctxDir, env());
    expect(readServiceState(ctxDir, 'plain')).toMatchObject({ state: 'exited', status: 143 });
    await superviseServices(home, ctxDir, env());
    expect(events().filter((e) => e.type === 'service.exit')).toHaveLength(1);
  });

  it('finishes a stop whose stopper died', async () => {
    await start('half', ['sleep', '30'], { stopTimeout: 0.2 });
    const state = readServiceState(ctxDir, 'half');
    writeFileSync(join(ctxDir, 'services', 'half', 'state.json'), JSON.stringify({ ...state, state: 'stopping', stopDeadline: Date.now() }));
    await superviseServices(home, ctxDir, env());
    expect(readServiceState(ctxDir, 'half').state).toBe('stopped');
    expect(groupAlive(state.pid!)).toBe(false);
  });

  it('does nothing for a context without services', async () => {
    await expect(superviseServices(home, join(home, 'contexts', 'none'), env())).resolves.toBeUndefined();
  });
});
