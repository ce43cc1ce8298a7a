// Where a JSON text stops being JSON, as a person wants it: line and column
// (1-based; the column counts characters) and what was expected. JSON.parse
// says "Unexpected token" without a position in some cases, so the text is
// walked once by the grammar of RFC 8259, which is small.

export interface JsonError {
  line: number;
  column: number;
  what: string;
}

class Stop extends Error {
  constructor(
    readonly at: number,
    readonly what: string,
  ) {
    super(what);
  }
}

/** The first syntax error of `text`; one at the end of the text if JSON.parse refused it for a reason the walk does not see. */
export function jsonErrorAt(text: string): JsonError {
  let i = 0;
  const shown = (at: number) => (at >= text.length ? 'the end of the file' : `'${text[at] === '\n' ? '\\n' : text[at]}'`);
  const fail = (what: string, at = i): never => {
    throw new Stop(at, `${what}, found ${shown(at)}`);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`expected ${word}`);
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i];
      if (c === '"') return void i++;
      if (c === '\n' || c < ' ') fail('a control character or newline inside a string');
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('expected 4 hex digits after \\u', i + 2);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('an invalid escape in a string', i + 1);
      } else i++;
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (!m) fail('expected a value');
    i += m![0].length;
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{') {
      i++;
      space();
      if (text[i] === '}') return void i++;
      for (;;) {
        space();
        if (text[i] !== '"') fail('expected a property name in double quotes');
        string();
        space();
        if (text[i] !== ':') fail("expected ':' after the property name");
        i++;
        value();
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') return void i++;
        fail("expected ',' or '}' after a property value");
      }
    }
    if (c === '[') {
      i++;
      space();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') return void i++;
        fail("expected ',' or ']' after an array element");
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    fail('expected a value');
  };
  let at = text.length;
  let what = 'not valid JSON';
  try {
    value();
    space();
    if (i < text.length) fail('unexpected text after the JSON value');
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    at = error.at;
    what = error.what;
  }
  const before = text.slice(0, at).split('\n');
  return { line: before.length, column: [...before[before.length - 1]].length + 1, what };
}
