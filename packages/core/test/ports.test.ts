import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError, EX } from '../src/cli/errors.js';
import {
  allocatePort,
  isPortFree,
  listPorts,
  parseKey,
  prunePorts,
  parsePort,
  parseRange,
  portContext,
  portMemoryPath,
  releasePorts,
  reservationPath,
  type PortContext,
} from '../src/ports/ports.js';
import { processStartTime } from '../src/process/proc.js';
import { contextId } from '../src/state/home.js';
import { allowFile } from '../src/trust/trust.js';

let dir: string;
let home: string;
const env: NodeJS.ProcessEnv = {};
const closers: Array<() => Promise<void>> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-ports-'));
  home = join(dir, 'state');
  mkdirSync(home, { mode: 0o700 });
});

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  rmSync(dir, { recursive: true, force: true });
});

/** A port base unlikely to be in use, different per test. */
const base = () => 20000 + Math.floor(Math.random() * 400) * 100;

const ctx = (name: string): PortContext => {
  const root = join(dir, name);
  return { id: contextId(root), root, name };
};

async function listenTcp(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', done);
  });
  closers.push(() => new Promise((done) => server.close(() => done())));
  return server;
}

async function bindUdp(port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((done, fail) => {
    socket.once('error', fail);
    socket.bind(port, '127.0.0.1', done);
  });
  closers.push(() => new Promise((done) => socket.close(() => done())));
  return socket;
}

const events = () =>
  existsSync(join(home, 'events.jsonl'))
    ? readFileSync(join(home, 'events.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    : [];

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as CliError).code;
  }
  return undefined;
};

describe('parsing', () => {
  it('accepts ports 1-65535 and nothing else', () => {
    expect(parsePort('1')).toBe(1);
    expect(parsePort('65535')).toBe(65535);
    for (const bad of ['0', '70000', '65536', 'abc', '', '-1', '80a', ' 80', '1e3']) expect(code(() => parsePort(bad))).toBe(EX.USAGE);
  });

  it('accepts LO-HI ranges and refuses empty or malformed ones', () => {
    expect(parseRange('8000-8100')).toEqual([8000, 8100]);
    expect(parseRange('9-9')).toEqual([9, 9]);
    for (const bad of ['9-3', '0-10', '10-70000', '8000', '8000-', 'a-b', '1-2-3']) expect(code(() => parseRange(bad))).toBe(EX.USAGE);
  });

  it('refuses empty keys and keys with control characters', () => {
    expect(parseKey('db')).toBe('db');
    for (const bad of ['', 'a\nb', 'x'.repeat(201)]) expect(code(() => parseKey(bad))).toBe(EX.USAGE);
  });
});

describe('probing', () => {
  it('sees a TCP listener and a UDP socket, each only in its own protocol', async () => {
    const port = base();
    expect(await isPortFree('tcp', port)).toBe(true);
    await listenTcp(port);
    expect(await isPortFree('tcp', port)).toBe(false);
    expect(await isPortFree('udp', port)).toBe(true);
    await bindUdp(port + 1);
    expect(await isPortFree('udp', port + 1)).toBe(false);
    expect(await isPortFree('tcp', port + 1)).toBe(true);
  });

  it('is a pure probe: asking twice for a free port says free twice (get-port lock not used)', async () => {
    const port = base();
    expect(await isPortFree('tcp', port)).toBe(true);
    expect(await isPortFree('tcp', port)).toBe(true);
  });
});

describe('outside a context', () => {
  it('returns PREFERRED when free and holds it briefly with an expiry', async () => {
    const port = base();
    const now = new Date();
    const a = await allocatePort({ env, cwd: dir, home, context: null, preferred: port, now });
    expect(a.port).toBe(port);
    expect(a.key).toBe(`tcp-${port}`);
    const record = JSON.parse(readFileSync(reservationPath(home, 'tcp', port), 'utf8'));
    expect(record).toMatchObject({ v: 1, proto: 'tcp', port, context: null, root: null, key: `tcp-${port}`, created: now.toISOString() });
    expect(Date.parse(record.expires)).toBe(now.getTime() + 30_000);
    // A second caller inside the hold gets another port.
    const b = await allocatePort({ env, cwd: dir, home, context: null, preferred: port, now });
    expect(b.port).toBe(port + 1);
  });

  it('reclaims an expired hold', async () => {
    const port = base();
    const now = new Date();
    await allocatePort({ env, cwd: dir, home, context: null, preferred: port, now, holdMs: 1000 });
    const later = new Date(now.getTime() + 2000);
    expect((await allocatePort({ env, cwd: dir, home, context: null, preferred: port, now: later })).port).toBe(port);
  });

  it('takes WS_PORT_HOLD seconds as the hold, never under one second', async () => {
    const port = base();
    const now = new Date();
    await allocatePort({ env: { WS_PORT_HOLD: '5' }, cwd: dir, home, context: null, preferred: port, now });
    expect(Date.parse(listPorts(home)[0].expires!)).toBe(now.getTime() + 5000);
    await allocatePort({ env: { WS_PORT_HOLD: '0' }, cwd: dir, home, context: null, preferred: port + 10, now });
    expect((await allocatePort({ env, cwd: dir, home, context: null, preferred: port + 10, now })).port).toBe(port + 11);
    const later = new Date(now.getTime() + 1500);
    expect((await allocatePort({ env, cwd: dir, home, context: null, preferred: port + 10, now: later })).port).toBe(port + 10);
  });

  it('holds past the expiry while the holder lives, never past `until`', async () => {
    const port = base();
    const now = new Date();
    const me = { pid: process.pid, start: processStartTime(process.pid)! };
    await allocatePort({ env, cwd: dir, home, context: null, preferred: port, now, holder: me });
    const record = listPorts(home, now)[0];
    expect(record.holder).toEqual(me);
    expect(Date.parse(record.until!)).toBe(now.getTime() + 10 * 60_000);
    const later = new Date(now.getTime() + 60_000);
    expect(listPorts(home, later)[0].stale).toBe(false);
    expect((await allocatePort({ env, cwd: dir, home, context: null, preferred: port, now: later })).port).toBe(port + 1);
    expect(listPorts(home, new Date(now.getTime() + 11 * 60_000))[0].stale).toBe(true);
    // A holder that is gone (here: a recycled PID) does not extend the hold.
    await allocatePort({ env, cwd: dir, home, context: null, preferred: port + 10, now, holder: { pid: process.pid, start: 'other' } });
    expect(listPorts(home, later).find((r) => r.port === port + 10)?.stale).toBe(true);
  });

  it('skips a port a real listener holds', async () => {
    const port = base();
    await listenTcp(port);
    const a = await allocatePort({ env, cwd: dir, home, context: null, preferred: port });
    expect(a.port).toBe(port + 1);
    expect(existsSync(reservationPath(home, 'tcp', port))).toBe(false);
  });

  it('allocates UDP ports in their own namespace', async () => {
    const port = base();
    await bindUdp(port);
    const udp = await allocatePort({ env, cwd: dir, home, context: null, preferred: port, proto: 'udp' });
    expect(udp.port).toBe(port + 1);
    expect(existsSync(reservationPath(home, 'udp', port + 1))).toBe(true);
    const tcp = await allocatePort({ env, cwd: dir, home, context: null, preferred: port + 1 });
    expect(tcp.port).toBe(port + 1);
  });

  it('gives an ephemeral port without PREFERRED', async () => {
    const a = await allocatePort({ env, cwd: dir, home, context: null });
    expect(a.port).toBeGreaterThan(1023);
    expect(a.key).toBe('tcp');
  });

  it('stays in --range, and fails with 75 when every port there is taken', async () => {
    const lo = base();
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await allocatePort({ env, cwd: dir, home, context: null, range: [lo, lo + 2] })).port);
    expect(got.sort()).toEqual([lo, lo + 1, lo + 2]);
    await expect(allocatePort({ env, cwd: dir, home, context: null, range: [lo, lo + 2] })).rejects.toMatchObject({ code: EX.TEMPFAIL });
  });

  it('fails with 75 when the range is held by real listeners', async () => {
    const lo = base();
    await listenTcp(lo);
    await listenTcp(lo + 1);
    await expect(allocatePort({ env, cwd: dir, home, context: null, range: [lo, lo + 1] })).rejects.toBeInstanceOf(CliError);
    expect(listPorts(home)).toEqual([]);
  });
});

describe('inside a context', () => {
  it('is sticky per key, even while the port is in use', async () => {
    const port = base();
    const c = ctx('shop');
    const a = await allocatePort({ env, cwd: dir, home, context: c, preferred: port });
    expect(a).toMatchObject({ port, sticky: false });
    await listenTcp(port);
    const b = await allocatePort({ env, cwd: dir, home, context: c, preferred: port });
    expect(b).toMatchObject({ port, sticky: true });
    const record = JSON.parse(readFileSync(reservationPath(home, 'tcp', port), 'utf8'));
    expect(record).toMatchObject({ context: c.id, name: 'shop', root: c.root, key: `tcp-${port}` });
    expect(record.expires).toBeUndefined();
    // One event per new reservation, none for a sticky repeat.
    expect(events().filter((e) => e.type === 'port.allocate')).toHaveLength(1);
    expect(events()[0]).toMatchObject({ type: 'port.allocate', context: 'shop', root: c.root, proto: 'tcp', port, key: `tcp-${port}` });
  });

  it('gives two contexts asking for the same port different ports, each stable', async () => {
    const port = base();
    const [a, b] = [ctx('a'), ctx('b')];
    const first = [(await allocatePort({ env, cwd: dir, home, context: a, preferred: port })).port, (await allocatePort({ env, cwd: dir, home, context: b, preferred: port })).port];
    expect(first[0]).not.toBe(first[1]);
    const again = [(await allocatePort({ env, cwd: dir, home, context: a, preferred: port })).port, (await allocatePort({ env, cwd: dir, home, context: b, preferred: port })).port];
    expect(again).toEqual(first);
  });

  it('keeps keys apart within a context', async () => {
    const port = base();
    const c = ctx('c');
    const db = await allocatePort({ env, cwd: dir, home, context: c, preferred: port, key: 'db' });
    const cache = await allocatePort({ env, cwd: dir, home, context: c, preferred: port, key: 'cache' });
    expect(new Set([db.port, cache.port]).size).toBe(2);
    expect((await allocatePort({ env, cwd: dir, home, context: c, preferred: port, key: 'db' })).port).toBe(db.port);
  });

  it('releases on request, remembers, and tries the last port first next time', async () => {
    const port = base();
    const [other, c] = [ctx('other'), ctx('mine')];
    await allocatePort({ env, cwd: dir, home, context: other, preferred: port });
    const mine = await allocatePort({ env, cwd: dir, home, context: c, preferred: port, key: 'db' });
    expect(mine.port).toBe(port + 1);
    const released = releasePorts(home, c.id, undefined, { env });
    expect(released.map((r) => r.port)).toEqual([port + 1]);
    expect(existsSync(reservationPath(home, 'tcp', port + 1))).toBe(false);
    expect(events().filter((e) => e.type === 'port.release')).toEqual([expect.objectContaining({ context: 'mine', root: c.root, port: port + 1, key: 'db' })]);
    releasePorts(home, other.id);
    // PREFERRED is free now, yet the key's last port comes first.
    expect((await allocatePort({ env, cwd: dir, home, context: c, preferred: port, key: 'db' })).port).toBe(port + 1);
  });

  it('releases only the given keys', async () => {
    const port = base();
    const c = ctx('k');
    await allocatePort({ env, cwd: dir, home, context: c, preferred: port, key: 'a' });
    await allocatePort({ env, cwd: dir, home, context: c, preferred: port, key: 'b' });
    expect(releasePorts(home, c.id, 'a').map((r) => r.key)).toEqual(['a']);
    expect(listPorts(home).map((r) => r.key)).toEqual(['b']);
  });

  it('moves a sticky port that the request no longer allows (new --range)', async () => {
    const port = base();
    const c = ctx('r');
    const first = await allocatePort({ env, cwd: dir, home, context: c, key: 'web', preferred: port });
    const moved = await allocatePort({ env, cwd: dir, home, context: c, key: 'web', range: [port + 50, port + 60] });
    expect(moved.port).toBeGreaterThanOrEqual(port + 50);
    expect(existsSync(reservationPath(home, 'tcp', first.port))).toBe(false);
  });

  it('survives a corrupt ports.json by rebuilding it from the reservations', async () => {
    const port = base();
    const c = ctx('corrupt');
    await allocatePort({ env, cwd: dir, home, context: c, preferred: port });
    writeFileSync(portMemoryPath(home, c.id), '{"v":1,"ke');
    expect(await allocatePort({ env, cwd: dir, home, context: c, preferred: port })).toMatchObject({ port, sticky: true });
  });

  it('reclaims a reservation whose context no longer exists', async () => {
    const port = base();
    const gone = ctx('gone');
    await allocatePort({ env, cwd: dir, home, context: gone, preferred: port });
    rmSync(join(home, 'contexts', gone.id), { recursive: true });
    expect(listPorts(home)[0].stale).toBe(true);
    expect((await allocatePort({ env, cwd: dir, home, context: ctx('new'), preferred: port })).port).toBe(port);
  });

  it('treats a corrupt reservation file as absent once it is not fresh', async () => {
    const port = base();
    mkdirSync(join(home, 'ports'), { recursive: true });
    const path = reservationPath(home, 'tcp', port);
    writeFileSync(path, '{"v":1,"pro');
    expect((await allocatePort({ env, cwd: dir, home, context: null, preferred: port })).port).toBe(port + 1);
    const old = new Date(Date.now() - 60_000);
    writeFileSync(reservationPath(home, 'tcp', port + 2), 'garbage');
    utimesSync(reservationPath(home, 'tcp', port + 2), old, old);
    utimesSync(path, old, old);
    expect((await allocatePort({ env, cwd: dir, home, context: null, preferred: port })).port).toBe(port);
    expect((await allocatePort({ env, cwd: dir, home, context: null, preferred: port + 2 })).port).toBe(port + 2);
  });

  it('gives concurrent callers of one (context, key) the same port', async () => {
    const port = base();
    const c = ctx('twice');
    const all = await Promise.all([1, 2, 3, 4].map(() => allocatePort({ env, cwd: dir, home, context: c, preferred: port, key: 'db' })));
    expect(new Set(all.map((a) => a.port))).toEqual(new Set([port]));
    expect(all.filter((a) => !a.sticky)).toHaveLength(1);
    expect(listPorts(home)).toHaveLength(1);
  });

  it('never hands out one port twice under concurrency', async () => {
    const port = base();
    const calls = [];
    for (let i = 0; i < 60; i++) {
      const context = i % 3 === 0 ? null : ctx(`c${i % 5}`);
      calls.push(allocatePort({ env, cwd: dir, home, context, preferred: port, key: `k${i}` }));
    }
    const ports = (await Promise.all(calls)).map((a) => a.port);
    expect(new Set(ports).size).toBe(60);
    expect(listPorts(home)).toHaveLength(60);
  });
});

describe('portContext', () => {
  it('uses WS_ROOT first', () => {
    const root = join(dir, 'proj');
    expect(portContext({ env: { WS_ROOT: root, WS_CONTEXT: 'proj' }, cwd: '/', home })).toEqual({ id: contextId(root), root, name: 'proj' });
  });

  it('uses the allowed context of the directory, not a blocked one', () => {
    const root = join(dir, 'proj');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, '.workspace'), 'echo hi\n');
    expect(portContext({ env: {}, cwd: join(root, 'sub'), home })).toBeUndefined();
    allowFile(home, join(root, '.workspace'));
    expect(portContext({ env: {}, cwd: join(root, 'sub'), home })).toMatchObject({ id: contextId(root), root, name: 'proj' });
    writeFileSync(join(root, '.workspace.local'), 'echo local\n');
    expect(portContext({ env: {}, cwd: root, home })).toBeUndefined();
  });
});

describe('listPorts', () => {
  it('lists every reservation by protocol and port, skipping foreign files', async () => {
    const port = base();
    await allocatePort({ env, cwd: dir, home, context: ctx('x'), preferred: port + 1, proto: 'udp' });
    await allocatePort({ env, cwd: dir, home, context: null, preferred: port });
    writeFileSync(join(home, 'ports', 'README'), 'not a reservation');
    expect(listPorts(home).map((r) => `${r.proto}/${r.port}/${r.stale}`)).toEqual([`tcp/${port}/false`, `udp/${port + 1}/false`]);
    expect(listPorts(join(dir, 'nowhere'))).toEqual([]);
  });
});

describe('prunePorts', () => {
  it('removes stale reservations and old leftovers, and keeps live ones', async () => {
    const port = base();
    const now = new Date();
    const gone = ctx('gone');
    await allocatePort({ env, cwd: dir, home, context: gone, preferred: port });
    await allocatePort({ env, cwd: dir, home, context: ctx('live'), preferred: port + 1 });
    await allocatePort({ env, cwd: dir, home, context: null, preferred: port + 2, now, holdMs: 1000 });
    rmSync(join(home, 'contexts', gone.id), { recursive: true });
    const leftover = join(home, 'ports', '.tmp.99999.1');
    writeFileSync(leftover, '{}');
    const old = new Date(Date.now() - 120_000);
    utimesSync(leftover, old, old);
    const removed = prunePorts(home, new Date(now.getTime() + 5000));
    expect(removed.map((r) => r.port).sort()).toEqual([port, port + 2]);
    expect(listPorts(home).map((r) => r.port)).toEqual([port + 1]);
    expect(existsSync(leftover)).toBe(false);
  });
});
