# The build driver: runs a workspace file in bash and leaves its results in
# $_WS_EVAL (the context's build directory) for ws-export to read:
#   env       the exported environment afterwards, NUL-separated NAME=VALUE
#   too-long  exported variables left out of env: `NAME BYTES` lines (see below)
#   watches   files to watch (watch_file), NUL-separated
#   on_unload hooks registered with on_unload
#   file.copy, local.copy
#             the private copies of the workspace files it verified and ran
#   status    written last: the exit status and the file:line of the last
#             failing command; its existence means the build is over
# stdout and stderr go to the build log; stdin is /dev/null.

# Keep no descriptor of whoever started us: a server the file starts would
# inherit it and hold it open (a terminal, a test runner's pipe).
# (No redirection on the loop: bash would park stderr on a spare descriptor
# that the loop itself closes, and stderr would stay /dev/null.)
_ws_fds=(/proc/$$/fd/*)
for _ws_fd in "${_ws_fds[@]}"; do
  _ws_fd=${_ws_fd##*/}
  [[ $_ws_fd -gt 2 && -e /proc/$$/fd/$_ws_fd ]] && exec {_ws_fd}>&-
done
unset _ws_fd _ws_fds

# Values that are not UTF-8 (build.ts cannot pass them through spawn): bash
# keeps any bytes but NUL. read in the C locale: in a UTF-8 one, a last value
# that ends with an invalid byte swallows its NUL, and is lost.
if [[ -n ${_WS_RAW_ENV-} ]]; then
  while LC_ALL=C IFS= read -r -d '' _ws_kv; do
    export "${_ws_kv%%=*}=${_ws_kv#*=}"
  done <"$_WS_RAW_ENV"
  unset _ws_kv _WS_RAW_ENV
fi

# A full disk must not pass for a result (an empty status read as success, a
# missing env as "the file unset WS_*"), nor stick once space is freed: a
# write of the driver's own that fails ends the build with `75 nospace`,
# which ws-export reports and never reuses. That status is written now, while
# there may be room, so that it can still be renamed into place at the end.
printf '75 nospace\n' >"$_WS_EVAL/status.nospace" 2>/dev/null
_ws_no_space() {
  _ws_fail_at=nospace
  builtin exit 75
}

_ws_fail_at=
_ws_started=${EPOCHREALTIME/./}
_ws_finish() {
  # Globals only, and strict mode off: after `set -e` fired inside the file,
  # bash may no longer consider this a function context for `local`.
  _ws_status=$?
  set +euo pipefail
  trap - ERR
  ((_ws_status == 0)) || _ws_fail_at=${_ws_exit_at:-${_ws_fail_at:-$(_ws_error_line)}}
  if ((_ws_status == 0)); then
    # One string of an environment (NAME=VALUE and its NUL) may not exceed
    # Linux's MAX_ARG_STRLEN (32 pages, 131072 bytes): execve refuses it, so
    # no process (env, the shell's next command) could hold such a variable.
    # It fails alone: left out (and named in too-long), the rest still loads.
    # Byte lengths: ${#…} counts bytes under LC_ALL=C.
    [[ -v LC_ALL ]] && _ws_lc=x$LC_ALL || _ws_lc=
    LC_ALL=C
    # The environment is written with builtins (no env, no mv: a process
    # costs milliseconds here): ws-export reads it only once status exists,
    # which is written after it. mapfile, not a split of $(...): the file may
    # have changed IFS. compgen -e lists the exported variables with a value,
    # what env would print (names that are not variables are not loaded anyway).
    : >"$_WS_EVAL/too-long"
    mapfile -t _ws_names < <(compgen -e)
    for _ws_n in "${_ws_names[@]}"; do
      # LC_ALL is C for the loop only: the file's own value (or none) is what loads.
      if [[ $_ws_n == LC_ALL ]]; then
        [[ -n $_ws_lc ]] || continue
        _ws_v=${_ws_lc#x}
      else
        _ws_v=${!_ws_n}
      fi
      _ws_len=$((${#_ws_n} + ${#_ws_v} + 2))
      if ((_ws_len > 131072)); then
        printf '%s %d\n' "$_ws_n" "$_ws_len" >>"$_WS_EVAL/too-long" || _ws_status=75 _ws_fail_at=nospace
        # Gone from this shell too: no command it runs after this (mv) could start with it.
        unset "$_ws_n"
      else
        # Every write checked: a loop's status is its last command's only.
        printf '%s=%s\0' "$_ws_n" "$_ws_v" || _ws_status=75 _ws_fail_at=nospace
      fi
    done >"$_WS_EVAL/env" || _ws_status=75 _ws_fail_at=nospace
    unset _ws_v _ws_names
    if [[ -n $_ws_lc ]]; then LC_ALL=${_ws_lc#x}; else unset LC_ALL; fi
  fi
  _ws_now=${EPOCHREALTIME/./} _ws_type=build.done
  TZ=UTC printf -v _ws_ts '%(%Y-%m-%dT%H:%M:%S)T' -1
  ((_ws_status == 0)) || _ws_type=build.fail
  # Appended only to a regular file (or a new one): a FIFO in its place would
  # block the open forever, a symlink would be written through. Such corrupt
  # state loses this one event; ws-export's next append replaces it (openAppend).
  if [[ ! -L $_WS_EVENTS && (-f $_WS_EVENTS || ! -e $_WS_EVENTS) ]]; then
    printf '{"v":1,"ts":"%s.%sZ","type":"%s","context":%s,"root":%s,"build":"%s","status":%d,"duration_ms":%d}\n' \
      "$_ws_ts" "${_ws_now: -6:3}" "$_ws_type" "$_WS_JSON_CONTEXT" "$_WS_JSON_ROOT" "$_WS_BUILD_ID" "$_ws_status" \
      $(((_ws_now - _ws_started) / 1000)) >>"$_WS_EVENTS"
  fi
  if printf '%s %s\n' "$_ws_status" "$_ws_fail_at" 2>/dev/null >"$_WS_EVAL/status.tmp"; then
    # (status.nospace stays: one process less per build; the next build's directory replaces it.)
    command -p mv "$_WS_EVAL/status.tmp" "$_WS_EVAL/status"
  else
    command -p rm -f "$_WS_EVAL/status.tmp"
    command -p mv "$_WS_EVAL/status.nospace" "$_WS_EVAL/status"
  fi
  _ws_signal_waiting
}
# Live apply: the shells that were given the last good environment while
# this build ran (cache/waiting/<pid>: `PID START`, then `live` if their hook
# applies a result on SIGUSR1) get SIGUSR1 now — only the very process that
# registered (same start time, read from /proc), never a stranger. Each
# record is renamed <pid>.signalled first (its ws-export still takes it and
# shows this build's output): a shell that left the context before this
# build ended is not signalled again by later builds.
_ws_signal_waiting() {
  for _ws_w in "${_WS_EVAL%/*}"/waiting/*; do
    [[ -f $_ws_w && $_ws_w != *.signalled ]] || continue
    _ws_wl='' _ws_live=''
    { read -r _ws_wl; read -r _ws_live; } <"$_ws_w" 2>/dev/null
    [[ $_ws_live == live && $_ws_wl =~ ^([0-9]+)\ ([0-9]+)$ ]] || continue
    _ws_wpid=${BASH_REMATCH[1]} _ws_wstart=${BASH_REMATCH[2]} _ws_st=''
    read -r _ws_st <"/proc/$_ws_wpid/stat" 2>/dev/null || continue
    _ws_f=(${_ws_st##*) })
    [[ ${_ws_f[19]-} == "$_ws_wstart" ]] || continue
    command -p mv -f -- "$_ws_w" "$_ws_w.signalled" 2>/dev/null && kill -USR1 "$_ws_wpid" 2>/dev/null
  done
}
trap _ws_finish EXIT
# Where the file failed, to point at it. As in direnv, only `exit N`, errexit
# (strict_env, set -e) and bash dying fail a file: the ERR trap counts only
# with errexit on, when the shell is about to exit; `exit` says where it was
# called; else bash's own `FILE:LINE: message` in the log names the line.
# _ws_caller VAR: the innermost line of a file in the call stack (a stdlib
# function's caller, when the stdlib failed or exited).
_ws_caller() {
  local i
  for ((i = 2; i < ${#BASH_SOURCE[@]}; i++)); do
    [[ ${BASH_SOURCE[i]} == /* ]] && { printf -v "$1" '%s:%s' "${BASH_SOURCE[i]}" "${BASH_LINENO[i - 1]}"; return 0; }
  done
}
_ws_on_err() {
  [[ $- == *e* ]] && _ws_caller _ws_fail_at
  return 0
}
trap _ws_on_err ERR
set -E
exit() {
  local status=$?
  _ws_caller _ws_exit_at
  builtin exit "${1-$status}"
}
_ws_error_line() {
  local line i
  local -a lines=()
  mapfile -t lines < <(command -p tail -n 20 "$_WS_EVAL/log" 2>/dev/null)
  for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
    line=${lines[i]}
    [[ $line =~ ^(/[^:]+):([0-9]+):\  && -f ${BASH_REMATCH[1]} ]] && { printf '%s\n' "${BASH_REMATCH[1]}:${BASH_REMATCH[2]}"; return; }
  done
}
# A .workspace file with a syntax error does not run at all (SPEC §4); an
# .envrc runs up to the error, as in direnv (docs/direnv.md).
_ws_syntax_ok() { # ORIGINAL COPY (the copy is what runs; its name is translated back in the log)
  [[ ${1##*/} == .envrc ]] && return 0
  local err
  err=$(exec "$BASH" -O extglob -O gnu_errfmt -n "$2" 2>&1) && return 0
  printf '%s\n' "$err" >&2
  [[ $err =~ ^(/[^:]+):([0-9]+): ]] && _ws_fail_at=${BASH_REMATCH[1]}:${BASH_REMATCH[2]}
  return 1
}

# The trust gate's approval, checked again on the content that will run.
# ws-export hands over what its gate approved: _WS_FILE_APPROVAL (and
# _WS_LOCAL_APPROVAL) is `sha256:<hex>`, the allowed content, or the explicit
# `trusted-dir` (WS_TRUSTED_DIRS: any content). Anything else, empty
# included, is no approval. The file is read once, into a private copy in
# the build directory; the copy is what is hashed and what runs, so content
# changed after the check (a checkout during a build) can never run.
_ws_approved() { # ORIGINAL APPROVAL COPY
  local sum
  if [[ $2 != trusted-dir && ! $2 =~ ^sha256:[0-9a-f]{64}$ ]]; then
    printf 'ws: %s: no approval from the trust check; not running it\n' "$1" >&2
    return 1
  fi
  if ! _ws_copy "$1" "$3"; then
    [[ -r $1 ]] && _ws_no_space # readable, so the copy could not be written
    return 1
  fi
  [[ $2 == trusted-dir ]] && return 0
  sum=$(sha256sum <"$3") || return 1
  [[ sha256:${sum%% *} == "$2" ]] && return 0
  printf 'ws: %s changed since it was allowed; not running it\n' "$1" >&2
  return 1
}

# _ws_copy FROM TO: TO (mode 0600) gets FROM's bytes. With builtins when the
# file holds no NUL byte (read -d '' stops at one: then cat copies it).
_ws_copy() {
  local content fd
  (umask 077 && : >"$2") || return 1
  exec {fd}<"$1" || return 1
  if IFS= read -r -d '' -u "$fd" content; then
    exec {fd}<&-
    command -p cat -- "$1" >"$2"
    return
  fi
  exec {fd}<&-
  printf '%s' "$content" >"$2"
}

# What source_env does for ORIGINAL (watch it, run it from its directory,
# say so), except that it runs the verified COPY. Bash names the copy in its
# own messages and in BASH_SOURCE; ws-export shows the log and the failing
# line with the original's name.
_ws_source_verified() { # ORIGINAL COPY
  local dir=${1%/*} status
  watch_file "$1"
  pushd "${dir:-/}" >/dev/null || return 1
  local shown=$1
  [[ -n ${HOME-} && $shown == "$HOME"* ]] && shown="~${shown#"$HOME"}"
  log_status "loading $shown"
  # shellcheck disable=SC1090
  . "$2"
  status=$?
  popd >/dev/null || return 1
  return "$status"
}

cd "$WS_ROOT" || exit 66
# Tests only (internal names, which the test harness unsets): shell code
# evaluated here to change the file (or the approval) between ws-export's
# check and this one, or after this one. Whoever sets a build's environment
# can run code in it anyway (BASH_ENV, PATH): these add no new power.
[[ -z ${_WS_TEST_BEFORE_TRUST_CHECK-} ]] || eval "$_WS_TEST_BEFORE_TRUST_CHECK"
_ws_approved "$_WS_FILE" "${_WS_FILE_APPROVAL-}" "$_WS_EVAL/file.copy" || exit 77
[[ -z ${_WS_LOCAL-} ]] || _ws_approved "$_WS_LOCAL" "${_WS_LOCAL_APPROVAL-}" "$_WS_EVAL/local.copy" || exit 77
[[ -z ${_WS_TEST_AFTER_TRUST_CHECK-} ]] || eval "$_WS_TEST_AFTER_TRUST_CHECK"
unset _WS_TEST_BEFORE_TRUST_CHECK _WS_TEST_AFTER_TRUST_CHECK
# The file's own status does not matter (direnv's semantics): a failure that
# matters ends the shell, and _ws_finish sees its status.
_ws_syntax_ok "$_WS_FILE" "$_WS_EVAL/file.copy" || builtin exit 2
_ws_source_verified "$_WS_FILE" "$_WS_EVAL/file.copy"
if [[ -n ${_WS_LOCAL-} ]]; then
  _ws_syntax_ok "$_WS_LOCAL" "$_WS_EVAL/local.copy" || builtin exit 2
  _ws_source_verified "$_WS_LOCAL" "$_WS_EVAL/local.copy"
fi
builtin exit 0
