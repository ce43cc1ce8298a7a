#!/usr/bin/env bats
# Background builds a user can see and trust (SPEC §4 ws-export "Seen
# builds"), in real shells under tmux: a build's output and failure reach the
# shell that waited for it; live apply (SIGUSR1 to the waiting shell, no key
# press in zsh and fish; bash applies it before the next command runs); the
# first entry waits a little, visibly, and Ctrl-C sends the build to the
# background; an edited (blocked) file does not tear the project down.
#
# Slow files wait for $GATE (at most 30 s), so "while it builds" does not
# depend on timing.

load test_helper/common-setup

setup() {
  common_setup
  export WS_BUILD_TIMEOUT=100
  home="$XDG_STATE_HOME/ws"
  proj="$BATS_TEST_TMPDIR/work/proj"
  GATE="$BATS_TEST_TMPDIR/gate"
  mkdir -p "$proj"
}
teardown() { common_teardown; }

q() { printf '%q' "$1"; }
wait_gate() { printf 'for ((_i = 0; _i < 300; _i++)); do [[ -e %q ]] && break; sleep 0.1; done\n' "$GATE"; }
ctx_dir() { printf '%s\n' "$home"/contexts/proj-*; }
build_over() { [[ -e $(ctx_dir)/cache/build/status ]]; }
# After `run tmux_run "cd …"`: the message ws-export printed (zsh's chpwd hook
# runs during the command, so it is in $output; bash and fish print it at the prompt).
saw_building() { [[ $output == *'ws: building proj in the background…'* ]] || tmux_wait 'ws: building proj in the background…'; }

# ------------------------------------------------- output and failures ----

failure_reaches_shell() {
  local shell=$1
  write_workspace "$proj" "$(printf 'log_status hello from the build\n'; wait_gate; printf 'false_command_that_fails() { return 3; }\nfalse_command_that_fails\nexit 4\n')"
  tmux_start "$shell"
  run tmux_run "cd $(q "$proj")"
  saw_building
  touch "$GATE"
  wait_until build_over 15
  # zsh and fish apply it at once (live); bash when readline returns: one Enter.
  [[ $shell != bash ]] || tmux_send ''
  tmux_wait 'hello from the build' 10
  tmux_wait 'ws: .*proj/\.workspace:[0-9]+: failed with exit status 4; keeping the last good environment' 10
  run tmux_run 'ws-prompt %s --glyphs error=ERRORSTATE'
  [[ $output == *ERRORSTATE* ]]
}

@test "zsh: a background build's output and its failure (file:line) reach the shell without a key press" { failure_reaches_shell zsh; }
@test "fish: a background build's output and its failure (file:line) reach the shell without a key press" { failure_reaches_shell fish; }
@test "bash: a background build's output and its failure (file:line) reach the shell after one Enter" { failure_reaches_shell bash; }

# ---------------------------------------------------------- live apply ----

live_apply() {
  local shell=$1 live=$2
  write_workspace "$proj" "$(wait_gate; echo 'export LIVEVAR=applied')"
  if [[ $live == off ]]; then export WS_LIVE_APPLY=0; fi
  tmux_start "$shell"
  run tmux_run "cd $(q "$proj")"
  saw_building
  touch "$GATE"
  wait_until build_over 15
  if [[ $shell == zsh && $live == on ]]; then tmux_wait 'ws: export .*\+LIVEVAR' 10; fi
  # The next command typed after the build finished, no Enter in between.
  run tmux_run 'echo "LIVEVAR=${LIVEVAR-unset}"'
  if [[ $live == on ]]; then
    [[ $output == *"LIVEVAR=applied"* ]]
  else
    # Only at the next prompt: this command still had the old environment.
    [[ $output == *"LIVEVAR=unset"* ]]
    run tmux_run 'echo "LIVEVAR=${LIVEVAR-unset}"'
    [[ $output == *"LIVEVAR=applied"* ]]
  fi
}

@test "zsh: live apply: a finished background build is in the environment of the next command typed" { live_apply zsh on; }
@test "bash: live apply: a finished background build is in the environment of the next command typed" { live_apply bash on; }
@test "zsh: WS_LIVE_APPLY=0: the result is applied at the next prompt only" { live_apply zsh off; }
@test "bash: WS_LIVE_APPLY=0: the result is applied at the next prompt only" { live_apply bash off; }

# What a person sees when a background build is over: the build's output and
# the summary, each on a line of its own, and under them the prompt again with
# the line they were typing (zsh and fish at once; bash when readline returns).
live_apply_screen() {
  local shell=$1 prompt='$ '
  [[ $shell != fish ]] || prompt='> '
  write_workspace "$proj" "$(printf 'log_status from the build\n'; wait_gate; echo 'export LIVEVAR=applied')"
  tmux_start "$shell"
  run tmux_run "cd $(q "$proj")"
  saw_building
  tmux_keys -l 'echo half-typed'
  tmux_wait 'echo half-typed$'
  touch "$GATE"
  wait_until build_over 15
  [[ $shell != bash ]] || tmux_send ''
  tmux_wait '^ws: export \+LIVEVAR$' 10
  local pane
  pane=$(tmux_pane)
  [[ $pane == *$'\nws: loading '*$'/proj/.workspace\nws: from the build\nws: export +LIVEVAR'* ]] || { echo "$pane" >&2; return 1; }
  if [[ $shell == bash ]]; then
    tmux_wait '^half-typed$' 10
  else
    wait_until "[[ \$(tmux_pane | tail -n 1) == $(q "${prompt}echo half-typed") ]]" 10 || { tmux_pane >&2; return 1; }
  fi
}

@test "zsh: a background build's output and summary show on lines of their own, the prompt and the half-typed line under them" { live_apply_screen zsh; }
@test "fish: a background build's output and summary show on lines of their own, the prompt and the half-typed line under them" { live_apply_screen fish; }
@test "bash: a background build's output and summary show on lines of their own when readline returns" { live_apply_screen bash; }

# Quiet (WS_LOG_FORMAT=''): nothing is printed, and the prompt is drawn again
# in place, not once more below the line being typed.
live_apply_quiet() {
  local shell=$1 prompt='$ '
  [[ $shell != fish ]] || prompt='> '
  export WS_LOG_FORMAT=
  write_workspace "$proj" "$(wait_gate; echo 'export LIVEVAR=applied')"
  tmux_start "$shell"
  run tmux_run "cd $(q "$proj")"
  wait_until "compgen -G $(q "$(ctx_dir)")/cache/waiting/'*' >/dev/null" 10
  tmux_keys -l 'echo half-typed'
  tmux_wait 'echo half-typed$'
  touch "$GATE"
  # The handler's ws-export takes the shell's waiting record; keys typed
  # after that are read once the handler is over.
  wait_until "! compgen -G $(q "$(ctx_dir)")/cache/waiting/'*' >/dev/null" 15
  tmux_send ''
  tmux_wait '^half-typed$' 10
  local pane
  pane=$(tmux_pane)
  [ "$(grep -cxF -- "${prompt}echo half-typed" <<<"$pane")" -eq 1 ] || { echo "$pane" >&2; return 1; }
  [[ $pane != *ws:* ]]
  run tmux_run 'echo "$LIVEVAR"'
  [ "$output" = applied ]
}

@test "zsh: quiet live apply (WS_LOG_FORMAT=''): the prompt is drawn again in place" { live_apply_quiet zsh; }
@test "fish: quiet live apply (WS_LOG_FORMAT=''): the prompt is drawn again in place" { live_apply_quiet fish; }

@test "live apply never signals a stranger: a waiting record whose start time is not the process's is skipped" {
  write_workspace "$proj" "$(wait_gate; echo 'export A=1')"
  cd "$proj"
  sleep 300 3>&- &
  stranger=$!
  track_pid "$stranger"
  WS_BUILD_WAIT=0 ws-export json --pid "$stranger" --live >/dev/null 2>&1
  waiting="$(ctx_dir)/cache/waiting/$stranger"
  [[ -f $waiting ]]
  # Same PID, another start time: a recycled PID, a stranger.
  printf '%s 1\nlive\n' "$stranger" >"$waiting"
  touch "$GATE"
  wait_until build_over 15
  _wsh_alive "$stranger"
}

# A process that counts the SIGUSR1s it gets in FILE, one line each.
usr1_counter() {
  bash -c 'trap "echo usr1 >>\"\$1\"" USR1; while :; do sleep 0.05; done' counter "$1" </dev/null >/dev/null 2>&1 3>&- &
  track_pid $!
  echo $!
}
build_driver_gone() {
  local owner
  read -r owner _ <"$(ctx_dir)/cache/build/owner" 2>/dev/null || return 0
  ! _wsh_alive "$owner"
}

@test "a shell that waited for a build and left is signalled when that build ends, not by the builds after it" {
  write_workspace "$proj" "$(wait_gate; echo 'export A=1')"
  cd "$proj"
  left=$(usr1_counter "$BATS_TEST_TMPDIR/left.usr1")
  WS_BUILD_WAIT=0 ws-export json --pid "$left" --live >/dev/null 2>&1
  touch "$GATE"
  wait_until "[ -s $(q "$BATS_TEST_TMPDIR/left.usr1") ]" 15
  # It never came back for the result (it left). A later build, another shell waiting for it:
  rm "$GATE"
  write_workspace "$proj" "$(wait_gate; echo 'export A=2')"
  other=$(usr1_counter "$BATS_TEST_TMPDIR/other.usr1")
  WS_BUILD_WAIT=0 ws-export json --pid "$other" --live >/dev/null 2>&1
  touch "$GATE"
  wait_until "[ -s $(q "$BATS_TEST_TMPDIR/other.usr1") ]" 15
  wait_until build_driver_gone 15
  [ "$(wc -l <"$BATS_TEST_TMPDIR/left.usr1")" -eq 1 ]
  [ "$(wc -l <"$BATS_TEST_TMPDIR/other.usr1")" -eq 1 ]
}

# -------------------------------------------------------- first entry ----

@test "first entry with the default wait: a quick build applies before the prompt returns" {
  unset WS_BUILD_WAIT
  write_workspace "$proj" 'sleep 0.5; export QUICK=1'
  tmux_start bash
  run tmux_run "cd $(q "$proj")" 10
  [[ $output != *"in the background"* ]]
  run tmux_run 'echo "QUICK=${QUICK-unset}"'
  [[ $output == *"QUICK=1"* ]]
}

@test "first entry with the default wait: a slow build shows progress, then goes on in the background" {
  unset WS_BUILD_WAIT
  write_workspace "$proj" "$(wait_gate; echo 'export SLOW=1')"
  tmux_start zsh
  tmux_send "cd $(q "$proj")"
  tmux_wait 'ws: building proj… [0-9.]+ s — Ctrl-C to continue in the background' 10
  tmux_wait 'ws: building proj in the background…' 10
  touch "$GATE"
  wait_until build_over 15
  tmux_wait 'ws: export .*\+SLOW' 10
}

# (fish cancelled the hook's function at the Ctrl-C, ws-export's result was
# not applied, and the next prompt waited for the build once more.)
ctrl_c_first_entry() {
  local shell=$1 after='env | grep "^AFTER=" || echo AFTER=unset' # (the same words in fish)
  export WS_BUILD_WAIT=30
  write_workspace "$proj" "$(wait_gate; echo 'export AFTER=1')"
  tmux_start "$shell"
  tmux_send "cd $(q "$proj")"
  tmux_wait 'ws: building proj… [0-9.]+ s — Ctrl-C' 10
  tmux_keys C-c
  tmux_wait 'ws: building proj in the background…' 5
  run tmux_run "$after"
  [ "$status" -eq 0 ]
  [ "$output" = AFTER=unset ]
  touch "$GATE"
  wait_until build_over 15
  [ "$(cut -d' ' -f1 "$(ctx_dir)/cache/build/status")" = 0 ]
  # zsh and fish apply it at once (live); bash when readline returns.
  [[ $shell == bash ]] || tmux_wait 'ws: export .*\+AFTER' 10
  run tmux_run "$after"
  [ "$status" -eq 0 ]
  [ "$output" = AFTER=1 ]
}

@test "zsh: Ctrl-C during the first-entry wait returns the prompt at once; the build still completes" { ctrl_c_first_entry zsh; }
@test "fish: Ctrl-C during the first-entry wait returns the prompt at once; the build still completes" { ctrl_c_first_entry fish; }
@test "bash: Ctrl-C during the first-entry wait returns the prompt at once; the build still completes" { ctrl_c_first_entry bash; }

# ------------------------------------------------ editing the file ----

@test "editing .workspace while a service runs does not stop it; ws-allow re-evaluates; leaving unloads" {
  export WS_BUILD_TIMEOUT=20000
  write_workspace "$proj" 'export EDITED=no
service sleeper -- sleep 300'
  tmux_start bash
  run tmux_run "cd $(q "$proj")" 15
  pid=$(jq -r .pid "$(ctx_dir)/services/sleeper/pid")
  [[ $pid =~ ^[0-9]+$ ]]
  # An edit (a comment) blocks the file; the shell is still inside the root.
  echo '# a comment' >>"$proj/.workspace"
  run tmux_run ':'
  [[ $output == *"is blocked"* ]] || tmux_wait 'proj/\.workspace is blocked'
  # Longer than the grace (1 s) and the reaper's sweeps: nothing may stop it.
  sleep 3
  [ "$(jq -r .pid "$(ctx_dir)/services/sleeper/pid")" = "$pid" ]
  _wsh_alive "$pid"
  run ! grep -q '"type":"context.unload"' "$home/events.jsonl"
  ws-allow "$proj" >/dev/null 2>&1
  # bash's hook runs after each command: the prompt after this one re-evaluates.
  run tmux_run ':' 15
  run tmux_run 'echo "EDITED=${EDITED-unset}"' 15
  [[ $output == *"EDITED=no"* ]]
  [ "$(jq -r .pid "$(ctx_dir)/services/sleeper/pid")" = "$pid" ]
  # Leaving unloads as usual.
  run tmux_run 'cd ..'
  wait_until "grep -q '\"type\":\"context.unload\"' $(q "$home/events.jsonl")" 15
  run ! _wsh_alive "$pid"
}

@test "creating .workspace.local does not stop the services either" {
  export WS_BUILD_TIMEOUT=20000
  write_workspace "$proj" 'service sleeper -- sleep 300'
  tmux_start bash
  run tmux_run "cd $(q "$proj")" 15
  pid=$(jq -r .pid "$(ctx_dir)/services/sleeper/pid")
  echo 'export LOCAL=1' >"$proj/.workspace.local"
  run tmux_run ':'
  [[ $output == *".workspace.local is blocked"* ]] || tmux_wait 'proj/\.workspace\.local is blocked'
  sleep 3 # past the grace: nothing may stop it
  _wsh_alive "$pid"
  run ! grep -q '"type":"context.unload"' "$home/events.jsonl"
}
