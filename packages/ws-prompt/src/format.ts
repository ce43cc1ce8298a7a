import { CliError, EX } from '@ws/core';

export const STATES = ['ready', 'building', 'stale', 'degraded', 'error', 'blocked'] as const;
export type PromptState = (typeof STATES)[number];

export const DEFAULT_FORMAT = '%s %n';
export const DEFAULT_GLYPHS: Record<PromptState, string> = { ready: '●', building: '◌', stale: '○', degraded: '◐', error: '✗', blocked: '⊘' };
/** ANSI color of each state's glyph. */
export const STATE_COLORS: Record<PromptState, number> = { ready: 32, building: 33, stale: 33, degraded: 33, error: 31, blocked: 31 };

export type Token = { text: string } | { field: 'n' | 'e' | 's' | 'u' | 'S' };

/** Splits a FORMAT into literal text and placeholders; an unknown `%x` is a usage error. */
export function parseFormat(format: string): Token[] {
  const tokens: Token[] = [];
  let text = '';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i];
    if (ch !== '%') {
      text += ch;
      continue;
    }
    const next = format[++i];
    if (next === '%') text += '%';
    else if (next && 'nesuS'.includes(next)) {
      if (text) tokens.push({ text });
      text = '';
      tokens.push({ field: next as 'n' });
    } else throw new CliError(EX.USAGE, `unknown placeholder '%${next ?? ''}' in format (use %n %e %s %u %S %%)`);
  }
  if (text) tokens.push({ text });
  return tokens;
}

/** `ready=●,building=◌,...`: any subset overrides the defaults. */
export function parseGlyphs(spec: string | undefined): Record<PromptState, string> {
  const glyphs = { ...DEFAULT_GLYPHS };
  if (!spec) return glyphs;
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const state = part.slice(0, eq) as PromptState;
    if (eq < 0 || !STATES.includes(state)) throw new CliError(EX.USAGE, `bad --glyphs entry '${part}' (use STATE=GLYPH with ${STATES.join(', ')})`);
    glyphs[state] = part.slice(eq + 1);
  }
  return glyphs;
}

export type Markers = 'bash' | 'zsh' | 'plain';

/** Color escape wrapped in the shell's non-printing markers, so line editing counts widths right. */
export function colorCode(code: number, markers: Markers): string {
  const esc = `\x1b[${code}m`;
  if (markers === 'bash') return `\x01${esc}\x02`;
  if (markers === 'zsh') return `%{${esc}%}`;
  return esc;
}

export interface SegmentData {
  name: string;
  env: string;
  state: PromptState;
  users: number;
  /** Running services, or `RUNNING/EXPECTED` while some that should run do not. */
  services: number | string;
}

export function renderSegment(tokens: Token[], data: SegmentData, glyphs: Record<PromptState, string>, color: Markers | undefined): string {
  return tokens
    .map((token) => {
      if ('text' in token) return token.text;
      switch (token.field) {
        case 'n':
          return data.name;
        case 'e':
          return data.env;
        case 'u':
          return String(data.users);
        case 'S':
          return String(data.services);
        case 's':
          return color ? `${colorCode(STATE_COLORS[data.state], color)}${glyphs[data.state]}${colorCode(0, color)}` : glyphs[data.state];
      }
    })
    .join('');
}
