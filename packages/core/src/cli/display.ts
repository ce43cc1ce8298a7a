/**
 * Text shown to a person (the prompt, tables, messages) with its control
 * characters made visible, as ls and git do: a name, path or value can come
 * from anywhere (a directory named `\e[31m…`, a newline in a path), and must
 * never drive the terminal. C0 controls, DEL and C1 controls become `\xHH`;
 * the bidirectional overrides and isolates, which reorder what follows on the
 * screen, become `\u{HHHH}`. Machine output (`--json`, exported values) stays
 * exact: never pass it through here.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (ch) => {
    const code = ch.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
