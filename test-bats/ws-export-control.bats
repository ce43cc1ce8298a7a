#!/usr/bin/env bats
# Seeing and steering builds (SPEC §4 ws-export, "Seen builds"):
# `ws-export log [-f]`, `ws-export reload`, `ws-export cancel`.

load test_helper/common-setup

setup() {
  common_setup
  proj="$BATS_TEST_TMPDIR/work/proj"
  home="$XDG_STATE_HOME/ws"
  GO="$BATS_TEST_TMPDIR/go"
  COUNTER="$BATS_TEST_TMPDIR/evaluations"
  mkdir -p "$proj"
  cd "$proj"
}
teardown() { common_teardown; }

ctx_dir() { printf '%s\n' "$home"/contexts/proj-*; }

@test "log, reload and cancel outside any workspace: one line, exit 66" {
  cd "$BATS_TEST_TMPDIR"
  for sub in log reload cancel; do
    run --separate-stderr ws-export "$sub"
    [ "$status" -eq 66 ]
    [ "$output" = "" ]
    [[ $stderr == "ws-export: no workspace file in $BATS_TEST_TMPDIR or above" ]]
  done
}

@test "log prints what the last build printed; before any build it says so (66)" {
  write_workspace "$proj" <<'EOF'
log_status "hello from the build"
echo "to stderr" >&2
export A=1
EOF
  run --separate-stderr ws-export log
  [ "$status" -eq 66 ]
  [[ $stderr == "ws-export: proj has no build log yet"* ]]
  ws-export json >/dev/null 2>&1
  run --separate-stderr ws-export log
  [ "$status" -eq 0 ]
  [[ $output == *"hello from the build"* ]]
  [[ $output == *"to stderr"* ]]
}

@test "log -f follows a running build and ends when it finishes" {
  write_workspace "$proj" <<EOF
log_status "started"
until [[ -e "$GO" ]]; do sleep 0.05; done
log_status "finished"
EOF
  WS_BUILD_TIMEOUT=0 ws-export json >/dev/null 2>&1
  ws-export log -f >"$BATS_TEST_TMPDIR/followed" 2>&1 3>&- &
  follower=$!
  track_pid "$follower"
  wait_until "grep -q started '$BATS_TEST_TMPDIR/followed'" 10
  run ! grep -q finished "$BATS_TEST_TMPDIR/followed"
  touch "$GO"
  wait_until "! kill -0 $follower 2>/dev/null" 10
  grep -q finished "$BATS_TEST_TMPDIR/followed"
}

@test "reload evaluates an unchanged workspace file again; without it the result is reused" {
  write_workspace "$proj" <<EOF
echo run >>"$COUNTER"
export A=1
EOF
  ws-export json >/dev/null 2>&1
  ws-export json >/dev/null 2>&1
  [ "$(wc -l <"$COUNTER")" -eq 1 ]
  run --separate-stderr ws-export reload
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws-export: proj is evaluated again at the next prompt" ]
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$(wc -l <"$COUNTER")" -eq 2 ]
  [ "$(jq -r .set.A <<<"$output")" = 1 ]
}

@test "cancel stops a running build, keeps the environment, and the build is not started again until reload" {
  write_workspace "$proj" <<EOF
echo run >>"$COUNTER"
until [[ -e "$GO" ]]; do sleep 0.05; done
export A=1
EOF
  WS_BUILD_TIMEOUT=0 ws-export json >/dev/null 2>&1
  owner=$(cut -d' ' -f1 "$(ctx_dir)/cache/build/owner")
  run --separate-stderr ws-export cancel
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws-export: cancelled the build of proj; the last good environment stays" ]
  run ! _wsh_alive "$owner" # gone (a zombie nobody reaped counts as gone)
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [[ $stderr == *"ws: the build of proj was cancelled; keeping the last good environment"* ]]
  [ "$(jq -r '.set.A // "unset"' <<<"$output")" = unset ]
  [ "$(jq -r .state "$(ctx_dir)/context.json")" = error ]
  [ "$(wc -l <"$COUNTER")" -eq 1 ]
  run --separate-stderr ws-export cancel
  [ "$status" -eq 1 ]
  [ "$stderr" = "ws-export: no build of proj is running" ]
  # reload: built again, and this time it may finish.
  touch "$GO"
  ws-export reload 2>/dev/null
  run --separate-stderr ws-export json
  [ "$(wc -l <"$COUNTER")" -eq 2 ]
  [ "$(jq -r .set.A <<<"$output")" = 1 ]
}
