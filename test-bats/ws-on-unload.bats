#!/usr/bin/env bats
# ws-on-unload (SPEC §4): register, list and remove unload hooks; run the
# unload now. The end-to-end behaviour with shells is in unload.bats.

load test_helper/common-setup
load test_helper/state-home

setup() {
  common_setup
  proj="$BATS_TEST_TMPDIR/work/proj"
  home="$XDG_STATE_HOME/ws"
  export LOG="$BATS_TEST_TMPDIR/hooks.log" # (hooks of a context never loaded get the caller's environment)
  mkdir -p "$proj"
  write_workspace "$proj" "export LOG='$LOG' FOO=foo-value" >/dev/null 2>&1
  cd "$proj"
}
teardown() { common_teardown; }


# --------------------------------------------------------- CLI contract ----

@test "ws-on-unload with no arguments exits 64 with a usage error on stderr only" {
  run --separate-stderr -64 ws-on-unload
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "ws-on-unload: nothing to do: give FILE, -- CMD ARGS..., --list or --run-now" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
}

@test "an unknown option exits 64 with one line on stderr only" {
  run --separate-stderr -64 ws-on-unload --bogus
  [ -z "$output" ]
  [ "$stderr" = "ws-on-unload: unknown option '--bogus'" ]
  run --separate-stderr -64 ws-on-unload --list=yes
  [ "$stderr" = "ws-on-unload: option '--list' takes no value" ]
}

@test "--help prints the usage, options, examples and exit codes on stdout" {
  run --separate-stderr ws-on-unload --help
  [ "$status" -eq 0 ]
  [[ $output == *"ws-on-unload [OPTIONS] [FILE] [-- CMD ARGS...]"* ]]
  for option in --list --json --remove --run-now EXAMPLES "EXIT CODES" WS_UNLOAD_TIMEOUT; do [[ $output == *"$option"* ]]; done
  [ -z "$stderr" ]
}

@test "--version prints the name and version" {
  run --separate-stderr ws-on-unload --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^ws-on-unload\ [0-9]+\.[0-9]+\.[0-9]+ ]]
  [ -z "$stderr" ]
}

# ------------------------------------------------------------ errors ----

@test "outside any context it exits 66 and says why" {
  cd "$BATS_TEST_TMPDIR"
  run --separate-stderr -66 ws-on-unload -- echo hi
  [ -z "$output" ]
  [[ $stderr == "ws-on-unload: not in a context: WS_ROOT is not set and there is no workspace file in $BATS_TEST_TMPDIR or above" ]]
  run --separate-stderr -66 ws-on-unload --list
  run --separate-stderr -66 ws-on-unload --run-now
  [ ! -d "$home/contexts" ] || [ -z "$(ls "$home/contexts")" ]
}

@test "a hook file that does not exist exits 66 and registers nothing" {
  run --separate-stderr -66 ws-on-unload no-such-hook.sh
  [ -z "$output" ]
  [ "$stderr" = "ws-on-unload: $proj/no-such-hook.sh: no such file" ]
  run --separate-stderr -66 ws-on-unload "$BATS_TEST_TMPDIR"
  run --separate-stderr ws-on-unload --list
  [ -z "$output" ]
}

@test "FILE and -- CMD together, or --remove with nothing, are usage errors (64)" {
  touch hook.sh
  run --separate-stderr -64 ws-on-unload hook.sh -- echo hi
  [[ $stderr == "ws-on-unload: give either FILE or -- CMD ARGS..., not both"* ]]
  run --separate-stderr -64 ws-on-unload --remove
  [ -z "$output" ]
}

# ---------------------------------------------------------- registry ----

@test "registers a file (by absolute path) and a command with its arguments, listed in order" {
  echo 'echo from-file' >hook.sh
  run --separate-stderr ws-on-unload hook.sh
  [ "$status" -eq 0 ]
  [ -z "$output$stderr" ]
  ws-on-unload -- printf '%s\n' 'two words' "it's"
  run --separate-stderr ws-on-unload --list
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "000001  file  $proj/hook.sh" ]
  [ "${lines[1]}" = "000002  argv  printf '%s\n' 'two words' 'it'\\''s'" ]
  [ "${#lines[@]}" -eq 2 ]
  run --separate-stderr ws-on-unload --list --json
  [ "$output" = "[{\"seq\":\"000001\",\"kind\":\"file\",\"args\":[\"$proj/hook.sh\"]},{\"seq\":\"000002\",\"kind\":\"argv\",\"args\":[\"printf\",\"%s\\\\n\",\"two words\",\"it's\"]}]" ]
}

@test "registering the same hook again keeps one entry at its first position" {
  ws-on-unload -- echo a
  ws-on-unload -- echo b
  ws-on-unload -- echo a
  ws-on-unload -- echo b
  run ws-on-unload --list
  [ "$output" = $'000001  argv  echo a\n000002  argv  echo b' ]
}

@test "--remove takes a hook out; removing one that is not registered exits 66" {
  echo 'echo x' >hook.sh
  ws-on-unload hook.sh
  ws-on-unload -- echo a
  run --separate-stderr ws-on-unload --remove hook.sh
  [ "$status" -eq 0 ]
  run --separate-stderr ws-on-unload --remove -- echo a
  [ "$status" -eq 0 ]
  run ws-on-unload --list
  [ -z "$output" ]
  run --separate-stderr -66 ws-on-unload --remove -- echo a
  [ "$stderr" = "ws-on-unload: no such hook: echo a" ]
}

@test "WS_ROOT names the context, whatever the current directory" {
  cd "$BATS_TEST_TMPDIR"
  WS_ROOT="$proj" ws-on-unload -- echo via-ws-root
  cd "$proj"
  run ws-on-unload --list
  [ "$output" = "000001  argv  echo via-ws-root" ]
}

@test "works from inside the workspace file, as the stdlib's on_unload does" {
  write_workspace "$proj" <<'EOF'
ws-on-unload -- echo from-ws-on-unload
on_unload 'echo from-on_unload'
EOF
  start_user
  ws-export json --pid "$user" >/dev/null 2>&1
  run ws-on-unload --list
  [ "$output" = $'000001  argv  echo from-ws-on-unload\n000002  sh    echo from-on_unload' ]
}

@test "a corrupt hook record is skipped by --list with a note on stderr" {
  ws-on-unload -- echo a
  printf '{"kind":"sh","args":[1' >"$(ctx_dir)/unload/000007"
  run --separate-stderr ws-on-unload --list
  [ "$status" -eq 0 ]
  [ "$output" = "000001  argv  echo a" ]
  [ "$stderr" = "ws-on-unload: skipping corrupt hook record 000007" ]
}

# ----------------------------------------------------------- --run-now ----

@test "--run-now runs the hooks at once in reverse order, in the root, with the context's environment, stdin /dev/null" {
  start_user
  ws-export json --pid "$user" >/dev/null 2>&1 # saves the loaded environment
  cat >"$proj/hook.sh" <<'EOF'
echo "file $PWD $FOO $WS_UNLOAD ${BASH_VERSION:+bash}" >>"$LOG"
EOF
  chmod +x hook.sh # executable without a #! line: run with bash, not exec'd (that would be /bin/sh)
  ws-on-unload hook.sh
  ws-on-unload -- sh -c 'echo "argv $FOO" >>"$LOG"'
  ws-on-unload -- sh -c 'cat; echo "stdin done" >>"$LOG"'
  cd "$BATS_TEST_TMPDIR"
  # A stdin that never ends: the hook must not see it.
  run --separate-stderr timeout 10 env WS_ROOT="$proj" ws-on-unload --run-now < <(sleep 20)
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [[ $stderr == "ws-on-unload: ran 3 hook(s), 0 failed; see $(ctx_dir)/unload.log" ]]
  run cat "$LOG"
  [ "$output" = $'stdin done\nargv foo-value\nfile '"$proj"$' foo-value 1 bash' ]
  grep -q '"type":"unload.hook"' "$home/events.jsonl"
  grep -q '"type":"context.unload"' "$home/events.jsonl"
  grep -q '"state":"unloaded"' "$(ctx_dir)/context.json"
}

@test "--run-now exits 1 when a hook failed, after running the others" {
  ws-on-unload -- sh -c 'echo ran-a >>"$LOG"'
  ws-on-unload -- sh -c 'echo broken >&2; exit 7'
  ws-on-unload -- sh -c 'echo ran-c >>"$LOG"'
  run --separate-stderr ws-on-unload --run-now
  [ "$status" -eq 1 ]
  [[ $stderr == *"ran 3 hook(s), 1 failed"* ]]
  [ "$(cat "$LOG")" = $'ran-c\nran-a' ]
  grep -q "exit 7 after [0-9]* ms: sh -c 'echo broken >&2; exit 7'" "$(ctx_dir)/unload.log"
  grep -qx '  | broken' "$(ctx_dir)/unload.log"
}

@test "each --run-now is one unload: hooks run once, then are registered again by the next load" {
  ws-on-unload -- sh -c 'echo ran >>"$LOG"'
  ws-on-unload --run-now 2>/dev/null
  ws-on-unload --run-now 2>/dev/null
  [ "$(cat "$LOG")" = ran ]
  run ws-on-unload --list
  [ -z "$output" ]
  [ "$(grep -c 'unload started' "$(ctx_dir)/unload.log")" -eq 2 ]
}

@test "--run-now while an unload of the context is running exits 75" {
  ws-on-unload -- sh -c 'sleep 2'
  ws-on-unload --run-now >/dev/null 2>&1 3>&- &
  first=$!
  track_pid "$first"
  wait_until '[ -e "$(ctx_dir)/unload-run/000001.started" ]' 5
  run --separate-stderr -75 ws-on-unload --run-now
  [ "$stderr" = "ws-on-unload: an unload of this context is already running" ]
  wait "$first"
  [ "$(grep -c 'exit 0 after' "$(ctx_dir)/unload.log")" -eq 1 ]
}

@test "the unload releases the context's port reservations, after the hooks" {
  port=$((20000 + RANDOM % 20000))
  write_workspace "$proj" "export PORT=\$(allocate_port --tcp $port --key web)" >/dev/null 2>&1
  start_user
  ws-export json --pid "$user" >/dev/null 2>&1
  run allocate_port --list
  [[ $output == *" web "* ]]
  # A hook still sees the reservation.
  ws-on-unload -- sh -c 'allocate_port --list >"$LOG"'
  ws-on-unload --run-now 2>/dev/null
  grep -q ' web ' "$LOG"
  run allocate_port --list
  [[ $output != *" web "* ]]
  grep -q '"type":"port.release"' "$home/events.jsonl"
}
