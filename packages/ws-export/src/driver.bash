# The build driver: runs a workspace file in bash and leaves its results in
# $_WS_EVAL (the context's build directory) for ws-export to read:
#   env       the exported environment afterwards, NUL-separated NAME=VALUE
#   watches   files to watch (watch_file), NUL-separated
#   on_unload hooks registered with on_unload
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

_ws_fail_at=
_ws_started=${EPOCHREALTIME/./}
_ws_finish() {
  # Globals only, and strict mode off: after `set -e` fired inside the file,
  # bash may no longer consider this a function context for `local`.
  _ws_status=$?
  set +euo pipefail
  trap - ERR
  if ((_ws_status == 0)); then
    env -0 >"$_WS_EVAL/env.tmp" && mv "$_WS_EVAL/env.tmp" "$_WS_EVAL/env" || _ws_status=70
  fi
  _ws_now=${EPOCHREALTIME/./} _ws_type=build.done
  TZ=UTC printf -v _ws_ts '%(%Y-%m-%dT%H:%M:%S)T' -1
  ((_ws_status == 0)) || _ws_type=build.fail
  printf '{"v":1,"ts":"%s.%sZ","type":"%s","context":%s,"root":%s,"build":"%s","status":%d,"duration_ms":%d}\n' \
    "$_ws_ts" "${_ws_now: -6:3}" "$_ws_type" "$_WS_JSON_CONTEXT" "$_WS_JSON_ROOT" "$_WS_BUILD_ID" "$_ws_status" \
    $(((_ws_now - _ws_started) / 1000)) >>"$_WS_EVENTS"
  printf '%s %s\n' "$_ws_status" "$_ws_fail_at" >"$_WS_EVAL/status.tmp"
  mv "$_WS_EVAL/status.tmp" "$_WS_EVAL/status"
}
trap _ws_finish EXIT
# Remember where a command of the workspace file last failed, to point at it.
trap '[[ ${BASH_SOURCE[0]-} == /* ]] && _ws_fail_at=${BASH_SOURCE[0]}:${LINENO}' ERR
set -E

# Trust was checked on the content ws-export saw; the file may have changed
# since (a checkout during a build): run it only if it is still that content.
_ws_approved() {
  [[ -z $2 ]] && return 0
  local sum
  sum=$(sha256sum <"$1") || return 1
  [[ ${sum%% *} == "$2" ]] && return 0
  printf 'ws: %s changed since it was allowed; not running it\n' "$1" >&2
  return 1
}

cd "$WS_ROOT" || exit 66
_ws_approved "$_WS_FILE" "${_WS_FILE_SHA-}" || exit 77
[[ -z ${_WS_LOCAL-} ]] || _ws_approved "$_WS_LOCAL" "${_WS_LOCAL_SHA-}" || exit 77
# Not `source_env ... || exit`: bash ignores `set -e` (strict_env) on the left of `||`.
source_env "$_WS_FILE"
_ws_status=$?
((_ws_status == 0)) || exit "$_ws_status"
if [[ -n ${_WS_LOCAL-} ]]; then
  source_env_if_exists "$_WS_LOCAL"
  _ws_status=$?
  ((_ws_status == 0)) || exit "$_ws_status"
fi
exit 0
