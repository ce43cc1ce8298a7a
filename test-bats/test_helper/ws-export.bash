# Setup and helpers of the ws-export*.bats files (SPEC §2, §4 ws-export, §5,
# §8), after common-setup:
#
#   load test_helper/common-setup
#   load test_helper/ws-export
#   setup() { ws_export_setup; }
#   teardown() { ws_export_teardown; }
#
# Most tests evaluate `ws-export bash` in the test's own bash, as the hook
# does; the ones about watching (what makes the hook call ws-export again)
# drive a real interactive bash in tmux. Each test is stopped after 120 s.
#
#   ws_export_setup            common_setup; WS_BUILD_TIMEOUT=60000 (these
#                              tests check what an evaluation gives, not
#                              background builds); ERR (ws-export's stderr of
#                              ws_load/ws_json), W (= the work directory)
#   ws_export_teardown         common_teardown; removes the directory outside
#                              $BATS_TEST_TMPDIR of a test that runs as nobody
#   ws_load [ARGS...]          evaluate `ws-export bash` in this shell, as
#                              the hook does (this shell is the user)
#   ws_json [ARGS...]          `ws-export json` on stdout
#   no_file_vars JSON          the export changes nothing but WS_* names
#   env_snapshot               the environment, without what a shell changes
#                              by itself
#   shell_value 'WORDS'        `echo WORDS` in the tmux shell, a prompt later
#   cd_shell DIR               cd in the tmux shell
#   special_value              a value with every character a shell acts on

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=${_wsh_caller_timeout:-120}

ws_export_setup() {
  common_setup
  # These tests check what an evaluation gives, not background builds: let
  # every evaluation finish before ws-export returns.
  export WS_BUILD_TIMEOUT=60000
  ERR="$BATS_TEST_TMPDIR/ws.err"
  W="$BATS_TEST_TMPDIR/work"
}

ws_export_teardown() {
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

# Every character a shell might act on; the file reads it as data.
special_value() {
  printf '%s' "q'uote d\"quote \$(touch $W/marker-subst) \`touch $W/marker-tick\` \${HOME} \$HOME"
  printf '%s' ' back\slash \\ \n \t %s %d -e ! !! !$ * ? [a-z] ~ {a,b} ; & | < > # ( ) '
  printf '\t tab\nnew line\r\n\n  trailing  \n'
  printf '%s' "'\\''"
  printf '\n'
}
