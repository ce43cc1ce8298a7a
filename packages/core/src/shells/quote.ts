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
