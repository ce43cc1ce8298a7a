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
  if ! _ws_unchanged; then
    # Ctrl-C while ws-export runs must not leave the shell half-applied: the
    # shell ignores SIGINT meanwhile (ws-export itself still gets it), output
    # of a ws-export killed by a signal is not evaluated, and local_traps puts
    # the user's own INT trap back when this function returns.
    setopt local_options local_traps
    trap '' INT
    local _ws_code
    _ws_code=$(@WS_EXPORT@ zsh --pid $$)
    (($? > 128)) || eval "$_ws_code"
  fi
  [[ -z ${_ws_prompt_init-} ]] || _ws_prompt_render
  return 0
}
typeset -ag precmd_functions chpwd_functions
(( ${precmd_functions[(I)_ws_hook]} )) || precmd_functions=(_ws_hook $precmd_functions)
(( ${chpwd_functions[(I)_ws_hook]} )) || chpwd_functions=(_ws_hook $chpwd_functions)
