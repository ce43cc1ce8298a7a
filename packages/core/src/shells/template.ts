/** What a shell template is filled with: values, quoted on the way in, and code, pasted as it is. */
export interface TemplateFill {
  /** Shell-quoted by `quote` before insertion: paths, glyphs, anything that is data. */
  values?: Record<string, string>;
  /** Shell code the caller built from quoted pieces (a prompt format's words). */
  code?: Record<string, string>;
  /** `# if:NAME` at the end of a line keeps it only when NAME is true. */
  when?: Record<string, boolean>;
}

const PLACEHOLDER = /@([A-Z][A-Z0-9_]*)@/g;
const HAS_PLACEHOLDER = /@[A-Z][A-Z0-9_]*@/;
const CONDITION = /[ \t]+# if:([A-Za-z]+)$/;

/**
 * Renders a shell file shipped as text (hook.bash, prompt-init.zsh, ...).
 * Lines starting with `##` document the template and are dropped;
 * `@NAME@` is replaced by a value, quoted for the shell, or by code (never
 * in a `#` comment, which a newline in the value would end). Every
 * placeholder must be filled and every name given must occur, so that a
 * renamed placeholder fails here rather than in a user's shell.
 */
export function fillTemplate(template: string, quote: (value: string) => string, fill: TemplateFill): string {
  const { values = {}, code = {}, when = {} } = fill;
  const used = new Set<string>();
  const lines: string[] = [];
  for (const line of template.split('\n')) {
    if (line.trimStart().startsWith('##')) continue;
    // A value in a comment would end it at its first newline.
    if (line.trimStart().startsWith('#') && HAS_PLACEHOLDER.test(line)) throw new Error(`shell template: a placeholder in a comment: ${line.trim()}`);
    const condition = CONDITION.exec(line);
    if (condition) {
      const name = condition[1]!;
      if (!(name in when)) throw new Error(`shell template: no condition ${name}`);
      used.add(`if:${name}`);
      if (when[name]) lines.push(line.slice(0, condition.index));
      continue;
    }
    lines.push(line);
  }
  // A replacer function, not a string: `$&` or `$'` in a value must stay literal.
  const text = lines.join('\n').replace(PLACEHOLDER, (_, name: string) => {
    used.add(name);
    if (name in values) return quote(values[name]!);
    if (name in code) return code[name]!;
    throw new Error(`shell template: nothing given for @${name}@`);
  });
  for (const name of [...Object.keys(values), ...Object.keys(code), ...Object.keys(when).map((n) => `if:${n}`)]) {
    if (!used.has(name)) throw new Error(`shell template: ${name} given but not in the template`);
  }
  return text;
}
