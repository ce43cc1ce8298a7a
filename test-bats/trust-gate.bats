#!/usr/bin/env bats
# The trust gate and the build (SPEC §3, docs/hook.md): the build is handed
# exactly what the gate approved (the allowed content's sha256, or the
# explicit trusted-dir marker), reads the file once into a private copy,
# verifies that copy and runs it. Content that changes after ws-export's
# check never runs: changed before the build's own check, the build refuses
# it (the hash differs); changed after it, the checked copy runs, and the
# next build (ws-export sees the change) refuses the new content.
#
# The driver's test hooks _WS_TEST_BEFORE_TRUST_CHECK and
# _WS_TEST_AFTER_TRUST_CHECK are shell code it evaluates just before and just
# after its check; common_setup unsets every _WS_* name.

load test_helper/common-setup

# No test may hang the run, whatever the product does.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

setup() {
  common_setup
  export WS_BUILD_TIMEOUT=60000
  W="$BATS_TEST_TMPDIR/work"
  home="$XDG_STATE_HOME/ws"
  EVIL="$BATS_TEST_TMPDIR/evil-ran"
  RAN="$BATS_TEST_TMPDIR/original-ran"
  # Content that must never run: it would leave $EVIL behind.
  EVIL_SRC="$BATS_TEST_TMPDIR/evil.workspace"
  printf 'touch %q\nexport LOADED=evil\n' "$EVIL" >"$EVIL_SRC"
}
teardown() { common_teardown; }

# rewrite FILE — shell code (for a hook) that replaces FILE's content with the evil one.
rewrite() { printf 'cat %q >%q' "$EVIL_SRC" "$1"; }

# original NAME — content that records that it ran (as NAME) and sets LOADED=1.
original() { printf 'echo %q >>%q\nexport LOADED=1' "$1" "$RAN"; }

build_dir() { printf '%s\n' "$home"/contexts/proj-*/cache/build; }

# build_env NAME — the value the finished build left for NAME (its env file), or "unset".
build_env() {
  local line
  while IFS= read -r -d '' line; do
    [[ $line == "$1="* ]] && { printf '%s\n' "${line#*=}"; return; }
  done <"$(build_dir)/env"
  echo unset
}

loaded() { jq -r '.set.LOADED // "unset"' <<<"$output"; }

@test "a file rewritten right after the build's check never runs: the copy that was checked does" {
  write_workspace "$W/proj" "$(original file)" 2>/dev/null
  cd "$W/proj"
  # Left in the background, the build's result stays for us to read.
  _WS_TEST_AFTER_TRUST_CHECK=$(rewrite "$W/proj/.workspace") WS_BUILD_TIMEOUT=0 run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  wait_until '[[ -e $(build_dir)/status ]]' 30
  [ "$(cut -d' ' -f1 "$(build_dir)/status")" = 0 ]
  [ "$(build_env LOADED)" = 1 ]
  [ "$(cat "$RAN")" = file ]
  [[ ! -e $EVIL ]]
  # The file on disk is the new content now: blocked until allowed.
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [[ $stderr == *"ws: $W/proj/.workspace is blocked."* ]]
  [ "$(loaded)" = unset ]
  [[ ! -e $EVIL ]]
}

@test "a file rewritten during a build ws-export waits for: it builds once more, and that build refuses the new content" {
  write_workspace "$W/proj" "$(original file)" 2>/dev/null
  cd "$W/proj"
  _WS_TEST_AFTER_TRUST_CHECK=$(rewrite "$W/proj/.workspace") run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [[ ! -e $EVIL ]]
  [ "$(cat "$RAN")" = file ]
  [[ $stderr == *"ws: $W/proj/.workspace changed since it was allowed; not running it"* ]]
  [ "$(loaded)" = unset ]
  [ "$(jq -r .state "$home"/contexts/proj-*/context.json)" = error ]
  # The first build ran the checked copy and succeeded; the second refused (77).
  [ "$(jq -r 'select(.type == "build.done" or .type == "build.fail") | "\(.type) \(.status)"' "$home/events.jsonl" | paste -sd,)" = "build.done 0,build.fail 77" ]
}

@test "a file changed between ws-export's check and the build's: the build refuses it, nothing runs" {
  write_workspace "$W/proj" "$(original file)" 2>/dev/null
  cd "$W/proj"
  _WS_TEST_BEFORE_TRUST_CHECK=$(rewrite "$W/proj/.workspace") run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [[ ! -e $EVIL ]]
  [[ ! -e $RAN ]]
  [[ $stderr == *"ws: $W/proj/.workspace changed since it was allowed; not running it"* ]]
  [ "$(loaded)" = unset ]
  [ "$(jq -r .state "$home"/contexts/proj-*/context.json)" = error ]
}

@test "a .workspace.local rewritten right after the build's check: its checked copy runs, the new content never" {
  write_workspace "$W/proj" 'export MAIN=1' 2>/dev/null
  original local >"$W/proj/.workspace.local"
  ws-allow "$W/proj/.workspace.local" 2>/dev/null
  cd "$W/proj"
  _WS_TEST_AFTER_TRUST_CHECK=$(rewrite "$W/proj/.workspace.local") WS_BUILD_TIMEOUT=0 run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  wait_until '[[ -e $(build_dir)/status ]]' 30
  [ "$(cut -d' ' -f1 "$(build_dir)/status")" = 0 ]
  [ "$(build_env MAIN)" = 1 ]
  [ "$(build_env LOADED)" = 1 ]
  [ "$(cat "$RAN")" = local ]
  [[ ! -e $EVIL ]]
}

@test "a .workspace.local changed between ws-export's check and the build's: the build refuses it, nothing runs" {
  write_workspace "$W/proj" "$(original file)" 2>/dev/null
  original local >"$W/proj/.workspace.local"
  ws-allow "$W/proj/.workspace.local" 2>/dev/null
  cd "$W/proj"
  _WS_TEST_BEFORE_TRUST_CHECK=$(rewrite "$W/proj/.workspace.local") run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [[ ! -e $EVIL ]]
  [[ ! -e $RAN ]]
  [[ $stderr == *"ws: $W/proj/.workspace.local changed since it was allowed; not running it"* ]]
  [ "$(loaded)" = unset ]
}

@test "a build without an approval, or with a malformed one, runs nothing: empty never means trusted" {
  write_workspace "$W/proj" "$(original file)" 2>/dev/null
  cd "$W/proj"
  for approval in '' 'sha256:' 'sha256:abc' 'trusted' "sha256:$(printf '%064d' 0)"; do
    rm -rf "$home"/contexts/proj-*/cache/build
    _WS_TEST_BEFORE_TRUST_CHECK="_WS_FILE_APPROVAL=$(printf %q "$approval")" run --separate-stderr ws-export json
    [ "$status" -eq 0 ]
    [[ ! -e $RAN ]]
    [ "$(loaded)" = unset ]
    if [[ $approval == sha256:0* ]]; then
      [[ $stderr == *"ws: $W/proj/.workspace changed since it was allowed; not running it"* ]]
    else
      [[ $stderr == *"ws: $W/proj/.workspace: no approval from the trust check; not running it"* ]]
    fi
  done
}

@test "in a trusted directory the build runs the copy it read, not content written after" {
  mkdir -p "$W/mine/proj"
  original file >"$W/mine/proj/.workspace"
  export WS_TRUSTED_DIRS="$W/mine"
  cd "$W/mine/proj"
  _WS_TEST_AFTER_TRUST_CHECK=$(rewrite "$W/mine/proj/.workspace") WS_BUILD_TIMEOUT=0 run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  wait_until '[[ -e $(build_dir)/status ]]' 30
  [ "$(build_env LOADED)" = 1 ]
  [ "$(cat "$RAN")" = file ]
  [[ ! -e $EVIL ]]
}

@test "bash's messages and the failing line name the workspace file, not the private copy the build ran" {
  write_workspace "$W/proj" 'export A=1
no_such_command_ws_gate
strict_env
false' 2>/dev/null
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [[ $stderr == *"$W/proj/.workspace:2: no_such_command_ws_gate: command not found"* ]] # gnu_errfmt, as direnv
  [[ $stderr == *"ws: $W/proj/.workspace:4: failed with exit status 1"* ]]
  [[ $stderr == *"ws: loading .workspace"* || $stderr == *"loading"*".workspace"* ]]
  [[ $stderr != *file.copy* ]]
}

@test "the private copy the build runs is the file byte for byte: bytes that are not UTF-8, no final newline, a NUL byte" {
  # Allowed by hash: a copy that differed by one byte would be refused.
  mkdir -p "$W/proj"
  printf 'export LOADED=1\n# \xff\xfe \xe2\x82' >"$W/proj/.workspace"
  ws-allow "$W/proj" 2>/dev/null
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$(loaded)" = 1 ]
  cmp "$W/proj/.workspace" "$(build_dir)/file.copy"
  [ "$(stat -c %a "$(build_dir)/file.copy")" = 600 ]
  # A NUL byte (the builtin copy cannot hold one: cat copies it), allowed and trusted-dir.
  printf 'export LOADED=2\n#\0x\n' >"$W/proj/.workspace"
  ws-allow "$W/proj" 2>/dev/null
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$(loaded)" = 2 ]
  cmp "$W/proj/.workspace" "$(build_dir)/file.copy"
  mkdir -p "$W/mine/trusted"
  printf 'export LOADED=3\n#\0y\n' >"$W/mine/trusted/.workspace"
  export WS_TRUSTED_DIRS="$W/mine"
  cd "$W/mine/trusted"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$(loaded)" = 3 ]
  cmp "$W/mine/trusted/.workspace" "$home"/contexts/trusted-*/cache/build/file.copy
}
