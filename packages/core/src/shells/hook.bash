## The bash hook: `ws-export hook bash` prints this file (see docs/hook.md).
## Lines starting with ## are dropped; @WS_EXPORT@ becomes the path of the
## ws-export binary, quoted for bash by hooks.ts. Lint: scripts/lint-shell.sh.
## _ws_unchanged is the same as in hook.zsh (a unit test keeps them equal).
# shellcheck shell=bash
declare -gA _ws_known 2>/dev/null
# Redefined by each ws-export with one [[ ]] over the watched files.
_ws_watch_ok() { return 1; }
# Redefined by each ws-export: undoes its load with builtins (a ready result), else fails.
_ws_revert() { return 1; }
# The time now, UTC, ISO-8601 with milliseconds, into _ws_now: builtins only,
# the date part (civil-from-days arithmetic, _ws_utc_day) once a day.
_ws_utc() {
  # One read of the clock: seconds, the locale's decimal mark (one byte), six
  # digits. Substrings, not ${n%[.,]*}: a pattern costs a third of the function.
  local n=$EPOCHREALTIME d
  ((d = ${n:0:-7} - ${_ws_day0:--86400}, d >= 0 && d < 86400)) || {
    _ws_utc_day "${n:0:-7}"
    d=$((${n:0:-7} - _ws_day0))
  }
  printf -v _ws_now '%s%02d:%02d:%02d.%sZ' "$_ws_day" $((d / 3600)) $((d / 60 % 60)) $((d % 60)) "${n: -6:3}"
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
  local line fields IFS=$' \t\n'
  [[ -f $1 && ! -L $1 ]] || return 0
  if [[ ${_ws_self-} != "$$ "* ]]; then
    { read -r line </proc/$$/stat; } 2>/dev/null || return 0
    # shellcheck disable=SC2206 # split on purpose: numbers and a state letter after the command name
    fields=(${line##*) })
    [[ -n ${fields[19]-} ]] || return 0
    _ws_self="$$ ${fields[19]}"
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
# A cold entry (_ws_cold) waiting for its bookkeeping: at the next prompt the
# adopted shell code, once `ws-export adopt` wrote it (waited for with read -t
# on the FIFO, no process), is sourced: it sets every _ws_ variable and WS_DIFF
# as an export would, and shows what adopt said. So a change made meanwhile
# (adopt saw it) is applied at the next prompt, and a leave needs no process.
# If adopt died without writing it: false, ws-export runs.
_ws_adopted() {
  local f=$_ws_adopt s='' fd i
  # shellcheck disable=SC2154 # _ws_cold is set by ws-export's output
  if [[ ! -e $f ]] && { exec {fd}<>"${_ws_cold[1]%/*}/sleep"; } 2>/dev/null; then
    for ((i = 0; i < 1000; i++)); do
      [[ -e $f ]] && break
      { read -r s <"/proc/${_ws_adopter%% *}/stat"; } 2>/dev/null || break
      read -r -t 0.01 -u "$fd" _
    done
    exec {fd}<&-
  fi
  if [[ -e $f ]]; then
    _ws_adopt=
    # shellcheck disable=SC1090 # ws-export adopt's output, known only at run time
    source "$f"
    return 0
  fi
  { read -r s <"/proc/${_ws_adopter%% *}/stat"; } 2>/dev/null
  # shellcheck disable=SC2206 # split on purpose: the fields after the command name
  s=(${s##*) })
  [[ ${s[19]-} == "${_ws_adopter#* }" ]] && return 0
  _ws_adopt=
  return 1
}
# True when nothing relevant changed since the last export: builtins only.
_ws_unchanged() {
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
      # shellcheck disable=SC2154 # _ws_ceil, like every _ws_ variable, is set by ws-export's output
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
      # shellcheck disable=SC1090 # the path is ws-export's cache/enter.bash, known only at run time
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
  local _ws_status=$?
  # The idle prompt at the root of the loaded context, in one test: what
  # _ws_unchanged checks there (no ceiling to compare; the walk's first step
  # finds the same root while the workspace file is there, which the watch
  # checks: every result watches it), then the watch. Anything else: the whole check.
  [[ $PWD == "${_ws_root-}" && $PWD == "${_ws_pwd-}" && -z ${_ws_adopt-}${_ws_ceil[*]-} &&
    ${WS_WORKSPACE-}$'\x1f'${WS_CEILING_DIRS-}$'\x1f'${WS_ENVRC-}$'\x1f'${WS_ENV-} == "${_ws_knobs-x}" &&
    ( -z ${_ws_valid-} || -e $_ws_valid ) ]] &&
    _ws_watch_ok || _ws_unchanged || _ws_apply
  [[ -z ${_ws_prompt_init-} ]] || _ws_prompt_render
  return $_ws_status
}
# Runs ws-export and applies what it prints.
_ws_apply() {
  local _ws_int _ws_code _ws_args=(bash --pid $$)
  # Live apply: a background build this shell waits for sends it SIGUSR1 when it is over.
  [[ ${WS_LIVE_APPLY-} == 0 ]] || _ws_args+=(--live)
  # Ctrl-C while ws-export runs must not leave the shell half-applied, nor
  # end the prompt early (losing $?): the shell ignores SIGINT meanwhile
  # (ws-export itself still gets it: it sends the build to the background),
  # and output of a ws-export killed by a signal is not evaluated. Then the
  # user's own INT trap, if any, is back.
  _ws_int=$(trap -p INT)
  trap -- '' INT
  if ! _ws_cold; then
    # A Ctrl-C stopped the cold path: ws-export sends the build to the background at once.
    ((_ws_cold_rc != 4 && _ws_cold_rc <= 128)) || _ws_args+=(--interrupted)
    _ws_code=$(@WS_EXPORT@ "${_ws_args[@]}")
    (($? > 128)) || eval "$_ws_code"
  fi
  eval "${_ws_int:-trap - INT}"
}
# The cold path (docs/hook.md): the first entry of a project from no context,
# with nothing pinned, in a state home ws-export set up (_ws_cold=(HOME SCRIPT
# KEY), KEY naming it), runs the build itself (cold.bash: one bash, the
# trust check, the driver) and applies its answer, a NUL-separated list, with
# builtins: NAME=VALUE exported, NAME unset, :KEY=VALUE for the hook. Values
# never become code. `ws-export adopt`, detached, does the rest; its shell
# code is sourced at a later prompt (_ws_adopted). Any doubt (status not 0):
# false, and ws-export runs as always.
_ws_cold() {
  local root=${_ws_found-} out kv list=() adopted='' adopter='' ctxdir='' name='' live=1
  _ws_found='' _ws_cold_rc=0
  # shellcheck disable=SC2154 # _ws_cold is set by ws-export's output
  [[ ${WS_COLD_PATH-} != 0 && -n $root && -z ${WS_DIFF-} && -z ${_ws_root-} && ${#_ws_cold[@]} == 3 && -f ${_ws_cold[1]} &&
    -z ${WS_WORKSPACE-}${WS_ENV-}${WS_CEILING_DIRS-}${WS_ENVRC+x} && ! -e $root/.workspace.local &&
    ${WS_STATE_HOME-}$'\x1f'${XDG_STATE_HOME-}$'\x1f'${HOME-} == "${_ws_cold[2]}" ]] || return 1
  # What would change the script's own bash (BASH_ENV runs code at its start, exported options): node.
  [[ -z ${BASH_ENV+x}${ENV+x} && ${SHELLOPTS@a}${BASHOPTS@a} != *x* ]] || return 1
  [[ ${WS_LIVE_APPLY-} == 0 ]] && live=0
  out=${_ws_cold[0]}/cold/tmp/$$.out
  # SIGINT at its default for the script (the shell ignores it meanwhile): a Ctrl-C stops it, status 4.
  env --default-signal=INT "$BASH" --noprofile --norc "${_ws_cold[1]}" "${_ws_cold[0]}" "$root" @WS_EXPORT@ $$ $live >"$out" || {
    _ws_cold_rc=$?
    return 1
  }
  mapfile -d '' -t list <"$out"
  [[ ${list[0]-} == ok ]] || return 1
  for kv in "${list[@]:1}"; do
    # shellcheck disable=SC2163 # export NAME=VALUE as one word: the value is never code
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
  _ws_adopt=$adopted _ws_adopter=$adopter
  # shellcheck disable=SC2317 # called by _ws_unchanged
  _ws_watch_ok() { :; }
  # shellcheck disable=SC2317 # called by _ws_unchanged
  _ws_revert() { return 1; }
  return 0
}
# bash runs the trap once readline returns (Enter), before the command line
# runs: the command sees the new environment. WS_LIVE_APPLY=0 turns it off.
_ws_live_apply() {
  [[ ${WS_LIVE_APPLY-} == 0 ]] || _ws_apply
}
trap _ws_live_apply USR1
if [[ ";${PROMPT_COMMAND[*]:-};" != *";_ws_hook;"* ]]; then
  if [[ "$(declare -p PROMPT_COMMAND 2>&1)" == "declare -a"* ]]; then
    PROMPT_COMMAND=(_ws_hook "${PROMPT_COMMAND[@]}")
  else
    # shellcheck disable=SC2128,SC2178 # this branch is the scalar PROMPT_COMMAND (an array is handled above)
    PROMPT_COMMAND="_ws_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
  fi
fi
