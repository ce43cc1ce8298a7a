import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readContextRecord, writeContextRecord } from '../src/context/record.js';
import { writeFileAtomic } from '../src/state/atomic.js';
import { processStartTime } from '../src/process/proc.js';
import { contextDir } from '../src/state/home.js';
import { tryLock } from '../src/state/lock.js';
import { dropUnloadHooks, listUnloadHooks, registerUnloadHook, type UnloadHook } from '../src/unload/hooks.js';
import { loadedEnvPath, runUnload, UNLOAD_OUTPUT_MAX, unloadPending } from '../src/unload/run.js';

let dir: string;
let home: string;
let root: string;
let ctx: string;
let out: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-unload-'));
  home = join(dir, 'state');
  root = join(dir, 'proj');
  out = join(dir, 'out');
  mkdirSync(home, { mode: 0o700 });
  mkdirSync(root);
  ctx = contextDir(home, root);
  writeContextRecord(ctx, { root, name: 'proj', file: join(root, '.workspace'), state: 'ready', env: 'default' });
  env = { PATH: process.env.PATH, OUT: out };
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const sh = (line: string): UnloadHook => ({ kind: 'sh', args: [line] });
const log = () => readFileSync(join(ctx, 'unload.log'), 'utf8');
const outLines = () => (existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n') : []);
const deadPid = () => spawnSync('true').pid!;

describe('runUnload', () => {
  it('runs every hook once, last registered first, in the root with the loaded environment', async () => {
    writeFileAtomic(loadedEnvPath(ctx), JSON.stringify({ PATH: process.env.PATH, OUT: out, FOO: 'loaded', PWD: '/elsewhere' }));
    registerUnloadHook(ctx, sh('echo "one $FOO" >>"$OUT"'));
    registerUnloadHook(ctx, { kind: 'argv', args: ['sh', '-c', 'echo "two $PWD $WS_UNLOAD" >>"$OUT"'] });
    registerUnloadHook(ctx, sh('echo "three $(pwd)" >>"$OUT"'));
    mkdirSync(join(ctx, 'cache', 'stamps', 'x'), { recursive: true });

    expect(await runUnload(home, ctx, { env, reason: 'test' })).toEqual({ hooks: 3, failed: 0 });

    expect(outLines()).toEqual([`three ${root}`, `two ${root} 1`, 'one loaded']);
    expect(log()).toMatch(/^\[\S+Z\] unload started \(test\), 3 hook\(s\)\n/);
    expect(log().match(/^\[\S+Z\] exit 0 after \d+ ms: .*$/gm)).toHaveLength(3);
    expect(log()).toMatch(/unload done\n$/);
    expect(readContextRecord(ctx)?.state).toBe('unloaded');
    // The next load evaluates again and registers its hooks again.
    expect(existsSync(join(ctx, 'cache', 'stamps'))).toBe(false);
    expect(listUnloadHooks(ctx)).toEqual([]);
    expect(existsSync(join(ctx, 'unload-run'))).toBe(false);
    expect(unloadPending(ctx)).toBe(false);
    const events = readFileSync(join(home, 'events.jsonl'), 'utf8');
    expect(events.match(/"type":"unload.hook"/g)).toHaveLength(3);
    expect(events).toMatch(/"type":"context.unload".*"reason":"test"/);
  });

  it('goes on after a failing hook and logs its status and output', async () => {
    registerUnloadHook(ctx, sh('echo a >>"$OUT"'));
    registerUnloadHook(ctx, sh('echo "to stderr" >&2; echo "to stdout"; exit 4'));
    registerUnloadHook(ctx, sh('echo c >>"$OUT"'));
    expect(await runUnload(home, ctx, { env, reason: 'test' })).toEqual({ hooks: 3, failed: 1 });
    expect(outLines()).toEqual(['c', 'a']);
    expect(log()).toMatch(/\] exit 4 after \d+ ms: echo "to stderr" >&2; echo "to stdout"; exit 4\n {2}\| to stderr\n {2}\| to stdout\n/);
  });

  it('stops a hook that outlives WS_UNLOAD_TIMEOUT, with its process group', async () => {
    const pidFile = join(dir, 'child.pid');
    registerUnloadHook(ctx, sh('echo after >>"$OUT"'));
    registerUnloadHook(ctx, sh(`sleep 30 & echo $! >${pidFile}; wait`));
    const started = Date.now();
    expect(await runUnload(home, ctx, { env: { ...env, WS_UNLOAD_TIMEOUT: '1' }, reason: 'test' })).toEqual({ hooks: 2, failed: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(log()).toMatch(/\] exit timeout after \d+ ms: sleep 30/);
    expect(outLines()).toEqual(['after']);
    // The grandchild went with the group.
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(processStartTime(grandchild) === undefined || readFileSync(`/proc/${grandchild}/stat`, 'utf8').includes(') Z ')).toBe(true);
  });

  it('keeps only the end of a very long output', async () => {
    registerUnloadHook(ctx, sh('seq 1 300000'));
    await runUnload(home, ctx, { env, reason: 'test' });
    const text = log();
    expect(text).toMatch(/\n {2}\| \[\d+ bytes of output before this not kept\]\n/);
    expect(text).toMatch(/\n {2}\| 300000\n/);
    expect(text).not.toMatch(/\n {2}\| 1\n/);
    // (each kept line gains its 4-character prefix)
    expect(text.length).toBeLessThan(UNLOAD_OUTPUT_MAX * 2);
  });

  it('notes a corrupt hook record in unload.log and runs the others', async () => {
    registerUnloadHook(ctx, sh('echo a >>"$OUT"'));
    writeFileSync(join(ctx, 'unload', '000005'), '{"kind":"sh","args":');
    registerUnloadHook(ctx, sh('echo b >>"$OUT"'));
    expect(await runUnload(home, ctx, { env, reason: 'test' })).toEqual({ hooks: 2, failed: 0 });
    expect(outLines()).toEqual(['b', 'a']);
    expect(log()).toMatch(/\] skipped corrupt hook record unload\/000005\n/);
  });

  it('runs a file: an executable with #! by itself, a script without #! (or not executable) with bash', async () => {
    const files = {
      shebang: '#!/bin/sh\necho "shebang ${BASH_VERSION:-no-bash}" >>"$OUT"\n',
      plain: 'echo "plain ${BASH_VERSION:+bash}" >>"$OUT"\n',
      noexec: 'echo "noexec ${BASH_VERSION:+bash}" >>"$OUT"\n',
    };
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(root, name), text);
      if (name !== 'noexec') chmodSync(join(root, name), 0o755);
    }
    for (const name of ['noexec', 'plain', 'shebang']) registerUnloadHook(ctx, { kind: 'file', args: [join(root, name)] });
    await runUnload(home, ctx, { env, reason: 'test' });
    // /bin/sh may be bash itself; what matters is that the #! line was honoured.
    expect(outLines()[0]).toMatch(/^shebang /);
    expect(outLines().slice(1)).toEqual(['plain bash', 'noexec bash']);
  });

  it('returns undefined while another process runs the unload', async () => {
    registerUnloadHook(ctx, sh('echo a >>"$OUT"'));
    const release = tryLock(join(ctx, 'unload-run.lock'))!;
    expect(await runUnload(home, ctx, { env, reason: 'test' })).toBeUndefined();
    release();
    expect(outLines()).toEqual([]);
  });
});

describe('runUnload after its runner died', () => {
  /** Registers three hooks and leaves the journal of an unload that ran hook 3 and started hook 2. */
  function interruptedUnload(started: { pid: number; start: string; at: number } | undefined) {
    for (const n of [1, 2, 3]) registerUnloadHook(ctx, sh(`echo ${n} >>"$OUT"`));
    const hooks = listUnloadHooks(ctx);
    const run = join(ctx, 'unload-run');
    mkdirSync(run, { recursive: true });
    writeFileAtomic(
      join(run, 'journal.json'),
      JSON.stringify({ started: '2026-01-01T00:00:00.000Z', reason: 'last user left', order: ['000003', '000002', '000001'], hooks: Object.fromEntries(hooks.map((h) => [h.seq, h])) }),
    );
    writeFileSync(join(run, '000003.started'), JSON.stringify({ pid: deadPid(), start: 'x', at: Date.now() }));
    writeFileSync(join(run, '000003.done'), JSON.stringify({ status: 0 }));
    writeFileSync(join(run, '000002.started'), started ? JSON.stringify(started) : '');
    writeFileSync(join(run, '000002.out'), 'what it printed so far\n');
    expect(unloadPending(ctx)).toBe(true);
  }

  it('does not start again a hook that was started, and runs the rest', async () => {
    interruptedUnload({ pid: deadPid(), start: 'x', at: Date.now() - 500 });
    expect(await runUnload(home, ctx, { env, reason: 'resumed' })).toEqual({ hooks: 2, failed: 1 });
    expect(outLines()).toEqual(['1']);
    expect(log()).toMatch(/\] unload resumed \(started 2026-01-01T00:00:00.000Z\)\n/);
    expect(log()).toMatch(/\] exit \? after \d+ ms: echo 2 >>"\$OUT" \(started by an unload runner that died; status unknown\)\n {2}\| what it printed so far\n/);
    expect(log()).not.toMatch(/echo 3/);
    expect(unloadPending(ctx)).toBe(false);
  });

  it('also when the runner died before it could note the hook process', async () => {
    interruptedUnload(undefined);
    await runUnload(home, ctx, { env, reason: 'resumed' });
    expect(outLines()).toEqual(['1']);
  });

  it('lets a hook that is still running finish before it goes on', async () => {
    const child = spawn('sleep', ['0.8'], { detached: true, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    interruptedUnload({ pid: child.pid!, start: processStartTime(child.pid!)!, at: Date.now() });
    const started = Date.now();
    await runUnload(home, ctx, { env, reason: 'resumed' });
    await exited;
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(outLines()).toEqual(['1']);
  });
});

describe('the hook registry', () => {
  it('keeps one entry per hook at its first position', () => {
    expect(registerUnloadHook(ctx, sh('a'))).toBe(true);
    expect(registerUnloadHook(ctx, sh('b'))).toBe(true);
    expect(registerUnloadHook(ctx, sh('a'))).toBe(false);
    expect(registerUnloadHook(ctx, { kind: 'argv', args: ['a'] })).toBe(true);
    expect(listUnloadHooks(ctx).map((h) => [h.seq, h.kind, h.args[0]])).toEqual([
      ['000001', 'sh', 'a'],
      ['000002', 'sh', 'b'],
      ['000003', 'argv', 'a'],
    ]);
  });

  it('dropUnloadHooks removes what an unload took, and keeps a hook registered since', () => {
    registerUnloadHook(ctx, sh('a'));
    registerUnloadHook(ctx, sh('b'));
    const taken = listUnloadHooks(ctx);
    registerUnloadHook(ctx, sh('c'));
    dropUnloadHooks(ctx, taken);
    expect(listUnloadHooks(ctx).map((h) => h.args[0])).toEqual(['c']);
    // Same seq, another hook: not the one taken.
    dropUnloadHooks(ctx, [{ ...taken[0], seq: '000003' }]);
    expect(listUnloadHooks(ctx).map((h) => h.args[0])).toEqual(['c']);
  });
});
