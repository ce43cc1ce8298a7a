import { readBytes } from '../state/atomic.js';

/**
 * Values are byte strings (an environment is bytes: anything but NUL), but
 * Node decodes them as UTF-8, each invalid byte becoming U+FFFD. ws keeps the
 * bytes in its strings the way Python's `surrogateescape` does: UTF-8 decoded
 * where valid, each byte of an invalid sequence as the lone surrogate
 * U+DC80–U+DCFF (0x80–0xFF). Valid UTF-8 never encodes a surrogate, so every
 * byte string decodes and encodes back exactly; JSON.stringify writes a lone
 * surrogate as the escape `\udcNN`, so the cache files keep the bytes too.
 * The shells' quoting turns them back into bytes (quote.ts); JSON output,
 * which cannot hold them, shows U+FFFD (render.ts). docs/reliability.md,
 * "Any bytes but NUL".
 */

/** A lone low surrogate U+DC80–U+DCFF (not the second half of a pair): one raw byte. */
export const RAW_BYTE = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;
const RAW_BYTES = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g;

/** True if the string holds bytes that are not UTF-8 (decodeBytes's escapes). */
export const hasRawBytes = (text: string): boolean => RAW_BYTE.test(text);

/** The string as JSON and a terminal can carry it: each raw byte U+FFFD. */
export const withoutRawBytes = (text: string): string => text.replace(RAW_BYTES, '\uFFFD');

/** Length of the valid UTF-8 sequence at `i`, or 0 if the byte there does not start one. */
function sequenceAt(buf: Uint8Array, i: number): number {
  const b = buf[i]!;
  if (b < 0x80) return 1;
  const cont = (j: number, lo = 0x80, hi = 0xbf) => j < buf.length && buf[j]! >= lo && buf[j]! <= hi;
  if (b >= 0xc2 && b <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    // No overlongs (E0 A0..), no surrogates (ED ..9F).
    const lo = b === 0xe0 ? 0xa0 : 0x80;
    const hi = b === 0xed ? 0x9f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const lo = b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xf4 ? 0x8f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

/** Bytes as a string, keeping every byte (see above). */
export function decodeBytes(buf: Uint8Array): string {
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8');
  // The common case: valid UTF-8 (a U+FFFD in the text may be one the bytes really hold).
  if (!text.includes('\uFFFD')) return text;
  let out = '';
  let start = 0;
  for (let i = 0; i < buf.length; ) {
    const n = sequenceAt(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += Buffer.from(buf.subarray(start, i)).toString('utf8') + String.fromCharCode(0xdc00 + buf[i]!);
    i++;
    start = i;
  }
  return out + Buffer.from(buf.subarray(start)).toString('utf8');
}

/** The bytes a string of decodeBytes stands for: UTF-8, each raw byte as itself. */
export function encodeBytes(text: string): Buffer {
  if (!hasRawBytes(text)) return Buffer.from(text);
  const parts: Buffer[] = [];
  let start = 0;
  for (const match of text.matchAll(RAW_BYTES)) {
    parts.push(Buffer.from(text.slice(start, match.index)), Buffer.of(match[0].charCodeAt(0) - 0xdc00));
    start = match.index! + 1;
  }
  parts.push(Buffer.from(text.slice(start)));
  return Buffer.concat(parts);
}

/** NUL-separated words of a file (the last one ends with its NUL too), bytes kept; none if unreadable. */
export function readNulWords(path: string): string[] {
  // A state file: a FIFO or anything else not a regular file is no list, and never blocks (readBytes).
  const buf = readBytes(path);
  if (!buf) return [];
  const words: string[] = [];
  for (let start = 0; ; ) {
    const end = buf.indexOf(0, start);
    if (end < 0) break;
    words.push(decodeBytes(buf.subarray(start, end)));
    start = end + 1;
  }
  return words;
}

/**
 * The process's environment with its bytes: Node's `process.env` decodes
 * values as UTF-8 (U+FFFD for each invalid byte). Only when some value holds
 * a U+FFFD is /proc/self/environ read, and only those values are taken from
 * it; so the common case costs nothing.
 */
export function environWithBytes(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!Object.values(env).some((value) => value?.includes('\uFFFD'))) return env;
  const out: NodeJS.ProcessEnv = { ...env };
  for (const entry of readNulWords('/proc/self/environ')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    if (out[name]?.includes('\uFFFD') && hasRawBytes(value)) out[name] = value;
  }
  return out;
}
