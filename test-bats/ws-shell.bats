#!/usr/bin/env bats
# ws-shell (SPEC §4, issue 15 part 2): an interactive shell in DIR with the
# context loaded and the hook active, without the user editing any rc file.
# Each shell test starts a plain shell (no hook) under tmux and types
# `ws-shell …` in it, as a user would.

load test_helper/common-setup

# No test may hang the run, whatever the product does.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

setup() {
  common_setup
  proj="$BATS_TEST_TMPDIR/work/proj"
  home="$XDG_STATE_HOME/ws"
  marks="$BATS_TEST_TMPDIR/marks"
  mkdir -p "$marks"
  write_workspace "$proj" 'export VAR="value with spaces" E=$WS_ENV' >/dev/null 2>&1
  # The user's own rc files: a prompt the harness knows, and a marker that
  # says whether the ws hook was already there when they ran.
  cat >"$HOME/.bashrc" <<EOF
PS1='\$ '
unset HISTFILE
set +H
if declare -F _ws_hook >/dev/null; then echo hook-before >"$marks/bashrc"; else echo rc-first >"$marks/bashrc"; fi
export USER_RC=bashrc
EOF
  mkdir -p "$XDG_CONFIG_HOME/fish"
  cat >"$XDG_CONFIG_HOME/fish/config.fish" <<EOF
function fish_prompt; printf '> '; end
function fish_right_prompt; end
set -g fish_greeting ''
if functions -q _ws_hook; or set -q _ws_root; echo hook-before >'$marks/fish'; else; echo rc-first >'$marks/fish'; end
set -gx USER_RC config.fish
EOF
}
teardown() { common_teardown; }

events() { jq -c --arg t "$1" 'select(.type == $t)' "$home/events.jsonl" 2>/dev/null || true; }
count() { events "$1" | wc -l; }
ctx_dir() { printf '%s\n' "$home"/contexts/proj-*; }

# zsh_rc DIR — the user's zsh files in DIR (their ZDOTDIR or HOME).
zsh_rc() {
  mkdir -p "$1"
  cat >"$1/.zshrc" <<EOF
PS1='\$ '
unset HISTFILE
setopt interactive_comments no_bang_hist
if (( \${+functions[_ws_hook]} )); then echo hook-before >"$marks/zshrc"; else echo rc-first >"$marks/zshrc"; fi
print -r -- "\${ZDOTDIR-unset}" >"$marks/zshrc-zdotdir"
export USER_RC=zshrc
EOF
  echo "export USER_ENV=zshenv" >"$1/.zshenv"
}

# enter SHELL [ARGS...] — in a plain bash under tmux (no hook), type
# `ws-shell --shell SHELL ARGS... $proj` and wait for the new shell; the
# helpers then speak its language. Sets outer (the plain shell's PID) and
# inner (the new shell's).
enter() {
  local shell=$1 mark=$1
  shift
  [[ $shell == fish ]] || mark=${shell}rc
  tmux_start --no-hook bash
  outer=$TMUX_SHELL_PID
  tmux_send "ws-shell --shell $shell $* $(printf '%q' "$proj")"
  wait_until '[[ -s $marks/$mark ]]' 15
  TMUX_SHELL=$shell
  if [[ $shell == fish ]]; then
    TMUX_PROMPT_RE='> $'
    inner=$(tmux_run 'echo $fish_pid')
  else
    inner=$(tmux_run 'echo $$')
  fi
  [[ $inner =~ ^[0-9]+$ && $inner != "$outer" ]]
}

# shell_life SHELL MARK USER_RC — the whole life: the user's rc first, the
# variables set, cd .. unloads, back in loads, exit ends the user (and so,
# the last one, the context).
shell_life() {
  local shell=$1 mark=$2
  [ "$(cat "$marks/$mark")" = rc-first ]
  [ "$(tmux_run 'echo "$VAR|$WS_ROOT|$E|$USER_RC"')" = "value with spaces|$proj|default|$3" ]
  [ "$(tmux_run pwd)" = "$proj" ]
  [ -f "$(ctx_dir)/users/$inner" ]
  tmux_run 'cd ..'
  if [[ $shell == fish ]]; then
    [ "$(tmux_run 'set -q VAR; and echo set; or echo unset')" = unset ]
  else
    [ "$(tmux_run 'echo "${VAR-unset}|${WS_ROOT-unset}"')" = "unset|unset" ]
  fi
  wait_until '[ "$(count context.unload)" -ge 1 ]' 20
  tmux_run "cd $(q "$proj")"
  [ "$(tmux_run 'echo "$VAR"')" = "value with spaces" ]
  tmux_send exit
  wait_until '! kill -0 "$inner" 2>/dev/null'
  wait_until '[ "$(count context.unload)" -ge 2 ]' 20
  [ "$(events user.leave | jq -r --argjson p "$inner" 'select(.pid == $p) | .reason' | tail -n 1)" = exited ]
  # The plain shell is back, and was never a user.
  TMUX_SHELL=bash TMUX_PROMPT_RE='[$>%#] $'
  [ "$(tmux_run 'echo "${VAR-unset}"')" = unset ]
  [ ! -e "$(ctx_dir)/users/$outer" ]
}

# --------------------------------------------------------- CLI contract ----

@test "an unknown option exits 64 with one line on stderr only" {
  run --separate-stderr -64 ws-shell --bogus
  [ -z "$output" ]
  [ "$stderr" = "ws-shell: unknown option '--bogus'" ]
}

@test "--help prints the usage, options, examples and exit codes on stdout" {
  run --separate-stderr ws-shell --help
  [ "$status" -eq 0 ]
  [[ $output == *"ws-shell [OPTIONS] [DIR] [-- CMD ARGS...]"* ]]
  for word in --shell --env EXAMPLES "EXIT CODES" ZDOTDIR; do [[ $output == *"$word"* ]]; done
  [ -z "$stderr" ]
}

@test "--version prints the name and version" {
  run --separate-stderr ws-shell --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^ws-shell\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

@test "an unknown --shell, or a \$SHELL that is none of the three, is 64; no DIR is 66" {
  run --separate-stderr -64 ws-shell --shell tcsh "$proj"
  [ "$stderr" = "ws-shell: unknown shell 'tcsh': use bash, zsh or fish" ]
  SHELL=/bin/tcsh run --separate-stderr -64 ws-shell "$proj"
  [ "$stderr" = "ws-shell: SHELL is '/bin/tcsh', not bash, zsh or fish: give --shell" ]
  run --separate-stderr -66 ws-shell --shell bash "$BATS_TEST_TMPDIR/nowhere"
  [ "$stderr" = "ws-shell: $BATS_TEST_TMPDIR/nowhere: no such directory" ]
}

@test "a blocked workspace file is refused with 77 and the ws-allow hint; no shell starts" {
  echo 'export VAR=changed' >"$proj/.workspace"
  run --separate-stderr -77 ws-shell --shell bash "$proj" </dev/null
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "ws-shell: $proj/.workspace is blocked" ]
  [ "${stderr_lines[1]}" = "Run 'ws-allow $proj' to approve its content." ]
  [ ! -e "$marks/bashrc" ]
  run --separate-stderr -77 ws-shell "$proj" -- true
}

# ----------------------------------------------------------- -- CMD ----

@test "ws-shell DIR -- CMD runs CMD non-interactively in DIR with the environment; its status passes through" {
  cd "$BATS_TEST_TMPDIR"
  run --separate-stderr ws-shell "$proj" -- sh -c 'echo "$VAR|$PWD|$(pwd)"'
  [ "$status" -eq 0 ]
  [ "$output" = "value with spaces|$proj|$proj" ]
  run --separate-stderr ws-shell --env test "$proj" -- sh -c 'echo "$E"; exit 5'
  [ "$status" -eq 5 ]
  [ "$output" = test ]
}

# --------------------------------------------------------- the shells ----

@test "ws-shell --shell bash: ~/.bashrc first, the variables set, cd .. unloads, exit ends the user" {
  enter bash
  shell_life bash bashrc bashrc
  # The generated rc file is gone with the shell.
  [ -z "$(ls "$XDG_RUNTIME_DIR/ws" 2>/dev/null)" ]
}

@test "ws-shell --shell zsh: \$HOME/.zshenv and .zshrc first, ZDOTDIR as it was, cd .. unloads, exit ends the user" {
  zsh_rc "$HOME"
  enter zsh
  [ "$(cat "$marks/zshrc-zdotdir")" = unset ]
  [ "$(tmux_run 'echo "${ZDOTDIR-unset}|$USER_ENV"')" = "unset|zshenv" ]
  shell_life zsh zshrc zshrc
}

@test "ws-shell --shell zsh with the user's own ZDOTDIR reads that one and keeps it" {
  zsh_rc "$BATS_TEST_TMPDIR/zdot dir"
  tmux_start --no-hook bash
  tmux_run "export ZDOTDIR=$(q "$BATS_TEST_TMPDIR/zdot dir")"
  tmux_send "ws-shell --shell zsh $(printf '%q' "$proj")"
  wait_until '[[ -s $marks/zshrc ]]' 15
  TMUX_SHELL=zsh
  [ "$(cat "$marks/zshrc")" = rc-first ]
  [ "$(cat "$marks/zshrc-zdotdir")" = "$BATS_TEST_TMPDIR/zdot dir" ]
  [ "$(tmux_run 'echo "$ZDOTDIR|$USER_ENV|$VAR"')" = "$BATS_TEST_TMPDIR/zdot dir|zshenv|value with spaces" ]
}

@test "ws-shell --shell fish: config.fish first, the variables set, cd .. unloads, exit ends the user" {
  enter fish
  shell_life fish fish config.fish
}

@test "ws-shell --env NAME sets WS_ENV for the shell's context" {
  enter bash --env test
  [ "$(tmux_run 'echo "$E|$WS_ENV"')" = "test|test" ]
}

@test "the default shell is the one \$SHELL names; nested ws-shell works" {
  tmux_start --no-hook bash
  tmux_send "SHELL=/bin/bash ws-shell $(printf '%q' "$proj")"
  wait_until '[[ -s $marks/bashrc ]]' 15
  first=$(tmux_run 'echo $$')
  [ "$(tmux_run 'echo "$VAR"')" = "value with spaces" ]
  rm "$marks/bashrc"
  tmux_send 'ws-shell --shell bash'
  wait_until '[[ -s $marks/bashrc ]]' 15
  second=$(tmux_run 'echo $$')
  [ "$second" != "$first" ]
  [ "$(tmux_run 'echo "$VAR|$WS_ROOT"')" = "value with spaces|$proj" ]
  [ -f "$(ctx_dir)/users/$first" ]
  [ -f "$(ctx_dir)/users/$second" ]
  tmux_send exit
  wait_until '! kill -0 "$second" 2>/dev/null'
  [ "$(tmux_run 'echo $$')" = "$first" ]
  [ "$(tmux_run 'echo "$VAR"')" = "value with spaces" ]
}
