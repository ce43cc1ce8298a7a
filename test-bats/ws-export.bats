#!/usr/bin/env bats
# ws-export (SPEC §4 ws-export): its command line, the contract every binary
# opens with (no arguments, an invalid option, --help, --version), and the
# hook it prints. What an export gives is in the other ws-export-*.bats:
#   ws-export-load.bats       load and unload, blocked files
#   ws-export-discovery.bats  which workspace file: .envrc, WS_WORKSPACE,
#                             nesting, WS_CEILING_DIRS, symlinks
#   ws-export-stdlib.bats     the stdlib inside a workspace file, env_file
#   ws-export-values.bats     values that must round-trip exactly
#   ws-export-watch.bats      what makes the hook evaluate again (real shell)
#   ws-export-direnv.bats     the same .envrc side by side with direnv
#   ws-export-bad-input.bats  broken files, unsafe state homes, corrupt state
# Setup and helpers shared by the ws-export*.bats files: test_helper/ws-export.bash.

load test_helper/common-setup
load test_helper/ws-export

setup() { ws_export_setup; }
teardown() { ws_export_teardown; }

# --------------------------------------------------------- CLI contract ----

@test "ws-export with no arguments exits 64 and says the shell is missing, on stderr only" {
  run --separate-stderr -64 ws-export
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == "ws-export: "* ]]
  [[ ${stderr_lines[0]} == *SHELL* ]]
}

@test "an unknown option or a missing value exits 64 with one line on stderr only" {
  run --separate-stderr -64 ws-export bash --bogus
  [ -z "$output" ]
  [ "$stderr" = "ws-export: unknown option '--bogus'" ]
  run --separate-stderr -64 ws-export bash --pid
  [ -z "$output" ]
  [ "$stderr" = "ws-export: option '--pid' needs a value" ]
}

@test "an unknown shell exits 64 naming it" {
  run --separate-stderr -64 ws-export tcsh
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == "ws-export: unknown shell 'tcsh'"* ]]
}

@test "a surplus argument exits 64" {
  run --separate-stderr -64 ws-export bash extra
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == "ws-export: unexpected argument 'extra'" ]]
}

@test "--pid that is not a process ID exits 64" {
  run --separate-stderr -64 ws-export bash --pid abc
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == "ws-export: --pid must be a process ID"* ]]
}

@test "--help prints the usage on stdout and exits 0" {
  run --separate-stderr ws-export --help
  [ "$status" -eq 0 ]
  for word in bash zsh fish json hook --pid --env; do [[ $output == *"$word"* ]]; done
  [ -z "$stderr" ]
}

@test "--version prints the name and version" {
  run --separate-stderr ws-export --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^ws-export\ [0-9]+\.[0-9]+\.[0-9]+ ]]
  [ -z "$stderr" ]
}

@test "hook bash|zsh|fish prints a hook that each shell parses" {
  run --separate-stderr ws-export hook bash
  [ "$status" -eq 0 ]
  [[ $output == *PROMPT_COMMAND* ]]
  bash -n <<<"$output"
  run --separate-stderr ws-export hook zsh
  [ "$status" -eq 0 ]
  [[ $output == *precmd_functions* ]]
  zsh -n <<<"$output"
  run --separate-stderr ws-export hook fish
  [ "$status" -eq 0 ]
  fish --no-execute <<<"$output"
}

@test "hook without a shell exits 64" {
  run --separate-stderr -64 ws-export hook
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == "ws-export: hook needs a shell"* ]]
}

@test "in a directory that was removed: 66 with one line saying so, not an internal error" {
  mkdir -p "$BATS_TEST_TMPDIR/gone"
  cd "$BATS_TEST_TMPDIR/gone"
  rmdir "$BATS_TEST_TMPDIR/gone"
  run --separate-stderr -66 ws-export json
  [ -z "$output" ]
  [ "$stderr" = "ws-export: the current directory no longer exists" ]
  # A command that needs no directory still runs there.
  run --separate-stderr -0 ws-gc --dry-run
}

@test "a knob with an invalid value: one warning line starting 'ws:' like the other prompt messages, and the default" {
  write_workspace "$W/proj" 'export A=1' >/dev/null 2>&1
  cd "$W/proj"
  run --separate-stderr env WS_EVENTS_MAX=lots ws-export json
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.A <<<"$output")" = 1 ]
  [ "$(grep -c '^ws: warning: WS_EVENTS_MAX="lots" ' <<<"$stderr")" -eq 1 ]
  [ -s "$XDG_STATE_HOME/ws/events.jsonl" ]
}

@test "outside any workspace ws-export prints no change and exits 0" {
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$output" = '{"set":{},"unset":[]}' ]
  [ -z "$stderr" ]
}
