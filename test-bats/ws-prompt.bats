#!/usr/bin/env bats
# ws-prompt: the segment command and its process-free init form.

load test_helper/common-setup

setup() {
  common_setup
  proj=$BATS_TEST_TMPDIR/work/proj
  GLYPHS='ready=R,building=B,stale=S,error=E,blocked=X'
}

teardown() { common_teardown; }

# --------------------------------------------------------- CLI contract ----

@test "ws-prompt outside any workspace prints nothing and exits 0" {
  run --separate-stderr ws-prompt
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -z "$stderr" ]
}

@test "ws-prompt with an unknown option exits 64 with one line on stderr only" {
  run --separate-stderr -64 ws-prompt --bogus
  [ -z "$output" ]
  [ "$stderr" = "ws-prompt: unknown option '--bogus'" ]
  run --separate-stderr -64 ws-prompt --glyphs
  [ -z "$output" ]
  [ "$stderr" = "ws-prompt: option '--glyphs' needs a value" ]
}

@test "ws-prompt --help and --version print on stdout" {
  run --separate-stderr ws-prompt --help
  [ "$status" -eq 0 ]
  [[ $output == *"%n"*"%s"* ]]
  run --separate-stderr ws-prompt --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^ws-prompt\ [0-9] ]]
}

@test "an unknown placeholder or glyph state is a usage error" {
  write_workspace "$proj" 'export A=1'
  cd "$proj"
  run --separate-stderr -64 ws-prompt '%q'
  [[ $stderr == "ws-prompt: unknown placeholder '%q'"* ]]
  run --separate-stderr -64 ws-prompt --glyphs 'happy=:)'
  [[ $stderr == "ws-prompt: bad --glyphs entry 'happy=:)'"* ]]
}

# ------------------------------------------------------------- states ----

@test "inside a loaded workspace: name, environment and the ready glyph; %% is a percent sign" {
  write_workspace "$proj" 'export A=1'
  cd "$proj"
  eval "$(ws-export bash --pid $$ 2>/dev/null)"
  run ws-prompt '%n %e %s 100%%' --glyphs "$GLYPHS"
  [ "$output" = "proj default R 100%" ]
  run ws-prompt
  [ "$output" = "● proj" ]
}

@test "inside a workspace this shell has not loaded: stale" {
  write_workspace "$proj" 'export A=1'
  cd "$proj"
  run ws-prompt '%s' --glyphs "$GLYPHS"
  [ "$output" = S ]
}

@test "a denied and a changed workspace file show blocked, even with nothing loaded" {
  write_workspace "$proj" 'export A=1'
  cd "$proj"
  ws-deny 2>/dev/null
  run ws-prompt '%s %n' --glyphs "$GLYPHS"
  [ "$output" = "X proj" ]
  ws-allow 2>/dev/null
  echo 'export A=2' >"$proj/.workspace"
  run ws-prompt '%s' --glyphs "$GLYPHS"
  [ "$output" = X ]
}

@test "a failing workspace file shows error" {
  write_workspace "$proj" 'export A=1; exit 1'
  cd "$proj"
  ws-export json --pid $$ >/dev/null 2>&1
  run ws-prompt '%s' --glyphs "$GLYPHS"
  [ "$output" = E ]
}

@test "a slow build shows building while it runs" {
  write_workspace "$proj" 'while [[ ! -e gate ]]; do sleep 0.05; done; export A=1'
  cd "$proj"
  WS_BUILD_TIMEOUT=50 ws-export json --pid $$ >/dev/null 2>&1
  run ws-prompt '%s' --glyphs "$GLYPHS"
  touch "$proj/gate"
  [ "$output" = B ]
}

@test "%u counts live users and %S running services" {
  write_workspace "$proj" 'export A=1'
  cd "$proj"
  sleep 300 & a=$!
  sleep 300 & b=$!
  track_pid "$a" "$b"
  ws-export json --pid "$a" >/dev/null 2>&1
  ws-export json --pid "$b" >/dev/null 2>&1
  run ws-prompt '%u/%S'
  [ "$output" = "2/0" ]
}

@test "colors: none with NO_COLOR; with --shell bash the escapes sit inside \\001 \\002, with zsh inside %{ %}" {
  write_workspace "$proj" 'export A=1'
  cd "$proj"
  eval "$(ws-export bash --pid $$ 2>/dev/null)"
  run ws-prompt '%s' --shell bash
  [ "$output" = "●" ]
  unset NO_COLOR
  run ws-prompt '%s' --shell bash
  [ "$output" = $'\001\e[32m\002●\001\e[0m\002' ]
  run ws-prompt '%s' --shell zsh
  [ "$output" = $'%{\e[32m%}●%{\e[0m%}' ]
  run ws-prompt '%s'
  [ "$output" = "●" ] # not a terminal, no --shell: plain
}

# ----------------------------------------------------- init, in shells ----

# The init form, rendered in a real shell, equals the command's output there.
init_renders_like_the_command() {
  local shell=$1 format='%n|%e|%s|%u'
  write_workspace "$proj" 'export A=1'
  case $shell in
    bash) tmux_start bash "eval \"\$(ws-prompt init bash '$format')\"" ;;
    zsh) tmux_start zsh "eval \"\$(ws-prompt init zsh '$format')\"" ;;
    fish) tmux_start fish "ws-prompt init fish '$format' | source" ;;
  esac
  tmux_run "cd '$proj'"
  tmux_run 'true'
  local rendered command
  if [[ $shell == fish ]]; then
    rendered=$(tmux_run 'printf "%s\n" "$WS_PROMPT"')
  else
    rendered=$(tmux_run 'printf "%s\n" "$WS_PROMPT"')
  fi
  command=$(tmux_run "ws-prompt '$format'")
  [ "$rendered" = "proj|default|●|1" ]
  [ "$rendered" = "$command" ]
  tmux_run "cd '$BATS_TEST_TMPDIR'"
  tmux_run 'true'
  rendered=$(tmux_run 'printf "[%s]\n" "$WS_PROMPT"')
  [ "$rendered" = "[]" ]
}

@test "bash: ws-prompt init renders the same segment as ws-prompt" { init_renders_like_the_command bash; }
@test "zsh: ws-prompt init renders the same segment as ws-prompt" { init_renders_like_the_command zsh; }
@test "fish: ws-prompt init renders the same segment as ws-prompt" { init_renders_like_the_command fish; }
