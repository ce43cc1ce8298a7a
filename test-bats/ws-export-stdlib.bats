#!/usr/bin/env bats
# ws-export (SPEC §5): the stdlib a workspace file runs with (direnv's
# functions with direnv's semantics, and ws's env_file).
# Setup and helpers shared by the ws-export*.bats files: test_helper/ws-export.bash.

load test_helper/common-setup
load test_helper/ws-export

setup() { ws_export_setup; }
teardown() { ws_export_teardown; }

# ------------------------------------------------------------ stdlib ----

@test "PATH_add prepends paths relative to the file, keeping their order" {
  write_workspace "$W/proj" 'PATH_add bin ./tools/../sbin /abs/dir'
  cd "$W/proj"
  old=$PATH
  ws_load
  [ "$PATH" = "$W/proj/bin:$W/proj/sbin:/abs/dir:$old" ]
}

@test "path_add prepends to any colon-separated variable, set or not" {
  write_workspace "$W/proj" 'path_add MANPATH man; path_add PYTHONPATH lib src'
  export PYTHONPATH=/existing
  cd "$W/proj"
  ws_load
  [ "$MANPATH" = "$W/proj/man" ]
  [ "$PYTHONPATH" = "$W/proj/lib:$W/proj/src:/existing" ]
}

@test "has tells whether a command exists" {
  write_workspace "$W/proj" '
has bash && export HAS_BASH=yes
has no-such-command-ws || export HAS_NONE=no'
  cd "$W/proj"
  ws_load
  [ "$HAS_BASH" = yes ]
  [ "$HAS_NONE" = no ]
}

@test "expand_path resolves a path against PWD or a given base, removing . and .." {
  write_workspace "$W/proj" '
export P1=$(expand_path ../x/./y)
export P2=$(expand_path z /base/dir)
export P3=$(expand_path /abs/../other)
export P4=$(expand_path .)'
  cd "$W/proj"
  ws_load
  [ "$P1" = "$W/x/y" ]
  [ "$P2" = /base/dir/z ]
  [ "$P3" = /other ]
  [ "$P4" = "$W/proj" ]
}

@test "find_up prints the nearest file above and fails when there is none" {
  echo marker >"$W/up-marker"
  write_workspace "$W/a/proj" '
export FOUND=$(find_up up-marker)
find_up no-such-file-anywhere-ws || export NOT_FOUND=1'
  cd "$W/a/proj"
  ws_load
  [ "$FOUND" = "$W/up-marker" ]
  [ "$NOT_FOUND" = 1 ]
}

@test "log_status and log_error write ws: lines on stderr, not stdout" {
  write_workspace "$W/proj" '
log_status "hello status"
log_error "hello error"
export OK=1'
  cd "$W/proj"
  run --separate-stderr ws-export bash --pid $$
  [ "$status" -eq 0 ]
  # (The shell code quotes the file's text for the hook's content check: look for the lines.)
  [[ $output != *'ws: hello'* ]]
  grep -qx 'ws: hello status' <<<"$stderr"
  grep -qx 'ws: hello error' <<<"$stderr"
}

@test "strict_env makes a failing command fail the file" {
  write_workspace "$W/proj" '
strict_env
export BEFORE=1
false
export AFTER=1'
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  no_file_vars "$output"
  [[ $stderr == *"$W/proj/.workspace"* ]]
  [[ $stderr == *"line 4"* || $stderr == *".workspace:4"* ]]
}

@test "without strict_env a failing command does not stop the file (as in direnv)" {
  write_workspace "$W/proj" '
false
export AFTER=1'
  cd "$W/proj"
  ws_load
  [ "$AFTER" = 1 ]
}

@test "env_vars_required passes when the variables are set" {
  write_workspace "$W/proj" 'strict_env; env_vars_required HOME NEEDED; export OK=1'
  export NEEDED=yes
  cd "$W/proj"
  ws_load
  [ "$OK" = 1 ]
}

@test "env_vars_required names each missing or empty variable and fails" {
  write_workspace "$W/proj" '
env_vars_required NEEDED_UNSET NEEDED_EMPTY HOME || export REQ_FAILED=1
strict_env
env_vars_required NEEDED_UNSET
export AFTER=1'
  export NEEDED_EMPTY=
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  grep -q 'NEEDED_UNSET' <<<"$stderr"
  grep -q 'NEEDED_EMPTY' <<<"$stderr"
  [[ $stderr != *HOME* ]]
  # The strict part failed: nothing of the file is applied.
  no_file_vars "$output"

}

@test "source_env sources a file relative to the workspace file, from its own directory" {
  mkdir -p "$W/proj/conf"
  echo 'export FROM_CONF=$PWD' >"$W/proj/conf/extra.sh"
  write_workspace "$W/proj" 'source_env conf/extra.sh; export BACK=$PWD'
  cd "$W/proj"
  ws_load
  [ "$FROM_CONF" = "$W/proj/conf" ]
  [ "$BACK" = "$W/proj" ]
}

@test "source_env of a directory sources its workspace file" {
  mkdir -p "$W/shared"
  echo 'export SHARED=1' >"$W/shared/.workspace"
  write_workspace "$W/proj" 'source_env ../shared'
  cd "$W/proj"
  ws_load
  [ "$SHARED" = 1 ]
}

@test "source_env of a missing file says so and does not crash the evaluation" {
  write_workspace "$W/proj" 'source_env ./missing.sh; export AFTER=1'
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [[ $stderr == *"$W/proj/missing.sh"*"does not exist"* ]]
  [ "$(jq -r .set.AFTER <<<"$output")" = 1 ]
}

@test "source_env_if_exists sources a file that exists and is silent about one that does not" {
  echo 'export EXTRA=1' >"$W/extra.sh"
  mkdir -p "$W/proj"
  write_workspace "$W/proj" 'source_env_if_exists ../extra.sh; source_env_if_exists ./nope.sh; export AFTER=1'
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.EXTRA <<<"$output")" = 1 ]
  [ "$(jq -r .set.AFTER <<<"$output")" = 1 ]
  [[ $stderr != *nope* ]]
}

@test "source_up sources the enclosing workspace file first (inherit)" {
  write_workspace "$W/parent" 'export LEVEL=parent PARENT_ONLY=1 PARENT_PWD=$PWD'
  write_workspace "$W/parent/child" 'source_up; export LEVEL=child'
  cd "$W/parent/child"
  ws_load
  [ "$LEVEL" = child ]
  [ "$PARENT_ONLY" = 1 ]
  [ "$PARENT_PWD" = "$W/parent" ]
  [ "$WS_ROOT" = "$W/parent/child" ]
}

@test "source_up NAME sources the nearest NAME above" {
  echo 'export UP=1' >"$W/common.sh"
  write_workspace "$W/a/proj" 'source_up common.sh'
  cd "$W/a/proj"
  ws_load
  [ "$UP" = 1 ]
}

@test "source_up with nothing above reports an error; source_up_if_exists stays silent" {
  mkdir -p "$W/proj"
  write_workspace "$W/proj" 'source_up_if_exists; export A=1; source_up || export FAILED=1'
  cd "$W/proj"
  WS_CEILING_DIRS=$W run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.A <<<"$output")" = 1 ]
  [ "$(jq -r .set.FAILED <<<"$output")" = 1 ]
  [[ $stderr == *source_up* ]]
}

@test "source_up_if_exists sources the enclosing file when there is one" {
  write_workspace "$W/parent" 'export FROM_PARENT=1'
  write_workspace "$W/parent/child" 'source_up_if_exists'
  cd "$W/parent/child"
  ws_load
  [ "$FROM_PARENT" = 1 ]
}

@test "dotenv reads .env: export, comments, quotes, \$VAR expansion, and never runs code" {
  mkdir -p "$W/proj"
  cat >"$W/proj/.env" <<EOF
# a comment
export A=1
B='single \$HOME \$(touch $W/marker-b)'
C="double \"q\" \$A \${A} tab\\tx"
D=plain \$A # trailing comment
E=
F="multi
line"
G=\`touch $W/marker-g\`
EOF
  write_workspace "$W/proj" 'dotenv'
  cd "$W/proj"
  ws_load
  [ "$A" = 1 ]
  [ "$B" = "single \$HOME \$(touch $W/marker-b)" ]
  [ "$C" = "double \"q\" 1 1 tab	x" ]
  [ "$D" = "plain 1" ]
  [ "${E-unset}" = "" ]
  [ "$F" = $'multi\nline' ]
  [ "$G" = "\`touch $W/marker-g\`" ]
  [ ! -e "$W/marker-b" ]
  [ ! -e "$W/marker-g" ]
}

@test "dotenv FILE reads the named file; a missing one is an error but not a crash" {
  mkdir -p "$W/proj"
  echo 'FROM_FILE=1' >"$W/proj/custom.env"
  write_workspace "$W/proj" 'dotenv custom.env; dotenv missing.env; export AFTER=1'
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.FROM_FILE <<<"$output")" = 1 ]
  [ "$(jq -r .set.AFTER <<<"$output")" = 1 ]
  [[ $stderr == *missing.env* ]]
}

@test "dotenv_if_exists loads an existing file and skips a missing one silently" {
  mkdir -p "$W/proj"
  echo 'HERE=1' >"$W/proj/.env"
  write_workspace "$W/proj" 'dotenv_if_exists; dotenv_if_exists nope.env; export AFTER=1'
  cd "$W/proj"
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.HERE <<<"$output")" = 1 ]
  [ "$(jq -r .set.AFTER <<<"$output")" = 1 ]
  [[ $stderr != *nope.env* ]]
}

@test "dotenv may not set WS_* variables" {
  mkdir -p "$W/proj"
  printf 'WS_ROOT=/evil\nOK=1\n' >"$W/proj/.env"
  write_workspace "$W/proj" 'dotenv'
  cd "$W/proj"
  ws_load
  [ "$WS_ROOT" = "$W/proj" ]
  grep -q WS_ROOT "$ERR"
}

@test "layout node puts node_modules/.bin on PATH" {
  write_workspace "$W/proj" 'layout node'
  cd "$W/proj"
  old=$PATH
  ws_load
  [ "$PATH" = "$W/proj/node_modules/.bin:$old" ]
}

@test "layout python creates a virtualenv under WS_STATE_DIR and uses it on the next load" {
  write_workspace "$W/proj" 'layout python'
  cd "$W/proj"
  ws_load
  [[ $VIRTUAL_ENV == "$WS_STATE_DIR"/* ]]
  [ -x "$VIRTUAL_ENV/bin/python" ]
  [[ $PATH == "$VIRTUAL_ENV/bin:"* ]]
  [ "$(command -v python)" = "$VIRTUAL_ENV/bin/python" ]
  [ "$(python -c 'import sys; print(sys.prefix)')" = "$VIRTUAL_ENV" ]
  venv=$VIRTUAL_ENV
  touch "$venv/kept"
  cd "$W"
  ws_load
  [ -z "${VIRTUAL_ENV+set}" ]
  cd "$W/proj"
  ws_load
  [ "$VIRTUAL_ENV" = "$venv" ]
  [ -e "$venv/kept" ]
}

@test "an unknown layout is an error naming it" {
  write_workspace "$W/proj" 'layout cobol || export FAILED=1'
  cd "$W/proj"
  ws_load
  [ "$FAILED" = 1 ]
  grep -q cobol "$ERR"
}

# ---------------------------------------------------------- env_file ----

# envs_fixture DIR — a git repository DIR with a workspace using envs.json.
envs_fixture() {
  mkdir -p "$1"
  git -C "$1" init -q
  cat >"$1/envs.json" <<'EOF'
// named environments
{"envs": {
  // the default is an alias
  "default": {"alias-for": "test"},
  "test": {
    "vars": {"DB": "{{state_dir}}/db", "AT": "{{root}}", "GIT": "{{git_root}}", "KIND": "test"},
    "prepend": {"PATH": ["{{root}}/a", "{{root}}/b"], "NEWLIST": ["x", "y"]}
  },
  "prod": {"vars": {"KIND": "prod", "DB": "postgres://prod"}}
}}
EOF
  write_workspace "$1" 'env_file envs.json'
}

@test "env_file applies WS_ENV's environment: vars, {{root}} {{git_root}} {{state_dir}}, prepend in order, alias-for" {
  envs_fixture "$W/repo"
  cd "$W/repo"
  old=$PATH
  ws_load
  [ "$KIND" = test ]
  [ "$DB" = "$WS_STATE_DIR/db" ]
  [ "$AT" = "$W/repo" ]
  [ "$GIT" = "$W/repo" ]
  [ "$PATH" = "$W/repo/a:$W/repo/b:$old" ]
  [ "$NEWLIST" = "x:y" ]
}

@test "env_file follows WS_ENV and --env" {
  envs_fixture "$W/repo"
  cd "$W/repo"
  WS_ENV=prod ws_json >out.json
  [ "$(jq -r .set.KIND out.json)" = prod ]
  [ "$(jq -r .set.DB out.json)" = postgres://prod ]
  ws_json --env prod >out.json
  [ "$(jq -r .set.KIND out.json)" = prod ]
}

@test "env_file: {{git_root}} is the repository's top, not the workspace root" {
  mkdir -p "$W/repo/sub"
  git -C "$W/repo" init -q
  echo '{"envs":{"default":{"vars":{"GIT":"{{git_root}}","AT":"{{root}}"}}}}' >"$W/repo/sub/envs.json"
  write_workspace "$W/repo/sub" 'env_file envs.json'
  cd "$W/repo/sub"
  ws_load
  [ "$GIT" = "$W/repo" ]
  [ "$AT" = "$W/repo/sub" ]
}

@test "env_file: the private file in .git/ws/ wins, alias-for included" {
  envs_fixture "$W/repo"
  mkdir -p "$W/repo/.git/ws"
  echo '{"envs":{"default":{"alias-for":"prod"},"prod":{"vars":{"DB":"mine"}}}}' >"$W/repo/.git/ws/envs.json"
  cd "$W/repo"
  ws_json >out.json
  [ "$(jq -r .set.KIND out.json)" = prod ]
  [ "$(jq -r .set.DB out.json)" = mine ]
}

@test "env_file: private vars override single public vars and keep the others" {
  envs_fixture "$W/repo"
  mkdir -p "$W/repo/.git/ws"
  printf '%s\n' '// mine' '{"envs":{"test":{"vars":{"KIND":"my-test"}}}}' >"$W/repo/.git/ws/envs.json"
  cd "$W/repo"
  ws_load
  [ "$KIND" = my-test ]
  [ "$DB" = "$WS_STATE_DIR/db" ]
}

@test "env_file refuses WS_* names naming the variable and the file: the file fails, the last good environment stays" {
  mkdir -p "$W/proj"
  echo '{"envs":{"default":{"vars":{"OK":"1"}}}}' >"$W/proj/envs.json"
  write_workspace "$W/proj" 'env_file envs.json || export ENV_FILE_FAILED=1; export AFTER=1'
  cd "$W/proj"
  ws_load
  [ "$OK" = 1 ]
  echo '{"envs":{"default":{"vars":{"WS_ROOT":"/evil","OK":"2"}}}}' >"$W/proj/envs.json"
  ws_load
  [ "$WS_ROOT" = "$W/proj" ]
  [ "$OK" = 1 ]
  [ -z "${ENV_FILE_FAILED-}" ]
  grep -qF "ws: $W/proj/envs.json: envs.default: may not set WS_ROOT (WS_* variables belong to ws)" "$ERR"
  grep -q 'keeping the last good environment' "$ERR"
}

@test "env_file with an unknown environment fails env_file alone, with a message naming it and those there are" {
  mkdir -p "$W/proj"
  echo '{"envs":{"default":{"vars":{"A":"1"}},"test":{}}}' >"$W/proj/envs.json"
  write_workspace "$W/proj" 'env_file envs.json || export E1=1'
  cd "$W/proj"
  ws_load --env nosuch
  [ "$E1" = 1 ]
  [ -z "${A-}" ]
  grep -qF "ws: $W/proj/envs.json: no environment 'nosuch' (it has: default, test)" "$ERR"
}

@test "env_file with malformed JSON: ws: FILE:LINE:COL: what, and the last good environment stays" {
  mkdir -p "$W/proj"
  printf '%s\n' '// comment lines count as lines' '{"envs": {' '  "default": {"vars": {"A": "1"}}' '}}' >"$W/proj/envs.json"
  write_workspace "$W/proj" 'env_file envs.json; export AFTER=1'
  cd "$W/proj"
  ws_load
  [ "$A" = 1 ]
  [ "$AFTER" = 1 ]
  # A missing comma on line 3, column 34; then a file cut short.
  printf '%s\n' '// comment lines count as lines' '{"envs": {' '  "default": {"vars": {"A": "2"}}' '  "test": {}' '}}' >"$W/proj/envs.json"
  ws_load
  [ "$A" = 1 ]
  grep -qxF "ws: $W/proj/envs.json:4:3: expected ',' or '}' after a property value, found '\"'" "$ERR"
  grep -q 'keeping the last good environment' "$ERR"
  printf '{"envs": {"default": {"vars": {"A": "3"' >"$W/proj/envs.json"
  ws_load
  [ "$A" = 1 ]
  grep -qxF "ws: $W/proj/envs.json:1:40: expected ',' or '}' after a property value, found the end of the file" "$ERR"
  # A private file that is broken is named too.
  git -C "$W/proj" init -q
  mkdir -p "$W/proj/.git/ws"
  echo '{"envs":{"default":{"vars":{"A":"4"}}}}' >"$W/proj/envs.json"
  printf '{\n  envs: {}\n}\n' >"$W/proj/.git/ws/envs.json"
  ws_load
  [ "$A" = 1 ]
  grep -qxF "ws: $W/proj/.git/ws/envs.json:2:3: expected a property name in double quotes, found 'e'" "$ERR"
}

@test "env_file: a // inside a line is data, only a line holding nothing but a comment is one" {
  mkdir -p "$W/proj"
  printf '%s\n' '  // indented comment' '{"envs":{"default":{"vars":{"URL":"http://x//y"}}}} ' >"$W/proj/envs.json"
  write_workspace "$W/proj" 'env_file envs.json'
  cd "$W/proj"
  ws_load
  [ "$URL" = "http://x//y" ]
  printf '%s\n' '{"envs":{"default":{"vars":{"URL":"u"}}}} // trailing' >"$W/proj/envs.json"
  ws_load
  [ "$URL" = "http://x//y" ]
  grep -qF "ws: $W/proj/envs.json:1:43: unexpected text after the JSON value, found '/'" "$ERR"
}

@test "ws-export envs and ws envs list the environments, public and private, aliases resolved; --json" {
  envs_fixture "$W/repo"
  mkdir -p "$W/repo/.git/ws"
  echo '{"envs":{"default":{"alias-for":"mine"},"mine":{"alias-for":"prod"},"prod":{"vars":{"DB":"x"}}}}' >"$W/repo/.git/ws/envs.json"
  cd "$W/repo"
  ws_load
  run --separate-stderr ws envs
  [ "$status" -eq 0 ]
  [ "$output" = "* default -> prod (public, private wins)
  mine    -> prod (private)
  prod    (public, private wins)
  test" ]
  run --separate-stderr ws-export envs --json
  [ "$status" -eq 0 ]
  [ "$(jq -r .current <<<"$output")" = default ]
  [ "$(jq -r '.files[0].file' <<<"$output")" = "$W/repo/envs.json" ]
  [ "$(jq -r '.files[0].private' <<<"$output")" = "$W/repo/.git/ws/envs.json" ]
  [ "$(jq -c '[.files[0].envs[] | [.name, .aliasFor, .resolves, .from]]' <<<"$output")" = '[["default","mine","prod","both"],["mine","prod","prod","private"],["prod",null,"prod","both"],["test",null,"test","public"]]' ]
  [ "$(jq -c '.files[0].envs[] | select(.name == "test") | .prepend.PATH' <<<"$output")" = '["{{root}}/a","{{root}}/b"]' ]
  [ "$(jq -c '.files[0].envs[] | select(.name == "prod") | .vars' <<<"$output")" = '{"KIND":"prod","DB":"x"}' ]
  # A file named on the command line; WS_ENV marks the selected one.
  WS_ENV=test run --separate-stderr ws envs --json "$W/repo/envs.json"
  [ "$(jq -r .current <<<"$output")" = test ]
  # Nothing to list: a clear error, 66.
  mkdir -p "$W/plain"
  write_workspace "$W/plain" 'export X=1'
  cd "$W/plain"
  ws_load
  run --separate-stderr ws envs
  [ "$status" -eq 66 ]
  [[ $stderr == *"the last evaluation of $W/plain/.workspace read no env_file; name one: ws-export envs FILE"* ]]
  run --separate-stderr ws-export envs "$W/plain/none.json"
  [ "$status" -eq 66 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
}

@test "env_file values are data: quotes, \$(...) and newlines are applied literally" {
  mkdir -p "$W/proj"
  jq -n --arg m "$W/marker" '{envs:{default:{vars:{V:("a\"b '"'"'c $(touch " + $m + ") `x`\nline2")}}}}' >"$W/proj/envs.json"
  write_workspace "$W/proj" 'env_file envs.json'
  cd "$W/proj"
  ws_load
  [ "$V" = "$(jq -r .envs.default.vars.V "$W/proj/envs.json")" ]
  [ ! -e "$W/marker" ]
}
