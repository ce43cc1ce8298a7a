#!/usr/bin/env bats
# The rc-file hook, driven directly: each _ws_hook call is what a prompt runs.

load test_helper/common-setup

setup() { common_setup; }
teardown() { common_teardown; }

# Runs a bash script with the hook loaded; every `_ws_hook` is a prompt.
with_hook() {
  bash --noprofile --norc -c "eval \"\$(ws-export hook bash)\"; $1" 2>/dev/null
}

@test "a .workspace created in the current directory loads at the next prompt, without a cd" {
  mkdir -p proj
  run with_hook 'cd proj; _ws_hook; echo "export A=1" > .workspace; ws-allow . 2>/dev/null; _ws_hook; echo "A=${A-unset}"'
  [ "$status" -eq 0 ]
  [ "$output" = "A=1" ]
}

@test "a .workspace created in the current subdirectory of a context makes the nested context current" {
  write_workspace proj 'export OUTER=1'
  mkdir -p proj/sub
  run with_hook 'cd proj/sub; _ws_hook; echo "export INNER=1" > .workspace; ws-allow . 2>/dev/null; _ws_hook; echo "$WS_CONTEXT ${INNER-unset}"'
  [ "$output" = "proj/sub 1" ]
}

@test "a workspace file removed from the current directory unloads at the next prompt" {
  write_workspace proj 'export A=1'
  run with_hook 'cd proj; _ws_hook; echo "A=${A-unset}"; rm .workspace; _ws_hook; echo "A=${A-unset}"'
  [ "${lines[0]}" = "A=1" ]
  [ "${lines[1]}" = "A=unset" ]
}

@test "fish: WS_CEILING_DIRS stops the hook's walk (and the walk itself starts no ws-export when nothing changed)" {
  write_workspace c 'export C=1'
  mkdir -p c/d
  run fish --no-config -c "ws-export hook fish | source; set -gx WS_CEILING_DIRS $PWD/c; cd c/d; _ws_hook 2>/dev/null; echo \"C=[\$C]\"; _ws_unchanged; and echo unchanged"
  [ "${lines[0]}" = "C=[]" ]
  [ "${lines[1]}" = "unchanged" ]
}
