#!/usr/bin/env bats
# ws-export (SPEC §4, §8): bad input gets a clear one-line error and loses
# nothing: syntax errors and failing files keep the last good environment,
# WS_* violations, unsafe state homes, unreadable files, corrupt state.
# Setup and helpers shared by the ws-export*.bats files: test_helper/ws-export.bash.

load test_helper/common-setup
load test_helper/ws-export

setup() { ws_export_setup; }
teardown() { ws_export_teardown; }

# ---------------------------------------------------------- bad input ----

@test "a syntax error names the file and line, keeps the last good environment, and exit 0" {
  write_workspace "$W/proj" 'export GOOD=1'
  cd "$W/proj"
  ws_load
  printf 'export GOOD=2\nexport ALSO=1\nif then\n' >.workspace
  ws-allow 2>/dev/null
  ws_load
  [ "$GOOD" = 1 ]
  [ -z "${ALSO+set}" ]
  grep -q "$W/proj/.workspace:3: syntax error" "$ERR"
  grep -q "ws: $W/proj/.workspace:3: failed" "$ERR"
  grep -q "^ws: $W/proj/.workspace" "$ERR"
  [ "$(jq -r .state "$XDG_STATE_HOME"/ws/contexts/proj-*/context.json)" = error ]
}

@test "a failing file entered fresh applies its context's last good environment" {
  write_workspace "$W/proj" 'export GOOD=1'
  cd "$W/proj"
  ws_load
  cd "$W"
  ws_load
  [ -z "${GOOD+set}" ]
  write_workspace "$W/proj" 'export GOOD=2; exit 3'
  cd "$W/proj"
  ws_load
  [ "$GOOD" = 1 ]
  grep -q 'exit status 3' "$ERR"
}

@test "in a real shell: a broken file is not evaluated again at the next prompts until it changes" {
  count=$W/count
  write_workspace "$W/proj" "echo run >>$(printf %q "$count"); export GOOD=1"
  tmux_start bash
  cd_shell "$W/proj"
  [ "$(wc -l <"$count")" -eq 1 ]
  write_workspace "$W/proj" "echo run >>$(printf %q "$count"); export GOOD=2
if then"
  [ "$(shell_value '"$GOOD"')" = 1 ]
  # A .workspace with a syntax error does not run at all (bash -n first).
  [ "$(wc -l <"$count")" -eq 1 ]
  tmux_wait "$W/proj/.workspace:2: syntax error"
  tmux_run true
  tmux_run true
  [ "$(shell_value '"$GOOD"')" = 1 ]
  [ "$(wc -l <"$count")" -eq 1 ]
  write_workspace "$W/proj" "echo run >>$(printf %q "$count"); export GOOD=3"
  [ "$(shell_value '"$GOOD"')" = 3 ]
  [ "$(wc -l <"$count")" -eq 2 ]
}

@test "a file that sets a WS_* variable is an error naming it; nothing of it is applied" {
  write_workspace "$W/proj" 'export OTHER=1; export WS_FOO=bar'
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  no_file_vars "$output"
  [ "$(jq -r '.set.WS_FOO // "unset"' <<<"$output")" = unset ]
  [[ $stderr == *"$W/proj/.workspace"*WS_FOO* ]]
}

@test "a file that changes WS_ROOT or unsets WS_ENV is an error naming the variable" {
  write_workspace "$W/proj" 'export WS_ROOT=/elsewhere'
  write_workspace "$W/proj2" 'unset WS_ENV'
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  no_file_vars "$output"
  [ "$(jq -r '.set.WS_ROOT // "unset"' <<<"$output")" != /elsewhere ]
  [[ $stderr == *WS_ROOT* ]]
  cd "$W/proj2"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  no_file_vars "$output"
  [[ $stderr == *WS_ENV* ]]
}

@test "a state home writable by others is refused: exit 77, a clear error, nothing written inside" {
  mkdir -p "$XDG_STATE_HOME/ws"
  chmod 0777 "$XDG_STATE_HOME/ws"
  mkdir -p "$W/proj"
  echo 'export A=1' >"$W/proj/.workspace"
  cd "$W/proj"
  run --separate-stderr -77 ws-export bash
  [ -z "$output" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ ${stderr_lines[0]} == "ws-export: state home $XDG_STATE_HOME/ws is writable by others"* ]]
  [ -z "$(ls -A "$XDG_STATE_HOME/ws")" ]
  WS_STATE_HOME="$XDG_STATE_HOME/ws" run --separate-stderr -77 ws-export json
  [ -z "$output" ]
  [ -z "$(ls -A "$XDG_STATE_HOME/ws")" ]
}

@test "a state home owned by another user is refused with exit 77" {
  if [ "$(id -u)" -eq 0 ]; then
    mkdir -p -m 0700 "$XDG_STATE_HOME/ws"
    chown nobody "$XDG_STATE_HOME/ws"
  else
    export WS_STATE_HOME=/usr/share # root's, mode 0755
  fi
  cd "$W"
  run --separate-stderr -77 ws-export bash
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == "ws-export: state home "*"owned by uid"* ]]
  [ -z "$(ls -A "$XDG_STATE_HOME/ws")" ]
}

@test "an unreadable workspace file: a clear message, exit 0, nothing applied (as a non-root user)" {
  # root reads every file whatever its mode: run ws-export as nobody.
  tmp=$(mktemp -d /tmp/ws-bats-nobody.XXXXXX)
  echo "$tmp" >"$BATS_TEST_TMPDIR/nobody-dir"
  chmod 0755 "$tmp"
  mkdir -p "$tmp/home" "$tmp/proj"
  echo 'export SECRET=1' >"$tmp/proj/.workspace"
  as_user=()
  if [ "$(id -u)" -eq 0 ]; then
    chown -R nobody:nogroup "$tmp/home" "$tmp/proj"
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  fi
  run_as() {
    (cd "$tmp/proj" && "${as_user[@]}" env -i HOME="$tmp/home" PATH="$REPO/bin:/usr/bin:/bin" \
      XDG_STATE_HOME="$tmp/home/state" NO_COLOR=1 LANG=C.UTF-8 WS_REAPER_IDLE=1 "$@")
  }
  run_as ws-allow >/dev/null 2>&1
  run_as chmod 000 "$tmp/proj/.workspace"
  run --separate-stderr run_as timeout 10 ws-export json
  [ "$status" -eq 0 ]
  [ "$output" = '{"set":{},"unset":[]}' ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ ${stderr_lines[0]} == "ws: "*"$tmp/proj/.workspace"* ]]
  [[ ${stderr_lines[0]} == *"permission denied"* ]]
}

@test "a corrupt trust record counts as not allowed: the blocked message, no crash" {
  mkdir -p "$W/proj"
  echo 'export A=1' >"$W/proj/.workspace"
  ws-allow "$W/proj" 2>/dev/null
  record="$XDG_STATE_HOME/ws/allow/$(printf '%s' "$W/proj/.workspace" | sha256sum | cut -d' ' -f1)"
  [ -f "$record" ]
  cd "$W/proj"
  for garbage in 'garbage' '{"sha256":' '' '{"sha256":12}' '[]' 'null'; do
    printf '%s' "$garbage" >"$record"
    run --separate-stderr ws-export json
    [ "$status" -eq 0 ]
    [ "$output" = '{"set":{},"unset":[]}' ]
    [ "$stderr" = "ws: $W/proj/.workspace is blocked. Run 'ws-allow' to approve its content." ]
  done
  head -c 4096 /dev/urandom >"$record"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$output" = '{"set":{},"unset":[]}' ]
  # Allowing again repairs it.
  ws-allow 2>/dev/null
  run --separate-stderr ws-export json
  [ "$(jq -r .set.A <<<"$output")" = 1 ]
}

@test "a WS_DIFF whose record is gone or is garbage does not crash ws-export" {
  write_workspace "$W/proj" 'export A=1'
  cd "$W/proj"
  WS_DIFF='proj-000000000000/0000000000000000000000000000000000000000000000000000000000000000' run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.A <<<"$output")" = 1 ]
  WS_DIFF='../../etc/passwd' run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.A <<<"$output")" = 1 ]
}

@test "corrupt cache files of a context are treated as missing" {
  write_workspace "$W/proj" 'export A=1'
  cd "$W/proj"
  ws_load
  for f in "$XDG_STATE_HOME"/ws/contexts/proj-*/cache/applied/*.json "$XDG_STATE_HOME"/ws/contexts/proj-*/cache/last-good.json "$XDG_STATE_HOME"/ws/contexts/proj-*/context.json; do
    printf '{"trunc' >"$f"
  done
  run --separate-stderr ws-export json --pid $$
  [ "$status" -eq 0 ]
  jq -e . <<<"$output" >/dev/null
  cd "$W"
  run --separate-stderr ws-export json --pid $$
  [ "$status" -eq 0 ]
  jq -e . <<<"$output" >/dev/null
}
