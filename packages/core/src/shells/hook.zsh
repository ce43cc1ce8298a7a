## The zsh hook: `ws-export hook zsh` prints this file (see docs/hook.md).
## Lines starting with ## are dropped; @WS_EXPORT@ becomes the path of the
## ws-export binary, quoted for zsh by hooks.ts. Lint: scripts/lint-shell.sh.
## _ws_unchanged is hook.bash's plus `emulate -L zsh` (a unit test keeps them equal).
## @ZSH_READ@ becomes read.zsh (_ws_read1, _ws_slurp), which ws-export's zsh output defines too.
typeset -gA _ws_known
_ws_watch_ok() { return 1; }
@ZSH_READ@
# Redefined by each ws-export: undoes its load with builtins (a ready result), else fails.
_ws_revert() { return 1; }
# The time now, UTC, ISO-8601 with milliseconds, into _ws_now: builtins only,
# the date part (civil-from-days arithmetic, _ws_utc_day) once a day.
_ws_utc() {
  zmodload zsh/datetime 2>/dev/null
  local n=$EPOCHREALTIME t s
  # One read of the clock (its decimal mark follows the locale).
  t=${n%[.,]*} s=${n#*[.,]}
  ((t >= ${_ws_day0:--86400} && t < ${_ws_day0:--86400} + 86400)) || _ws_utc_day "$t"
  printf -v _ws_now '%s%02d:%02d:%02d.%sZ' "$_ws_day" $(((t - _ws_day0) / 3600)) $(((t - _ws_day0) % 3600 / 60)) $((t % 60)) "${s:0:3}"
}
_ws_utc_day() {
  local z era doe yoe doy mp d m y
  z=$(($1 / 86400 + 719468)); era=$((z / 146097)); doe=$((z - era * 146097))
  yoe=$(((doe - doe / 1460 + doe / 36524 - doe / 146096) / 365)); doy=$((doe - (365 * yoe + yoe / 4 - yoe / 100)))
  mp=$(((5 * doy + 2) / 153)); d=$((doy - (153 * mp + 2) / 5 + 1)); m=$((mp < 10 ? mp + 3 : mp - 9)); y=$((yoe + era * 400 + (m <= 2)))
  _ws_day0=$(($1 - $1 % 86400))
  printf -v _ws_day '%04d-%02d-%02dT' $y $m $d
}
# The departure of this shell, with builtins only (docs/state-home.md "Leaving
# without a process"), called by _ws_revert: USERS_RECORD EVENTS CONTEXT_JSON
# ROOT_JSON (older outputs add CONTEXT_DIR WAKE_FIFO: the reaper now sees a
# departure through events.jsonl's mtime, not a line on its FIFO). Its own record, if it still is
# a regular file (never a FIFO, never through a symlink), is rewritten to say
# it left (pid and start time, from /proc once per shell: _ws_self); then
# the user.leave event.
_ws_depart() {
  emulate -L zsh
  local fields IFS=$' \t\n'
  [[ -f $1 && ! -L $1 ]] || return 0
  if [[ ${_ws_self-} != "$$ "* ]]; then
    _ws_read1 /proc/$$/stat 2>/dev/null || return 0
    fields=(${=_ws_line##*) })
    [[ -n ${fields[20]-} ]] || return 0
    _ws_self="$$ ${fields[20]}"
  fi
  _ws_utc
  # Emptied, then appended to (ext4 flushes a file truncated and rewritten in one open: ~0.3 ms).
  { : >"$1" && printf '{"pid":%d,"start":"%s","left":"%s"}\n' $$ "${_ws_self#* }" "$_ws_now" >>"$1"; } || return 0
  printf '{"v":1,"ts":"%s","type":"user.leave","context":%s,"root":%s,"pid":%d,"cached":true}\n' "$_ws_now" "$3" "$4" $$ >>"$2"
  return 0
}
# What ws-export says when a shell leaves a context (WS_LOG_FORMAT; empty: quiet).
_ws_unloading() {
  local f=${WS_LOG_FORMAT-ws: %s}
  [[ -z $f ]] || printf '%s\n' "${f/\%s/unloading}" >&2
}
# A cold entry (_ws_cold) waiting for its bookkeeping, as in hook.bash: at
# the next prompt the adopted shell code is sourced, waited for with read -t on
# the FIFO; if adopt died without writing it, ws-export runs. (The precmd of
# the prompt that made the cold entry, after its chpwd, does not wait.)
_ws_adopted() {
  emulate -L zsh
  local f=$_ws_adopt s='' fd i
  local -a st
  if [[ -n ${_ws_adopt_fresh-} ]]; then
    _ws_adopt_fresh=
    return 0
  fi
  if [[ ! -e $f ]] && { exec {fd}<>"${_ws_cold[2]:h}/sleep"; } 2>/dev/null; then
    for ((i = 0; i < 1000; i++)); do
      [[ -e $f ]] && break
      { read -r s <"/proc/${_ws_adopter%% *}/stat"; } 2>/dev/null || break
      read -r -t 0.01 -u $fd s
    done
    exec {fd}<&-
  fi
  if [[ -e $f ]]; then
    _ws_adopt=
    source "$f"
    return 0
  fi
  s=''
  { read -r s <"/proc/${_ws_adopter%% *}/stat"; } 2>/dev/null
  st=(${=s##*) })
  [[ ${st[20]-} == "${_ws_adopter#* }" ]] && return 0
  _ws_adopt=
  return 1
}
_ws_unchanged() {
  emulate -L zsh
  _ws_found=
  [[ -z ${_ws_adopt-} ]] || _ws_adopted || return 1
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
      # Leaving the context it loaded, for no context or for one whose cached
      # entry it knows: _ws_revert (from the last result, no process) undoes
      # the load and records the departure; it fails unless that result was
      # ready, and then ws-export does it all.
      if [[ -n ${_ws_root-} ]]; then
        [[ -z $found || -n ${_ws_known[$found]-} ]] && _ws_revert || return 1
        [[ -n $found ]] || return 0
      fi
      # Entering from outside a context it entered before: the cached result, if still valid.
      [[ -n $found && -z ${WS_DIFF-} && -n ${_ws_known[$found]-} ]] && source "${_ws_known[$found]}" && return 0
      # Else the first entry of it: _ws_apply may take the cold path.
      [[ -z ${WS_DIFF-} ]] && _ws_found=$found
      return 1
    fi
    _ws_pwd=$PWD
  fi
  [[ -z ${_ws_valid-} || -e $_ws_valid ]] || return 1
  _ws_watch_ok
}
_ws_hook() {
  # The idle prompt at the root of the loaded context, in one test (as in hook.bash).
  [[ $PWD == "${_ws_root-}" && $PWD == "${_ws_pwd-}" && -z ${_ws_adopt-}${_ws_ceil[*]-} &&
    ${WS_WORKSPACE-}$'\x1f'${WS_CEILING_DIRS-}$'\x1f'${WS_ENVRC-}$'\x1f'${WS_ENV-} == "${_ws_knobs-x}" &&
    ( -z ${_ws_valid-} || -e $_ws_valid ) ]] &&
    _ws_watch_ok || _ws_unchanged || _ws_apply
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
  _ws_cold && return 0
  # A Ctrl-C stopped the cold path: ws-export sends the build to the background at once.
  ((_ws_cold_rc != 4 && _ws_cold_rc <= 128)) || _ws_args+=(--interrupted)
  _ws_code=$(@WS_EXPORT@ "${_ws_args[@]}")
  # zsh says 130 for a substitution during which it saw a Ctrl-C, even when
  # ws-export handled it (the build went to the background) and finished: its
  # complete output (the last line says so) is applied all the same.
  (($? <= 128)) || [[ $_ws_code == *'# ws-export: complete' ]] || return 0
  eval "$_ws_code"
}
# The cold path (docs/hook.md), as in hook.bash: the same cold.bash, run by
# bash; its NUL-separated answer applied with builtins (read -d ''), values
# never code. Any doubt: false, and ws-export runs.
_ws_cold() {
  local root=${_ws_found-} out kv adopted='' adopter='' ctxdir='' name='' live=1
  local -a list
  _ws_found='' _ws_cold_rc=0
  [[ ${WS_COLD_PATH-} != 0 && -n $root && -z ${WS_DIFF-} && -z ${_ws_root-} && ${#_ws_cold} == 3 && -f ${_ws_cold[2]} &&
    -z ${WS_WORKSPACE-}${WS_ENV-}${WS_CEILING_DIRS-}${WS_ENVRC+x} && ! -e $root/.workspace.local &&
    ${WS_STATE_HOME-}$'\x1f'${XDG_STATE_HOME-}$'\x1f'${HOME-} == "${_ws_cold[3]}" ]] || return 1
  # What would change the script's bash (BASH_ENV runs code at its start, exported options): node.
  [[ -z ${BASH_ENV+x}${ENV+x}${SHELLOPTS+x}${BASHOPTS+x} ]] || return 1
  [[ ${WS_LIVE_APPLY-} == 0 ]] && live=0
  out=${_ws_cold[1]}/cold/tmp/$$.out
  # SIGINT at its default for the script (the shell ignores it meanwhile): a Ctrl-C stops it, status 4.
  env --default-signal=INT bash --noprofile --norc "${_ws_cold[2]}" "${_ws_cold[1]}" "$root" @WS_EXPORT@ $$ $live zsh >"$out" || {
    _ws_cold_rc=$?
    return 1
  }
  while IFS= read -r -d '' kv; do list+=("$kv"); done <"$out"
  [[ ${list[1]-} == ok ]] || return 1
  for kv in "${(@)list[2,-1]}"; do
    case $kv in
      :adopted=*) adopted=${kv#*=} ;;
      :adopter=*) adopter=${kv#*=} ;;
      :ctxdir=*) ctxdir=${kv#*=} ;;
      :name=*) name=${kv#*=} ;;
      *=*) export "$kv" ;;
      *) unset "$kv" ;;
    esac
  done
  # Until the adopted code is sourced: this context, nothing to watch (adopt re-checks the build's inputs).
  _ws_pwd=$PWD _ws_root=$root _ws_name=$name _ws_state=ready _ws_ctxdir=$ctxdir _ws_valid=''
  _ws_knobs=$'\x1f\x1f\x1f'${WS_ENV-} _ws_ceil=() _ws_watch=()
  _ws_adopt=$adopted _ws_adopter=$adopter _ws_adopt_fresh=1
  _ws_watch_ok() { :; }
  _ws_revert() { return 1; }
  return 0
}
# While zle waits for input: apply, and zle draws the prompt again (expanded
# anew) when the trap returns. WS_LIVE_APPLY=0 turns it off.
TRAPUSR1() {
  [[ ${WS_LIVE_APPLY-} == 0 ]] && return 0
  # zle -I: ws-export's messages (the shell waited: at least `ws: loading`)
  # go on lines of their own below the line being edited, the prompt under
  # them (zle reset-prompt instead ran them on after the prompt, and a reset
  # after -I drew over them). Quiet (WS_LOG_FORMAT=''): redrawn in place.
  local quiet=0
  [[ -n ${WS_LOG_FORMAT+x} && -z $WS_LOG_FORMAT ]] && quiet=1
  ((quiet)) || { zle && zle -I }
  _ws_apply
  [[ -z ${_ws_prompt_init-} ]] || _ws_prompt_render
  ((quiet)) && zle && zle reset-prompt
  return 0
}
typeset -ag precmd_functions chpwd_functions
(( ${precmd_functions[(I)_ws_hook]} )) || precmd_functions=(_ws_hook $precmd_functions)
(( ${chpwd_functions[(I)_ws_hook]} )) || chpwd_functions=(_ws_hook $chpwd_functions)
