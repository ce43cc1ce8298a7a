#!/usr/bin/env bats
# ws-export (SPEC §3, §4 ws-export): loading a workspace file and unloading it
# on leaving, previous values restored; files that are blocked until allowed;
# a file that starts background processes.
# Setup and helpers shared by the ws-export*.bats files: test_helper/ws-export.bash.

load test_helper/common-setup
load test_helper/ws-export

setup() { ws_export_setup; }
teardown() { ws_export_teardown; }

# ----------------------------------------------------- load and unload ----

@test "loads the workspace file's variables and unloads them on leaving, previous values and PATH restored" {
  write_workspace "$W/proj" '
export FOO=from-ws
export NEW=new
unset GONE
PATH_add bin'
  export FOO=original GONE=here
  before=$(env_snapshot)
  cd "$W/proj"
  ws_load
  [ "$FOO" = from-ws ]
  [ "$NEW" = new ]
  [ -z "${GONE+set}" ]
  [[ $PATH == "$W/proj/bin:"* ]]
  # direnv's summary: + added, - removed, ~ changed (WS_* left out).
  summary=$(grep '^ws: export ' "$ERR")
  for word in +NEW -GONE ~FOO ~PATH; do [[ " $summary " == *" $word "* ]]; done
  [[ $summary != *WS_* ]]
  cd "$W"
  ws_load
  [ "$FOO" = original ]
  [ "$GONE" = here ]
  [ -z "${NEW+set}" ]
  [ -z "${WS_ROOT+set}" ]
  [ -z "${WS_DIFF+set}" ]
  grep -qx 'ws: unloading' "$ERR"
  [ "$(env_snapshot)" = "$before" ]
}

@test "a second export with nothing changed prints no variable changes" {
  write_workspace "$W/proj" 'export FOO=1; PATH_add bin'
  cd "$W/proj"
  ws_load
  run --separate-stderr ws-export json --pid $$
  [ "$status" -eq 0 ]
  [ "$output" = '{"set":{},"unset":[]}' ]
  run --separate-stderr ws-export bash --pid $$
  [ "$status" -eq 0 ]
  # Applying it changes no variable (the code quotes the file's text for the
  # hook's content check, so its lines are not looked at one by one).
  local before
  before=$(env_snapshot)
  eval "$output"
  [ "$(env_snapshot)" = "$before" ]
}

@test "ws-export json prints {\"set\":{...},\"unset\":[...]}" {
  write_workspace "$W/proj" 'export A=1 EMPTY=; unset B'
  export B=2
  cd "$W/proj"
  ws_json >out.json
  [ "$(jq -r 'keys | join(",")' out.json)" = set,unset ]
  [ "$(jq -r '.set | type' out.json)" = object ]
  [ "$(jq -r '.unset | type' out.json)" = array ]
  [ "$(jq -r .set.A out.json)" = 1 ]
  [ "$(jq -r '.set.EMPTY | type' out.json)" = string ]
  [ "$(jq -r .set.EMPTY out.json)" = "" ]
  [ "$(jq -c .unset out.json)" = '["B"]' ]
  [ "$(jq -r .set.WS_ROOT out.json)" = "$W/proj" ]
  # One line of JSON and nothing else.
  [ "$(wc -l <out.json)" -eq 1 ]
}

@test "the loaded environment has WS_ROOT, WS_CONTEXT, WS_STATE_DIR (created) and WS_ENV=default" {
  write_workspace "$W/proj" 'echo "$WS_ROOT|$WS_CONTEXT|$WS_STATE_DIR|$WS_ENV|$PWD" >"$WS_ROOT/seen"'
  cd "$W/proj/"
  ws_load
  [ "$WS_ROOT" = "$W/proj" ]
  [ "$WS_CONTEXT" = proj ]
  [ "$WS_ENV" = default ]
  [ -d "$WS_STATE_DIR" ]
  [[ $WS_STATE_DIR == "$XDG_STATE_HOME/ws/"* ]]
  [ "$(stat -c %a "$WS_STATE_DIR")" = 700 ]
  # The file itself saw the same values, and ran from the root.
  [ "$(cat seen)" = "$WS_ROOT|$WS_CONTEXT|$WS_STATE_DIR|$WS_ENV|$WS_ROOT" ]
}

@test "the workspace file runs from the context root even when entered from a subdirectory" {
  write_workspace "$W/proj" 'export WHERE=$PWD'
  mkdir -p "$W/proj/a/b"
  cd "$W/proj/a/b"
  ws_load
  [ "$WHERE" = "$W/proj" ]
  [ "$WS_ROOT" = "$W/proj" ]
}

@test "WS_ENV comes from the user's WS_ENV, and --env NAME selects another" {
  write_workspace "$W/proj" 'export SEEN_ENV=$WS_ENV'
  cd "$W/proj"
  WS_ENV=staging ws_json >out.json
  [ "$(jq -r .set.SEEN_ENV out.json)" = staging ]
  [ "$(jq -r '.set.WS_ENV // "(same)"' out.json)" = "(same)" ] # already the user's own value
  ws_json --env prod >out.json
  [ "$(jq -r .set.SEEN_ENV out.json)" = prod ]
  [ "$(jq -r .set.WS_ENV out.json)" = prod ]
  ws_load --env prod
  [ "$WS_ENV" = prod ]
  [ "$SEEN_ENV" = prod ]
}

@test "the workspace file's stdout goes to stderr, never into the shell code; stdin is /dev/null" {
  write_workspace "$W/proj" '
echo "export INJECTED=1"
if read -r line; then echo "stdin had: $line"; else echo "stdin empty"; fi
export OK=1'
  cd "$W/proj"
  code=$(echo 'from-stdin' | ws-export bash --pid $$ 2>"$ERR")
  # (The shell code quotes the file's text for the hook's content check: look for the line.)
  [ "$(grep -cx 'export INJECTED=1' <<<"$code")" -eq 0 ]
  grep -qx 'export INJECTED=1' "$ERR"
  grep -qx 'stdin empty' "$ERR"
  eval "$code"
  [ "$OK" = 1 ]
  [ -z "${INJECTED+set}" ]
}

@test "moving from one workspace to another unloads the first and loads the second" {
  write_workspace "$W/a" 'export ONLY_A=1 SHARED=a'
  write_workspace "$W/b" 'export ONLY_B=1 SHARED=b'
  cd "$W/a"
  ws_load
  [ "$SHARED" = a ]
  cd "$W/b"
  ws_load
  [ "$SHARED" = b ]
  [ -z "${ONLY_A+set}" ]
  [ "$ONLY_B" = 1 ]
  [ "$WS_ROOT" = "$W/b" ]
  cd "$W"
  ws_load
  [ -z "${SHARED+set}" ]
  [ -z "${ONLY_B+set}" ]
}

@test "a value the user changed after loading is not reverted behind their back on reload" {
  write_workspace "$W/proj" 'export FOO=ws'
  cd "$W/proj"
  ws_load
  export MINE=1
  ws_load
  [ "$MINE" = 1 ]
  cd "$W"
  ws_load
  [ "$MINE" = 1 ]
  [ -z "${FOO+set}" ]
}

# ------------------------------------------------------- blocked files ----

@test "a blocked file: exact message on stderr, exit 0, nothing applied and nothing run" {
  mkdir -p "$W/proj"
  printf 'export FOO=1\ntouch %q\n' "$W/ran" >"$W/proj/.workspace"
  cd "$W/proj"
  run --separate-stderr ws-export bash --pid $$
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws: $W/proj/.workspace is blocked. Run 'ws-allow' to approve its content." ]
  run ! grep -qE '^(export|unset) ' <<<"$output"
  [ ! -e "$W/ran" ]
  run --separate-stderr ws-export json
  [ "$output" = '{"set":{},"unset":[]}' ]
}

@test "entering a blocked workspace leaves the previous context" {
  write_workspace "$W/a" 'export FROM_A=1'
  mkdir -p "$W/b"
  echo 'export FROM_B=1' >"$W/b/.workspace"
  cd "$W/a"
  ws_load
  cd "$W/b"
  ws_load
  [ -z "${FROM_A+set}" ]
  [ -z "${FROM_B+set}" ]
  [ -z "${WS_ROOT+set}" ]
  grep -qx "ws: $W/b/.workspace is blocked. Run 'ws-allow' to approve its content." "$ERR"
}

@test "an edited file is blocked until allowed again, then its new content loads" {
  write_workspace "$W/proj" 'export V=1'
  cd "$W/proj"
  ws_load
  [ "$V" = 1 ]
  echo 'export V=2' >.workspace
  ws_load
  [ "$(head -n1 "$ERR")" = "ws: $W/proj/.workspace is blocked. Run 'ws-allow' to approve its content." ]
  [ -z "${V+set}" ]
  [ -z "${WS_ROOT+set}" ]
  ws-allow 2>/dev/null
  ws_load
  [ "$V" = 2 ]
}

@test ".workspace.local is sourced after .workspace and wins" {
  mkdir -p "$W/proj"
  printf '%s\n' 'export WHO=public ORDER=public' >"$W/proj/.workspace"
  printf '%s\n' 'export WHO=local ORDER="$ORDER,local"' >"$W/proj/.workspace.local"
  ws-allow "$W/proj" 2>/dev/null
  cd "$W/proj"
  ws_load
  [ "$WHO" = local ]
  [ "$ORDER" = public,local ]
}

@test "a .workspace.local that changed blocks the whole context, naming that file" {
  mkdir -p "$W/proj"
  echo 'export PUB=1' >"$W/proj/.workspace"
  echo 'export LOC=1' >"$W/proj/.workspace.local"
  ws-allow "$W/proj" 2>/dev/null
  echo 'export LOC=2' >"$W/proj/.workspace.local"
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws: $W/proj/.workspace.local is blocked. Run 'ws-allow' to approve its content." ]
  [ "$output" = '{"set":{},"unset":[]}' ]
}

@test "a new .workspace.local is blocked on its own even though .workspace is allowed" {
  write_workspace "$W/proj" 'export PUB=1'
  echo 'export LOC=1' >"$W/proj/.workspace.local"
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws: $W/proj/.workspace.local is blocked. Run 'ws-allow' to approve its content." ]
  [ "$output" = '{"set":{},"unset":[]}' ]
}

# -------------------------------------------- background processes ----

@test "a workspace file that starts a background process does not hang ws-export" {
  write_workspace "$W/proj" "
sleep 30 &
echo \$! >$(printf %q "$W/sleep1.pid")
sleep 30 >/dev/null 2>&1 &
echo \$! >$(printf %q "$W/sleep2.pid")
export AFTER=1"
  cd "$W/proj"
  # $(...) reads until every writer of its pipe is gone: had one of the sleeps
  # held it, this would return only when they end, 30 s later.
  code=$(timeout 20 ws-export bash --pid $$ 2>"$ERR")
  track_pid "$(cat "$W/sleep1.pid")" "$(cat "$W/sleep2.pid")"
  _wsh_alive "$(cat "$W/sleep1.pid")"
  _wsh_alive "$(cat "$W/sleep2.pid")"
  eval "$code"
  [ "$AFTER" = 1 ]
  kill "$(cat "$W/sleep1.pid")" "$(cat "$W/sleep2.pid")"
}

@test "a background process does not hang ws-export json whose stdout and stderr are pipes" {
  write_workspace "$W/proj" "
sleep 30 &
echo \$! >$(printf %q "$W/sleep.pid")
export AFTER=1"
  cd "$W/proj"
  # Both readers wait for end of file, as a program calling ws-export would:
  # had the sleep held a pipe, they would be done only when it ends, 30 s later.
  { timeout 20 ws-export json 2>&3 | cat >out.json; } 3>&1 | cat >"$ERR"
  track_pid "$(cat "$W/sleep.pid")"
  _wsh_alive "$(cat "$W/sleep.pid")"
  [ "$(jq -r .set.AFTER out.json)" = 1 ]
  kill "$(cat "$W/sleep.pid")"
}
