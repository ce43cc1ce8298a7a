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

# fish keeps the walk's answer as one test while $PWD stays (hook.fish
# _ws_walk): a file created or removed here or above is still seen at the
# next prompt, without a cd.
with_fish_hook() {
  fish --no-config -c "ws-export hook fish | source; $1" 2>/dev/null
}

@test "fish: a .workspace created here or above, or removed, changes the context at the next prompt, without a cd" {
  mkdir -p a/b/c
  printf 'export OUTER=1\n' >a/.workspace.new
  printf 'export INNER=1\n' >a/b/.workspace.new
  run with_fish_hook 'cd a/b/c; _ws_hook; _ws_hook; echo "1 [$WS_CONTEXT]"
    mv ../../.workspace.new ../../.workspace; ws-allow ../.. >/dev/null; _ws_hook; echo "2 [$WS_CONTEXT] $OUTER"
    mv ../.workspace.new ../.workspace; ws-allow .. >/dev/null; _ws_hook; echo "3 [$WS_CONTEXT] $INNER"
    _ws_hook; _ws_unchanged; and echo "4 unchanged"
    rm ../.workspace; _ws_hook; echo "5 [$WS_CONTEXT] [$INNER]"
    rm ../../.workspace; _ws_hook; echo "6 [$WS_CONTEXT] [$OUTER]"'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "1 []" ]
  [ "${lines[1]}" = "2 [a] 1" ]
  [ "${lines[2]}" = "3 [a/b] 1" ]
  [ "${lines[3]}" = "4 unchanged" ]
  [ "${lines[4]}" = "5 [a] []" ]
  [ "${lines[5]}" = "6 [] []" ]
}

@test "fish: an .envrc counts unless WS_ENVRC=0, and a ceiling set later stops the walk" {
  mkdir -p e/f
  printf 'export E=1\n' >e/.envrc
  ws-allow e/.envrc >/dev/null 2>&1 || ws-allow e >/dev/null
  run with_fish_hook "cd e/f; _ws_hook; echo \"1 [\$E]\"; set -gx WS_ENVRC 0; _ws_hook; echo \"2 [\$E]\"
    set -e WS_ENVRC; _ws_hook; echo \"3 [\$E]\"; set -gx WS_CEILING_DIRS $PWD/e; _ws_hook; echo \"4 [\$E]\"; _ws_hook; _ws_unchanged; and echo 5 unchanged"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "1 [1]" ]
  [ "${lines[1]}" = "2 []" ]
  [ "${lines[2]}" = "3 [1]" ]
  [ "${lines[3]}" = "4 []" ]
  [ "${lines[4]}" = "5 unchanged" ]
}
