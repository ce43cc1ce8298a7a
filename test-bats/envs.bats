#!/usr/bin/env bats
# Named environments end to end (SPEC §4 ws-export, §5 env_file): WS_ENV
# switches the environment of a live shell at its next prompt, the prompt's
# %e shows it, ws exec --env and ws-shell --env select one for a command, a
# broken env file keeps what the shell has and says where it broke.
# (What env_file gives for each rule: ws-export-stdlib.bats.)

load test_helper/common-setup

setup() {
  common_setup
  export WS_BUILD_TIMEOUT=60000
  repo="$BATS_TEST_TMPDIR/work/repo"
  mkdir -p "$repo/.git/ws"
  git -C "$repo" init -q
  cat >"$repo/envs.json" <<'EOF'
// the default is the test environment
{"envs": {
  "default": {"alias-for": "test"},
  "test": {"vars": {"KIND": "test", "DB": "{{state_dir}}/test.db"}, "prepend": {"PATH": ["{{root}}/bin", "{{git_root}}/tools"]}},
  "prod": {"vars": {"KIND": "prod", "DB": "postgres://prod"}}
}}
EOF
  # Mine: the private file adds an environment and wins on alias-for.
  echo '{"envs":{"mine":{"alias-for":"prod"},"prod":{"vars":{"DB":"postgres://mine"}}}}' >"$repo/.git/ws/envs.json"
  write_workspace "$repo" 'env_file envs.json'
}

teardown() { common_teardown; }

@test "bash: WS_ENV switches a live shell's environment at the next prompt; %e shows it; ws envs marks it" {
  tmux_start bash
  base_path=$(tmux_run 'echo "$PATH"')
  tmux_run "cd $repo" 30
  [ "$(tmux_run 'echo "$KIND|$DB|$WS_ENV"')" = "test|$(tmux_run 'echo "$WS_STATE_DIR"')/test.db|default" ]
  [ "$(tmux_run 'echo "$PATH"')" = "$repo/bin:$repo/tools:$base_path" ]
  [ "$(tmux_run "ws-prompt '%e'")" = default ]
  tmux_run 'export WS_ENV=prod'
  [ "$(tmux_run 'echo "$KIND|$DB|$WS_ENV"')" = "prod|postgres://mine|prod" ]
  # prod sets no PATH: test's prepends are gone again.
  [ "$(tmux_run 'echo "$PATH"')" = "$base_path" ]
  [ "$(tmux_run "ws-prompt '%e'")" = prod ]
  [ "$(tmux_run 'ws envs' | grep '^\*')" = "* prod    (public, private wins)" ]
  tmux_run 'export WS_ENV=mine'
  [ "$(tmux_run 'echo "$KIND|$DB"')" = "prod|postgres://mine" ]
  [ "$(tmux_run 'ws envs --json' | jq -r '.current')" = mine ]
  tmux_run 'unset WS_ENV'
  [ "$(tmux_run 'echo "$KIND|$WS_ENV"')" = "test|default" ]
  # A broken edit: the shell keeps what it has, and is told the line and column.
  printf '%s\n' '{"envs": {' '  "default": {"vars": {"KIND": "broken"}' '}' >"$repo/envs.json"
  tmux_run true 30
  tmux_wait "ws: $repo/envs.json:4:1: expected ',' or '.' after a property value, found the end of the file" 10
  [ "$(tmux_run 'echo "$KIND"')" = test ]
  [ "$(tmux_run 'ws-prompt --json' | jq -r .state)" = error ]
  # Fixed: the next prompt loads it.
  echo '{"envs":{"default":{"vars":{"KIND":"fixed"}}}}' >"$repo/envs.json"
  [ "$(tmux_run true && tmux_run 'echo "$KIND"')" = fixed ]
}

@test "fish: WS_ENV switches a live shell's environment at the next prompt" {
  tmux_start fish
  tmux_run "cd $repo" 30
  [ "$(tmux_run 'echo "$KIND"')" = test ]
  tmux_run 'set -gx WS_ENV prod'
  [ "$(tmux_run 'echo "$KIND $DB"')" = "prod postgres://mine" ]
  tmux_run 'set -e WS_ENV'
  [ "$(tmux_run 'echo "$KIND"')" = test ]
}

@test "ws exec --env and ws-shell --env select the environment for one command" {
  run --separate-stderr ws exec --env prod "$repo" -- sh -c 'printf "%s %s %s" "$KIND" "$DB" "$WS_ENV"'
  [ "$status" -eq 0 ]
  [ "$output" = "prod postgres://mine prod" ]
  run --separate-stderr ws exec "$repo" -- sh -c 'printf "%s %s" "$KIND" "$WS_ENV"'
  [ "$output" = "test default" ]
  run --separate-stderr env WS_ENV=mine ws exec "$repo" -- printenv KIND
  [ "$output" = prod ]
  run --separate-stderr ws-shell "$repo" --shell bash --env prod -- sh -c 'printf "%s" "$KIND"'
  [ "$status" -eq 0 ]
  [ "$output" = prod ]
}
