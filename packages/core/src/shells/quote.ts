/**
 * Quoting for each shell. Single quotes are the one form that takes every
 * byte literally in bash and zsh (newlines, `$`, backticks, backslashes), so
 * only the quote itself needs escaping. fish's single quotes also treat `\\`
 * and `\'` as escapes.
 */
export const quotePosix = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

export const quoteFish = (value: string) => `'${value.replace(/[\\']/g, (ch) => `\\${ch}`)}'`;

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
