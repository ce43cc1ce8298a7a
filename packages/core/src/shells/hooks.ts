import type { Shell } from './render.js';
import { quoteFish, quotePosix } from './quote.js';

/**
 * The hook a user puts in their rc file. At every prompt (and on cd) it first
 * checks, with shell builtins only, whether anything relevant changed since
 * the last export: the discovery knobs and WS_ENV, the nearest workspace
 * directory (walked up from $PWD with `test -f` at every prompt), the validity marker of the
 * loaded result, and each watched file's mtime against a pair of stamp files
 * that bracket it (`-nt lo && -ot hi`; an empty LO means: must be absent, or
 * with HI `+`, must exist). Only if something changed does it run
 * ws-export. The variables it reads are set by ws-export's own output. Then
 * it renders the prompt segment, if `ws-prompt init` defined the function.
 * bash and zsh test the watched files with `_ws_watch_ok`, which each
 * ws-export redefines as one `[[ ]]` expression (no loop, no indexing).
 */
export function renderHook(shell: Shell, exporter: string): string {
  if (shell === 'fish') return fishHook(quoteFish(exporter));
  return shell === 'zsh' ? zshHook(quotePosix(exporter)) : bashHook(quotePosix(exporter));
}

/** `_ws_unchanged` for bash and zsh, which share its syntax; zsh adds `emulate -L zsh`. */
const posixUnchanged = (prelude: string) => `_ws_unchanged() {
${prelude}  [[ \${WS_WORKSPACE-}$'\\x1f'\${WS_CEILING_DIRS-}$'\\x1f'\${WS_ENVRC-}$'\\x1f'\${WS_ENV-} == "\${_ws_knobs-x}" ]] || return 1
  if [[ -n \${WS_WORKSPACE-} ]]; then
    [[ $PWD == "\${_ws_pwd-}" ]] || return 1
  else
    # The nearest workspace directory, at every prompt: a file created in the
    # current directory or above changes the context without a cd.
    local d=$PWD found= c
    while :; do
      for c in "\${_ws_ceil[@]}"; do [[ $d == "$c" || $d -ef $c ]] && break 2; done
      if [[ -f $d/.workspace || ( \${WS_ENVRC-} != 0 && -f $d/.envrc ) ]]; then found=$d; break; fi
      [[ $d == / ]] && break
      d=\${d%/*}; d=\${d:-/}
    done
    if [[ $found != "\${_ws_root-}" ]]; then
      # Entering from outside a context it entered before: the cached result, if still valid.
      [[ -n $found && -z \${WS_DIFF-} && -n \${_ws_known[$found]-} ]] && source "\${_ws_known[$found]}" && return 0
      return 1
    fi
    _ws_pwd=$PWD
  fi
  [[ -z \${_ws_valid-} || -e $_ws_valid ]] || return 1
  _ws_watch_ok
}
`;

const bashHook = (exporter: string) => `declare -gA _ws_known 2>/dev/null
# Redefined by each ws-export with one [[ ]] over the watched files.
_ws_watch_ok() { return 1; }
${posixUnchanged('')}_ws_hook() {
  local _ws_status=$?
  _ws_unchanged || eval "$(${exporter} bash --pid $$)"
  [[ -z \${_ws_prompt_init-} ]] || _ws_prompt_render
  return $_ws_status
}
if [[ ";\${PROMPT_COMMAND[*]:-};" != *";_ws_hook;"* ]]; then
  if [[ "$(declare -p PROMPT_COMMAND 2>&1)" == "declare -a"* ]]; then
    PROMPT_COMMAND=(_ws_hook "\${PROMPT_COMMAND[@]}")
  else
    PROMPT_COMMAND="_ws_hook\${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
  fi
fi
`;

const zshHook = (exporter: string) => `typeset -gA _ws_known
_ws_watch_ok() { return 1; }
${posixUnchanged('  emulate -L zsh\n')}_ws_hook() {
  _ws_unchanged || eval "$(${exporter} zsh --pid $$)"
  [[ -z \${_ws_prompt_init-} ]] || _ws_prompt_render
  return 0
}
typeset -ag precmd_functions chpwd_functions
(( \${precmd_functions[(I)_ws_hook]} )) || precmd_functions=(_ws_hook $precmd_functions)
(( \${chpwd_functions[(I)_ws_hook]} )) || chpwd_functions=(_ws_hook $chpwd_functions)
`;

const fishHook = (exporter: string) => `function _ws_unchanged
  set -q _ws_knobs; or return 1
  test "$WS_WORKSPACE"\\x1f"$WS_CEILING_DIRS"\\x1f"$WS_ENVRC"\\x1f"$WS_ENV" = "$_ws_knobs"; or return 1
  if test -n "$WS_WORKSPACE"
    test "$PWD" = "$_ws_pwd"; or return 1
  else
    # The nearest workspace directory, at every prompt (a file created here or above counts).
    set -l d $PWD
    set -l found ''
    while true
      # fish's break leaves one loop only: a ceiling ends the walk through a flag.
      set -l ceiling 0
      for c in $_ws_ceil
        if test "$d" = "$c"; or test "$d" -ef "$c"
          set ceiling 1
          break
        end
      end
      test $ceiling = 1; and break
      if test -f "$d/.workspace"; or begin; test "$WS_ENVRC" != 0; and test -f "$d/.envrc"; end
        set found $d
        break
      end
      test "$d" = /; and break
      set d (path dirname -- $d)
    end
    test "$found" = "$_ws_root"; or return 1
    set -g _ws_pwd $PWD
  end
  if test -n "$_ws_valid"; and not test -e "$_ws_valid"
    return 1
  end
  set -l n (count $_ws_watch)
  set -l i 1
  while test $i -le $n
    set -l f $_ws_watch[$i]
    set -l lo $_ws_watch[(math $i + 1)]
    set -l hi $_ws_watch[(math $i + 2)]
    if test -z "$lo"
      if test -z "$hi"
        test -e "$f"; and return 1
      else
        test -e "$f"; or return 1
      end
    else
      test "$f" -nt "$lo" -a "$f" -ot "$hi"; or return 1
    end
    set i (math $i + 3)
  end
  return 0
end
function _ws_hook --on-event fish_prompt --on-variable PWD
  _ws_unchanged; or ${exporter} fish --pid $fish_pid | source
  functions -q _ws_prompt_render; and _ws_prompt_render
end
`;

/**
 * The body of `_ws_watch_ok` for bash and zsh: one `[[ ]]` over the watch
 * triples (see makeStamps): bracketed mtime, must be absent, or must exist.
 */
export function watchCheck(triples: string[]): string {
  const terms: string[] = [];
  for (let i = 0; i + 2 < triples.length; i += 3) {
    const [path, lo, hi] = [quotePosix(triples[i]), triples[i + 1], triples[i + 2]];
    if (lo) terms.push(`${path} -nt ${quotePosix(lo)} && ${path} -ot ${quotePosix(hi)}`);
    else terms.push(hi ? `-e ${path}` : `! -e ${path}`);
  }
  return terms.length ? `[[ ${terms.join(' && ')} ]]` : ':';
}
