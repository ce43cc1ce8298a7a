#!/usr/bin/env bats
# ws-exec (SPEC §4, issue 15 part 3): one command with a directory's context
# loaded, without any hook; registered as a user while it runs, its exit
# status passed through, signals forwarded. `ws exec` is the same command.

load test_helper/common-setup

# No test may hang the run, whatever the product does.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

setup() {
  common_setup
  proj="$BATS_TEST_TMPDIR/work/proj"
  home="$XDG_STATE_HOME/ws"
  write_workspace "$proj" 'export VAR="value with spaces" E=$WS_ENV' >/dev/null 2>&1
}
teardown() { common_teardown; }

ctx_dir() { printf '%s\n' "$home"/contexts/proj-*; }
events() { jq -c --arg t "$1" 'select(.type == $t)' "$home/events.jsonl" 2>/dev/null || true; }

# --------------------------------------------------------- CLI contract ----

@test "ws-exec with no arguments exits 64 with a usage error on stderr only" {
  run --separate-stderr -64 ws-exec
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == ws-exec:* ]]
  run --separate-stderr -64 ws-exec "$proj"
  [ "$stderr" = "ws-exec: nothing to run: give -- CMD ARGS..." ]
}

@test "an unknown option exits 64 with one line on stderr only" {
  run --separate-stderr -64 ws-exec --bogus "$proj" -- true
  [ -z "$output" ]
  [ "$stderr" = "ws-exec: unknown option '--bogus'" ]
}

@test "--help prints the usage, options, examples and exit codes on stdout" {
  run --separate-stderr ws-exec --help
  [ "$status" -eq 0 ]
  [[ $output == *"ws-exec [OPTIONS] <DIR> [-- CMD ARGS...]"* ]]
  for word in --env EXAMPLES "EXIT CODES" 128+N; do [[ $output == *"$word"* ]]; done
  [ -z "$stderr" ]
}

@test "--version prints the name and version" {
  run --separate-stderr ws-exec --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^ws-exec\ [0-9]+\.[0-9]+\.[0-9]+ ]]
  [ -z "$stderr" ]
}

# ------------------------------------------------------- the environment ----

@test "ws exec DIR -- sh -c 'echo \$VAR' prints the value, without any hook" {
  cd "$BATS_TEST_TMPDIR"
  run --separate-stderr ws exec "$proj" -- sh -c 'echo "$VAR|$WS_ROOT|$WS_CONTEXT|$E|$PWD"'
  [ "$status" -eq 0 ]
  [ "$output" = "value with spaces|$proj|proj|default|$BATS_TEST_TMPDIR" ]
}

@test "--env NAME selects the environment (WS_ENV)" {
  run --separate-stderr ws-exec --env test "$proj" -- sh -c 'echo "$E $WS_ENV"'
  [ "$status" -eq 0 ]
  [ "$output" = "test test" ]
}

@test "the arguments reach CMD as they are, no shell in between" {
  run --separate-stderr ws-exec "$proj" -- printf '<%s>' 'a b' '$VAR' '' "'"
  [ "$status" -eq 0 ]
  [ "$output" = "<a b><\$VAR><><'>" ]
}

@test "a directory with no workspace file runs CMD with the caller's environment" {
  mkdir -p "$BATS_TEST_TMPDIR/plain"
  run --separate-stderr ws-exec "$BATS_TEST_TMPDIR/plain" -- sh -c 'echo "[${VAR-unset}][${WS_ROOT-unset}]"'
  [ "$status" -eq 0 ]
  [ "$output" = "[unset][unset]" ]
}

# ------------------------------------------------------------ the status ----

@test "CMD's exit status passes through; a death by signal N is 128+N" {
  run ws-exec "$proj" -- sh -c 'exit 3'
  [ "$status" -eq 3 ]
  run ws-exec "$proj" -- true
  [ "$status" -eq 0 ]
  run ws-exec "$proj" -- sh -c 'kill -TERM $$'
  [ "$status" -eq 143 ]
  run ws-exec "$proj" -- sh -c 'kill -KILL $$'
  [ "$status" -eq 137 ]
}

@test "a CMD that does not exist is 127; DIR that is not a directory is 66" {
  run --separate-stderr -127 ws-exec "$proj" -- no-such-command-here
  [ "${stderr_lines[-1]}" = "ws-exec: no-such-command-here: command not found" ]
  run --separate-stderr -66 ws-exec "$BATS_TEST_TMPDIR/nowhere" -- true
  [ "$stderr" = "ws-exec: $BATS_TEST_TMPDIR/nowhere: no such directory" ]
}

@test "a blocked workspace file is refused with 77 and the ws-allow hint; CMD does not run" {
  echo 'export VAR=changed' >"$proj/.workspace"
  run --separate-stderr -77 ws-exec "$proj" -- touch "$BATS_TEST_TMPDIR/ran"
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "ws-exec: $proj/.workspace is blocked" ]
  [ "${stderr_lines[1]}" = "Run 'ws-allow $proj' to approve its content." ]
  [ ! -e "$BATS_TEST_TMPDIR/ran" ]
  # Nothing registered either.
  [ -z "$(ls "$(ctx_dir)/users" 2>/dev/null)" ]
  # A blocked .workspace.local blocks the whole context too.
  ws-allow "$proj" 2>/dev/null
  echo 'export LOCAL=1' >"$proj/.workspace.local"
  run --separate-stderr -77 ws-exec "$proj" -- true
  [ "${stderr_lines[0]}" = "ws-exec: $proj/.workspace.local is blocked" ]
}

# ------------------------------------------------- a user while it runs ----

@test "a service stays up while ws exec runs and stops after it when nothing else uses the context" {
  write_workspace "$proj" 'service sleeper -- sleep 1000' >/dev/null 2>&1
  go="$BATS_TEST_TMPDIR/go"
  ws-exec "$proj" -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$go" \
    >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
  exec_pid=$!
  track_pid "$exec_pid"
  # ws-exec itself is the user (it lives as long as CMD).
  wait_until '[ -f "$(ctx_dir)/users/$exec_pid" ]'
  cd "$proj"
  wait_until '[ "$(ws-service status sleeper --json | jq -r ".[0].running")" = true ]'
  service_pid=$(ws-service status sleeper --json | jq -r '.[0].pid')
  # The reaper runs and sees a live user: no unload.
  wait_until '[ -s "$home/reaper.pid" ]'
  [ -z "$(events service.stop)" ]
  [ -z "$(events context.unload)" ]
  touch "$go"
  wait "$exec_pid"
  wait_until '[ -n "$(events service.stop)" ]' 20
  wait_until '[ -n "$(events context.unload)" ]' 20
  wait_until '! kill -0 "$service_pid" 2>/dev/null'
}

@test "SIGTERM to ws exec reaches CMD, and CMD's status is ws exec's" {
  marks="$BATS_TEST_TMPDIR"
  ws-exec "$proj" -- sh -c 'trap "echo got TERM >\"$1/term\"; exit 7" TERM; echo $$ >"$1/child"; while :; do sleep 0.05; done' sh "$marks" \
    >"$marks/out" 2>"$marks/err" &
  exec_pid=$!
  track_pid "$exec_pid"
  wait_until '[ -s "$marks/child" ]'
  track_pid "$(cat "$marks/child")"
  kill -TERM "$exec_pid"
  rc=0
  wait "$exec_pid" || rc=$?
  [ "$rc" -eq 7 ]
  [ "$(cat "$marks/term")" = "got TERM" ]
}

@test "SIGINT and SIGHUP sent to ws exec reach CMD too" {
  marks="$BATS_TEST_TMPDIR"
  for sig in INT HUP; do
    rm -f "$marks/child" "$marks/sig"
    ws-exec "$proj" -- sh -c 'trap "echo $2 >\"$1/sig\"; exit 9" '"$sig"'; echo $$ >"$1/child"; while :; do sleep 0.05; done' sh "$marks" "$sig" \
      >"$marks/out" 2>"$marks/err" &
    exec_pid=$!
    track_pid "$exec_pid"
    wait_until '[ -s "$marks/child" ]'
    kill -"$sig" "$exec_pid"
    rc=0
    wait "$exec_pid" || rc=$?
    [ "$rc" -eq 9 ]
    [ "$(cat "$marks/sig")" = "$sig" ]
  done
}
