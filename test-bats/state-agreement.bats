#!/usr/bin/env bats
# One definition of a context's state (core context/state.ts): ws-list
# (table and --json) and ws-prompt say the same thing after a background
# build finished and after a service died.

load test_helper/common-setup

setup() {
  common_setup
  proj="$BATS_TEST_TMPDIR/work/proj"
  home="$XDG_STATE_HOME/ws"
  GO="$BATS_TEST_TMPDIR/go"
  mkdir -p "$proj"
  cd "$proj"
}
teardown() { common_teardown; }

list_state() { ws-list --json | jq -r '.contexts[0].state'; }
# The prompt segment of a shell that applied the current result, with the state spelled out.
prompt_state() {
  bash -c 'eval "$(ws-export bash 2>/dev/null)"; ws-prompt --glyphs "ready=ready,building=building,stale=stale,degraded=degraded,error=error,blocked=blocked" "%s"'
}

@test "a build that finished in the background is not 'building' any more, in ws-list and in the prompt" {
  write_workspace "$proj" <<EOF
until [[ -e "$GO" ]]; do sleep 0.05; done
export A=1
EOF
  WS_BUILD_TIMEOUT=0 ws-export json >/dev/null 2>&1
  [ "$(list_state)" = building ]
  [ "$(WS_BUILD_TIMEOUT=0 prompt_state)" = building ]
  touch "$GO"
  wait_until "[ -e $home/contexts/proj-*/cache/build/status ]" 10
  # Nobody has applied it yet: context.json still says building; what is shown does not.
  [ "$(jq -r .state "$home"/contexts/proj-*/context.json)" = building ]
  [ "$(list_state)" = ready ]
  [ "$(prompt_state)" = ready ]
  run ws-list
  [[ ${lines[1]} == "proj ready "* || ${lines[1]} == "proj"*" ready "* ]]
}

@test "a service that died makes the context degraded, in ws-list and in the prompt; a stopped one does not" {
  write_workspace "$proj" <<'EOF'
service sleeper -- sleep 300
EOF
  ws-export json >/dev/null 2>&1
  [ "$(list_state)" = ready ]
  [ "$(prompt_state)" = ready ]
  pid=$(ws-service status --json | jq -r '.[0].pid // .services[0].pid')
  [[ $pid =~ ^[0-9]+$ ]]
  kill -KILL "$pid"
  wait_until '[ "$(list_state)" = degraded ]' 10
  [ "$(prompt_state)" = degraded ]
  # Stopped on purpose: it no longer should run.
  run ws-service stop sleeper
  [ "$status" -eq 0 ]
  [ "$(list_state)" = ready ]
  [ "$(prompt_state)" = ready ]
}
