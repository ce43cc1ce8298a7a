import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { contentFunctionFish, watchTestFish, type WatchedContent } from '../src/shells/hooks.js';

// fish's watch check is data: test's arguments (hooks.ts watchTestFish),
// which the hook appends to its own test. Run by a real fish, it must hold
// exactly while every watched file is as ws-export saw it, and no name run.
describe('watchTestFish: the watched files as arguments of one fish test', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const holds = (args: string, cwd: string) => {
    const fish = spawnSync('fish', ['--no-config', '-c', `set -g _ws_watch_test${args}; test x $_ws_watch_test; and echo holds; or echo changed`], { cwd, encoding: 'utf8' });
    expect(fish.stderr).toBe('');
    return fish.stdout.trim() === 'holds';
  };

  it('bracketed mtimes, must exist, must be absent, the validity marker; names that look like code or operators stay names', () => {
    dir = mkdtempSync(join(tmpdir(), 'ws-fish-watch-'));
    const odd = join(dir, "it's $(touch pwned) `x`\nline two");
    const [lo, hi, valid, here, bang] = ['lo', 'hi', 'valid', 'here', '!'].map((n) => join(dir, n));
    for (const f of [odd, lo, hi, valid, here, bang]) writeFileSync(f, '');
    utimesSync(lo, 1000, 1000);
    utimesSync(odd, 1001, 1001);
    utimesSync(hi, 1002, 1002);
    // `!` and `-a` relative to the directory: read as names (./!), not operators.
    const triples = [odd, lo, hi, here, '', '+', join(dir, 'absent'), '', '', '!', '', '+', '-a', '', ''];
    const args = watchTestFish(triples, valid);
    expect(holds(args, dir)).toBe(true);
    expect(holds(watchTestFish([], ''), dir)).toBe(true);
    utimesSync(odd, 999, 999); // older: seen too
    expect(holds(args, dir)).toBe(false);
    utimesSync(odd, 1001, 1001);
    writeFileSync(join(dir, 'absent'), '');
    expect(holds(args, dir)).toBe(false);
    rmSync(join(dir, 'absent'));
    rmSync(valid);
    expect(holds(args, dir)).toBe(false);
    writeFileSync(valid, '');
    rmSync(here);
    expect(holds(args, dir)).toBe(false);
    writeFileSync(here, '');
    expect(holds(args, dir)).toBe(true);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });
});

// fish's content check (hooks.ts contentFunctionFish): run by a real fish
// as the hook runs it (after the one test, whose -f of each file
// watchTestFish adds), it holds exactly while each file has the approved
// text, byte for byte, and no text or name runs as code; a FIFO is never opened.
describe('contentFunctionFish: the approved text of the workspace files', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const holds = (contents: WatchedContent[]) => {
    const code = `${contentFunctionFish(contents)}test x${watchTestFish([], '', contents)}; and _ws_content_ok; and echo holds; or echo changed`;
    const fish = spawnSync('fish', ['--no-config', '-c', code], { cwd: dir, encoding: 'utf8', timeout: 10000 });
    expect(fish.stderr).toBe('');
    return fish.stdout.trim() === 'holds';
  };

  it('the same text holds; one byte more, less or other does not; an empty file, a missing one, text that looks like code', () => {
    dir = mkdtempSync(join(tmpdir(), 'ws-fish-content-'));
    const file = join(dir, "it's $(touch pwned)\nws");
    const empty = join(dir, 'empty');
    const text = 'export A="x\\\\y" B=$\'\\n\'\n$(touch pwned) `x`\n\ttab \\\n';
    writeFileSync(file, text);
    writeFileSync(empty, '');
    const code: WatchedContent[] = [
      { path: file, text },
      { path: empty, text: '' },
    ];
    expect(holds(code)).toBe(true);
    writeFileSync(file, `${text}\n`);
    expect(holds(code)).toBe(false);
    writeFileSync(file, text.slice(0, -1));
    expect(holds(code)).toBe(false);
    writeFileSync(file, text.replace('A', 'B'));
    expect(holds(code)).toBe(false);
    writeFileSync(file, text);
    expect(holds(code)).toBe(true);
    rmSync(empty);
    expect(holds(code)).toBe(false);
    expect(holds([{ path: file, text: undefined }])).toBe(false);
    expect(holds([])).toBe(true);
    // A FIFO in place of the (empty) file: not a regular file, never opened (the read would block).
    execFileSync('mkfifo', [empty]);
    expect(holds(code)).toBe(false);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });
});
