## The zsh hook: `ws-export hook zsh` prints this file (see docs/hook.md).
## Lines starting with ## are dropped; @WS_EXPORT@ becomes the path of the
## ws-export binary, quoted for zsh by hooks.ts. Lint: scripts/lint-shell.sh.
## _ws_unchanged is hook.bash's plus `emulate -L zsh` (a unit test keeps them equal).
typeset -gA _ws_known
_ws_watch_ok() { return 1; }
_ws_unchanged() {
  emulate -L zsh
  [[ ${WS_WORKSPACE-}$'\x1f'${WS_CEILING_DIRS-}$'\x1f'${WS_ENVRC-}$'\x1f'${WS_ENV-} == "${_ws_knobs-x}" ]] || return 1
  if [[ -n ${WS_WORKSPACE-} ]]; then
    [[ $PWD == "${_ws_pwd-}" ]] || return 1
  else
    # The nearest workspace directory, at every prompt: a file created in the
    # current directory or above changes the context without a cd.
    local d=$PWD found='' c
    while :; do
      for c in "${_ws_ceil[@]}"; do [[ $d == "$c" || $d -ef $c ]] && break 2; done
      if [[ -f $d/.workspace || ( ${WS_ENVRC-} != 0 && -f $d/.envrc ) ]]; then found=$d; break; fi
      [[ $d == / ]] && break
      d=${d%/*}; d=${d:-/}
    done
    if [[ $found != "${_ws_root-}" ]]; then
      # Entering from outside a context it entered before: the cached result, if still valid.
      [[ -n $found && -z ${WS_DIFF-} && -n ${_ws_known[$found]-} ]] && source "${_ws_known[$found]}" && return 0
      return 1
    fi
    _ws_pwd=$PWD
  fi
  [[ -z ${_ws_valid-} || -e $_ws_valid ]] || return 1
  _ws_watch_ok
}
_ws_hook() {
  _ws_unchanged || _ws_apply
  [[ -z ${_ws_prompt_init-} ]] || _ws_prompt_render
  return 0
}
# Runs ws-export and applies what it prints.
_ws_apply() {
  # Ctrl-C while ws-export runs must not leave the shell half-applied: the
  # shell ignores SIGINT meanwhile (ws-export itself still gets it: it sends
  # the build to the background), output of a ws-export killed by a signal
  # is not evaluated, and local_traps puts the user's own INT trap back when
  # this function returns.
  setopt local_options local_traps
  trap '' INT
  local _ws_code _ws_args=(zsh --pid $$)
  # Live apply: a background build this shell waits for sends it SIGUSR1 when it is over.
  [[ ${WS_LIVE_APPLY-} == 0 ]] || _ws_args+=(--live)
  _ws_code=$(@WS_EXPORT@ "${_ws_args[@]}")
  # zsh says 130 for a substitution during which it saw a Ctrl-C, even when
  # ws-export handled it (the build went to the background) and finished: its
  # complete output (the last line says so) is applied all the same.
  (($? <= 128)) || [[ $_ws_code == *'# ws-export: complete' ]] || return 0
  eval "$_ws_code"
}
# While zle waits for input: apply, then redraw the prompt. WS_LIVE_APPLY=0 turns it off.
TRAPUSR1() {
  [[ ${WS_LIVE_APPLY-} == 0 ]] && return 0
  _ws_apply
  [[ -z ${_ws_prompt_init-} ]] || _ws_prompt_render
  zle && zle reset-prompt
  return 0
}
typeset -ag precmd_functions chpwd_functions
(( ${precmd_functions[(I)_ws_hook]} )) || precmd_functions=(_ws_hook $precmd_functions)
(( ${chpwd_functions[(I)_ws_hook]} )) || chpwd_functions=(_ws_hook $chpwd_functions)
