# The build driver: runs a workspace file in bash and leaves its results in
# $_WS_EVAL (the context's build directory) for ws-export to read:
#   env       the exported environment afterwards, NUL-separated NAME=VALUE
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
  (umask 077 && cat -- "$1" >"$3") || return 1
  [[ $2 == trusted-dir ]] && return 0
  sum=$(sha256sum <"$3") || return 1
  [[ sha256:${sum%% *} == "$2" ]] && return 0
  printf 'ws: %s changed since it was allowed; not running it\n' "$1" >&2
  return 1
}

# What source_env does for ORIGINAL (watch it, run it from its directory,
# say so), except that it runs the verified COPY. Bash names the copy in its
# own messages and in BASH_SOURCE; ws-export shows the log and the failing
# line with the original's name.
_ws_source_verified() { # ORIGINAL COPY
  local dir=${1%/*} status
  watch_file "$1"
  pushd "${dir:-/}" >/dev/null || return 1
  log_status "loading $(user_rel_path "$1")"
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
# Not `_ws_source_verified ... || exit`: bash ignores `set -e` (strict_env) on the left of `||`.
_ws_source_verified "$_WS_FILE" "$_WS_EVAL/file.copy"
_ws_status=$?
((_ws_status == 0)) || exit "$_ws_status"
if [[ -n ${_WS_LOCAL-} ]]; then
  _ws_source_verified "$_WS_LOCAL" "$_WS_EVAL/local.copy"
  _ws_status=$?
  ((_ws_status == 0)) || exit "$_ws_status"
fi
exit 0
