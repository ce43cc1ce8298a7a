import { readFileSync } from 'node:fs';

/** The parts of a .drv file that pinning needs. */
export interface Derivation {
  /** Output name → store path ("" for a content-addressed output not built yet). */
  outputs: Record<string, string>;
  /** Input .drv path → the names of its outputs used. */
  inputDrvs: Record<string, string[]>;
}

type ATerm = string | ATerm[];

/**
 * Parses the ATerm of a .drv file, `Derive([outputs],[inputDrvs],...)`.
 * Reading the file beats spawning `nix show-derivation` (experimental in 2.8).
 */
export function parseDerivation(text: string): Derivation {
  let pos = 0;
  const fail = (): never => {
    throw new Error(`not a derivation (at offset ${pos})`);
  };
  const value = (): ATerm => {
    const ch = text[pos];
    if (ch === '"') return string();
    if (ch === '[' || ch === '(') return list(ch === '[' ? ']' : ')');
    return fail();
  };
  const string = (): string => {
    let out = '';
    for (pos++; pos < text.length; pos++) {
      const ch = text[pos];
      if (ch === '"') {
        pos++;
        return out;
      }
      if (ch === '\\') {
        const next = text[++pos];
        out += next === 'n' ? '\n' : next === 't' ? '\t' : next === 'r' ? '\r' : next;
      } else out += ch;
    }
    return fail();
  };
  const list = (close: string): ATerm[] => {
    const items: ATerm[] = [];
    pos++;
    while (text[pos] !== close) {
      if (pos >= text.length) fail();
      items.push(value());
      if (text[pos] === ',') pos++;
      else if (text[pos] !== close) fail();
    }
    pos++;
    return items;
  };

  if (!text.startsWith('Derive(')) fail();
  pos = 'Derive'.length;
  const [outputs, inputDrvs] = value() as ATerm[][][];
  if (!Array.isArray(outputs) || !Array.isArray(inputDrvs)) fail();
  return {
    outputs: Object.fromEntries(outputs.map((output) => [output[0] as string, output[1] as string])),
    inputDrvs: Object.fromEntries(inputDrvs.map((input) => [input[0] as string, input[1] as string[]])),
  };
}

export const readDerivation = (path: string) => parseDerivation(readFileSync(path, 'utf8'));
