#!/usr/bin/env bats
# ws-export (SPEC §5): the same .envrc through `direnv export json` and
# `ws-export json` changes the same variables to the same values.
# Setup and helpers shared by the ws-export*.bats files: test_helper/ws-export.bash.

load test_helper/common-setup
load test_helper/ws-export

setup() { ws_export_setup; }
teardown() { ws_export_teardown; }

# ---------------------------------------------- side by side with direnv ----

# same_as_direnv DIR — after `direnv allow` and `ws-allow`, `direnv export
# json` and `ws-export json` in DIR change the same variables to the same
# values (each tool's own DIRENV_*/WS_* bookkeeping left out). direnv runs
# isolated: its allow list and config live in this test's XDG directories.
same_as_direnv() {
  local dir=$1 out
  (cd "$dir" && direnv allow . 2>/dev/null)
  # direnv exits 1 when the file fails; what it prints is still its verdict.
  out=$(cd "$dir" && timeout 20 direnv export json 2>"$BATS_TEST_TMPDIR/direnv.err") || true
  jq -S '(. // {}) as $e | {set: ($e | with_entries(select(.value != null and (.key | startswith("DIRENV_") | not)))),
    unset: ([$e | to_entries[] | select(.value == null) | .key] | sort)}' <<<"${out:-null}" >"$BATS_TEST_TMPDIR/direnv.json"
  ws-allow "$dir" 2>/dev/null
  out=$(cd "$dir" && timeout 20 ws-export json 2>"$BATS_TEST_TMPDIR/ws.err")
  jq -S '{set: (.set | with_entries(select(.key | startswith("WS_") | not))),
    unset: (.unset | map(select(startswith("WS_") | not)) | sort)}' <<<"$out" >"$BATS_TEST_TMPDIR/ws.json"
  diff -u "$BATS_TEST_TMPDIR/direnv.json" "$BATS_TEST_TMPDIR/ws.json" >&2 || {
    echo "--- direnv's stderr:" >&2
    cat "$BATS_TEST_TMPDIR/direnv.err" >&2
    echo "--- ws-export's stderr:" >&2
    cat "$BATS_TEST_TMPDIR/ws.err" >&2
    return 1
  }
}

# envrc DIR 'line'... — an .envrc (read by both tools).
envrc() {
  mkdir -p "$1"
  local dir=$1
  shift
  printf '%s\n' "$@" >"$dir/.envrc"
}

@test "direnv parity: set, changed, emptied and unset variables" {
  export CHANGED=old GONE=1
  envrc "$W/proj" 'export A=1 EMPTY= CHANGED=new' 'unset GONE'
  same_as_direnv "$W/proj"
  [ "$(jq -c .unset "$BATS_TEST_TMPDIR/ws.json")" = '["GONE"]' ]
}

@test "direnv parity: PATH_add, path_add, expand_path, find_up, has, layout node" {
  export PYTHONPATH=/existing
  touch "$W/up-marker"
  envrc "$W/proj" 'PATH_add bin ./sbin ../up /abs' 'path_add PYTHONPATH lib src' 'path_add NEWLIST x' \
    'export E1=$(expand_path ../x) E2=$(expand_path y /base) E3=$(expand_path .)' \
    'export F=$(find_up up-marker)' 'find_up nope-ws || export NF=1' \
    'has bash && export HB=1; has nope-ws || export HN=1' 'layout node'
  same_as_direnv "$W/proj"
}

@test "direnv parity: dotenv and dotenv_if_exists" {
  mkdir -p "$W/proj"
  printf '%s\n' '# comment' 'export A=1' "B='single \$HOME'" 'C="double $A ${A} \"q\""' 'D=plain' 'E=' \
    "F=\"two\nlines\"" >"$W/proj/.env"
  envrc "$W/proj" 'dotenv' 'dotenv_if_exists nope.env' 'export AFTER=1'
  same_as_direnv "$W/proj"
}

@test "direnv parity: every special character, newlines and UTF-8" {
  mkdir -p "$W/proj"
  special_value >"$W/proj/value"
  envrc "$W/proj" 'IFS= read -r -d "" V <value || true; export V' 'export U="héllo ✓ 日本語"'
  same_as_direnv "$W/proj"
  [ ! -e "$W/marker-subst" ]
  [ ! -e "$W/marker-tick" ]
}

@test "direnv parity: source_up inherits the enclosing .envrc" {
  envrc "$W/parent" 'export P=parent L=parent'
  envrc "$W/parent/child" 'source_up' 'export L=child'
  same_as_direnv "$W/parent/child"
}

@test "direnv parity: a failing command without strict_env, a missing source_env, env_vars_required" {
  envrc "$W/proj" 'export BEFORE=1' 'false' 'source_env nope.sh' 'source_env_if_exists nope.sh' \
    'env_vars_required NOPE_WS' 'watch_file foo' 'echo to-stdout' 'export AFTER=1'
  same_as_direnv "$W/proj"
}

@test "direnv parity: strict_env makes a failing command fail the file" {
  envrc "$W/proj" 'strict_env' 'export BEFORE=1' 'false' 'export AFTER=1'
  same_as_direnv "$W/proj"
}

@test "direnv parity: a file that exits non-zero applies nothing" {
  envrc "$W/proj" 'export BEFORE=1' 'exit 1'
  same_as_direnv "$W/proj"
}
