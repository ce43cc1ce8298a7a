#!/usr/bin/env bats
# The harness itself (test_helper/common-setup.bash), with plain shells and
# no ws binary: if these fail, no other test-bats result means anything.

load test_helper/common-setup

setup() {
  export WS_LEAKED=1 DIRENV_DIR=-/somewhere _WS_DIFF=x
  common_setup
}
teardown() { common_teardown; }

@test "common_setup isolates HOME and the XDG directories in the test's temp dir" {
  for dir in "$HOME" "$XDG_STATE_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"; do
    [[ $dir == "$BATS_TEST_TMPDIR"/* ]]
    [ -d "$dir" ]
  done
  [ "$PWD" = "$BATS_TEST_TMPDIR/work" ]
  [ -z "$(ls -A)" ]
}

@test "common_setup unsets inherited WS_*, DIRENV_* and _WS_* variables" {
  [ -z "${WS_LEAKED+set}" ]
  [ -z "${DIRENV_DIR+set}" ]
  [ -z "${_WS_DIFF+set}" ]
  [ -z "${WS_STATE_HOME+set}" ]
  run env
  [[ $output != *WS_LEAKED* ]]
}

@test "common_setup sets NO_COLOR, short ws timers, REPO and PATH" {
  [ "$NO_COLOR" = 1 ]
  [ "$WS_REAPER_IDLE" = 5 ]
  [ "$WS_UNLOAD_GRACE" = 1 ]
  [ -f "$REPO/package.json" ]
  [[ $PATH == "$REPO/bin:"* ]]
}

@test "wait_until returns once the condition holds" {
  (sleep 0.3; touch flag) >/dev/null 2>&1 3>&- &
  track_pid $!
  wait_until '[ -e flag ]' 5
}

@test "wait_until fails after its timeout" {
  run wait_until false 1
  [ "$status" -eq 1 ]
  [[ $output == *"timed out after 1s: false"* ]]
  run wait_until false 0.3
  [ "$status" -eq 1 ]
  [[ $output == *"timed out after 0.3s: false"* ]]
}

@test "track_pid: teardown kills a tracked process, with KILL if it ignores TERM" {
  bash -c 'trap "" TERM; while :; do sleep 0.1; done' >/dev/null 2>&1 3>&- &
  stubborn=$!
  sleep 300 >/dev/null 2>&1 3>&- &
  plain=$!
  track_pid "$stubborn" "$plain"
  common_teardown
  run ! _wsh_alive "$stubborn"
  run ! _wsh_alive "$plain"
}

@test "teardown kills a reaper named by reaper.pid in the test's state homes" {
  mkdir -p "$XDG_STATE_HOME/ws" "$BATS_TEST_TMPDIR/other-state"
  # env -i: not found by the HOME sweep, so only reaper.pid can name them.
  env -i bash -c 'exec -a ws-reaper sleep 300' >/dev/null 2>&1 3>&- &
  default=$!
  env -i bash -c 'exec -a ws-reaper sleep 300' >/dev/null 2>&1 3>&- &
  custom=$!
  echo "$default" >"$XDG_STATE_HOME/ws/reaper.pid"
  printf '%s\nmore\n' "$custom" >"$BATS_TEST_TMPDIR/other-state/reaper.pid"
  export WS_STATE_HOME="$BATS_TEST_TMPDIR/other-state"
  wait_until '[[ $(tr "\0" " " </proc/$custom/cmdline) == ws-reaper* ]]' 5
  common_teardown
  run ! _wsh_alive "$default"
  run ! _wsh_alive "$custom"
}

@test "teardown kills untracked leftovers started by the test" {
  sleep 300 >/dev/null 2>&1 3>&- &
  leftover=$!
  run common_teardown
  [[ $output == *"killing leftover process $leftover"* ]]
  run ! _wsh_alive "$leftover"
}

@test "write_workspace writes DIR/.workspace and runs ws-allow DIR" {
  mkdir -p stub
  printf '#!/bin/sh\necho "allowed $1" >%s/allow.log\n' "$BATS_TEST_TMPDIR" >stub/ws-allow
  chmod +x stub/ws-allow
  PATH="$PWD/stub:$PATH" write_workspace proj 'export FOO=1'
  [ "$(cat proj/.workspace)" = 'export FOO=1' ]
  [ "$(cat "$BATS_TEST_TMPDIR/allow.log")" = "allowed proj" ]
  PATH="$PWD/stub:$PATH" write_workspace proj2 <<<'export BAR=2'
  [ "$(cat proj2/.workspace)" = 'export BAR=2' ]
}

# The same sentences for each shell.
for shell in bash zsh fish; do
  export_cmd='export FOO="a b"'
  [ "$shell" = fish ] && export_cmd='set -gx FOO "a b"'
  bats_test_function --description "$shell: tmux_run prints a command's output" \
    -- shell_prints_output "$shell"
  bats_test_function --description "$shell: a variable exported in one command is visible in the next, and cd sticks" \
    -- shell_keeps_state "$shell" "$export_cmd"
  bats_test_function --description "$shell: tmux_run passes stderr and the exit status, and takes any text" \
    -- shell_stderr_status_text "$shell"
  bats_test_function --description "$shell: extra rc lines run at startup" \
    -- shell_extra_rc "$shell" "$export_cmd"
  bats_test_function --description "$shell: tmux_wait finds output and fails after its timeout on a missing pattern" \
    -- shell_tmux_wait "$shell"
  bats_test_function --description "$shell: teardown leaves no process behind" \
    -- shell_teardown "$shell"
done

shell_prints_output() {
  tmux_start --no-hook "$1"
  [[ $TMUX_SHELL_PID =~ ^[0-9]+$ ]]
  [ "$(tr '\0' ' ' <"/proc/$TMUX_SHELL_PID/cmdline")" != "" ]
  [[ $(tr '\0' ' ' <"/proc/$TMUX_SHELL_PID/cmdline") == "$1"* ]]
  run tmux_run 'echo hello'
  [ "$status" -eq 0 ]
  [ "$output" = hello ]
}

shell_keeps_state() {
  tmux_start --no-hook "$1"
  tmux_run "$2"
  run tmux_run 'echo "[$FOO]"'
  [ "$output" = "[a b]" ]
  mkdir -p sub
  tmux_run 'cd sub'
  [ "$(tmux_run pwd)" = "$BATS_TEST_TMPDIR/work/sub" ]
}

shell_stderr_status_text() {
  tmux_start --no-hook "$1"
  run --separate-stderr tmux_run 'echo out; echo oops >&2; false'
  [ "$status" -eq 1 ]
  [ "$output" = out ]
  [ "$stderr" = oops ]
  # history expansion, comments, quotes, a tab, several lines
  run tmux_run $'printf \'%s\\n\' "a!b" \'c"d\' \'e\tf\' # a comment\necho "two lines"'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 'a!b' ]
  [ "${lines[1]}" = 'c"d' ]
  [ "${lines[2]}" = $'e\tf' ]
  [ "${lines[3]}" = 'two lines' ]
}

shell_extra_rc() {
  WS_TEST_NO_HOOK=1 tmux_start "$1" "$2" 'echo rc-ran'
  run tmux_run 'echo "$FOO"'
  [ "$output" = "a b" ]
  run tmux_run env
  [[ $output != *WS_TEST_NO_HOOK* ]]
  tmux_wait '^rc-ran$' 2
}

shell_tmux_wait() {
  tmux_start --no-hook "$1"
  if [ "$1" = fish ]; then
    tmux_send 'echo marker-(math 6 \* 7)'
  else
    tmux_send 'echo marker-$((6*7))'
  fi
  tmux_wait '^marker-42$'
  run tmux_wait nope 1
  [ "$status" -eq 1 ]
  [[ $output == *"/nope/ did not appear within 1s"* ]]
  [[ $output == *marker-42* ]] # the pane is printed
}

shell_teardown() {
  tmux_start --no-hook "$1"
  tmux_run 'sleep 300 >/dev/null 2>&1 &' # a job of the shell
  socket=$TMUX_SOCKET
  shell_pid=$TMUX_SHELL_PID
  pgrep -f "$socket" >/dev/null
  common_teardown
  run pgrep -f "$socket"
  [ "$status" -eq 1 ]
  run ! _wsh_alive "$shell_pid"
  run pgrep -f 'sleep 300'
  for pid in $output; do
    # None of them is ours (grep with another HOME, so as not to match itself).
    run ! env HOME=/ grep -qzxF "HOME=$HOME" "/proc/$pid/environ"
  done
  [ ! -e "$socket" ]
}

@test "two shells at once: tmux_use switches the target" {
  tmux_start --no-hook -n one bash 'export WHO=one'
  tmux_start --no-hook -n two zsh 'export WHO=two'
  [ "$TMUX_TARGET" = two ]
  [ "$(tmux_run 'echo $WHO')" = two ]
  tmux_use one
  [ "$TMUX_SHELL" = bash ]
  [ "$(tmux_run 'echo $WHO')" = one ]
  pid=$TMUX_SHELL_PID
  tmux_stop
  run ! _wsh_alive "$pid"
  tmux_use two
  [ "$(tmux_run 'echo $WHO')" = two ]
}

@test "tmux_run returns only once the prompt is back (after the prompt hooks)" {
  tmux_start --no-hook bash 'PROMPT_COMMAND="sleep 0.3; echo hooked >>$BATS_TEST_TMPDIR/hook.log"'
  : >"$BATS_TEST_TMPDIR/hook.log"
  tmux_run true
  [ "$(wc -l <"$BATS_TEST_TMPDIR/hook.log")" -eq 1 ]
}

@test "tmux_start fails clearly for an unknown shell" {
  run tmux_start --no-hook tcsh
  [ "$status" -eq 64 ]
  [[ $output == *"unknown shell 'tcsh'"* ]]
}
