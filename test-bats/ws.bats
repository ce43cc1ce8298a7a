#!/usr/bin/env bats
# ws (SPEC §4): the git-style dispatcher and front door. `ws NAME ARGS...`
# runs `ws-NAME ARGS...`; `ws`, `ws help` and `ws --help` list the commands;
# `ws help NAME` is `ws-NAME --help`; a mistyped name gets a suggestion;
# `ws completion bash|zsh|fish` completes names, subcommands, flags, services
# and contexts (under tmux: a real TAB in each shell).

load test_helper/common-setup

# No test may hang the run, whatever the product does.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

setup() {
  common_setup
  W="$BATS_TEST_TMPDIR/work"
  # A command of our own on PATH, after the repo's bin (as a plugin would be).
  mkdir -p "$BATS_TEST_TMPDIR/plugins"
  export PATH="$PATH:$BATS_TEST_TMPDIR/plugins"
}
teardown() { common_teardown; }

# plugin NAME 'body' — an executable ws-NAME on PATH.
plugin() {
  printf '#!/usr/bin/env bash\n%s\n' "$2" >"$BATS_TEST_TMPDIR/plugins/ws-$1"
  chmod +x "$BATS_TEST_TMPDIR/plugins/ws-$1"
}

# --------------------------------------------------------- CLI contract ----

@test "ws alone lists the commands on stdout, one line each, and exits 0" {
  run --separate-stderr ws
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [[ ${lines[0]} == usage:* ]]
  for name in export allow deny edit on-unload reaper prompt on-event; do
    grep -qE "^ +(ws-)?$name +[a-z]" <<<"$output"
  done
}

@test "an unknown option exits 64 with one line on stderr only" {
  run --separate-stderr -64 ws --bogus
  [ -z "$output" ]
  [ "$stderr" = "ws: unknown option '--bogus'" ]
  run --separate-stderr -64 ws -x
  [ "$stderr" = "ws: unknown option '-x'" ]
}

@test "--help prints the usage on stdout and exits 0" {
  run --separate-stderr ws --help
  [ "$status" -eq 0 ]
  [[ $output == *"ws NAME ARGS"* || $output == *"ws <command>"* ]]
  [ -z "$stderr" ]
}

@test "--version prints the name and version" {
  run --separate-stderr ws --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^ws\ [0-9]+\.[0-9]+\.[0-9]+ ]]
  [ -z "$stderr" ]
}

@test "an unknown command exits 64 with one line on stderr" {
  run --separate-stderr -64 ws nosuch
  [ -z "$output" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [ "${stderr_lines[0]}" = "ws: 'nosuch' is not a ws command (no ws-nosuch on PATH). See 'ws help'." ]
}

# ------------------------------------------------------------- dispatch ----

@test "ws allow runs ws-allow" {
  mkdir -p "$W/proj"
  echo 'export A=1' >"$W/proj/.workspace"
  cd "$W/proj"
  run --separate-stderr ws allow
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws-allow: allowed $W/proj/.workspace" ]
  run --separate-stderr ws export json
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.A <<<"$output")" = 1 ]
}

@test "ws NAME passes the command's options, stdout, stderr and exit status through" {
  run --separate-stderr ws export --version
  [ "$status" -eq 0 ]
  [[ $output == "ws-export "* ]]
  run --separate-stderr -64 ws export --bogus
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "ws-export: unknown option '--bogus'" ]
  cd "$W"
  run --separate-stderr -66 ws allow
  [[ ${stderr_lines[0]} == "ws-allow: "* ]]
}

@test "ws runs a ws-NAME found on PATH with its arguments exactly as given" {
  plugin hello 'printf "[%s]\n" "$@"; echo "to stderr" >&2; exit 7'
  run --separate-stderr -7 ws hello 'a b' '' '$(touch marker)' "it's" -x --flag=1 -- '*'
  [ "$output" = "[a b]
[]
[\$(touch marker)]
[it's]
[-x]
[--flag=1]
[--]
[*]" ]
  [ "$stderr" = "to stderr" ]
  [ ! -e marker ]
}

@test "the command gets ws's stdin, working directory and environment" {
  plugin env 'read -r line; printf "%s|%s|%s\n" "$line" "$PWD" "$MY_VAR"'
  mkdir -p "$W/dir"
  cd "$W/dir"
  result=$(echo from-stdin | MY_VAR=mine ws env)
  [ "$result" = "from-stdin|$W/dir|mine" ]
}

@test "a command killed by a signal gives 128+N" {
  plugin die 'kill -TERM $$; sleep 5'
  run --separate-stderr timeout 10 ws die
  [ "$status" -eq 143 ]
}

@test "SIGTERM to ws reaches the command, and ws exits with its status" {
  plugin wait "trap 'echo got-term >$(printf %q "$BATS_TEST_TMPDIR/term"); exit 42' TERM
echo \$\$ >$(printf %q "$BATS_TEST_TMPDIR/child.pid")
for i in \$(seq 100); do sleep 0.1; done"
  ws wait >/dev/null 2>&1 3>&- &
  ws_pid=$!
  track_pid "$ws_pid"
  wait_until "[ -s '$BATS_TEST_TMPDIR/child.pid' ]" 10
  track_pid "$(cat "$BATS_TEST_TMPDIR/child.pid")"
  kill -TERM "$ws_pid"
  status=0
  wait "$ws_pid" || status=$?
  [ "$status" -eq 42 ]
  [ "$(cat "$BATS_TEST_TMPDIR/term")" = got-term ]
}

@test "a ws-NAME that is not executable is not run" {
  printf '#!/bin/sh\necho ran\n' >"$BATS_TEST_TMPDIR/plugins/ws-noexec"
  chmod -x "$BATS_TEST_TMPDIR/plugins/ws-noexec"
  run --separate-stderr -64 ws noexec
  [ -z "$output" ]
}

@test "a command name with a slash does not reach into subdirectories of PATH" {
  mkdir -p "$BATS_TEST_TMPDIR/plugins/ws-sub"
  printf '#!/bin/sh\necho ran\n' >"$BATS_TEST_TMPDIR/plugins/ws-sub/x"
  chmod +x "$BATS_TEST_TMPDIR/plugins/ws-sub/x"
  run --separate-stderr ws sub/x
  [ "$output" != ran ]
  [ "$status" -eq 64 ]
}

@test "the repo's own commands are found even when PATH does not have them" {
  mkdir -p "$W/proj"
  echo 'export A=1' >"$W/proj/.workspace"
  cd "$W/proj"
  run --separate-stderr env PATH=/usr/bin:/bin "$REPO/bin/ws" allow
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws-allow: allowed $W/proj/.workspace" ]
}

# ---------------------------------------------------------- front door ----

# The command lines of a listing: "  NAME  summary".
command_lines() { grep -E '^  [a-z][a-z_-]* +[a-z]' <<<"$1"; }

@test "ws, ws help and ws --help list the same commands, one line each, port and help included" {
  run --separate-stderr ws
  [ "$status" -eq 0 ]
  local alone
  alone=$(command_lines "$output")
  run --separate-stderr ws help
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$(command_lines "$output")" = "$alone" ]
  run --separate-stderr ws --help
  [ "$status" -eq 0 ]
  [ "$(command_lines "$output")" = "$alone" ]
  local name
  for name in export allow deny edit on-unload reaper port service resource prompt on-event nix-watch-deps list gc help completion; do
    grep -qE "^  $name +[a-z]" <<<"$alone" || { echo "missing: $name" >&2; return 1; }
  done
  # Every command of the repository is listed (bin/ holds them all).
  for name in $(ls "$REPO/bin"); do
    [[ $name == ws ]] && continue
    name=${name#ws-}
    [[ $name == allocate_port ]] && name=port
    grep -qE "^  $name +" <<<"$alone" || { echo "not listed: $name" >&2; return 1; }
  done
}

@test "ws help NAME prints what ws-NAME --help prints; ws help port is allocate_port's" {
  run --separate-stderr ws help list
  [ "$status" -eq 0 ]
  [ "$output" = "$(ws-list --help)" ]
  run --separate-stderr ws help port
  [ "$status" -eq 0 ]
  [ "$output" = "$(allocate_port --help)" ]
  run --separate-stderr ws port --help
  [ "$output" = "$(allocate_port --help)" ]
  run --separate-stderr ws help nix-watch-deps
  [ "$output" = "$(nix-watch-deps --help)" ]
}

@test "a mistyped command suggests the nearest one and exits 64" {
  run --separate-stderr -64 ws lsit
  [ -z "$output" ]
  [ "$stderr" = "ws: 'lsit' is not a ws command. Did you mean 'list'?" ]
  run --separate-stderr -64 ws help lsit
  [ "$stderr" = "ws: 'lsit' is not a ws command. Did you mean 'list'?" ]
  run --separate-stderr -64 ws servce
  [ "$stderr" = "ws: 'servce' is not a ws command. Did you mean 'service'?" ]
  # A prefix of one command names it.
  run --separate-stderr -64 ws reso
  [ "$stderr" = "ws: 'reso' is not a ws command. Did you mean 'resource'?" ]
  # A plugin on PATH is a candidate too.
  plugin hello 'echo hi'
  run --separate-stderr -64 ws helo
  [[ $stderr == "ws: 'helo' is not a ws command. Did you mean 'hello' or 'help'?" ]]
}

@test "ws completion prints code each shell reads without error; another shell is a usage error" {
  local shell
  for shell in bash zsh fish; do
    run --separate-stderr ws completion "$shell"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/completion.$shell"
  done
  bash --noprofile --norc -c 'source "$1" && complete -p ws ws-service' _ "$BATS_TEST_TMPDIR/completion.bash"
  zsh -f -c 'source "$1" && (( $+_comps[ws] && $+_comps[ws-service] ))' _ "$BATS_TEST_TMPDIR/completion.zsh"
  fish --no-config -c 'source $argv[1]; and complete -c ws | string match -q "*__ws_complete*"' "$BATS_TEST_TMPDIR/completion.fish"
  run --separate-stderr -64 ws completion tcsh
  [ "$stderr" = "ws: completion needs a shell: bash, zsh or fish" ]
  run --separate-stderr -64 ws completion
}

# candidates WORD... — what a TAB after these words offers (the last is the one being typed).
candidates() { ws __complete "$@" | tail -n +2 | tr '\n' ' ' | sed 's/ $//'; }

@test "completion candidates: commands, subcommands, flags, values; files where a path goes" {
  [ "$(candidates ws li)" = "list" ]
  [ "$(candidates ws '')" = "$(ws __complete ws '' | tail -n +2 | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" ]
  [[ " $(candidates ws '') " == *" port "* && " $(candidates ws '') " == *" completion "* ]]
  [ "$(candidates ws help se)" = "service" ]
  [ "$(candidates ws completion '')" = "bash fish zsh" ]
  [ "$(candidates ws service st)" = "start status stop" ]
  [ "$(candidates ws service start --ready-)" = "--ready-cmd --ready-port --ready-timeout" ]
  [ "$(candidates ws service logs -)" = "--follow --help --lines --version -f -n" ]
  [ "$(candidates ws export hook '')" = "bash fish nu zsh" ]
  [ "$(candidates ws prompt init '')" = "bash fish nu zsh" ]
  [ "$(candidates ws gc --d)" = "--dry-run" ]
  [ "$(candidates ws on-event --type service.s)" = "service.start service.stop" ]
  [ "$(candidates ws on-event --type=user.)" = "--type=user.join --type=user.leave" ]
  # The command called by its own name completes the same.
  [ "$(candidates ws-service st)" = "start status stop" ]
  [ "$(candidates allocate_port --r)" = "--range --release" ]
  # A path: the shell's own file completion.
  [ "$(ws __complete ws allow '')" = files ]
  [ "$(ws __complete ws service start web -- '')" = files ]
  # A plugin on PATH is a command name.
  plugin hello 'echo hi'
  [ "$(candidates ws hel)" = "hello help" ]
}

@test "completion candidates: the current context's services and the state home's contexts" {
  write_workspace "$W/shop" 'export A=1'
  write_workspace "$W/blog" 'export B=1'
  (cd "$W/blog" && ws-export json >/dev/null 2>&1)
  cd "$W/shop"
  ws-export json >/dev/null 2>&1
  ws-service start web -- sleep 300 2>/dev/null
  ws-service start worker -- sleep 300 2>/dev/null
  [ "$(candidates ws service stop '')" = "web worker" ]
  [ "$(candidates ws service logs w)" = "web worker" ]
  [ "$(candidates ws-service restart we)" = "web" ]
  [ "$(candidates ws service start db --after '')" = "web worker" ]
  [ "$(candidates ws on-event --context '')" = "blog shop" ]
  [ "$(candidates ws on-event --context=s)" = "--context=shop" ]
  # Outside any context: no services.
  cd "$W"
  [ "$(candidates ws service stop '')" = "" ]
  cd "$W/shop"
  ws-service stop --all 2>/dev/null
}

# The flags of a command's (or subcommand's) --help: every --long and -s it
# shows under OPTIONS, but --help and --version (offered everywhere).
help_flags() {
  "$@" --help | sed 's/\x1b\[[0-9;]*m//g' | awk '/^OPTIONS/ { on = 1; next } /^[A-Z]/ { on = 0 } on { sub(/^ +/, ""); sub(/  .*/, ""); print }' |
    grep -oE '(^|[ ,])--?[A-Za-z0-9][A-Za-z0-9-]*' | sed 's/^[ ,]*//' | grep -vxE -- '--help|--version|-h|-V' |
    LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//'
}
# The flags completion offers after these words, and after each subcommand it offers there.
completed_flags() {
  local sub
  {
    ws __complete "$@" - | tail -n +2
    for sub in $(ws __complete "$@" '' | tail -n +2); do ws __complete "$@" "$sub" - | tail -n +2; done
  } | grep -vxE -- '--help|--version' | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//'
}

@test "the flags completion offers are each command's own, as its --help lists them" {
  local name binary
  for name in export allow deny edit on-unload reaper port resource prompt on-event nix-watch-deps list gc; do
    binary=ws-$name
    [[ $name == port ]] && binary=allocate_port
    [[ $name == nix-watch-deps ]] && binary=nix-watch-deps
    [ "$(completed_flags ws "$name")" = "$(help_flags "$binary")" ] ||
      { echo "$name: completion offers [$(completed_flags ws "$name")], --help lists [$(help_flags "$binary")]" >&2; return 1; }
  done
  local sub
  for sub in start stop restart status logs; do
    [ "$(completed_flags ws service "$sub")" = "$(help_flags ws-service "$sub")" ] ||
      { echo "service $sub: completion offers [$(completed_flags ws service "$sub")], --help lists [$(help_flags ws-service "$sub")]" >&2; return 1; }
  done
}

# A real TAB: `ws li<TAB>` becomes `ws list ` on the command line.
tab_completes() {
  local shell=$1 rc
  case $shell in
    bash) rc='eval "$(ws completion bash)"' ;;
    zsh) rc='eval "$(ws completion zsh)"' ;;
    fish) rc='ws completion fish | source' ;;
  esac
  WS_TEST_NO_HOOK=1 tmux_start "$shell" "$rc"
  tmux_keys -l 'ws li'
  tmux_keys Tab
  tmux_wait '[$>] ws list$' 10
  tmux_keys C-u
  tmux_keys -l 'ws service st'
  tmux_keys Tab
  # Several candidates: the common part, then (on a second TAB where the shell wants one) the list.
  tmux_keys Tab
  tmux_wait 'start' 10
  tmux_wait 'status' 10
}

@test "bash: ws completion bash completes ws li<TAB> to ws list" { tab_completes bash; }
@test "zsh: ws completion zsh completes ws li<TAB> to ws list" { tab_completes zsh; }
@test "fish: ws completion fish completes ws li<TAB> to ws list" { tab_completes fish; }
