# The evaluation driver: runs a workspace file in bash and leaves its results
# in $_WS_EVAL for ws-export to read:
#   env       the exported environment afterwards, NUL-separated NAME=VALUE
#   watches   files to watch (watch_file), NUL-separated
#   on_unload hooks registered with on_unload
#   status    the exit status, and the file:line of the last failing command
# stdout is already stderr (the user sees what the file prints); stdin is /dev/null.

_ws_fail_at=
_ws_finish() {
  local status=$?
  if ((status == 0)); then
    env -0 >"$_WS_EVAL/env.tmp" && mv "$_WS_EVAL/env.tmp" "$_WS_EVAL/env" || status=70
  fi
  printf '%s %s\n' "$status" "$_ws_fail_at" >"$_WS_EVAL/status"
}
trap _ws_finish EXIT
# Remember where a command last failed, to point at it if the file fails.
trap '_ws_fail_at=${BASH_SOURCE[0]-}:${LINENO}' ERR
set -E

cd "$WS_ROOT" || exit 66
source_env "$_WS_FILE" || exit
if [[ -n ${_WS_LOCAL-} ]]; then
  source_env_if_exists "$_WS_LOCAL" || exit
fi
trap - ERR
exit 0
