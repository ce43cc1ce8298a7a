#!/usr/bin/env bats
# ws (SPEC §4): the git-style dispatcher. `ws NAME ARGS...` runs
# `ws-NAME ARGS...`; `ws` alone lists the commands.

load test_helper/common-setup

# No test may hang the run, whatever the product does.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

setup() {
  common_setup
  W="$BATS_TEST_TMPDIR/work"
  # A command of our own on PATH, after the repo's bin (as a plugin would be).
  mkdir -p "$BATS_TEST_TMPDIR/plugins"
  export PATH="$PATH:$BATS_TEST_TMPDIR/plugins"
}
teardown() { common_teardown; }

# plugin NAME 'body' — an executable ws-NAME on PATH.
plugin() {
  printf '#!/usr/bin/env bash\n%s\n' "$2" >"$BATS_TEST_TMPDIR/plugins/ws-$1"
  chmod +x "$BATS_TEST_TMPDIR/plugins/ws-$1"
}

# --------------------------------------------------------- CLI contract ----

@test "ws alone lists the commands on stdout, one line each, and exits 0" {
  run --separate-stderr ws
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [[ ${lines[0]} == usage:* ]]
  for name in export allow deny edit on-unload reaper prompt on-event; do
    grep -qE "^ +(ws-)?$name +[a-z]" <<<"$output"
  done
}

@test "an unknown option exits 64 with one line on stderr only" {
  run --separate-stderr -64 ws --bogus
  [ -z "$output" ]
  [ "$stderr" = "ws: unknown option '--bogus'" ]
  run --separate-stderr -64 ws -x
  [ "$stderr" = "ws: unknown option '-x'" ]
}

@test "--help prints the usage on stdout and exits 0" {
  run --separate-stderr ws --help
  [ "$status" -eq 0 ]
  [[ $output == *"ws NAME ARGS"* || $output == *"ws <command>"* ]]
  [ -z "$stderr" ]
}

@test "--version prints the name and version" {
  run --separate-stderr ws --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^ws\ [0-9]+\.[0-9]+\.[0-9]+ ]]
  [ -z "$stderr" ]
}

@test "an unknown command exits 64 with one line on stderr" {
  run --separate-stderr -64 ws nosuch
  [ -z "$output" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [ "${stderr_lines[0]}" = "ws: 'nosuch' is not a ws command (no ws-nosuch on PATH). See 'ws'." ]
}

# ------------------------------------------------------------- dispatch ----

@test "ws allow runs ws-allow" {
  mkdir -p "$W/proj"
  echo 'export A=1' >"$W/proj/.workspace"
  cd "$W/proj"
  run --separate-stderr ws allow
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws-allow: allowed $W/proj/.workspace" ]
  run --separate-stderr ws export json
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.A <<<"$output")" = 1 ]
}

@test "ws NAME passes the command's options, stdout, stderr and exit status through" {
  run --separate-stderr ws export --version
  [ "$status" -eq 0 ]
  [[ $output == "ws-export "* ]]
  run --separate-stderr -64 ws export --bogus
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "ws-export: unknown option '--bogus'" ]
  cd "$W"
  run --separate-stderr -66 ws allow
  [[ ${stderr_lines[0]} == "ws-allow: "* ]]
}

@test "ws runs a ws-NAME found on PATH with its arguments exactly as given" {
  plugin hello 'printf "[%s]\n" "$@"; echo "to stderr" >&2; exit 7'
  run --separate-stderr -7 ws hello 'a b' '' '$(touch marker)' "it's" -x --flag=1 -- '*'
  [ "$output" = "[a b]
[]
[\$(touch marker)]
[it's]
[-x]
[--flag=1]
[--]
[*]" ]
  [ "$stderr" = "to stderr" ]
  [ ! -e marker ]
}

@test "the command gets ws's stdin, working directory and environment" {
  plugin env 'read -r line; printf "%s|%s|%s\n" "$line" "$PWD" "$MY_VAR"'
  mkdir -p "$W/dir"
  cd "$W/dir"
  result=$(echo from-stdin | MY_VAR=mine ws env)
  [ "$result" = "from-stdin|$W/dir|mine" ]
}

@test "a command killed by a signal gives 128+N" {
  plugin die 'kill -TERM $$; sleep 5'
  run --separate-stderr timeout 10 ws die
  [ "$status" -eq 143 ]
}

@test "SIGTERM to ws reaches the command, and ws exits with its status" {
  plugin wait "trap 'echo got-term >$(printf %q "$BATS_TEST_TMPDIR/term"); exit 42' TERM
echo \$\$ >$(printf %q "$BATS_TEST_TMPDIR/child.pid")
for i in \$(seq 100); do sleep 0.1; done"
  ws wait >/dev/null 2>&1 3>&- &
  ws_pid=$!
  track_pid "$ws_pid"
  wait_until "[ -s '$BATS_TEST_TMPDIR/child.pid' ]" 10
  track_pid "$(cat "$BATS_TEST_TMPDIR/child.pid")"
  kill -TERM "$ws_pid"
  status=0
  wait "$ws_pid" || status=$?
  [ "$status" -eq 42 ]
  [ "$(cat "$BATS_TEST_TMPDIR/term")" = got-term ]
}

@test "a ws-NAME that is not executable is not run" {
  printf '#!/bin/sh\necho ran\n' >"$BATS_TEST_TMPDIR/plugins/ws-noexec"
  chmod -x "$BATS_TEST_TMPDIR/plugins/ws-noexec"
  run --separate-stderr -64 ws noexec
  [ -z "$output" ]
}

@test "a command name with a slash does not reach into subdirectories of PATH" {
  mkdir -p "$BATS_TEST_TMPDIR/plugins/ws-sub"
  printf '#!/bin/sh\necho ran\n' >"$BATS_TEST_TMPDIR/plugins/ws-sub/x"
  chmod +x "$BATS_TEST_TMPDIR/plugins/ws-sub/x"
  run --separate-stderr ws sub/x
  [ "$output" != ran ]
  [ "$status" -eq 64 ]
}

@test "the repo's own commands are found even when PATH does not have them" {
  mkdir -p "$W/proj"
  echo 'export A=1' >"$W/proj/.workspace"
  cd "$W/proj"
  run --separate-stderr env PATH=/usr/bin:/bin "$REPO/bin/ws" allow
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws-allow: allowed $W/proj/.workspace" ]
}
