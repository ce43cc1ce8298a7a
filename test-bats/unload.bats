#!/usr/bin/env bats
# Users, the reaper and unload hooks end to end (SPEC §4 ws-on-unload and
# ws-reaper, docs/unload.md): real interactive shells in tmux enter a
# workspace, leave it, exit or get killed, and the hooks run once, in reverse
# order, after the grace period (WS_UNLOAD_GRACE=1 here).

load test_helper/common-setup
load test_helper/state-home
load test_helper/strace

setup() {
  common_setup
  proj="$BATS_TEST_TMPDIR/work/proj"
  LOG="$BATS_TEST_TMPDIR/hooks.log"
  COUNTER="$BATS_TEST_TMPDIR/evaluations"
  home="$XDG_STATE_HOME/ws"
}
teardown() { common_teardown; }

# How many users the context has: its records, but not those that say their
# shell left (a leave without a process rewrites the record so; the reaper
# removes it).
user_count() {
  local dir
  dir=$(ctx_dir)
  find "$dir/users" -mindepth 1 -maxdepth 1 -name '[0-9]*' ! -name '*.tmp.*' -exec grep -L '"left":' {} + 2>/dev/null | wc -l
}

# leave_events PID — the user.leave events of PID, one JSON line each.
leave_events() { jq -c --argjson pid "$1" 'select(.type == "user.leave" and .pid == $pid)' "$home/events.jsonl"; }

# unloads_done [N=1] — until unload.log says N unloads are done: every hook
# of them has ended, none is still to start.
unloads_done() {
  wait_until "[ \"\$(grep -cs '\] unload done\$' \"\$(ctx_dir)/unload.log\")\" -ge ${1:-1} ]" 10
}

# hooks_workspace — $proj with a .workspace that counts its evaluations in
# $COUNTER, exports FOO and LOG, and registers three hooks: a command line, a
# command with its arguments, and a file.
hooks_workspace() {
  mkdir -p "$proj"
  cat >"$proj/hook.sh" <<EOF
echo "three \$PWD" >>"\$LOG"
EOF
  write_workspace "$proj" <<EOF
echo run >>"$COUNTER"
export FOO=foo-value LOG="$LOG"
on_unload 'echo one >>"\$LOG"'
on_unload -- sh -c 'echo two-\$FOO >>"\$LOG"'
on_unload hook.sh
EOF
}

# The three hooks ran, each once, last registered first, in the context's
# root with its variables; unload.log has each with status 0.
assert_hooks_ran_once() {
  local root
  root=$(cd "$proj" && pwd -P)
  run cat "$LOG"
  [ "${#lines[@]}" -eq 3 ]
  [ "${lines[0]}" = "three $root" ]
  [ "${lines[1]}" = "two-foo-value" ]
  [ "${lines[2]}" = "one" ]
  run grep -c '^\[[-0-9T:.]*Z\] exit 0 after [0-9]* ms: ' "$(ctx_dir)/unload.log"
  [ "$output" -eq 3 ]
}

# last_user_exits SHELL — two interactive SHELLs in the workspace: when the
# first exits nothing runs; when the second exits the hooks run. (How soon
# after the grace is `pnpm bench` (e1, e2), not a test.)
last_user_exits() {
  local shell=$1 first
  hooks_workspace
  tmux_start -n first "$shell"
  first=$TMUX_SHELL_PID
  tmux_run "cd $proj"
  tmux_start -n second "$shell"
  tmux_run "cd $proj"
  [ "$(user_count)" -eq 2 ]
  [ "$(lines_of "$COUNTER")" -ge 1 ]

  tmux_use first
  tmux_send exit
  wait_until "! _wsh_alive $first" 5
  # The reaper drops the exited shell, then nothing runs: the sleep lets
  # the grace period (1 s) pass, deliberately.
  wait_until '[ "$(user_count)" -eq 1 ]' 5
  sleep 2.2
  [ ! -e "$LOG" ]
  [ ! -e "$(ctx_dir)/unload.log" ]

  tmux_use second
  tmux_send exit
  unloads_done
  assert_hooks_ran_once
  [ "$(user_count)" -eq 0 ]
}

@test "bash: when the first of two shells exits nothing runs; when the last exits the hooks run once, in reverse order, with the context's variables" {
  last_user_exits bash
}

@test "zsh: when the first of two shells exits nothing runs; when the last exits the hooks run once, in reverse order" {
  last_user_exits zsh
}

@test "fish: when the first of two shells exits nothing runs; when the last exits the hooks run once, in reverse order" {
  last_user_exits fish
}

@test "a shell killed with SIGKILL (no exit trap runs) is noticed and the hooks run once" {
  hooks_workspace
  tmux_start bash
  tmux_run "cd $proj"
  [ "$(user_count)" -eq 1 ]
  kill -KILL "$TMUX_SHELL_PID"
  unloads_done
  assert_hooks_ran_once
}

@test "cd out of the workspace in the only shell: the hooks run after the grace period" {
  hooks_workspace
  tmux_start bash
  tmux_run "cd $proj"
  [ "$(user_count)" -eq 1 ]
  tmux_run "cd $BATS_TEST_TMPDIR"
  [ "$(user_count)" -eq 0 ]
  # After the grace period (that nothing runs within it is the next test's).
  unloads_done
  assert_hooks_ran_once
}

# out_and_back SHELL — cd out (without a process) and back within the grace period: nothing runs.
out_and_back() {
  export WS_UNLOAD_GRACE=3
  hooks_workspace
  tmux_start "$1"
  tmux_run "cd $proj"
  tmux_run "cd $BATS_TEST_TMPDIR"
  [ "$(user_count)" -eq 0 ]
  # The shell left without a process: its own event says so.
  [ "$(leave_events "$TMUX_SHELL_PID" | jq -s '[.[] | select(.cached == true)] | length')" -eq 1 ]
  # The reaper starts the grace period...
  wait_until '[ -e "$(ctx_dir)/idle-since" ]' 5
  tmux_run "cd $proj"
  [ "$(user_count)" -eq 1 ]
  # ...and ends it when the user is back: nothing runs, even once the time
  # the grace period would have ended (3 s) is well past (a deliberate sleep).
  wait_until '[ ! -e "$(ctx_dir)/idle-since" ]' 5
  sleep 4
  [ ! -e "$LOG" ]
  [ ! -e "$(ctx_dir)/unload.log" ]
  # The hooks are still there for the real unload.
  cd "$proj"
  run ws-on-unload --list
  [ "${#lines[@]}" -eq 3 ]
  [ "$(leave_events "$TMUX_SHELL_PID" | wc -l)" -eq 1 ]
}

@test "cd out and back within the grace period: nothing runs" { out_and_back bash; }
@test "zsh: cd out and back within the grace period: nothing runs" { out_and_back zsh; }
@test "fish: cd out and back within the grace period: nothing runs" { out_and_back fish; }

# leave_unloads_once SHELL — cd out without a process (strace-counted) in
# the only shell: the hooks run once after the grace, and the event stream
# has one user.leave, the shell's own, even once the reaper is gone.
leave_unloads_once() {
  local reaper
  hooks_workspace
  tmux_start "$1"
  tmux_run "cd $proj"
  [ "$(user_count)" -eq 1 ]
  strace_start leave
  tmux_run "cd $BATS_TEST_TMPDIR"
  strace_stop
  ((SPAWNS == 0))
  [ "$(user_count)" -eq 0 ]
  unloads_done
  assert_hooks_ran_once
  # Nothing more runs: the reaper leaves (WS_REAPER_IDLE) with nothing left to do.
  read -r reaper _ <"$home/reaper.pid"
  wait_until "! _wsh_alive $reaper" 20
  assert_hooks_ran_once
  [ "$(grep -cs '\] unload done$' "$(ctx_dir)/unload.log")" -eq 1 ]
  [ "$(leave_events "$TMUX_SHELL_PID" | wc -l)" -eq 1 ]
  [ "$(leave_events "$TMUX_SHELL_PID" | jq -r .cached)" = true ]
  [ ! -e "$(ctx_dir)/users/$TMUX_SHELL_PID" ]
}

@test "bash: cd out without a process: the hooks run once after the grace period, one user.leave" { leave_unloads_once bash; }
@test "zsh: cd out without a process: the hooks run once after the grace period, one user.leave" { leave_unloads_once zsh; }
@test "fish: cd out without a process: the hooks run once after the grace period, one user.leave" { leave_unloads_once fish; }

@test "a failing hook, one that hangs past WS_UNLOAD_TIMEOUT and one that prints a lot: the others still run and unload.log has each with its status" {
  export WS_UNLOAD_TIMEOUT=1
  mkdir -p "$proj"
  write_workspace "$proj" <<EOF
export LOG="$LOG"
on_unload 'echo first >>"\$LOG"'
on_unload 'echo failing on stderr >&2; exit 3'
on_unload 'echo \$\$ >"$BATS_TEST_TMPDIR/hung.pid"; exec sleep 30'
on_unload 'seq 1 100000'
on_unload 'echo last >>"\$LOG"'
EOF
  start_user
  (cd "$proj" && ws-export json --pid "$user" >/dev/null 2>&1)
  [ "$(user_count)" -eq 1 ]
  kill "$user"
  wait_until '[ "$(lines_of "$LOG")" -ge 2 ]' 15
  run cat "$LOG"
  [ "$output" = $'last\nfirst' ]
  # The hung hook timed out (its status below), and its process group was killed.
  read -r hung <"$BATS_TEST_TMPDIR/hung.pid"
  wait_until "! _wsh_alive $hung" 5
  log="$(ctx_dir)/unload.log"
  wait_until "grep -qs 'unload done' '$log'" 5
  run grep -E '^\[.*\] exit ' "$log"
  [ "${#lines[@]}" -eq 5 ]
  [[ ${lines[0]} =~ \]\ exit\ 0\ after\ [0-9]+\ ms:\ echo\ last ]]
  [[ ${lines[1]} =~ \]\ exit\ 0\ after\ [0-9]+\ ms:\ seq\ 1\ 100000$ ]]
  [[ ${lines[2]} =~ \]\ exit\ timeout\ after\ [0-9]+\ ms:\ echo ]]
  [[ ${lines[3]} =~ \]\ exit\ 3\ after\ [0-9]+\ ms:\ echo\ failing ]]
  [[ ${lines[4]} =~ \]\ exit\ 0\ after\ [0-9]+\ ms:\ echo\ first ]]
  # The output follows its hook's line, every line prefixed.
  grep -qx '  | failing on stderr' "$log"
  [ "$(grep -c '^  | [0-9]*$' "$log")" -eq 100000 ]
  grep -A1 'ms: seq 1 100000$' "$log" | grep -qx '  | 1'
  grep -B1 'exit timeout' "$log" | grep -qx '  | 100000'
}

@test "the reaper (watcher and worker) SIGKILLed while the second of three slow hooks runs: after a restart each hook ran exactly once" {
  mkdir -p "$proj"
  m="$BATS_TEST_TMPDIR/marker" g="$BATS_TEST_TMPDIR/gate"
  # Hook 2 runs until the test opens its gate (at most 30 s): the kill falls
  # while it runs however slow the machine is.
  write_workspace "$proj" <<EOF
on_unload 'sleep 1; echo 1 >>"$m.1"'
on_unload 'for i in \$(seq 600); do [ -e "$g" ] && break; sleep 0.05; done; echo 2 >>"$m.2"'
on_unload 'sleep 1; echo 3 >>"$m.3"'
EOF
  start_user
  (cd "$proj" && ws-export json --pid "$user" >/dev/null 2>&1)
  wait_until '[ -s "$home/reaper.pid" ]' 5
  read -r reaper _ <"$home/reaper.pid"
  kill "$user"
  # Hooks run last registered first: 3, then 2 (started once 3 has written).
  wait_until '[ -e "$m.3" ]' 10
  wait_until '[ -e "$(ctx_dir)/unload-run/000002.started" ]' 5
  # The whole reaper: its watcher and the Node worker running the unload.
  read -r worker _ <"$home/reaper.worker"
  kill -KILL "$reaper" "$worker"
  wait_until "! _wsh_alive $reaper && ! _wsh_alive $worker" 5
  [ ! -e "$m.2" ]
  [ ! -e "$m.1" ]
  # A new sweep resumes: it lets hook 2 finish, does not start it again, runs 1.
  touch "$g"
  run ws-reaper --once
  [ "$status" -eq 0 ]
  for n in 1 2 3; do [ "$(lines_of "$m.$n")" -eq 1 ]; done
  [ ! -e "$(ctx_dir)/unload-run" ]
  log="$(ctx_dir)/unload.log"
  grep -q 'unload resumed' "$log"
  [ "$(grep -c 'ms: sleep 1; echo 3' "$log")" -eq 1 ]
  [ "$(grep -c 'ms: for i in .*echo 2 >>' "$log")" -eq 1 ]
  [ "$(grep -c 'ms: sleep 1; echo 1' "$log")" -eq 1 ]
  grep -q 'exit ? after [0-9]* ms: for i in .*echo 2 .*(started by an unload runner that died' "$log"
  # Nothing runs again: no reaper runs, and no hook process is left.
  run ! pgrep -f -- "$m"
}

@test "20 concurrent registrations each starting the reaper leave exactly one ws-reaper" {
  export WS_STATE_HOME="$BATS_TEST_TMPDIR/state-$RANDOM$RANDOM"
  home=$WS_STATE_HOME
  write_workspace "$proj" 'export A=1'
  start_user
  cd "$proj"
  pids=()
  for i in $(seq 20); do
    ws-export json --pid "$user" >/dev/null 2>"$BATS_TEST_TMPDIR/err.$i" 3>&- &
    pids+=($!)
  done
  failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  # Every reaper they started exists by now (spawn returns once it runs);
  # the losers of the reaper.pid lock exit: count what is left.
  wait_until '[ "$(reapers | wc -l)" -eq 1 ]' 10
  run reapers
  [ "${#lines[@]}" -eq 1 ]
  read -r holder _ <"$home/reaper.pid"
  [ "${lines[0]}" = "$holder" ]
  [ "$(user_count)" -eq 1 ]
  # And every registration itself succeeded.
  if ((failed)); then
    grep -h -v '^ws: export' "$BATS_TEST_TMPDIR"/err.* >&2
    false
  fi
}

@test "a user record whose PID is alive but with another start time is dead (a recycled PID): the reaper removes it and the unload runs" {
  hooks_workspace
  start_user
  (cd "$proj" && ws-export json --pid "$user" >/dev/null 2>&1)
  [ "$(user_count)" -eq 1 ]
  record="$(ctx_dir)/users/$user"
  # Same PID, another process: its start time differs. (No look at the record
  # afterwards: the reaper may remove it at once. Had sed not changed it, the
  # user would stay alive and nothing below would happen.)
  sed -i 's/"start":"[0-9]*"/"start":"1"/' "$record"
  unloads_done
  _wsh_alive "$user"
  [ ! -e "$record" ]
  assert_hooks_ran_once
}

@test "re-registering the same hooks on every evaluation keeps one entry each, at its first position" {
  mkdir -p "$proj"
  write_workspace "$proj" <<'EOF'
on_unload 'echo a'
on_unload -- echo b
EOF
  start_user
  cd "$proj"
  for i in 1 2 3; do ws-export json --pid "$user" >/dev/null 2>&1; done
  run --separate-stderr ws-on-unload --list --json
  [ "$status" -eq 0 ]
  [ "$output" = '[{"seq":"000001","kind":"sh","args":["echo a"]},{"seq":"000002","kind":"argv","args":["echo","b"]}]' ]
  # A changed file registers a new hook first and the old ones again.
  write_workspace "$proj" <<'EOF'
on_unload 'echo c'
on_unload 'echo a'
on_unload -- echo b
EOF
  for i in 1 2; do ws-export json --pid "$user" >/dev/null 2>&1; done
  run --separate-stderr ws-on-unload --list
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 3 ]
  [[ ${lines[0]} == "000001  sh    echo a" ]]
  [[ ${lines[1]} == "000002  argv  echo b" ]]
  [[ ${lines[2]} == "000003  sh    echo c" ]]
  # So at unload c runs first, then b, then a.
  run --separate-stderr ws-on-unload --run-now
  [ "$status" -eq 0 ]
  run grep -oE 'ms: .*' "$(ctx_dir)/unload.log"
  [ "$output" = $'ms: echo c\nms: echo b\nms: echo a' ]
}

@test "a corrupt user record and a corrupt hook record are skipped with a note, never a crash" {
  hooks_workspace
  start_user
  (cd "$proj" && ws-export json --pid "$user" >/dev/null 2>&1)
  dir=$(ctx_dir)
  wait_until '[ -s "$home/reaper.pid" ]' 5
  read -r reaper _ <"$home/reaper.pid"
  printf '{"pid": 12' >"$dir/users/424242"
  touch -d '-10 seconds' "$dir/users/424242" # a fresh unreadable record may be mid-write
  printf 'not json' >"$dir/unload/000009"
  wait_until '[ ! -e "$dir/users/424242" ]' 5
  grep -q "removed corrupt user record $dir/users/424242" "$home/reaper.log"
  # The live user still counts: nothing ran.
  [ "$(user_count)" -eq 1 ]
  [ ! -e "$LOG" ]
  cd "$proj"
  run --separate-stderr ws-on-unload --list
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 3 ]
  [[ $stderr == *"skipping corrupt hook record 000009"* ]]
  kill "$user"
  wait_until '[ "$(lines_of "$LOG")" -ge 3 ]' 10
  wait_until "grep -qs 'unload done' '$dir/unload.log'" 5
  grep -q 'skipped corrupt hook record unload/000009' "$dir/unload.log"
  assert_hooks_ran_once
  # The same reaper did it all.
  _wsh_alive "$reaper"
}

@test "--run-now unloads at once with a user inside, and the next prompt there evaluates the workspace file again" {
  hooks_workspace
  tmux_start bash
  tmux_run "cd $proj"
  [ "$(lines_of "$COUNTER")" -eq 1 ]
  run tmux_run 'ws-on-unload --run-now'
  [ "$status" -eq 0 ]
  [[ $output == *"ran 3 hook(s), 0 failed"* ]]
  assert_hooks_ran_once
  # tmux_run returned after the prompt that followed: it evaluated again.
  [ "$(lines_of "$COUNTER")" -eq 2 ]
  run tmux_run 'echo "$FOO"'
  [ "$output" = foo-value ]
  # The shell is still a user, and the hooks are registered again.
  [ "$(user_count)" -eq 1 ]
  run tmux_run 'ws-on-unload --list'
  [ "${#lines[@]}" -eq 3 ]
  # The reaper runs nothing while the user is inside: the sleep lets the
  # grace period (1 s) pass, deliberately.
  sleep 2
  [ "$(lines_of "$LOG")" -eq 3 ]
}

@test "after an unload, entering again runs the workspace file again" {
  hooks_workspace
  tmux_start bash
  tmux_run "cd $proj"
  [ "$(lines_of "$COUNTER")" -eq 1 ]
  tmux_run "cd $BATS_TEST_TMPDIR"
  wait_until "grep -qs 'unload done' \"\$(ctx_dir)/unload.log\"" 10
  tmux_run "cd $proj"
  [ "$(lines_of "$COUNTER")" -eq 2 ]
  run tmux_run 'echo "$FOO"'
  [ "$output" = foo-value ]
  # And the next unload runs the hooks again.
  tmux_run "cd $BATS_TEST_TMPDIR"
  unloads_done 2
  [ "$(lines_of "$LOG")" -eq 6 ]
}

@test "a reaper restarted after being killed goes on tracking the users" {
  hooks_workspace
  start_user
  (cd "$proj" && ws-export json --pid "$user" >/dev/null 2>&1)
  wait_until '[ -s "$home/reaper.pid" ]' 5
  read -r reaper _ <"$home/reaper.pid"
  kill -KILL "$reaper"
  wait_until "! _wsh_alive $reaper" 5
  run --separate-stderr ws-reaper
  [ "$status" -eq 0 ]
  wait_until '[ -s "$home/reaper.pid" ] && read -r r _ <"$home/reaper.pid" && [ "$r" != "$reaper" ] && _wsh_alive "$r"' 5
  [ "$(user_count)" -eq 1 ]
  kill "$user"
  unloads_done
  assert_hooks_ran_once
}

@test "a workspace file changed while loaded blocks it: the shell stays its user, nothing unloads; leaving runs the hooks" {
  hooks_workspace
  tmux_start bash
  tmux_run "cd $proj"
  [ "$(user_count)" -eq 1 ]
  echo '# changed, not allowed' >>"$proj/.workspace"
  tmux_run true
  tmux_wait "is blocked. Run 'ws-allow' to approve its content." 5
  # Still inside the root: still its user (an edit must not tear the project down).
  [ "$(user_count)" -eq 1 ]
  grep -q '"state":"blocked"' "$(ctx_dir)/context.json"
  sleep 3 # past the grace (1 s) and the reaper's sweeps: nothing may unload
  run ! grep -q '"type":"context.unload"' "$home/events.jsonl"
  [ "$(lines_of "$LOG")" -eq 0 ]
  # Allowed again: the next prompt loads it again, evaluating the file.
  ws-allow "$proj" 2>/dev/null
  tmux_run true
  [ "$(user_count)" -eq 1 ]
  [ "$(lines_of "$COUNTER")" -eq 2 ]
  # Leaving unloads as usual: the hooks run once.
  tmux_run 'cd /'
  unloads_done
  assert_hooks_ran_once
}
