import { quoteFish, quotePosix, type Shell } from '@ws/core';
import { colorCode, STATE_COLORS, STATES, type PromptState, type Token } from './format.js';

/**
 * Shell code defining `_ws_prompt_render`, which the ws hook calls after each
 * check: it renders the segment into $WS_PROMPT from the hook's own variables
 * (`_ws_root`, `_ws_state`, `_ws_name`, `_ws_ctxdir`) with builtins only.
 */
export function renderInit(shell: Shell, tokens: Token[], glyphs: Record<PromptState, string>): string {
  const needs = (field: string) => tokens.some((t) => 'field' in t && t.field === field);
  if (shell === 'fish') return fishInit(tokens, glyphs, needs);
  const q = quotePosix;
  const markers = shell === 'bash' ? 'bash' : 'zsh';
  const cases = STATES.map((s) => `    ${s}) g=${q(glyphs[s])} c=${q(colorCode(STATE_COLORS[s], markers))} ;;`).join('\n');
  const parts = tokens
    .map((t) => {
      if ('text' in t) return q(shell === 'zsh' ? t.text.replace(/%/g, '%%') : t.text);
      // zsh expands prompt escapes in the value: a '%' in a name must stay a '%'.
      if (shell === 'zsh') return { n: '"${_ws_name//\\%/%%}"', e: '"${WS_ENV//\\%/%%}"', s: '"$c$g$r"', u: '"$u"', S: '"$S"' }[t.field];
      return { n: '"$_ws_name"', e: '"${WS_ENV-}"', s: '"$c$g$r"', u: '"$u"', S: '"$S"' }[t.field];
    })
    .join('');
  const glob = shell === 'zsh' ? '(N)' : '';
  return `_ws_prompt_init=1
_ws_prompt_render() {
  WS_PROMPT=
  [[ -n \${_ws_root-} && -n \${_ws_state-} ]] || return 0
  local g c r=${q(colorCode(0, markers))} f u=0 S=0
  case $_ws_state in
${cases}
  esac
  [[ -n \${NO_COLOR+x} ]] && c= r=
${needs('u') ? `  for f in "$_ws_ctxdir"/users/[0-9]*${glob}; do [[ -e $f ]] && ((u++)); done\n` : ''}${
    needs('S') ? `  for f in "$_ws_ctxdir"/services/*/pid${glob}; do [[ -e $f ]] && ((S++)); done\n` : ''
  }  WS_PROMPT=${parts || "''"}
}
`;
}

function fishInit(tokens: Token[], glyphs: Record<PromptState, string>, needs: (f: string) => boolean): string {
  const q = quoteFish;
  const cases = STATES.map((s) => `    case ${s}\n      set g ${q(glyphs[s])}; set c ${q(colorCode(STATE_COLORS[s], 'plain'))}`).join('\n');
  const parts = tokens
    .map((t) => ('text' in t ? q(t.text) : { n: '"$_ws_name"', e: '"$WS_ENV"', s: '"$c$g$r"', u: '"$u"', S: '"$S"' }[t.field]))
    .join('');
  return `function _ws_prompt_render
  set -g WS_PROMPT ''
  test -n "$_ws_root" -a -n "$_ws_state"; or return 0
  set -l g ''; set -l c ''; set -l r ${q(colorCode(0, 'plain'))}
  switch $_ws_state
${cases}
  end
  set -q NO_COLOR; and set c ''; and set r ''
${needs('u') ? "  set -l u 0\n  for f in $_ws_ctxdir/users/*\n    string match -qr '/[0-9]+$' -- $f; and set u (math $u + 1)\n  end\n" : ''}${
    needs('S') ? '  set -l S 0\n  for f in $_ws_ctxdir/services/*/pid\n    set S (math $S + 1)\n  end\n' : ''
  }  set -g WS_PROMPT ${parts || "''"}
end
`;
}
