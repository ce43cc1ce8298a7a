#!/usr/bin/env bats
# ws-export (SPEC §2, §4 ws-export, §5, §8): load and unload, the stdlib,
# direnv's behaviours, discovery and bad input, and the same .envrc side by
# side with the real direnv. Most tests evaluate `ws-export bash` in the
# test's own bash, as the hook does; the ones about watching (what makes the
# hook call ws-export again) drive a real interactive bash in tmux.

load test_helper/common-setup

# No test may hang the run, whatever the product does.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

setup() {
  common_setup
  # These tests check what an evaluation gives, not background builds: let
  # every evaluation finish before ws-export returns.
  export WS_BUILD_TIMEOUT=60000
  ERR="$BATS_TEST_TMPDIR/ws.err"
  W="$BATS_TEST_TMPDIR/work"
}
teardown() {
  common_teardown
  # A directory outside $BATS_TEST_TMPDIR, for a test that runs as nobody.
  if [[ -f $BATS_TEST_TMPDIR/nobody-dir ]]; then
    local dir
    read -r dir <"$BATS_TEST_TMPDIR/nobody-dir"
    [[ $dir == /tmp/ws-bats-nobody.* ]] && rm -rf "$dir"
  fi
  return 0
}

# ws_load [ARGS...] — evaluate `ws-export bash` in this shell, as the hook
# does (this shell registered as the user); its stderr is kept in $ERR.
ws_load() {
  local code
  code=$(timeout 20 ws-export bash --pid $$ "$@" 2>"$ERR") || {
    local rc=$?
    echo "ws_load: ws-export exited $rc:" >&2
    cat "$ERR" >&2
    return "$rc"
  }
  eval "$code"
}

# no_file_vars JSON — true if the export sets or unsets nothing but WS_* names
# (the shell may enter a failing context with only ws's own variables).
no_file_vars() {
  [ "$(jq -r '[(.set | keys[]), .unset[]] | map(select(startswith("WS_") | not)) | length' <<<"$1")" -eq 0 ]
}

# ws_json [ARGS...] — `ws-export json` on stdout, its stderr in $ERR.
ws_json() { timeout 20 ws-export json --pid $$ "$@" 2>"$ERR"; }

# The environment as NUL-free text, without what a shell changes by itself.
env_snapshot() {
  env -0 | sort -z | tr '\0' '\n' | grep -avE '^(_|PWD|OLDPWD|SHLVL)='
}

# shell_value 'WORDS' — what `echo WORDS` prints in the tmux shell after one
# more prompt: the hook runs before each prompt, so a change made outside the
# shell shows at the prompt that follows the next command, as with direnv.
shell_value() { tmux_run true && tmux_run "echo $1"; }

# cd_shell DIR — cd in the tmux shell (the hook runs at the next prompt).
cd_shell() { tmux_run "cd $(printf '%q' "$1")"; }

# --------------------------------------------------------- CLI contract ----

@test "ws-export with no arguments exits 64 and says the shell is missing, on stderr only" {
  run --separate-stderr -64 ws-export
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == "ws-export: "* ]]
  [[ ${stderr_lines[0]} == *SHELL* ]]
}

@test "an unknown option exits 64 with the error on stderr only" {
  run --separate-stderr -64 ws-export bash --bogus
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "ws-export: unknown option '--bogus'" ]
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

@test "outside any workspace ws-export prints no change and exits 0" {
  run --separate-stderr ws-export json
  [ "$status" -eq 0 ]
  [ "$output" = '{"set":{},"unset":[]}' ]
  [ -z "$stderr" ]
}

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
  run ! grep -qE '^(export|unset) ' <<<"$output"
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
  [[ $code != *INJECTED* ]]
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

# ------------------------------------------------------------- trust ----

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
  [[ $output != *hello* ]]
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

@test "env_file refuses WS_* names with an error naming the variable" {
  mkdir -p "$W/proj"
  echo '{"envs":{"default":{"vars":{"WS_ROOT":"/evil","OK":"1"}}}}' >"$W/proj/envs.json"
  write_workspace "$W/proj" 'env_file envs.json || export ENV_FILE_FAILED=1'
  cd "$W/proj"
  ws_load
  [ "$WS_ROOT" = "$W/proj" ]
  [ "$ENV_FILE_FAILED" = 1 ]
  grep -q 'WS_ROOT' "$ERR"
}

@test "env_file with an unknown environment or malformed JSON fails with a message" {
  mkdir -p "$W/proj"
  echo '{"envs":{"default":{"vars":{"A":"1"}}}}' >"$W/proj/envs.json"
  echo '{"envs":' >"$W/proj/broken.json"
  write_workspace "$W/proj" 'env_file envs.json || export E1=1; env_file broken.json || export E2=1'
  cd "$W/proj"
  ws_load --env nosuch
  [ "$E1" = 1 ]
  [ "$E2" = 1 ]
  grep -q nosuch "$ERR"
  grep -q broken.json "$ERR"
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

# ------------------------------------------------- direnv behaviours ----

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

@test "a value that is not valid UTF-8 arrives with U+FFFD for the invalid bytes (a documented limit: Node decodes the environment as UTF-8)" {
  write_workspace "$W/proj" "export LATIN=\$(printf 'caf\\351')"
  cd "$W/proj"
  ws_load
  [ "$(printf '%s' "$LATIN" | od -An -tx1 | tr -d ' \n')" = 636166efbfbd ]
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

# Every character a shell might act on; the file reads it as data.
special_value() {
  printf '%s' "q'uote d\"quote \$(touch $W/marker-subst) \`touch $W/marker-tick\` \${HOME} \$HOME"
  printf '%s' ' back\slash \\ \n \t %s %d -e ! !! !$ * ? [a-z] ~ {a,b} ; & | < > # ( ) '
  printf '\t tab\nnew line\r\n\n  trailing  \n'
  printf '%s' "'\\''"
  printf '\n'
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
  grep -q "$W/proj/.workspace: line 3: syntax error" "$ERR"
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
  [ "$(wc -l <"$count")" -eq 2 ]
  tmux_wait "$W/proj/.workspace: line 2: syntax error"
  tmux_run true
  tmux_run true
  [ "$(shell_value '"$GOOD"')" = 1 ]
  [ "$(wc -l <"$count")" -eq 2 ]
  write_workspace "$W/proj" "echo run >>$(printf %q "$count"); export GOOD=3"
  [ "$(shell_value '"$GOOD"')" = 3 ]
  [ "$(wc -l <"$count")" -eq 3 ]
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
