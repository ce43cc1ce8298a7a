#!/usr/bin/env bats
# ws-export (SPEC §4 "Values are exported exactly", §8): newlines, quotes,
# $, backslashes, empty strings, non-ASCII and very long values round-trip;
# unset and set-to-empty differ; a hostile value runs nothing.
# Setup and helpers shared by the ws-export*.bats files: test_helper/ws-export.bash.

load test_helper/common-setup
load test_helper/ws-export

setup() { ws_export_setup; }
teardown() { ws_export_teardown; }

# ------------------------------------------------------------ values ----

@test "UTF-8 names and values round-trip" {
  write_workspace "$W/proj" 'export GREETING="héllo wörld ✓ 日本語 🎉"'
  cd "$W/proj"
  ws_json >"$W/out.json"
  [ "$(jq -r .set.GREETING "$W/out.json")" = "héllo wörld ✓ 日本語 🎉" ]
  ws_load
  [ "$GREETING" = "héllo wörld ✓ 日本語 🎉" ]
  ws_json >"$W/out.json"
  [ "$(jq -r '.set.GREETING // "same"' "$W/out.json")" = same ]
}

@test "a value that is not valid UTF-8 keeps its bytes in the shell; JSON shows U+FFFD and names it (docs/reliability.md)" {
  write_workspace "$W/proj" "export LATIN=\$(printf 'caf\\351')"
  cd "$W/proj"
  ws_load
  [ "$(printf '%s' "$LATIN" | od -An -tx1 | tr -d ' \n')" = 636166e9 ]
  unset LATIN WS_DIFF
  ws_json >"$W/out.json"
  [ "$(jq -r .set.LATIN "$W/out.json" | od -An -tx1 | tr -d ' \n')" = 636166efbfbd0a ]
  grep -q 'LATIN holds bytes that are not UTF-8' "$ERR"
}

@test "a workspace in a directory with spaces (and quotes) in its path" {
  dir="$W/my project's \"dir\""
  write_workspace "$dir" 'export HERE=$PWD; PATH_add "bin dir"'
  cd "$dir"
  ws_load
  [ "$HERE" = "$dir" ]
  [ "$WS_ROOT" = "$dir" ]
  [ "$WS_CONTEXT" = "my project's \"dir\"" ]
  [[ $PATH == "$dir/bin dir:"* ]]
  [ -d "$WS_STATE_DIR" ]
}

@test "child processes see the loaded environment" {
  write_workspace "$W/proj" 'export CHILD_SEES="yes it does"'
  cd "$W/proj"
  ws_load
  [ "$(bash -c 'printf %s "$CHILD_SEES"')" = "yes it does" ]
  [ "$(env | grep '^CHILD_SEES=')" = "CHILD_SEES=yes it does" ]
}

@test "empty and unset are different, both ways" {
  write_workspace "$W/proj" 'export EMPTY=; unset WAS_SET; export WAS_EMPTY=now'
  export WAS_SET=1 WAS_EMPTY=
  cd "$W/proj"
  ws_load
  [ "${EMPTY-unset}" = "" ]
  [ -z "${WAS_SET+set}" ]
  [ "$WAS_EMPTY" = now ]
  cd "$W"
  ws_load
  [ -z "${EMPTY+set}" ]
  [ "$WAS_SET" = 1 ]
  [ "${WAS_EMPTY-unset}" = "" ]
}


@test "a value with every special character round-trips exactly and runs nothing (bash, json)" {
  mkdir -p "$W/proj"
  special_value >"$W/proj/value"
  write_workspace "$W/proj" 'IFS= read -r -d "" V <value || true; export V'
  cd "$W/proj"
  ws_json >out.json
  cmp <(jq -j .set.V out.json) value
  ws_load
  cmp <(printf '%s' "$V") value
  cd "$W"
  ws_json >out.json
  [ "$(jq -c .unset out.json)" = '["V","WS_CONTEXT","WS_DIFF","WS_ENV","WS_ROOT","WS_STATE_DIR"]' ]
  [ ! -e "$W/marker-subst" ]
  [ ! -e "$W/marker-tick" ]
}

@test "a value with every special character round-trips in zsh and fish too" {
  mkdir -p "$W/proj"
  special_value >"$W/proj/value"
  write_workspace "$W/proj" 'IFS= read -r -d "" V <value || true; export V'
  cd "$W/proj"
  timeout 20 zsh -fc 'eval "$(ws-export zsh 2>/dev/null)"; printf %s "$V"' >zsh.out
  cmp zsh.out value
  timeout 20 fish --no-config -c 'ws-export fish 2>/dev/null | source; printf %s "$V"' >fish.out
  cmp fish.out value
  [ ! -e "$W/marker-subst" ]
  [ ! -e "$W/marker-tick" ]
}

@test "a 100 KB value round-trips" {
  mkdir -p "$W/proj"
  head -c 80000 /dev/urandom | base64 -w0 | head -c 102400 >"$W/proj/big"
  write_workspace "$W/proj" 'export BIG=$(<big)'
  cd "$W/proj"
  ws_load
  [ "${#BIG}" -eq 102400 ]
  cmp <(printf '%s' "$BIG") big
  cd "$W"
  ws_load
  [ -z "${BIG+set}" ]
}
