import { fillTemplate, quoteFish, quoteNu, quotePosix, type HookShell } from '@ws/core';
import { colorCode, STATE_COLORS, STATES, type Markers, type PromptState, type Token } from './format.js';
import initBash from './prompt-init.bash';
import initFish from './prompt-init.fish';
import initNu from './prompt-init.nu';
import initZsh from './prompt-init.zsh';

const INITS: Record<HookShell, { template: string; quote: (value: string) => string; markers: Markers }> = {
  bash: { template: initBash, quote: quotePosix, markers: 'bash' },
  zsh: { template: initZsh, quote: quotePosix, markers: 'zsh' },
  fish: { template: initFish, quote: quoteFish, markers: 'plain' },
  // nushell's prompt counts widths itself (ANSI escapes are zero-width to it).
  nu: { template: initNu, quote: quoteNu, markers: 'plain' },
};

/** How each placeholder of a FORMAT reads the segment's data, per shell. */
const FIELDS: Record<HookShell, Record<'n' | 'e' | 's' | 'u' | 'S', string>> = {
  bash: { n: '"$_ws_name"', e: '"${WS_ENV-}"', s: '"$c$g$r"', u: '"$u"', S: '"$S"' },
  // zsh expands prompt escapes in the value: a '%' in a name must stay a '%'.
  zsh: { n: '"${_ws_name//\\%/%%}"', e: '"${WS_ENV//\\%/%%}"', s: '"$c$g$r"', u: '"$u"', S: '"$S"' },
  fish: { n: '"$_ws_name"', e: '"$WS_ENV"', s: '"$c$g$r"', u: '"$u"', S: '"$S"' },
  // Elements of a list that the template joins.
  nu: { n: '$h.name', e: "($env.WS_ENV? | default '')", s: '$"($c)($g)($r)"', u: '($u | into string)', S: '$shown_services' },
};

/**
 * Shell code defining `_ws_prompt_render`, which the ws hook calls after each
 * check: it renders the segment into $WS_PROMPT from the hook's own variables
 * (`_ws_root`, `_ws_state`, `_ws_name`, `_ws_ctxdir`) with builtins only. The
 * code is prompt-init.bash|zsh|fish|nu beside this file; glyphs and colors are
 * filled in quoted, the FORMAT as quoted literals and field expansions.
 */
export function renderInit(shell: HookShell, tokens: Token[], glyphs: Record<PromptState, string>): string {
  const { template, quote, markers } = INITS[shell];
  const needs = (field: string) => tokens.some((t) => 'field' in t && t.field === field);
  const values: Record<string, string> = { RESET: colorCode(0, markers) };
  for (const state of STATES) {
    values[`${state.toUpperCase()}_GLYPH`] = glyphs[state];
    values[`${state.toUpperCase()}_COLOR`] = colorCode(STATE_COLORS[state], markers);
  }
  const segment = tokens.map((t) => ('text' in t ? quote(shell === 'zsh' ? t.text.replace(/%/g, '%%') : t.text) : FIELDS[shell][t.field])).join(shell === 'nu' ? ' ' : '');
  return fillTemplate(template, quote, { values, code: { SEGMENT: segment || "''" }, when: { u: needs('u'), S: needs('S') } });
}
