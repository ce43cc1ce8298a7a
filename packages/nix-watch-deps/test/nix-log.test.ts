import { describe, expect, it } from 'vitest';
import { errorText, lineSplitter, parseLogLine } from '../src/nix-log.js';

describe('parseLogLine', () => {
  it('reads imported files in straight and curly quotes', () => {
    expect(parseLogLine("evaluating file '/p/a.nix'")).toEqual({ type: 'access', access: { path: '/p/a.nix', follow: true, import: true } });
    expect(parseLogLine('evaluating file \u2018/p/b.nix\u2019')).toEqual({ type: 'access', access: { path: '/p/b.nix', follow: true, import: true } });
  });

  it('reads copied sources, keeping the link itself, in both quote styles', () => {
    const straight = parseLogLine("copied source '/p/src' -> '/nix/store/abc-src'");
    expect(straight).toEqual({ type: 'access', access: { path: '/p/src', follow: false } });
    const curly = parseLogLine('copied source \u2018/p/src\u2019 -> \u2018/nix/store/abc-src\u2019');
    expect(curly).toEqual({ type: 'access', access: { path: '/p/src', follow: false } });
  });

  it('keeps an arrow inside a copied path', () => {
    expect(parseLogLine("copied source '/p/a' -> 'b' -> '/nix/store/abc-b'")).toEqual({
      type: 'access',
      access: { path: "/p/a' -> 'b", follow: false },
    });
  });

  it('decodes the JSON of our own trace lines, newlines and quotes included', () => {
    expect(parseLogLine('trace: nix-watch-deps read "/p/we\\"ird\\nname"')).toEqual({
      type: 'access',
      access: { path: '/p/we"ird\nname', follow: true },
    });
    expect(parseLogLine('trace: nix-watch-deps path "/p/maybe"')).toEqual({ type: 'access', access: { path: '/p/maybe', follow: false } });
    expect(parseLogLine('trace: nix-watch-deps store-dir "/nix/store"')).toEqual({ type: 'store-dir', path: '/nix/store' });
    expect(parseLogLine('trace: nix-watch-deps flake-source "/nix/store/x-source"')).toEqual({ type: 'flake-source', path: '/nix/store/x-source' });
  });

  it('passes the user’s traces and warnings on, but not the ones our command line causes', () => {
    expect(parseLogLine('trace: hello')).toEqual({ type: 'message', line: 'trace: hello' });
    expect(parseLogLine("warning: Git tree '/p' is dirty").type).toBe('message');
    expect(parseLogLine("warning: you did not specify '--add-root'; the result might be removed").type).toBe('other');
    expect(parseLogLine("warning: ignoring the client-specified setting 'sandbox', because it is a restricted setting").type).toBe('other');
    expect(parseLogLine("warning: error: SQLite database '/nix/var/nix/db/db.sqlite' is busy").type).toBe('other');
  });

  it('strips colors before matching', () => {
    expect(parseLogLine("\x1b[35;1mevaluating file '/p/a.nix'\x1b[0m").type).toBe('access');
  });

  it('leaves everything else alone', () => {
    expect(parseLogLine("instantiated 'shell' -> '/nix/store/x.drv'")).toEqual({ type: 'other', line: "instantiated 'shell' -> '/nix/store/x.drv'" });
    expect(parseLogLine('trace: nix-watch-deps read not-json').type).toBe('message');
  });
});

describe('errorText', () => {
  it('keeps Nix’s message from the first error line on', () => {
    expect(errorText(["instantiated 'x' -> 'y'", "error: syntax error, unexpected ';'", '', '       at /p/a.nix:1:7:'])).toBe(
      "error: syntax error, unexpected ';'\n\n       at /p/a.nix:1:7:\n",
    );
  });
  it('keeps everything when there is no error line', () => {
    expect(errorText(['something odd'])).toBe('something odd\n');
    expect(errorText([])).toBe('');
  });
});

describe('lineSplitter', () => {
  it('joins lines split across chunks and flushes the last one', () => {
    const lines: string[] = [];
    const split = lineSplitter((line) => lines.push(line));
    split.push('a\nb');
    split.push('c\n\nd');
    split.end();
    expect(lines).toEqual(['a', 'bc', '', 'd']);
  });
});
