import { describe, expect, it } from 'vitest';
import { printable } from '../src/cli/display.js';

describe('printable', () => {
  it('makes C0, DEL and C1 controls visible as \\xHH', () => {
    expect(printable('a\x1b[31mb\nc\td\x7f\x9b')).toBe('a\\x1b[31mb\\x0ac\\x09d\\x7f\\x9b');
  });
  it('makes bidi overrides visible, keeps other text', () => {
    expect(printable('x\u202ey')).toBe('x\\u{202e}y');
    expect(printable('π ● café \\ "q"')).toBe('π ● café \\ "q"');
  });
});
