import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../src/process/proc.js';
import { contextDir } from '../src/state/home.js';
import { resourceDirPaths, resourcePaths } from '../src/state/paths.js';
import { obtainResource } from '../src/resources/build.js';
import { collectResources } from '../src/resources/collect.js';
import { addHolder, holderFor, isLiveHolder, readHolders, type Holder } from '../src/resources/holders.js';
import { inputsHash, nextSequence, parseFailureCode, resourceInputs } from '../src/resources/inputs.js';
import { releaseContextHolds, releaseIfFree, sweepResources } from '../src/resources/release.js';
import { makeRoot, removeRoot, rootsByHash } from '../src/resources/roots.js';
import { findResource, listResources, resourceInfo } from '../src/resources/store.js';
import { resolveQuarantine, retryQuarantine } from '../src/resources/resolve.js';

let dir: string;
let home: string;
let env: NodeJS.ProcessEnv;
const self: Holder = { kind: 'pid', pid: process.pid, start: processStartTime(process.pid)! };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-resources-'));
  home = join(dir, 'state');
  mkdirSync(home, { mode: 0o700 });
  env = { PATH: process.env.PATH, COUNT: join(dir, 'count') };
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const runs = () => (existsSync(env.COUNT!) ? readFileSync(env.COUNT!, 'utf8').split('\n').filter(Boolean).length : 0);
const make = (argv: string[], extra: Partial<Parameters<typeof obtainResource>[0]> = {}) =>
  obtainResource({ home, env, cwd: dir, argv, holder: self, ...extra });

/** A process that can hold a resource and be killed. */
function holderProcess() {
  const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
  const holder: Holder = { kind: 'pid', pid: child.pid!, start: processStartTime(child.pid!)! };
  const kill = () => new Promise<void>((resolve) => (child.kill('SIGKILL'), child.on('exit', () => resolve())));
  return { holder, kill };
}

describe('inputs and hash', () => {
  it('covers argv, the content of INIT and of its first argument, seed, sorted targets, release and the sequence', () => {
    writeFileSync(join(dir, 'init.sh'), 'echo one\n');
    const base = resourceInputs({ argv: ['bash', 'init.sh'], dir, targets: ['b', 'a', 'b'] });
    expect(base.targets).toEqual(['a', 'b']);
    expect(Object.keys(base.files)).toEqual(['init.sh']);
    const hash = inputsHash(base);
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    expect(inputsHash(resourceInputs({ argv: ['bash', 'init.sh'], dir, targets: ['a', 'b'] }))).toBe(hash);
    const variants = [
      resourceInputs({ argv: ['bash', 'init.sh', 'x'], dir, targets: ['a', 'b'] }),
      resourceInputs({ argv: ['bash', 'init.sh'], dir, targets: ['a', 'b'], seed: 's' }),
      resourceInputs({ argv: ['bash', 'init.sh'], dir, targets: ['a'] }),
      resourceInputs({ argv: ['bash', 'init.sh'], dir, targets: ['a', 'b'], release: 'true' }),
      resourceInputs({ argv: ['bash', 'init.sh'], dir, targets: ['a', 'b'], transient: 1 }),
    ];
    for (const v of variants) expect(inputsHash(v)).not.toBe(hash);
    writeFileSync(join(dir, 'init.sh'), 'echo one!\n');
    expect(inputsHash(resourceInputs({ argv: ['bash', 'init.sh'], dir, targets: ['a', 'b'] }))).not.toBe(hash);
  });

  it('numbers transient calls from the state home, and checks --failure', () => {
    expect(nextSequence(home)).toBe(1);
    expect(nextSequence(home)).toBe(2);
    writeFileSync(join(home, 'resources', '.seq'), 'garbage');
    expect(nextSequence(home)).toBe(1);
    expect(parseFailureCode('007')).toBe('7');
    expect(parseFailureCode(undefined)).toBeUndefined();
    expect(() => parseFailureCode('abc')).toThrow(/invalid --failure 'abc'/);
  });
});

describe('obtainResource', () => {
  it('runs INIT once for the same inputs and returns the same path', async () => {
    const argv = ['bash', '-c', 'echo x >>"$COUNT"; echo data >"$out/file"'];
    const first = await make(argv);
    expect(first.cached).toBe(false);
    expect(readFileSync(join(first.path, 'file'), 'utf8')).toBe('data\n');
    const second = await make(argv);
    expect(second).toEqual({ ...first, cached: true });
    expect(runs()).toBe(1);
    expect(readHolders(home, resourcePaths(home, first.hash).dir).map((h) => h.key)).toEqual([`pid-${process.pid}`]);
  });

  it('concurrent identical calls share one INIT', async () => {
    const argv = ['bash', '-c', 'echo x >>"$COUNT"; sleep 0.2; touch "$out/f"'];
    const all = await Promise.all(Array.from({ length: 5 }, () => make(argv)));
    expect(new Set(all.map((r) => r.path)).size).toBe(1);
    expect(runs()).toBe(1);
  });

  it('quarantines a target mismatch and blocks identical calls until retried', async () => {
    const argv = ['bash', '-c', 'echo x >>"$COUNT"; touch "$out/a"'];
    await expect(make(argv, { targets: ['a', 'b'], failure: '3' })).rejects.toThrow(/^failed \(code 3\): \$out does not hold exactly the targets a b: missing b; quarantine: .*quarantine\/[0-9a-f]{32}$/);
    const { resources } = listResources(home);
    expect(resources.map((r) => [r.state, r.failure?.phase, r.failure?.code])).toEqual([['quarantined', 'init', '3']]);
    const q = resources[0];
    for (const script of ['retry', 'resolve', 'discard'] as const) expect(readFileSync(resourceDirPaths(q.dir)[script], 'utf8')).toContain(` ${script} ${q.hash}`);
    await expect(make(argv, { targets: ['a', 'b'] })).rejects.toThrow(/failed \(code 3\)/);
    expect(runs()).toBe(1);
    // resolve after a fix by hand: out/ becomes the resource.
    writeFileSync(join(q.dir, 'out', 'b'), '');
    const resolved = await resolveQuarantine(q.hash, { home, env, cwd: dir, holder: self });
    expect(resolved?.path).toBe(resourcePaths(home, q.hash).out);
    expect(existsSync(q.dir)).toBe(false);
    expect((await make(argv, { targets: ['a', 'b'] })).cached).toBe(true);
  });

  it('retry runs the recorded call again and replaces the quarantine', async () => {
    writeFileSync(join(dir, 'init.sh'), 'echo x >>"$COUNT"; exit 1\n');
    await expect(make(['bash', 'init.sh'])).rejects.toThrow(/INIT exited with status 1/);
    const q = listResources(home).resources[0];
    writeFileSync(join(dir, 'init.sh'), 'echo x >>"$COUNT"; touch "$out/ok"\n');
    const made = await retryQuarantine(q.hash, { home, env, cwd: '/', holder: self });
    expect(existsSync(join(made!.path, 'ok'))).toBe(true);
    expect(existsSync(q.dir)).toBe(false);
    expect(listResources(home).resources.map((r) => r.state)).toEqual(['ready']);
  });

  it('a resource asked for inside INIT is held by the outer resource', async () => {
    const outer = await make(['bash', '-c', 'echo inner-hash-of-$WS_RESOURCE_HASH >"$out/who"']);
    const who = readFileSync(join(outer.path, 'who'), 'utf8').trim();
    expect(who).toBe(`inner-hash-of-${outer.hash}`);
    expect(holderFor({ home, env: { WS_RESOURCE_HASH: outer.hash } })).toEqual({ kind: 'resource', hash: outer.hash });
  });
});

describe('holders', () => {
  it('follow the liveness rules of their kind', async () => {
    const p = holderProcess();
    expect(isLiveHolder(home, p.holder)).toBe(true);
    await p.kill();
    expect(isLiveHolder(home, p.holder)).toBe(false);
    expect(isLiveHolder(home, { ...self, start: 'recycled' })).toBe(false);
    const root = join(dir, 'proj');
    mkdirSync(root);
    const ctx = contextDir(home, root);
    const id = ctx.split('/').pop()!;
    expect(isLiveHolder(home, { kind: 'context', id, root, name: 'proj' })).toBe(false);
    mkdirSync(ctx, { recursive: true });
    expect(isLiveHolder(home, { kind: 'context', id, root, name: 'proj' })).toBe(true);
    expect(holderFor({ home, env: { WS_ROOT: root } })).toEqual({ kind: 'context', id, root, name: 'proj' });
    expect(holderFor({ home, env: { WS_ROOT: root }, hold: 'shell' }).kind).toBe('pid');
    expect(() => holderFor({ home, env: {}, hold: 'context' })).toThrow(/not in a loaded context/);
    expect(() => holderFor({ home, env: {}, pid: 'abc' })).toThrow(/invalid --pid/);
  });

  it('a torn or foreign holder file holds nothing', async () => {
    const made = await make(['true']);
    const holders = resourceDirPaths(resourcePaths(home, made.hash).dir).holders;
    writeFileSync(join(holders, 'pid-1'), 'garbage');
    writeFileSync(join(holders, 'context-x'), '{"kind":"context","id":"other","root":"/"}');
    expect(readHolders(home, resourcePaths(home, made.hash).dir).filter((h) => !h.holder).map((h) => h.key)).toEqual(['context-x', 'pid-1']);
  });
});

describe('release', () => {
  it('keeps a held or rooted resource; releases a free one, running its release command once', async () => {
    const p = holderProcess();
    const made = await make(['true'], { holder: p.holder, release: 'echo released >>"$COUNT"' });
    expect(await releaseIfFree(home, made.hash, { env, reason: 'test' })).toBe('held');
    makeRoot(home, 'keep', made.path, dir);
    expect(rootsByHash(home).get(made.hash)).toEqual(['keep']);
    await p.kill();
    expect(await sweepResources(home, { env })).toBe(0);
    expect(existsSync(made.path)).toBe(true);
    expect(removeRoot(home, 'keep')).toBe(made.hash);
    expect(await sweepResources(home, { env })).toBe(0);
    expect(existsSync(resourcePaths(home, made.hash).dir)).toBe(false);
    expect(runs()).toBe(1);
  });

  it('counts resources held by a live process, so the reaper stays', async () => {
    const p = holderProcess();
    await make(['true'], { holder: p.holder });
    expect(await sweepResources(home, { env })).toBe(1);
    await p.kill();
    expect(await sweepResources(home, { env })).toBe(0);
  });

  it('a failed release is quarantined with phase release; retry runs it again', async () => {
    const made = await make(['true'], { holder: { ...self, start: 'gone' }, release: 'echo try >>"$COUNT"; [ -e "$COUNT.ok" ]' });
    expect(await releaseIfFree(home, made.hash, { env, reason: 'test' })).toBe('failed');
    const q = resourceInfo(home, made.hash)!;
    expect([q.state, q.failure?.phase, q.failure?.reason]).toEqual(['quarantined', 'release', 'the release exited with status 1']);
    writeFileSync(`${env.COUNT}.ok`, '');
    expect(await retryQuarantine(made.hash, { home, env, cwd: dir, holder: self })).toBeUndefined();
    expect(resourceInfo(home, made.hash)).toBeUndefined();
    expect(runs()).toBe(2);
  });

  it('drops a context hold at unload and releases what nothing else holds', async () => {
    const root = join(dir, 'proj');
    mkdirSync(root);
    const ctx = contextDir(home, root);
    mkdirSync(ctx, { recursive: true });
    const holder = holderFor({ home, env: { WS_ROOT: root } });
    const kept = await make(['true'], { holder });
    const shared = await make(['echo', 'shared'], { holder });
    addHolder(resourcePaths(home, shared.hash).dir, self);
    expect(await releaseContextHolds(home, ctx, { env, reason: 'unload' })).toBe(2);
    expect(existsSync(resourcePaths(home, kept.hash).dir)).toBe(false);
    expect(existsSync(shared.path)).toBe(true);
  });

  it('ws-gc: collects free resources, the ones only they held, and dead builds; a dry run says the same', async () => {
    const gone: Holder = { ...self, start: 'gone' };
    const outer = await make(['true'], { holder: gone });
    const inner = await make(['echo', 'inner'], { holder: { kind: 'resource', hash: outer.hash } });
    const held = await make(['echo', 'held']);
    mkdirSync(join(home, 'resources', '.build', `${'f'.repeat(32)}.999999999.1`), { recursive: true });
    const dry = await collectResources(home, { env, dryRun: true });
    const real = await collectResources(home, { env, dryRun: false });
    expect(real).toEqual(dry.map((item) => (item.kind === 'leftover' ? { ...item, bytes: 0 } : item)));
    expect(real.filter((i) => i.kind === 'resource').map((i) => i.path).sort()).toEqual([`resources/${outer.hash}`, `resources/${inner.hash}`].sort());
    expect(existsSync(held.path)).toBe(true);
    expect(readdirSync(join(home, 'resources', '.build'))).toEqual([]);
  });
});

describe('roots and lookups', () => {
  it('refuses a root outside resources/, a bad name, and finds resources by hash, prefix or path', async () => {
    const made = await make(['true']);
    expect(() => makeRoot(home, 'x', '/tmp', dir)).toThrow(/is not a resource of the state home/);
    expect(() => makeRoot(home, '.hidden', made.path, dir)).toThrow(/invalid root name/);
    symlinkSync('/tmp', join(home, 'roots-elsewhere'));
    expect(() => makeRoot(home, 'x', join(home, 'roots-elsewhere'), dir)).toThrow(/is not a resource/);
    expect(findResource(home, made.hash, dir)).toBe(made.hash);
    expect(findResource(home, made.hash.slice(0, 10), dir)).toBe(made.hash);
    expect(findResource(home, join(made.path, 'anything'), dir)).toBe(made.hash);
    expect(() => findResource(home, '/tmp', dir)).toThrow(/neither a resource's hash nor a path/);
    expect(() => removeRoot(home, 'nope')).toThrow(/no root nope/);
  });

  it('reports a corrupt record instead of crashing', async () => {
    const made = await make(['true']);
    writeFileSync(resourcePaths(home, made.hash).record, '{');
    mkdirSync(join(home, 'resources', 'not-a-hash'));
    const { resources, problems } = listResources(home);
    expect(resources.map((r) => r.state)).toEqual(['corrupt']);
    expect(problems.map((p) => p.message).sort()).toEqual(['is missing or corrupt', 'is not a resource (its name is not a hash)']);
  });
});
