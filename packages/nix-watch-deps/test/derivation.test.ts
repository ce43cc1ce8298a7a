import { describe, expect, it } from 'vitest';
import { parseDerivation } from '../src/derivation.js';

describe('parseDerivation', () => {
  it('reads outputs and input derivations', () => {
    const text =
      'Derive([("out","/nix/store/3bj-top","","")],[("/nix/store/gy4-dep.drv",["dev"])],[],"x86_64-linux","/bin/sh",' +
      '["-c","echo \\"q\\\\\\"x\\" > $out"],[("builder","/bin/sh"),("d","/nix/store/a52-dep-dev"),("name","top")])';
    expect(parseDerivation(text)).toEqual({
      outputs: { out: '/nix/store/3bj-top' },
      inputDrvs: { '/nix/store/gy4-dep.drv': ['dev'] },
    });
  });
  it('reads several outputs and escapes in the environment', () => {
    const text =
      'Derive([("dev","/nix/store/a-dev","",""),("out","/nix/store/a","","")],[],["/nix/store/s-src"],"x","/bin/sh",[],' +
      '[("DATA","line\\nnext\\ttab \\\\ end"),("out","/nix/store/a")])';
    expect(parseDerivation(text).outputs).toEqual({ dev: '/nix/store/a-dev', out: '/nix/store/a' });
  });
  it('rejects what is not a derivation', () => {
    expect(() => parseDerivation('hello')).toThrow(/not a derivation/);
    expect(() => parseDerivation('Derive([("out","/nix/store/a"')).toThrow(/not a derivation/);
  });
});
