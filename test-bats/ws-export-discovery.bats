#!/usr/bin/env bats
# ws-export (SPEC §1, §2): which workspace file is the context's: .envrc
# without .workspace, WS_WORKSPACE, the nearest of nested files and their
# names, WS_CEILING_DIRS, a symlinked directory.
# Setup and helpers shared by the ws-export*.bats files: test_helper/ws-export.bash.

load test_helper/common-setup
load test_helper/ws-export

setup() { ws_export_setup; }
teardown() { ws_export_teardown; }

# ------------------------------------------------------------ .envrc ----

@test ".envrc is read when there is no .workspace" {
  mkdir -p "$W/proj"
  echo 'export FROM=envrc' >"$W/proj/.envrc"
  ws-allow "$W/proj" 2>/dev/null
  cd "$W/proj"
  ws_load
  [ "$FROM" = envrc ]
  [ "$WS_ROOT" = "$W/proj" ]
}

@test ".workspace wins over an .envrc beside it" {
  mkdir -p "$W/proj"
  echo 'export FROM=envrc' >"$W/proj/.envrc"
  echo 'export FROM=workspace' >"$W/proj/.workspace"
  ws-allow "$W/proj/.envrc" 2>/dev/null
  ws-allow "$W/proj/.workspace" 2>/dev/null
  cd "$W/proj"
  ws_load
  [ "$FROM" = workspace ]
}

@test "WS_ENVRC=0 turns .envrc off: the walk goes on above it" {
  write_workspace "$W/outer" 'export FROM=outer'
  mkdir -p "$W/outer/inner"
  echo 'export FROM=envrc' >"$W/outer/inner/.envrc"
  ws-allow "$W/outer/inner" 2>/dev/null
  cd "$W/outer/inner"
  WS_ENVRC=0 ws_json >out.json
  [ "$(jq -r .set.FROM out.json)" = outer ]
  [ "$(jq -r .set.WS_ROOT out.json)" = "$W/outer" ]
  ws_json >out.json
  [ "$(jq -r .set.FROM out.json)" = envrc ]
}

# --------------------------------------------------------- discovery ----

@test "WS_WORKSPACE names the context root wherever the shell is" {
  write_workspace "$W/proj" 'export FROM=proj'
  mkdir -p "$W/elsewhere"
  cd "$W/elsewhere"
  WS_WORKSPACE="$W/proj" ws_json >out.json
  [ "$(jq -r .set.FROM out.json)" = proj ]
  [ "$(jq -r .set.WS_ROOT out.json)" = "$W/proj" ]
  [[ $(<"$ERR") != *WS_WORKSPACE* ]]
}

@test "WS_WORKSPACE wins over the directory's own workspace file" {
  write_workspace "$W/proj" 'export FROM=proj'
  write_workspace "$W/here" 'export FROM=here'
  cd "$W/here"
  WS_WORKSPACE="$W/proj" ws_json >out.json
  [ "$(jq -r .set.FROM out.json)" = proj ]
}

@test "an unusable WS_WORKSPACE is one exact error line, exit 0, and discovery goes on" {
  write_workspace "$W/here" 'export FROM=here'
  mkdir -p "$W/empty"
  cd "$W/here"
  for pair in "relative/dir|not an absolute path" "$W/missing|no such directory" "$W/empty|no .workspace file in it"; do
    value=${pair%%|*} reason=${pair#*|}
    WS_WORKSPACE=$value run --separate-stderr ws-export json
    [ "$status" -eq 0 ]
    [ "${stderr_lines[0]}" = "ws: WS_WORKSPACE=$value is not a usable workspace: $reason" ]
    [ "$(jq -r .set.FROM <<<"$output")" = here ]
  done
}

@test "an unusable WS_WORKSPACE outside any workspace: the error line and no context" {
  cd "$W"
  WS_WORKSPACE=nope run --separate-stderr ws-export bash
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws: WS_WORKSPACE=nope is not a usable workspace: not an absolute path" ]
  run ! grep -qE '^(export|unset) ' <<<"$output"
}

@test "the nearest workspace file wins; nested contexts are named outer/relative/path" {
  write_workspace "$W/src/shop" 'export LEVEL=shop'
  write_workspace "$W/src/shop/services/api" 'export LEVEL=api'
  mkdir -p "$W/src/shop/services/api/deep/er" "$W/src/shop/services/web"
  cd "$W/src/shop/services/api/deep/er"
  ws_load
  [ "$LEVEL" = api ]
  [ "$WS_CONTEXT" = shop/services/api ]
  [ "$WS_ROOT" = "$W/src/shop/services/api" ]
  cd "$W/src/shop/services/web"
  ws_load
  [ "$LEVEL" = shop ]
  [ "$WS_CONTEXT" = shop ]
  [ "$WS_ROOT" = "$W/src/shop" ]
}

@test "nested contexts get their own WS_STATE_DIR" {
  write_workspace "$W/shop" ''
  write_workspace "$W/shop/api" ''
  cd "$W/shop"
  ws_load
  outer=$WS_STATE_DIR
  cd "$W/shop/api"
  ws_load
  [ "$WS_STATE_DIR" != "$outer" ]
  [ -d "$WS_STATE_DIR" ]
}

@test "WS_CEILING_DIRS stops the walk: the listed directory and everything above are not searched" {
  write_workspace "$W/top" 'export FROM=top'
  mkdir -p "$W/top/mid/low"
  cd "$W/top/mid/low"
  WS_CEILING_DIRS="/nonexistent:$W/top/mid" run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$output" = '{"set":{},"unset":[]}' ]
  WS_CEILING_DIRS="$W/top" run --separate-stderr ws-export json
  [ "$output" = '{"set":{},"unset":[]}' ]
  # A ceiling above the workspace does not hide it.
  WS_CEILING_DIRS="$W" run --separate-stderr ws-export json
  [ "$(jq -r .set.FROM <<<"$output")" = top ]
}

@test "WS_CEILING_DIRS also bounds nested names: the outer context above a ceiling is not seen" {
  write_workspace "$W/shop" ''
  write_workspace "$W/shop/api" ''
  cd "$W/shop/api"
  WS_CEILING_DIRS="$W/shop" ws_json >out.json
  [ "$(jq -r .set.WS_CONTEXT out.json)" = api ]
}

# ---------------------------------------------------------- symlinks ----

@test "entering through a symlinked directory loads the real directory's allowed file" {
  write_workspace "$W/real" 'export VIA=$PWD'
  ln -s real "$W/link"
  cd "$W/link"
  ws_load
  [ -n "$WS_ROOT" ]
  [ "$(cd "$WS_ROOT" && pwd -P)" = "$W/real" ]
  [ -n "$VIA" ]
  [[ $(<"$ERR") != *blocked* ]]
}
