#!/usr/bin/env bats
# ws-export (SPEC §4 "Watching"): what makes the hook evaluate again: the
# workspace file, watch_file, watch_dir, a symlink's target, a re-allow. In a
# real interactive bash in tmux where it is about the prompt.
# Setup and helpers shared by the ws-export*.bats files: test_helper/ws-export.bash.

load test_helper/common-setup
load test_helper/ws-export

setup() { ws_export_setup; }
teardown() { ws_export_teardown; }

# ------------------------------------------------ watching (real shell) ----

@test "in a real shell: load on cd, no re-evaluation at an idle prompt, reload when the file is touched, unload on leaving" {
  write_workspace "$W/proj" "echo run >>$(printf %q "$W/count"); export FOO=loaded"
  tmux_start bash
  export_before=$(shell_value '"${FOO-unset}|$PATH"')
  cd_shell "$W/proj"
  [ "$(shell_value '"$FOO"')" = loaded ]
  [ "$(wc -l <"$W/count")" -eq 1 ]
  tmux_run true
  tmux_run true
  [ "$(wc -l <"$W/count")" -eq 1 ]
  touch "$W/proj/.workspace"
  tmux_run true
  [ "$(wc -l <"$W/count")" -eq 2 ]
  cd_shell "$W"
  [ "$(shell_value '"${FOO-unset}|$PATH"')" = "$export_before" ]
  [ "$(shell_value '"${WS_ROOT-unset}"')" = unset ]
}

@test "in a real shell: watch_file reloads when the watched file changes, appears or disappears" {
  write_workspace "$W/proj" "echo run >>$(printf %q "$W/count"); watch_file conf.txt; export CONF=\$(cat conf.txt 2>/dev/null || echo none)"
  tmux_start bash
  cd_shell "$W/proj"
  [ "$(shell_value '"$CONF"')" = none ]
  echo one >"$W/proj/conf.txt"
  [ "$(shell_value '"$CONF"')" = one ]
  echo two >"$W/proj/conf.txt"
  [ "$(shell_value '"$CONF"')" = two ]
  tmux_run true
  [ "$(wc -l <"$W/count")" -eq 3 ]
  rm "$W/proj/conf.txt"
  [ "$(shell_value '"$CONF"')" = none ]
}

@test "in a real shell: watch_dir reloads when an entry is added to the directory" {
  mkdir -p "$W/proj/plugins"
  write_workspace "$W/proj" 'watch_dir plugins; export PLUGINS=$(cd plugins && ls | tr "\n" " ")'
  tmux_start bash
  cd_shell "$W/proj"
  [ "$(shell_value '"[$PLUGINS]"')" = "[]" ]
  touch "$W/proj/plugins/one"
  [ "$(shell_value '"[$PLUGINS]"')" = "[one ]" ]
}

@test "in a real shell: source_env ./link follows the link to a changed target" {
  mkdir -p "$W/proj"
  echo 'export STATE=A' >"$W/proj/state-A"
  echo 'export STATE=B' >"$W/proj/state-B"
  # Same mtime on both targets: only the link itself tells them apart.
  touch -d '2020-01-01 00:00:00' "$W/proj/state-A" "$W/proj/state-B"
  ln -s state-A "$W/proj/link"
  write_workspace "$W/proj" 'source_env ./link'
  tmux_start bash
  cd_shell "$W/proj"
  [ "$(shell_value '"$STATE"')" = A ]
  ln -sfn state-B "$W/proj/link"
  [ "$(shell_value '"$STATE"')" = B ]
}

@test "in a real shell: a symlinked directory whose target changes gives the new target's files" {
  mkdir -p "$W/state-A" "$W/state-B" "$W/proj"
  echo 'export STATE=A' >"$W/state-A/.workspace"
  echo 'export STATE=B' >"$W/state-B/.workspace"
  # The new target is older than the old one (a rollback).
  touch -d '2021-01-01 00:00:00' "$W/state-A/.workspace"
  touch -d '2020-01-01 00:00:00' "$W/state-B/.workspace"
  ln -s ../state-A "$W/proj/link"
  write_workspace "$W/proj" 'source_env ./link'
  tmux_start bash
  cd_shell "$W/proj"
  [ "$(shell_value '"$STATE"')" = A ]
  ln -sfn ../state-B "$W/proj/link"
  [ "$(shell_value '"$STATE"')" = B ]
}

@test "in a real shell: re-allowing an edited file loads it at the next prompt" {
  write_workspace "$W/proj" 'export V=1'
  tmux_start bash
  cd_shell "$W/proj"
  [ "$(shell_value '"$V"')" = 1 ]
  echo 'export V=2' >"$W/proj/.workspace"
  tmux_run true
  tmux_wait "ws: $W/proj/.workspace is blocked"
  ws-allow "$W/proj" 2>/dev/null
  [ "$(shell_value '"$V"')" = 2 ]
}

@test "a watched file that was deleted is evaluated again (not served from the last result)" {
  write_workspace "$W/proj" 'watch_file conf.txt; export CONF=$(cat conf.txt 2>/dev/null || echo none)'
  echo one >"$W/proj/conf.txt"
  cd "$W/proj"
  [ "$(ws_json | jq -r .set.CONF)" = one ]
  rm "$W/proj/conf.txt"
  [ "$(ws_json | jq -r .set.CONF)" = none ]
}

@test "a watched symlink retargeted to an older file is evaluated again" {
  mkdir -p "$W/proj"
  echo A >"$W/proj/a"
  echo B >"$W/proj/b"
  touch -d '2021-01-01 00:00:00' "$W/proj/a"
  touch -d '2020-01-01 00:00:00' "$W/proj/b"
  ln -s a "$W/proj/link"
  write_workspace "$W/proj" 'watch_file link; export TARGET=$(cat link)'
  cd "$W/proj"
  [ "$(ws_json | jq -r .set.TARGET)" = A ]
  ln -sfn b "$W/proj/link"
  [ "$(ws_json | jq -r .set.TARGET)" = B ]
}
