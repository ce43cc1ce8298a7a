#!/usr/bin/env bats
# Nothing a build registers is lost (SPEC §4 ws-on-unload, docs/unload.md):
# the last shell exits while a background build is still running; the
# unload waits for the build, takes the hooks it registered with on_unload
# (no shell ever applied that build's result), and runs each exactly once,
# in the build's environment.

load test_helper/common-setup

setup() {
  common_setup
  proj="$BATS_TEST_TMPDIR/work/proj"
  home="$XDG_STATE_HOME/ws"
  LOG="$BATS_TEST_TMPDIR/hooks.log"
  GO="$BATS_TEST_TMPDIR/go"
  mkdir -p "$proj"
}
teardown() { common_teardown; }

events_of() { jq -r --arg t "$1" 'select(.type == $t) | .type' "$home/events.jsonl" 2>/dev/null | wc -l; }

@test "on_unload registered by a build that is still running when the only shell exits runs exactly once" {
  # The build registers its hook, then waits for the test's go-ahead: it is
  # still running when the shell exits and when the reaper starts the unload.
  write_workspace "$proj" <<EOF
export FROM_BUILD=built
on_unload 'echo "hook \$FROM_BUILD" >>"$LOG"'
until [[ -e "$GO" ]]; do sleep 0.05; done
EOF
  cd "$proj"
  # A shell enters (the build goes to the background at once) and exits.
  WS_BUILD_TIMEOUT=0 bash -c 'eval "$(ws-export bash)"; [[ -n $WS_ROOT ]]'
  ctx=$(echo "$home"/contexts/proj-*)
  [[ -f $ctx/cache/build/owner && ! -e $ctx/cache/build/status ]]
  # The reaper notices the shell is gone; the unload waits for the build.
  wait_until '[ "$(events_of user.leave)" -ge 1 ]' 10
  [ "$(events_of unload.hook)" -eq 0 ]
  touch "$GO"
  wait_until '[ "$(events_of context.unload)" -eq 1 ]' 15
  [ "$(cat "$LOG")" = "hook built" ]
  [ "$(events_of unload.hook)" -eq 1 ]
  grep -q 'took 1 hook(s) from the last build' "$ctx/unload.log"
  # A later unload of the context does not take that build's hooks again.
  run ws-on-unload --run-now
  [ "$status" -eq 0 ]
  [ "$(cat "$LOG")" = "hook built" ]
}
