## The bash hook: `ws-export hook bash` prints this file (see docs/hook.md).
## Lines starting with ## are dropped; @WS_EXPORT@ becomes the path of the
## ws-export binary, quoted for bash by hooks.ts. Lint: scripts/lint-shell.sh.
## _ws_unchanged is the same as in hook.zsh (a unit test keeps them equal).
# shellcheck shell=bash
declare -gA _ws_known 2>/dev/null
# Redefined by each ws-export with one [[ ]] over the watched files.
_ws_watch_ok() { return 1; }
# True when nothing relevant changed since the last export: builtins only.
_ws_unchanged() {
  [[ ${WS_WORKSPACE-}$'\x1f'${WS_CEILING_DIRS-}$'\x1f'${WS_ENVRC-}$'\x1f'${WS_ENV-} == "${_ws_knobs-x}" ]] || return 1
  if [[ -n ${WS_WORKSPACE-} ]]; then
    [[ $PWD == "${_ws_pwd-}" ]] || return 1
  else
    # The nearest workspace directory, at every prompt: a file created in the
    # current directory or above changes the context without a cd.
    local d=$PWD found='' c
    while :; do
      # shellcheck disable=SC2154 # _ws_ceil, like every _ws_ variable, is set by ws-export's output
      for c in "${_ws_ceil[@]}"; do [[ $d == "$c" || $d -ef $c ]] && break 2; done
      if [[ -f $d/.workspace || ( ${WS_ENVRC-} != 0 && -f $d/.envrc ) ]]; then found=$d; break; fi
      [[ $d == / ]] && break
      d=${d%/*}; d=${d:-/}
    done
    if [[ $found != "${_ws_root-}" ]]; then
      # Entering from outside a context it entered before: the cached result, if still valid.
      # shellcheck disable=SC1090 # the path is ws-export's cache/enter.bash, known only at run time
      [[ -n $found && -z ${WS_DIFF-} && -n ${_ws_known[$found]-} ]] && source "${_ws_known[$found]}" && return 0
      return 1
    fi
    _ws_pwd=$PWD
  fi
  [[ -z ${_ws_valid-} || -e $_ws_valid ]] || return 1
  _ws_watch_ok
}
_ws_hook() {
  local _ws_status=$? _ws_int _ws_code
  if ! _ws_unchanged; then
    # Ctrl-C while ws-export runs must not leave the shell half-applied, nor
    # end the prompt early (losing $?): the shell ignores SIGINT meanwhile
    # (ws-export itself still gets it), and output of a ws-export killed by a
    # signal is not evaluated. Then the user's own INT trap, if any, is back.
    _ws_int=$(trap -p INT)
    trap -- '' INT
    _ws_code=$(@WS_EXPORT@ bash --pid $$)
    (($? > 128)) || eval "$_ws_code"
    eval "${_ws_int:-trap - INT}"
  fi
  [[ -z ${_ws_prompt_init-} ]] || _ws_prompt_render
  return $_ws_status
}
if [[ ";${PROMPT_COMMAND[*]:-};" != *";_ws_hook;"* ]]; then
  if [[ "$(declare -p PROMPT_COMMAND 2>&1)" == "declare -a"* ]]; then
    PROMPT_COMMAND=(_ws_hook "${PROMPT_COMMAND[@]}")
  else
    # shellcheck disable=SC2128,SC2178 # this branch is the scalar PROMPT_COMMAND (an array is handled above)
    PROMPT_COMMAND="_ws_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
  fi
fi
