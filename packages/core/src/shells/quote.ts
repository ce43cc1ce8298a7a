import { hasRawBytes } from '../env/bytes.js';

/**
 * Quoting for each shell. Single quotes are the one form that takes every
 * byte literally in bash and zsh (newlines, `$`, backticks, backslashes), so
 * only the quote itself needs escaping. fish's single quotes also treat `\\`
 * and `\'` as escapes.
 */
const posixText = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
const fishText = (value: string) => `'${value.replace(/[\\']/g, (ch) => `\\${ch}`)}'`;

/**
 * A value's raw bytes (bytes.ts: not UTF-8, kept as lone surrogates) cannot
 * be written inside quotes: each run of them becomes an escape of its own,
 * joined to the quoted text around it — `'caf'$'\xe9'` (bash, zsh),
 * `'caf'\Xe9` (fish: \X is a byte, \x a character).
 */
function withRawBytes(value: string, text: (part: string) => string, bytes: (hex: string[]) => string): string {
  if (!hasRawBytes(value)) return text(value);
  const out: string[] = [];
  let start = 0;
  for (const match of value.matchAll(/(?:(?<![\uD800-\uDBFF])[\uDC80-\uDCFF])+/g)) {
    if (match.index! > start) out.push(text(value.slice(start, match.index)));
    out.push(bytes([...match[0]].map((ch) => (ch.charCodeAt(0) - 0xdc00).toString(16))));
    start = match.index! + match[0].length;
  }
  if (start < value.length) out.push(text(value.slice(start)));
  return out.join('');
}

export const quotePosix = (value: string) => withRawBytes(value, posixText, (hex) => `$'${hex.map((h) => `\\x${h}`).join('')}'`);

export const quoteFish = (value: string) => withRawBytes(value, fishText, (hex) => hex.map((h) => `\\X${h}`).join(''));

/** fish keeps `*PATH` variables as lists joined with ':' on export; split so the exported value round-trips. */
export const isFishPathVariable = (name: string) => name.endsWith('PATH');

/**
 * nushell: a single-quoted string takes every character literally (no
 * escapes at all) but cannot hold a `'`; a raw string `r#'…'#` can, given
 * more `#` than any `'#…` run inside it.
 */
export const quoteNu = (value: string) => {
  if (!value.includes("'")) return `'${value}'`;
  let hashes = '#';
  while (value.includes(`'${hashes}`)) hashes += '#';
  return `r${hashes}'${value}'${hashes}`;
};
