#!/usr/bin/env bats
# Cached re-entry (SPEC §4 ws-export "Fast path", docs/hook.md "Entering a
# project it has seen before starts no node"): a shell that leaves a context
# and comes back sources cache/enter.bash|zsh|fish instead of running ws-export.
# The cached result must equal a fresh evaluation (compared as `env` dumps),
# start no node, and give way to a real evaluation whenever an input, WS_ENV,
# the base environment or an unload says the cache is out of date.
#
# Every .workspace here appends a line to $COUNTER when it runs: the number
# of lines is the number of real evaluations. WS_UNLOAD_GRACE is long, so
# leaving and coming back is a re-entry, not an unload, unless a test says
# otherwise. The three shells have it (fish's is cache/enter.fish).

load test_helper/common-setup
load test_helper/state-home
load test_helper/strace

setup() {
  common_setup
  export WS_UNLOAD_GRACE=60
  home="$XDG_STATE_HOME/ws"
  work="$BATS_TEST_TMPDIR/work"
  proj="$work/proj"
  COUNTER="$BATS_TEST_TMPDIR/evaluations"
  DUMPS="$BATS_TEST_TMPDIR/dumps"
  mkdir -p "$DUMPS"
}
teardown() { common_teardown; }

# ------------------------------------------------------------ helpers ----


evaluations() { lines_of "$COUNTER"; }

# The line a .workspace starts with to count its evaluations.
count_line() { printf 'echo run >>%q\n' "$COUNTER"; }

# dump NAME — the shell's exported environment, NUL-separated, in $DUMPS/NAME
# (taken by a child process: what programs started from the shell see).
dump() { tmux_run "env -0 >$(q "$DUMPS/$1")"; }

# normalized NAME — the dump as sorted NAME=<%q value> lines, without the
# names that legitimately differ between two moments of one shell. WS_DIFF
# names a record of what the load changed: compared by that record's
# content (keys sorted), not by its name.
normalized() {
  local entry name value record
  while IFS= read -r -d '' entry; do
    name=${entry%%=*} value=${entry#*=}
    case $name in _ | SHLVL | PWD | OLDPWD) continue ;; esac
    if [[ $name == WS_DIFF && $value == */* ]]; then
      record="$home/contexts/${value%%/*}/cache/applied/${value#*/}.json"
      [[ -f $record ]] && value="record $(jq -cS . "$record")"
    fi
    printf '%s=%q\n' "$name" "$value"
  done <"$DUMPS/$1" | LC_ALL=C sort
}

# same_env A B — the two dumps are equal (else print the difference).
same_env() {
  local a b
  a=$(normalized "$1") b=$(normalized "$2")
  [[ $a == "$b" ]] && return 0
  echo "environments $1 and $2 differ:" >&2
  diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") >&2 || true
  return 1
}

# value_in DUMP NAME — NAME's line in a normalized dump ("" if unset).
value_in() { normalized "$1" | grep -E "^$2=" || true; }

# ------------------------------------------------------- the scenarios ----

# rc_set SHELL NAME VALUE / rc_unset SHELL NAME — an rc line for SHELL.
rc_quote() {
  if [[ $1 == fish ]]; then
    local s=${2//\\/\\\\}
    printf "'%s'" "${s//\'/\\\'}"
  else
    printf "'%s'" "${2//\'/\'\\\'\'}"
  fi
}
rc_set() {
  if [[ $1 == fish ]]; then printf 'set -gx %s %s' "$2" "$(rc_quote fish "$3")"; else printf 'export %s=%s' "$2" "$(rc_quote "$1" "$3")"; fi
}
rc_unset() {
  if [[ $1 == fish ]]; then printf 'set -e %s; or true' "$2"; else printf 'unset %s' "$2"; fi
}

# scenario SHELL NAME — writes $proj (or a nested project) for a direnv-style
# scenario; sets ENTER (the directory to cd into) and RC (rc lines the shell
# starts with: the base environment the scenario changes).
scenario() {
  local shell=$1
  RC=()
  ENTER=$proj
  mkdir -p "$proj"
  case $2 in
    path_add)
      mkdir -p "$proj/bin" "$proj/tools/bin" "$proj/man"
      RC=("$(rc_set "$shell" MANPATH /usr/share/man)")
      write_workspace "$proj" <<EOF
$(count_line)
PATH_add bin
PATH_add tools/bin
path_add MANPATH man
path_add NEWLIST a b
EOF
      ;;
    dotenv)
      cat >"$proj/.env" <<'EOF'
# a comment
export DOT_A=1
DOT_B="double quoted value"
DOT_C='single $NOT_EXPANDED'
DOT_D=${DOT_A}-expanded
DOT_E=
EOF
      write_workspace "$proj" <<EOF
$(count_line)
dotenv
EOF
      ;;
    source_up)
      write_workspace "$proj" <<'EOF'
export PARENT=from-parent SHARED=parent
EOF
      ENTER="$proj/services/api"
      mkdir -p "$ENTER"
      write_workspace "$ENTER" <<EOF
$(count_line)
source_up
export CHILD=from-child SHARED=child
EOF
      ;;
    utf8)
      RC=("$(rc_set "$shell" CHANGED_UTF8 'vorher ä')")
      write_workspace "$proj" <<EOF
$(count_line)
export GREETING='héllo wörld ✓ 日本語 🚀'
export CHANGED_UTF8='nachher ö ß'
export COMBINING=\$'e\\u0301 vs \\u00e9'
EOF
      ;;
    empty_unset)
      RC=("$(rc_set "$shell" WAS_SET value)" "$(rc_set "$shell" WAS_EMPTY '')"
        "$(rc_set "$shell" TO_EMPTY something)" "$(rc_unset "$shell" NEVER_SET)")
      write_workspace "$proj" <<EOF
$(count_line)
export NEW_EMPTY=
unset WAS_SET
export WAS_EMPTY=now-set
export TO_EMPTY=
unset NEVER_SET
EOF
      ;;
    hostile_path)
      # A project directory whose name has spaces, quotes, \$(...), backticks and UTF-8.
      proj="$work/my proj 'q' \"dq\" \$(touch $BATS_TEST_TMPDIR/ran) \`touch $BATS_TEST_TMPDIR/ran\` ü"
      ENTER=$proj
      mkdir -p "$proj/bin"
      write_workspace "$proj" <<EOF
$(count_line)
PATH_add bin
export WHERE=\$PWD
EOF
      ;;
    quotes)
      RC=("$(rc_set "$shell" BEFORE_Q $'it\'s "before" \\ $HOME\nline two')")
      {
        count_line
        sed "s|@RAN@|$BATS_TEST_TMPDIR/ran|" <<'EOF'
export Q1=$'single \' double " backslash \\ dollar $HOME backtick ` paren $(touch @RAN@)'
export Q2=$'line one\nline two\n\ttabbed\n'
export Q3=$'\n\nstarts and ends with newlines\n\n'
export Q4='ends with a backslash\'
export BEFORE_Q=$'changed \'again\'\n'
EOF
      } | write_workspace "$proj"
      ;;
    *) echo "scenario: unknown $2" >&2; return 64 ;;
  esac
}

# recent_iso TIME — TIME is ISO-8601 UTC with milliseconds
# (2026-12-03T11:40:00.000Z), as Date#toISOString writes it, and no more
# than a minute away from now: what readers of user records and events parse.
recent_iso() {
  [[ $1 =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]] || { echo "not ISO-8601 UTC: $1" >&2; return 1; }
  local then now
  then=$(date -u -d "$1" +%s) now=$(date -u +%s)
  ((then - now <= 60 && now - then <= 60)) || { echo "$1 is not now ($(date -u +%FT%TZ))" >&2; return 1; }
}

# cached_equals_fresh SHELL SCENARIO — enter (a fresh evaluation), leave,
# enter again (the cached entry, traced): the same environment,
# no node, no evaluation; leaving again restores the environment before.
cached_equals_fresh() {
  local shell=$1
  scenario "$shell" "$2"
  tmux_start "$shell" "${RC[@]}"
  dump outside-before
  tmux_run "cd $(q "$ENTER")"
  dump fresh
  [ "$(evaluations)" -eq 1 ]
  # The scenario did change something beyond WS_*.
  run same_env outside-before fresh
  [ "$status" -ne 0 ]
  [ -n "$(value_in fresh WS_DIFF)" ]
  tmux_run "cd $(q "$work")"
  dump outside-after-fresh
  same_env outside-before outside-after-fresh

  [ -f "$(ctx_dir "$ENTER")/cache/enter.$shell" ]
  strace_start cached-entry
  tmux_run "cd $(q "$ENTER")"
  strace_stop
  ((NODE_EXECS == 0))
  # fish's cached entry is builtins only (the clock is the boot time plus /proc/uptime): no process at all.
  [[ $shell != fish ]] || ((SPAWNS == 0))
  dump cached
  same_env fresh cached
  # The workspace file did not run again.
  [ "$(evaluations)" -eq 1 ]
  [ ! -e "$BATS_TEST_TMPDIR/ran" ]
  # The shell is a user of the context again, in the ready state.
  [ -f "$(ctx_dir "$ENTER")/users/$TMUX_SHELL_PID" ]
  [ "$(tmux_run 'echo "$_ws_state"')" = ready ]
  # The cached entry wrote the user record itself, with the shell's real
  # start time (else the reaper would take it for a recycled PID).
  local record="$(ctx_dir "$ENTER")/users/$TMUX_SHELL_PID"
  [ "$(jq -r .start "$record")" = "$(_wsh_starttime "$TMUX_SHELL_PID")" ]
  [ "$(jq -r .shell "$record")" = "$shell" ]
  # And the user.join event, its time the record's, both ISO-8601 UTC within a minute of now.
  local joins
  joins=$(jq -c --argjson pid "$TMUX_SHELL_PID" 'select(.type == "user.join" and .pid == $pid and .cached == true)' "$home/events.jsonl")
  [ "$(grep -c . <<<"$joins")" -eq 1 ]
  [ "$(jq -r .ts <<<"$joins")" = "$(jq -r .joined "$record")" ]
  recent_iso "$(jq -r .joined "$record")"

  tmux_run "cd $(q "$work")"
  dump outside-after-cached
  same_env outside-before outside-after-cached
  # And once more: still cached, still the same.
  tmux_run "cd $(q "$ENTER")"
  dump cached-again
  same_env fresh cached-again
  [ "$(evaluations)" -eq 1 ]
}

@test "bash: cached re-entry equals a fresh evaluation and starts no node: PATH_add and path_add" { cached_equals_fresh bash path_add; }
@test "zsh: cached re-entry equals a fresh evaluation and starts no node: PATH_add and path_add" { cached_equals_fresh zsh path_add; }
@test "fish: cached re-entry equals a fresh evaluation and starts no process: PATH_add and path_add" { cached_equals_fresh fish path_add; }

@test "bash: cached re-entry equals a fresh evaluation and starts no node: dotenv" { cached_equals_fresh bash dotenv; }
@test "zsh: cached re-entry equals a fresh evaluation and starts no node: dotenv" { cached_equals_fresh zsh dotenv; }
@test "fish: cached re-entry equals a fresh evaluation and starts no process: dotenv" { cached_equals_fresh fish dotenv; }

@test "bash: cached re-entry equals a fresh evaluation and starts no node: source_up in a nested context" { cached_equals_fresh bash source_up; }
@test "zsh: cached re-entry equals a fresh evaluation and starts no node: source_up in a nested context" { cached_equals_fresh zsh source_up; }
@test "fish: cached re-entry equals a fresh evaluation and starts no process: source_up in a nested context" { cached_equals_fresh fish source_up; }

@test "bash: cached re-entry equals a fresh evaluation and starts no node: UTF-8 values" { cached_equals_fresh bash utf8; }
@test "zsh: cached re-entry equals a fresh evaluation and starts no node: UTF-8 values" { cached_equals_fresh zsh utf8; }
@test "fish: cached re-entry equals a fresh evaluation and starts no process: UTF-8 values" { cached_equals_fresh fish utf8; }

@test "bash: cached re-entry equals a fresh evaluation and starts no node: empty vs unset, both ways" { cached_equals_fresh bash empty_unset; }
@test "zsh: cached re-entry equals a fresh evaluation and starts no node: empty vs unset, both ways" { cached_equals_fresh zsh empty_unset; }
@test "fish: cached re-entry equals a fresh evaluation and starts no process: empty vs unset, both ways" { cached_equals_fresh fish empty_unset; }

@test "bash: cached re-entry equals a fresh evaluation and starts no node: a project path with spaces, quotes, \$(...) and UTF-8" { cached_equals_fresh bash hostile_path; }
@test "zsh: cached re-entry equals a fresh evaluation and starts no node: a project path with spaces, quotes, \$(...) and UTF-8" { cached_equals_fresh zsh hostile_path; }
@test "fish: cached re-entry equals a fresh evaluation and starts no process: a project path with spaces, quotes, \$(...) and UTF-8" { cached_equals_fresh fish hostile_path; }

@test "bash: cached re-entry equals a fresh evaluation and starts no node: quotes, backslashes, newlines, \$(...)" { cached_equals_fresh bash quotes; }
@test "zsh: cached re-entry equals a fresh evaluation and starts no node: quotes, backslashes, newlines, \$(...)" { cached_equals_fresh zsh quotes; }
@test "fish: cached re-entry equals a fresh evaluation and starts no process: quotes, backslashes, newlines, \$(...)" { cached_equals_fresh fish quotes; }

# ------------------------------------------------------- invalidation ----

# A workspace that counts its evaluations, watches data.txt, and reports
# what it saw: WS_ENV, the data file, and the PATH it started from.
watching_workspace() {
  mkdir -p "$proj/bin"
  echo one >"$proj/data.txt"
  write_workspace "$proj" <<EOF
$(count_line)
watch_file data.txt
export DATA=\$(<data.txt)
export MODE="env:\$WS_ENV"
PATH_add bin
EOF
}

# enter_leave SHELL — the shell has entered $proj once (one evaluation) and
# left it again; $proj's cached entry exists.
enter_leave() {
  tmux_start "$1" "${@:2}"
  tmux_run "cd $(q "$proj")"
  [ "$(evaluations)" -eq 1 ]
  tmux_run "cd $(q "$work")"
  [ "$(evaluations)" -eq 1 ]
}

# reenter — cd back into $proj; prints nothing, fails on a shell error.
reenter() { tmux_run "cd $(q "$proj")" >/dev/null; }

watched_file_changed() {
  watching_workspace
  enter_leave "$1"
  sleep 0.05 # deliberately: the edit gets an mtime other than the one the cached entry checks
  echo two >"$proj/data.txt"
  reenter
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv DATA')" = two ]
  # Unchanged since: the next re-entry is cached again.
  tmux_run "cd $(q "$work")"
  reenter
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv DATA')" = two ]
}

@test "bash: a watched file changed while outside: re-entry evaluates the file again" { watched_file_changed bash; }
@test "zsh: a watched file changed while outside: re-entry evaluates the file again" { watched_file_changed zsh; }
@test "fish: a watched file changed while outside: re-entry evaluates the file again" { watched_file_changed fish; }

workspace_file_changed() {
  watching_workspace
  enter_leave "$1"
  sleep 0.05 # deliberately: the edit gets an mtime other than the one the cached entry checks
  printf 'export EDITED=yes\n' >>"$proj/.workspace"
  ws-allow "$proj" >/dev/null 2>&1
  reenter
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv EDITED')" = yes ]
}

@test "bash: the workspace file edited (and allowed) while outside: re-entry evaluates it again" { workspace_file_changed bash; }
@test "zsh: the workspace file edited (and allowed) while outside: re-entry evaluates it again" { workspace_file_changed zsh; }
@test "fish: the workspace file edited (and allowed) while outside: re-entry evaluates it again" { workspace_file_changed fish; }

local_file_appeared() {
  watching_workspace
  enter_leave "$1"
  printf 'export LOCAL_ONLY=yes\n' >"$proj/.workspace.local"
  ws-allow "$proj" >/dev/null 2>&1
  reenter
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv LOCAL_ONLY')" = yes ]
}

@test "bash: a .workspace.local created (and allowed) while outside: re-entry evaluates and applies it" { local_file_appeared bash; }
@test "zsh: a .workspace.local created (and allowed) while outside: re-entry evaluates and applies it" { local_file_appeared zsh; }
@test "fish: a .workspace.local created (and allowed) while outside: re-entry evaluates and applies it" { local_file_appeared fish; }

# Trust is checked on cached entry too: a denied file's cached result is not applied.
denied_while_outside() {
  watching_workspace
  enter_leave "$1"
  ws-deny "$proj" >/dev/null 2>&1
  run --separate-stderr tmux_run "cd $(q "$proj")"
  local said=$stderr
  [ "$(evaluations)" -eq 1 ]
  run tmux_run 'printenv DATA'
  [ -z "$output" ]
  run tmux_run 'printenv WS_ROOT'
  [ -z "$output" ]
  # zsh prints it inside cd (chpwd), bash at the prompt.
  [[ $said == *"ws: $proj/.workspace is blocked."* ]] || tmux_pane | grep -qF "ws: $proj/.workspace is blocked."
}

@test "bash: ws-deny while outside: re-entry applies nothing of the cached result and says the file is blocked" { denied_while_outside bash; }
@test "zsh: ws-deny while outside: re-entry applies nothing of the cached result and says the file is blocked" { denied_while_outside zsh; }
@test "fish: ws-deny while outside: re-entry applies nothing of the cached result and says the file is blocked" { denied_while_outside fish; }

# The cached entry registers the shell as a user: the reaper does not unload
# the context under it, and unloads it once the shell leaves for good.
cached_user_keeps_context() {
  export WS_UNLOAD_GRACE=3
  watching_workspace
  enter_leave "$1"
  reenter
  [ "$(evaluations)" -eq 1 ]
  local dir
  dir=$(ctx_dir "$proj")
  # Deliberately past the grace period (3 s): had the cached entry not
  # registered the shell, the reaper would have unloaded the context by now.
  sleep 4.5
  [ "$(jq -r .state "$dir/context.json")" != unloaded ]
  [ -f "$dir/users/$TMUX_SHELL_PID" ]
  tmux_run ':'
  [ "$(evaluations)" -eq 1 ]
  [ "$(tmux_run 'printenv DATA')" = one ]
  # Leaving for good: unloaded after the grace.
  tmux_run "cd $(q "$work")"
  wait_until "grep -q '\"state\":\"unloaded\"' $(printf %q "$dir/context.json")" 10
}

@test "bash: a shell that re-entered from the cache counts as a user: no unload while it stays, unload after it leaves" { cached_user_keeps_context bash; }
@test "zsh: a shell that re-entered from the cache counts as a user: no unload while it stays, unload after it leaves" { cached_user_keeps_context zsh; }
@test "fish: a shell that re-entered from the cache counts as a user: no unload while it stays, unload after it leaves" { cached_user_keeps_context fish; }

sourced_file_changed() {
  scenario "$1" source_up
  tmux_start "$1"
  tmux_run "cd $(q "$ENTER")"
  [ "$(evaluations)" -eq 1 ]
  tmux_run "cd $(q "$work")"
  sleep 0.05 # deliberately: the edit gets an mtime other than the one the cached entry checks
  # The enclosing file that source_up read (trust does not cover it).
  printf 'export PARENT=edited SHARED=parent\n' >"$proj/.workspace"
  tmux_run "cd $(q "$ENTER")"
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv PARENT')" = edited ]
}

@test "bash: the file source_up read changed while outside: re-entry evaluates again" { sourced_file_changed bash; }
@test "zsh: the file source_up read changed while outside: re-entry evaluates again" { sourced_file_changed zsh; }
@test "fish: the file source_up read changed while outside: re-entry evaluates again" { sourced_file_changed fish; }

# enter_show NAME... — cd into $proj; print the values of NAME... as the
# first command inside sees them. zsh runs the hook inside cd (chpwd), so
# there the command right after cd sees what the hook applied, before precmd
# has a chance to correct anything; bash runs it at the prompt after cd.
enter_show() {
  if [[ $TMUX_SHELL == zsh ]]; then
    tmux_run "cd $(q "$proj") && printenv $*"
  else
    reenter && tmux_run "printenv $*"
  fi
}

ws_env_changed() {
  local shell=$1 preset=${2:-}
  watching_workspace
  if [[ -n $preset ]]; then enter_leave "$shell" "export WS_ENV=$preset"; else enter_leave "$shell"; fi
  [ "$(tmux_run 'echo "${WS_ENV-unset}"')" = "${preset:-unset}" ]
  tmux_run 'export WS_ENV=test'
  local got
  got=$(enter_show MODE WS_ENV) || true
  [ "$got" = $'env:test\ntest' ] || { printf 'first command inside saw: %q\n' "$got" >&2; return 1; }
  [ "$(tmux_run 'printenv MODE WS_ENV')" = $'env:test\ntest' ]
  [ "$(evaluations)" -eq 2 ]
  # Back to the first environment: evaluated again (the build of 'test' replaced it).
  tmux_run "cd $(q "$work")"
  if [[ -n $preset ]]; then tmux_run "export WS_ENV=$preset"; else tmux_run 'unset WS_ENV'; fi
  got=$(enter_show MODE WS_ENV) || true
  [ "$got" = $'env:default\ndefault' ] || { printf 'first command inside saw: %q\n' "$got" >&2; return 1; }
  [ "$(tmux_run 'printenv MODE WS_ENV')" = $'env:default\ndefault' ]
  [ "$(evaluations)" -eq 3 ]
}

@test "bash: WS_ENV set while outside: re-entry evaluates for the new environment" { ws_env_changed bash; }
@test "zsh: WS_ENV set while outside: re-entry evaluates for the new environment" { ws_env_changed zsh; }
@test "bash: WS_ENV=default given by the user, changed to another while outside: re-entry evaluates for it" { ws_env_changed bash default; }
@test "zsh: WS_ENV=default given by the user, changed to another while outside: re-entry evaluates for it" { ws_env_changed zsh default; }

# Another shell loads the context in another environment (WS_ENV=test):
# this shell, WS_ENV unset, must not re-enter with that result.
other_shell_other_env() {
  local shell=$1
  watching_workspace
  tmux_start -n mine "$shell"
  tmux_run "cd $(q "$proj")"
  tmux_run "cd $(q "$work")"
  [ "$(evaluations)" -eq 1 ]
  tmux_start -n other "$shell" 'export WS_ENV=test'
  tmux_run "cd $(q "$proj")"
  [ "$(tmux_run 'printenv MODE')" = env:test ]
  [ "$(evaluations)" -eq 2 ]
  tmux_use mine
  local got
  got=$(enter_show MODE WS_ENV) || true
  [ "$got" = $'env:default\ndefault' ] || { printf 'first command inside saw: %q\n' "$got" >&2; return 1; }
  [ "$(tmux_run 'printenv MODE WS_ENV')" = $'env:default\ndefault' ]
}

@test "bash: another shell's load with WS_ENV=test does not leak into this shell's re-entry (WS_ENV unset)" { other_shell_other_env bash; }
@test "zsh: another shell's load with WS_ENV=test does not leak into this shell's re-entry (WS_ENV unset)" { other_shell_other_env zsh; }
@test "fish: another shell's load with WS_ENV=test does not leak into this shell's re-entry (WS_ENV unset)" { other_shell_other_env fish; }

base_path_changed() {
  local shell=$1 path_before
  watching_workspace
  enter_leave "$shell"
  path_before=$(tmux_run 'printenv PATH')
  # (fish: $PATH is a list, so /x:$PATH would be one /x: per element)
  if [[ $shell == fish ]]; then tmux_run 'set -gx PATH /x $PATH'; else tmux_run 'export PATH=/x:$PATH'; fi
  [ "$(tmux_run 'printenv PATH')" = "/x:$path_before" ]
  reenter
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv PATH')" = "$proj/bin:/x:$path_before" ]
  # Leaving gives back the user's own PATH, /x included.
  tmux_run "cd $(q "$work")"
  [ "$(tmux_run 'printenv PATH')" = "/x:$path_before" ]
}

@test "bash: the base PATH changed while outside (export PATH=/x:\$PATH): re-entry evaluates again" { base_path_changed bash; }
@test "zsh: the base PATH changed while outside (export PATH=/x:\$PATH): re-entry evaluates again" { base_path_changed zsh; }
@test "fish: the base PATH changed while outside (set -gx PATH /x \$PATH): re-entry evaluates again" { base_path_changed fish; }

# The base value of a variable the file changes (not PATH: fish compares the
# two kinds differently), changed while outside, to one that reads like a
# test operator: evaluated again, from the new value; unchanged since: cached.
base_value_changed() {
  local shell=$1
  mkdir -p "$proj"
  write_workspace "$proj" <<EOF
$(count_line)
export GREETING="\$GREETING, world"
EOF
  enter_leave "$shell" "$(rc_set "$shell" GREETING hello)"
  tmux_run "$(rc_set "$shell" GREETING '-n')"
  reenter
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv GREETING')" = '-n, world' ]
  tmux_run "cd $(q "$work")"
  [ "$(tmux_run 'printenv GREETING')" = '-n' ]
  reenter
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv GREETING')" = '-n, world' ]
}

@test "bash: the base value of a variable the file changes, changed while outside: re-entry evaluates again" { base_value_changed bash; }
@test "zsh: the base value of a variable the file changes, changed while outside: re-entry evaluates again" { base_value_changed zsh; }
@test "fish: the base value of a variable the file changes, changed while outside: re-entry evaluates again" { base_value_changed fish; }

unloaded_run_now() {
  watching_workspace
  enter_leave "$1"
  run --separate-stderr bash -c "cd $(printf %q "$proj") && ws-on-unload --run-now"
  [ "$status" -eq 0 ]
  reenter
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv DATA')" = one ]
  # fish's two parallel lists: the second load replaced the root's entry, not added one.
  [[ $1 != fish ]] || [ "$(tmux_run 'count $_ws_known_roots; count $_ws_known_scripts; echo $_ws_known_roots')" = $'1\n1\n'"$proj" ]
}

@test "bash: after ws-on-unload --run-now while outside, re-entry runs the workspace file again" { unloaded_run_now bash; }
@test "zsh: after ws-on-unload --run-now while outside, re-entry runs the workspace file again" { unloaded_run_now zsh; }
@test "fish: after ws-on-unload --run-now while outside, re-entry runs the workspace file again" { unloaded_run_now fish; }

unloaded_by_reaper() {
  export WS_UNLOAD_GRACE=1
  watching_workspace
  enter_leave "$1"
  local dir
  dir=$(ctx_dir "$proj")
  # The reaper unloads the context once the grace is over.
  wait_until "grep -q '\"state\":\"unloaded\"' $(printf %q "$dir/context.json")" 10
  reenter
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv DATA')" = one ]
  [ -f "$dir/users/$TMUX_SHELL_PID" ]
}

@test "bash: after leaving for longer than WS_UNLOAD_GRACE (the reaper unloads), re-entry runs the workspace file again" { unloaded_by_reaper bash; }
@test "zsh: after leaving for longer than WS_UNLOAD_GRACE (the reaper unloads), re-entry runs the workspace file again" { unloaded_by_reaper zsh; }
@test "fish: after leaving for longer than WS_UNLOAD_GRACE (the reaper unloads), re-entry runs the workspace file again" { unloaded_by_reaper fish; }

@test "fish: a watched file, WS_ENV or an unload while outside make re-entry evaluate again; otherwise re-entry loads without evaluating" {
  watching_workspace
  enter_leave fish
  reenter
  [ "$(evaluations)" -eq 1 ]
  [ "$(tmux_run 'printenv DATA')" = one ]
  tmux_run "cd $(q "$work")"
  echo two >"$proj/data.txt"
  reenter
  [ "$(evaluations)" -eq 2 ]
  [ "$(tmux_run 'printenv DATA')" = two ]
  tmux_run "cd $(q "$work")"
  tmux_run 'set -gx WS_ENV test'
  reenter
  [ "$(evaluations)" -eq 3 ]
  [ "$(tmux_run 'printenv MODE')" = env:test ]
  tmux_run "cd $(q "$work")"
  run --separate-stderr bash -c "cd $(printf %q "$proj") && WS_ENV=test ws-on-unload --run-now"
  [ "$status" -eq 0 ]
  reenter
  [ "$(evaluations)" -eq 4 ]
  [ "$(tmux_run 'printenv MODE')" = env:test ]
}

# ------------------------------------------- leaving without a process ----
# docs/hook.md "Leaving without a process": a ready result defines
# _ws_revert, and the hook leaves with it (and records the departure with
# builtins) instead of running ws-export.

# no_revert — a command after which the next leave goes through ws-export
# (what a result that is not ready defines), to compare the two leaves.
no_revert() { if [[ $TMUX_SHELL == fish ]]; then echo 'function _ws_revert; return 1; end'; else echo '_ws_revert() { return 1; }'; fi; }

# hook_state — the hook's own variables (and the watch check: bash/zsh's function, fish's arguments), one line.
hook_state() {
  if [[ $TMUX_SHELL == fish ]]; then
    tmux_run 'printf "[%s]" "$_ws_root" "$_ws_name" "$_ws_state" "$_ws_ctxdir" "$_ws_valid" "$_ws_knobs" "$_ws_pwd" "$_ws_watch_test" "$_ws_ceil"'
  else
    tmux_run 'printf "[%s]" "$_ws_root" "$_ws_name" "$_ws_state" "$_ws_ctxdir" "$_ws_valid" "$_ws_knobs" "$_ws_pwd" "${_ws_watch[*]}" "${_ws_ceil[*]}"; _ws_watch_ok && echo " watch ok"'
  fi
}

# leave_events PID — the user.leave events of PID, one JSON line each.
leave_events() { jq -c --argjson pid "$1" 'select(.type == "user.leave" and .pid == $pid)' "$home/events.jsonl"; }

# pause_reaper — SIGSTOP the state home's reaper: its watcher first (so it
# starts no worker meanwhile), then any worker; resume_reaper undoes it.
pause_reaper() {
  local pid r
  paused=()
  for pid in $(reapers); do kill -STOP "$pid" && paused+=("$pid"); done
  # Then its workers, and any child the watcher forked that is no worker yet
  # (between fork and exec: workers does not list it yet, and it would run).
  for pid in $(workers) $(for r in "${paused[@]}"; do pgrep -P "$r"; done); do kill -STOP "$pid" && paused+=("$pid"); done
  ((${#paused[@]}))
}
resume_reaper() { ((${#paused[@]} == 0)) || kill -CONT "${paused[@]}"; }

# leave_equals_export SHELL SCENARIO — enter, leave through ws-export (the
# reference), enter again, leave without a process (traced): 0 processes,
# the same environment and hook variables as ws-export's leave; the record
# said "left" (the reaper stopped meanwhile, to look at it), then the reaper
# removed it without a second user.leave; ws-list shows no user.
leave_equals_export() {
  local shell=$1 dir rec joined ref paused=()
  scenario "$shell" "$2"
  tmux_start "$shell" "${RC[@]}"
  dir=$(ctx_dir "$ENTER")
  rec="$dir/users/$TMUX_SHELL_PID"
  dump outside-before
  tmux_run "cd $(q "$ENTER")"
  dump inside
  run same_env outside-before inside
  [ "$status" -ne 0 ]
  tmux_run "$(no_revert)"
  tmux_run "cd $(q "$work")"
  dump left-by-ws-export
  same_env outside-before left-by-ws-export
  ref=$(hook_state)
  [ "$(leave_events "$TMUX_SHELL_PID" | wc -l)" -eq 1 ]

  tmux_run "cd $(q "$ENTER")"
  dump inside-again
  same_env inside inside-again
  [ -f "$rec" ]
  joined=$(<"$rec")
  # The reaper (the cached entry needs one) is stopped while the record is looked at.
  pause_reaper
  strace_start leave
  run tmux_run "cd $(q "$work")"
  strace_stop
  [ "$status" -eq 0 ]
  ((SPAWNS == 0))
  # What ws-export prints when a shell leaves.
  [ "$output" = 'ws: unloading' ] || tmux_wait '^ws: unloading$'
  # The record: the join record's pid and start (the hooks write only
  # those), plus "left" (an ISO-8601 UTC time).
  [ "$(jq -c '{pid, start}' "$rec")" = "$(jq -c '{pid, start}' <<<"$joined")" ]
  jq -e --argjson joined "$joined" 'del(.left) | to_entries | all(.value == $joined[.key])' "$rec"
  [[ $(jq -r .left "$rec") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]]
  # Not a user any more, for the one reader (ws-list), while the reaper still sleeps.
  [ "$(ws-list --json | jq --argjson pid "$TMUX_SHELL_PID" '[.contexts[].users[] | select(.pid == $pid)] | length')" -eq 0 ]
  resume_reaper
  dump left-without-a-process
  same_env left-by-ws-export left-without-a-process
  [ "$(hook_state)" = "$ref" ]
  [ ! -e "$BATS_TEST_TMPDIR/ran" ]
  # The reaper removes the record (the shell is alive: only "left" makes it no user)...
  wait_until "[ ! -e $(printf %q "$rec") ]" 10
  # ...and the shell's own event is the one user.leave of this leave.
  [ "$(leave_events "$TMUX_SHELL_PID" | wc -l)" -eq 2 ]
  [ "$(leave_events "$TMUX_SHELL_PID" | jq -s -c '[.[] | select(.cached == true)] | length')" -eq 1 ]
  [ "$(leave_events "$TMUX_SHELL_PID" | tail -n 1 | jq -c '{context, root, pid, cached}')" = "$(jq -c -n --arg r "$(cd "$ENTER" && pwd -P)" --arg c "$(jq -r .name "$dir/context.json")" --argjson pid "$TMUX_SHELL_PID" '{context: $c, root: $r, pid: $pid, cached: true}')" ]
  # Entering again is a registration again (the left record is no user).
  tmux_run "cd $(q "$ENTER")"
  [ -f "$rec" ]
  [ "$(jq -r '.left // "none"' "$rec")" = none ]
  [ "$(ws-list --json | jq --argjson pid "$TMUX_SHELL_PID" '[.contexts[].users[] | select(.pid == $pid)] | length')" -eq 1 ]
  [ "$(evaluations)" -eq 1 ]
}

@test "bash: leaving without a process: 0 processes, the environment of ws-export's leave: quotes, backslashes, newlines, \$(...)" { leave_equals_export bash quotes; }
@test "zsh: leaving without a process: 0 processes, the environment of ws-export's leave: quotes, backslashes, newlines, \$(...)" { leave_equals_export zsh quotes; }
@test "fish: leaving without a process: 0 processes, the environment of ws-export's leave: quotes, backslashes, newlines, \$(...)" { leave_equals_export fish quotes; }
@test "bash: leaving without a process: 0 processes, the environment of ws-export's leave: PATH_add and path_add" { leave_equals_export bash path_add; }
@test "zsh: leaving without a process: 0 processes, the environment of ws-export's leave: PATH_add and path_add" { leave_equals_export zsh path_add; }
@test "fish: leaving without a process: 0 processes, the environment of ws-export's leave: PATH_add and path_add" { leave_equals_export fish path_add; }
@test "bash: leaving without a process: 0 processes, the environment of ws-export's leave: empty vs unset, both ways" { leave_equals_export bash empty_unset; }
@test "zsh: leaving without a process: 0 processes, the environment of ws-export's leave: empty vs unset, both ways" { leave_equals_export zsh empty_unset; }
@test "fish: leaving without a process: 0 processes, the environment of ws-export's leave: empty vs unset, both ways" { leave_equals_export fish empty_unset; }
@test "bash: leaving without a process: 0 processes, the environment of ws-export's leave: a project path with spaces, quotes, \$(...) and UTF-8" { leave_equals_export bash hostile_path; }

# switch_between_cached SHELL — two contexts, each loaded once; then cd
# from one to the other and back (traced): 0 processes, each time the
# environment of the fresh evaluation, no evaluation, one cached
# user.leave and user.join per switch.
switch_between_cached() {
  local shell=$1 other="$work/other" n0
  mkdir -p "$proj/bin" "$other"
  write_workspace "$proj" <<EOF
$(count_line)
PATH_add bin
export ONE=\$'one \'q\' "dq"\n\$(touch $BATS_TEST_TMPDIR/ran)' SHARED=one
EOF
  write_workspace "$other" <<EOF
$(count_line)
export TWO='two \\ back' SHARED=two
EOF
  tmux_start "$shell"
  dump outside
  tmux_run "cd $(q "$proj")"
  dump fresh-one
  tmux_run "cd $(q "$other")"
  dump fresh-two
  [ "$(evaluations)" -eq 2 ]
  # Both cached entries are known now; a first switch back, untraced.
  tmux_run "cd $(q "$proj")"
  dump one
  same_env fresh-one one
  n0=$(jq -c --argjson pid "$TMUX_SHELL_PID" 'select((.type == "user.leave" or .type == "user.join") and .pid == $pid)' "$home/events.jsonl" | wc -l)
  strace_start to-two
  tmux_run "cd $(q "$other")"
  strace_stop
  ((SPAWNS == 0))
  dump two
  same_env fresh-two two
  strace_start to-one
  tmux_run "cd $(q "$proj")"
  strace_stop
  ((SPAWNS == 0))
  dump one-again
  same_env fresh-one one-again
  [ "$(evaluations)" -eq 2 ]
  [ ! -e "$BATS_TEST_TMPDIR/ran" ]
  # Each switch: the shell's own user.leave, then its user.join, both cached.
  run jq -r --argjson pid "$TMUX_SHELL_PID" 'select((.type == "user.leave" or .type == "user.join") and .pid == $pid) | "\(.type) \(.context) \(.cached)"' "$home/events.jsonl"
  [ "${#lines[@]}" -eq $((n0 + 4)) ]
  [ "${lines[-4]}" = "user.leave proj true" ]
  [ "${lines[-3]}" = "user.join other true" ]
  [ "${lines[-2]}" = "user.leave other true" ]
  [ "${lines[-1]}" = "user.join proj true" ]
  # The shell is a user of the one it is in, and (once the reaper saw it) not of the other.
  [ -z "$(jq -r '.left // empty' "$(ctx_dir "$proj")/users/$TMUX_SHELL_PID")" ]
  wait_until "[ ! -e $(printf %q "$(ctx_dir "$other")/users/$TMUX_SHELL_PID") ]" 10
  tmux_run "cd $(q "$work")"
  dump outside-again
  same_env outside outside-again
}

@test "bash: switching between two cached contexts starts no process and gives each one's fresh environment" { switch_between_cached bash; }
@test "zsh: switching between two cached contexts starts no process and gives each one's fresh environment" { switch_between_cached zsh; }
@test "fish: switching between two cached contexts starts no process and gives each one's fresh environment" { switch_between_cached fish; }

# wake_fifo SHELL — with $home/reaper.wake a FIFO (the watcher's, the watcher
# paused), a leave writes nothing to it (the watcher sees events.jsonl change
# at its next tick: ws-reaper.bats), so it never blocks on it or wakes
# another process on the way out, read by nobody or by someone.
wake_fifo() {
  local shell=$1 fd line paused=()
  write_workspace "$proj" 'export IN=1'
  tmux_start "$shell"
  tmux_run "cd $(q "$proj")"
  # The reaper may start after the prompt (on the cold path ws-export adopt starts it: docs/hook.md "The cold path").
  wait_until "[ -p $(printf %q "$home/reaper.wake") ]" 10
  pause_reaper
  # Nobody reads it: the leave comes back all the same.
  tmux_run "cd $(q "$work")"
  [ "$(tmux_run 'echo "[$IN]"')" = '[]' ]
  tmux_run "cd $(q "$proj")"
  [ "$(tmux_run 'echo "[$IN]"')" = '[1]' ]
  exec {fd}<>"$home/reaper.wake"
  tmux_run "cd $(q "$work")"
  [ "$(tmux_run 'echo "[$IN]"')" = '[]' ]
  # The leave was process-free: its user.leave is the shell's own.
  [ "$(leave_events "$TMUX_SHELL_PID" | tail -n 1 | jq -r .cached)" = true ]
  run ! read -r -t 1 -u "$fd" line
  exec {fd}>&-
  resume_reaper
}

@test "bash: a leave with reaper.wake a FIFO does not block, and writes nothing to it" { wake_fifo bash; }
@test "zsh: a leave with reaper.wake a FIFO does not block, and writes nothing to it" { wake_fifo zsh; }
@test "fish: a leave with reaper.wake a FIFO does not block, and writes nothing to it" { wake_fifo fish; }
