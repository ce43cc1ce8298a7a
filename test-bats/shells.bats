#!/usr/bin/env bats
# The shell hooks (SPEC §4 ws-export, §7 "a prompt with nothing changed
# spawns no process", §8 hostile values) in real interactive bash, zsh and
# fish under tmux. Each scenario is a function taking the shell, run once per
# shell. Variables are read through $SHOW, a child process, so the tests see
# what the shell exports, not only what it holds.

load test_helper/common-setup
load test_helper/strace

setup() {
  common_setup
  SHOW="$BATS_TEST_TMPDIR/show"
  # show NAME... — NAME=<value, %q-quoted> or "NAME unset", from the environment.
  cat >"$SHOW" <<'EOF'
#!/usr/bin/env bash
for name; do
  if [[ -v $name ]]; then printf '%s=%q\n' "$name" "${!name}"; else printf '%s unset\n' "$name"; fi
done
EOF
  chmod +x "$SHOW"
}
teardown() { common_teardown; }

# ------------------------------------------------------------ helpers ----

# q VALUE — VALUE quoted for $TMUX_SHELL (every byte but NUL, newlines too).

# setx NAME VALUE / unsetx NAME — the command that exports or unsets NAME.
setx() {
  if [[ $TMUX_SHELL == fish ]]; then printf 'set -gx %s %s' "$1" "$(q "$2")"; else printf 'export %s=%s' "$1" "$(q "$2")"; fi
}
unsetx() {
  # fish's `set -e` of an unset name returns 4
  if [[ $TMUX_SHELL == fish ]]; then printf 'set -e %s; or true' "$1"; else printf 'unset %s' "$1"; fi
}

# show NAME... — the exported values, as the shell's next command sees them.
show() { tmux_run "$SHOW $*"; }

# expect_show 'NAME...' 'expected lines' — show, and compare.
expect_show() {
  local got
  got=$(show "$1") || return
  if [[ $got != "$2" ]]; then
    printf 'expected:\n%s\ngot:\n%s\n' "$2" "$got" >&2
    return 1
  fi
}

# ------------------------------------------------------- the hook line ----

hook_line_works() {
  local shell=$1
  tmux_start "$shell"
  case $shell in
    bash)
      run tmux_run 'declare -F _ws_hook && [[ ";${PROMPT_COMMAND[*]};" == *";_ws_hook;"* ]] && echo installed'
      [[ $output == *installed* ]]
      # Installing twice (an rc file sourced again) keeps one hook.
      tmux_run 'eval "$(ws-export hook bash)"'
      run tmux_run 'n=0; for c in ${PROMPT_COMMAND[@]//;/ }; do [[ $c == _ws_hook ]] && ((n++)); done; echo $n'
      [ "$output" = 1 ]
      ;;
    zsh)
      run tmux_run '(( $+functions[_ws_hook] && ${precmd_functions[(I)_ws_hook]} && ${chpwd_functions[(I)_ws_hook]} )) && echo installed'
      [[ $output == *installed* ]]
      tmux_run 'eval "$(ws-export hook zsh)"'
      run tmux_run 'echo ${#${(M)precmd_functions:#_ws_hook}} ${#${(M)chpwd_functions:#_ws_hook}}'
      [ "$output" = "1 1" ]
      ;;
    fish)
      run tmux_run 'functions -q _ws_hook _ws_unchanged; and echo installed'
      [[ $output == *installed* ]]
      tmux_run 'ws-export hook fish | source'
      run tmux_run 'functions --handlers | string match -- "*_ws_hook" | count'
      # one handler for fish_prompt, one for PWD
      [ "$output" = 2 ]
      ;;
  esac
  # The hook keeps the status of the last command.
  tmux_send false
  local status_var='$?'
  [[ $shell == fish ]] && status_var='$status'
  run tmux_run "echo $status_var"
  [ "$output" = 1 ]
  # Outside any workspace it prints nothing and exports nothing of its own.
  expect_show 'WS_ROOT WS_DIFF WS_CONTEXT' $'WS_ROOT unset\nWS_DIFF unset\nWS_CONTEXT unset'
  run tmux_pane
  [[ $output != *"ws:"* && $output != *"not found"* && $output != *rror* ]]
}

@test "bash: the hook line installs one prompt hook that keeps \$? and prints nothing outside a workspace" { hook_line_works bash; }
@test "zsh: the hook line installs one prompt hook that keeps \$? and prints nothing outside a workspace" { hook_line_works zsh; }
@test "fish: the hook line installs one prompt hook that keeps \$status and prints nothing outside a workspace" { hook_line_works fish; }

# ------------------------------------------------------ enter and leave ----

enter_and_leave() {
  local shell=$1 ws="$BATS_TEST_TMPDIR/work/proj"
  write_workspace "$ws" <<'EOF'
export CHANGED=inside
export ADDED=added
export EMPTIED=
export WAS_EMPTY=now-set
unset REMOVED
PATH_add bin
EOF
  mkdir -p "$ws/sub/deeper" "$ws/bin"
  tmux_start "$shell"
  tmux_run "$(setx CHANGED before)"
  tmux_run "$(setx EMPTIED 'not empty')"
  tmux_run "$(setx WAS_EMPTY '')"
  tmux_run "$(setx REMOVED 'was here')"
  tmux_run "$(unsetx ADDED)"
  local names='CHANGED ADDED EMPTIED WAS_EMPTY REMOVED WS_ROOT WS_CONTEXT WS_ENV'
  local before path_before
  before=$(show "$names")
  path_before=$(tmux_run 'printenv PATH')
  [[ $before == *"ADDED unset"* && $before == *"WAS_EMPTY=''"* ]]

  tmux_run "cd $(q "$ws")"
  # From the next command on.
  expect_show "$names" "CHANGED=inside
ADDED=added
EMPTIED=''
WAS_EMPTY=now-set
REMOVED unset
WS_ROOT=$(printf %q "$ws")
WS_CONTEXT=proj
WS_ENV=default"
  [ "$(tmux_run 'printenv PATH')" = "$ws/bin:$path_before" ]
  local inside
  inside=$(show "$names")

  tmux_run 'cd sub/deeper'
  [ "$(show "$names")" = "$inside" ]
  [ "$(tmux_run 'printenv PATH')" = "$ws/bin:$path_before" ]

  tmux_run "cd $(q "$BATS_TEST_TMPDIR/work")"
  [ "$(show "$names")" = "$before" ]
  [ "$(tmux_run 'printenv PATH')" = "$path_before" ]
  expect_show 'WS_DIFF WS_STATE_DIR' $'WS_DIFF unset\nWS_STATE_DIR unset'
}

@test "bash: cd into a workspace loads it, a subdirectory keeps it, cd out restores the previous environment and PATH exactly" { enter_and_leave bash; }
@test "zsh: cd into a workspace loads it, a subdirectory keeps it, cd out restores the previous environment and PATH exactly" { enter_and_leave zsh; }
@test "fish: cd into a workspace loads it, a subdirectory keeps it, cd out restores the previous environment and PATH exactly" { enter_and_leave fish; }

# ------------------------------------------------------ hostile values ----

hostile_values() {
  local shell=$1 ws="$BATS_TEST_TMPDIR/work/evil" marker="$BATS_TEST_TMPDIR/marker"
  mkdir -p "$ws"
  cat >"$ws/.workspace" <<'EOF'
export EVIL=$'  two  spaces "double" \'single\' back\\slash \\n $HOME ${HOME} `touch @M@.1` $(touch @M@.2) ; touch @M@.3 \'; touch @M@.4 #\n\nline three\ttab %s %% %n * ? [a] ~ !! \\ é ✓ 日本語 \x01\x1b[31m \x7f end\n\n'
export PLAIN='$(touch @M@.5)'"'"'$(touch @M@.6)'"'"
export EMPTYV=
export BIG=$(printf 'x%.0s' {1..100000})
export PRE_EVIL=plain
EOF
  sed -i "s|@M@|$marker|g" "$ws/.workspace"
  ws-allow "$ws"
  # The exact bytes, as bash reads the file (without running anything).
  bash --noprofile --norc -c "$(grep -E '^export (EVIL|PLAIN)=' "$ws/.workspace")"'; printf %s "$EVIL" >"$1"; printf %s "$PLAIN" >"$2"' \
    _ "$BATS_TEST_TMPDIR/evil.want" "$BATS_TEST_TMPDIR/plain.want"
  [ ! -e "$marker.1" ]
  [ ! -e "$marker.5" ]

  tmux_start "$shell"
  # A hostile value that was there before must come back exactly on leaving.
  tmux_run "$(setx PRE_EVIL "$(cat "$BATS_TEST_TMPDIR/evil.want")
")"
  tmux_run "printenv PRE_EVIL >$(q "$BATS_TEST_TMPDIR/pre.before")"
  tmux_run "cd $(q "$ws")"
  tmux_run "printenv EVIL >$(q "$BATS_TEST_TMPDIR/evil.got"); printenv PLAIN >$(q "$BATS_TEST_TMPDIR/plain.got")"
  # The shell's own variable too, not only the exported copy.
  tmux_run "printf %s \"\$EVIL\" >$(q "$BATS_TEST_TMPDIR/evil.var")"
  cmp "$BATS_TEST_TMPDIR/evil.got" <(cat "$BATS_TEST_TMPDIR/evil.want"; echo)
  cmp "$BATS_TEST_TMPDIR/evil.var" "$BATS_TEST_TMPDIR/evil.want"
  cmp "$BATS_TEST_TMPDIR/plain.got" <(cat "$BATS_TEST_TMPDIR/plain.want"; echo)
  expect_show 'EMPTYV PRE_EVIL' $'EMPTYV=\'\'\nPRE_EVIL=plain'
  run tmux_run 'printenv BIG | wc -c'
  [ "${output//[[:space:]]/}" = 100001 ]

  tmux_run "cd $(q "$BATS_TEST_TMPDIR/work")"
  tmux_run "printenv PRE_EVIL >$(q "$BATS_TEST_TMPDIR/pre.after")"
  cmp "$BATS_TEST_TMPDIR/pre.before" "$BATS_TEST_TMPDIR/pre.after"
  expect_show 'EVIL PLAIN EMPTYV BIG' $'EVIL unset\nPLAIN unset\nEMPTYV unset\nBIG unset'
  local m
  for m in 1 2 3 4 5 6; do
    [ ! -e "$marker.$m" ] || { echo "something ran: $marker.$m exists" >&2; return 1; }
  done
  [ -z "$(find "$BATS_TEST_TMPDIR" -name 'marker*' -print -quit)" ]
}

@test "bash: values with spaces, quotes, newlines, \$(...), backticks and non-ASCII arrive exactly and run nothing" { hostile_values bash; }
@test "zsh: values with spaces, quotes, newlines, \$(...), backticks and non-ASCII arrive exactly and run nothing" { hostile_values zsh; }
@test "fish: values with spaces, quotes, newlines, \$(...), backticks and non-ASCII arrive exactly and run nothing" { hostile_values fish; }

# ------------------------------------------------------------ reloads ----

edits_reload() {
  local shell=$1 ws="$BATS_TEST_TMPDIR/work/proj"
  mkdir -p "$ws"
  echo one >"$ws/data.txt"
  write_workspace "$ws" 'watch_file data.txt; export DATA=$(<data.txt); export A=1'
  tmux_start "$shell"
  tmux_run "cd $(q "$ws")"
  expect_show 'A DATA B' $'A=1\nDATA=one\nB unset'

  # The workspace file edited (and allowed again): the next prompt reloads.
  write_workspace "$ws" 'watch_file data.txt; export DATA=$(<data.txt); export A=2 B=new'
  tmux_run ':'
  expect_show 'A DATA B' $'A=2\nDATA=one\nB=new'

  # A watched file changed: no re-allow needed.
  echo two >"$ws/data.txt"
  tmux_run ':'
  expect_show 'A DATA B' $'A=2\nDATA=two\nB=new'

  # Edited from inside the shell: the prompt after the command reloads.
  tmux_run "printf '%s\n' 'export A=3' >>.workspace; ws-allow >/dev/null 2>&1"
  expect_show 'A DATA B' $'A=3\nDATA=two\nB=new'

  # Edited, not allowed: blocked, nothing of it applied.
  printf 'export A=4\n' >>"$ws/.workspace"
  run --separate-stderr tmux_run ':'
  [ "$status" -eq 0 ]
  message_seen "ws: $ws/.workspace is blocked. Run 'ws-allow' to approve its content."
  run show A
  [ "$output" != A=4 ]
}

@test "bash: editing the workspace file or a watched file reloads at the next prompt" { edits_reload bash; }
@test "zsh: editing the workspace file or a watched file reloads at the next prompt" { edits_reload zsh; }
@test "fish: editing the workspace file or a watched file reloads at the next prompt" { edits_reload fish; }

blocked_then_allowed() {
  local shell=$1 ws="$BATS_TEST_TMPDIR/work/new"
  mkdir -p "$ws"
  printf '%s\n' "export BLOCKED_VAR=loaded; touch $(printf %q "$BATS_TEST_TMPDIR/ran")" >"$ws/.workspace"
  tmux_start "$shell"
  run --separate-stderr tmux_run "cd $(q "$ws")"
  [ "$status" -eq 0 ]
  message_seen "ws: $ws/.workspace is blocked. Run 'ws-allow' to approve its content."
  expect_show 'BLOCKED_VAR WS_ROOT WS_DIFF' $'BLOCKED_VAR unset\nWS_ROOT unset\nWS_DIFF unset'
  [ ! -e "$BATS_TEST_TMPDIR/ran" ]
  # More prompts: still blocked, still nothing run.
  tmux_run ':'
  expect_show BLOCKED_VAR 'BLOCKED_VAR unset'
  [ ! -e "$BATS_TEST_TMPDIR/ran" ]

  tmux_run 'ws-allow'
  expect_show 'BLOCKED_VAR WS_ROOT' "BLOCKED_VAR=loaded
WS_ROOT=$(printf %q "$ws")"
  [ -e "$BATS_TEST_TMPDIR/ran" ]
}

@test "bash: a blocked file shows the message and applies nothing; ws-allow in that shell loads it at the next prompt" { blocked_then_allowed bash; }
@test "zsh: a blocked file shows the message and applies nothing; ws-allow in that shell loads it at the next prompt" { blocked_then_allowed zsh; }
@test "fish: a blocked file shows the message and applies nothing; ws-allow in that shell loads it at the next prompt" { blocked_then_allowed fish; }

ws_env_change() {
  local shell=$1 ws="$BATS_TEST_TMPDIR/work/proj" out="$BATS_TEST_TMPDIR/work"
  write_workspace "$ws" 'export MODE="env:$WS_ENV"'
  tmux_start "$shell"
  # Chosen before entering, then changed inside.
  tmux_run "$(setx WS_ENV test)"
  tmux_run "cd $(q "$ws")"
  expect_show 'MODE WS_ENV' $'MODE=env:test\nWS_ENV=test'
  tmux_run "$(setx WS_ENV ci)"
  expect_show 'MODE WS_ENV' $'MODE=env:ci\nWS_ENV=ci'
  # No choice: default; leaving restores "unset".
  tmux_run "cd $(q "$out")"
  tmux_run "$(unsetx WS_ENV)"
  expect_show 'MODE WS_ENV' $'MODE unset\nWS_ENV unset'
  # Fresh shell, so that no cached entry is involved.
  tmux_stop
  tmux_start "$shell"
  tmux_run "cd $(q "$ws")"
  expect_show 'MODE WS_ENV' $'MODE=env:default\nWS_ENV=default'
  # Entered with no choice (ws set WS_ENV=default), then chosen inside.
  tmux_run "$(setx WS_ENV test)"
  expect_show 'MODE WS_ENV' $'MODE=env:test\nWS_ENV=test'
}

@test "bash: changing WS_ENV re-evaluates at the next prompt" { ws_env_change bash; }
@test "zsh: changing WS_ENV re-evaluates at the next prompt" { ws_env_change zsh; }
@test "fish: changing WS_ENV re-evaluates at the next prompt" { ws_env_change fish; }

# SPEC §4 fast path: "the cached result must equal what a fresh evaluation
# would give". The grace is long, so the context stays loaded (and its cached
# entry valid) while the shell is outside.
reenter_after_ws_env_change() {
  local shell=$1 ws="$BATS_TEST_TMPDIR/work/proj" out="$BATS_TEST_TMPDIR/work"
  export WS_UNLOAD_GRACE=60
  write_workspace "$ws" 'export MODE="env:$WS_ENV"'
  tmux_start "$shell"
  tmux_run "$(setx WS_ENV ci)"
  tmux_run "cd $(q "$ws")"
  expect_show 'MODE WS_ENV' $'MODE=env:ci\nWS_ENV=ci'
  tmux_run "cd $(q "$out")"
  expect_show 'MODE WS_ENV' $'MODE unset\nWS_ENV=ci'
  # Same choice: the cached entry may be used; the result is the same.
  tmux_run "cd $(q "$ws")"
  expect_show 'MODE WS_ENV' $'MODE=env:ci\nWS_ENV=ci'
  tmux_run "cd $(q "$out")"
  # Another choice made outside: re-entering must not apply the cached ci result.
  tmux_run "$(unsetx WS_ENV)"
  tmux_run "cd $(q "$ws")"
  expect_show 'MODE WS_ENV' $'MODE=env:default\nWS_ENV=default'
  tmux_run "cd $(q "$out")"
  tmux_run "$(setx WS_ENV test)"
  tmux_run "cd $(q "$ws")"
  expect_show 'MODE WS_ENV' $'MODE=env:test\nWS_ENV=test'
}

@test "bash: re-entering after WS_ENV changed outside gives what a fresh evaluation gives" { reenter_after_ws_env_change bash; }
@test "zsh: re-entering after WS_ENV changed outside gives what a fresh evaluation gives" { reenter_after_ws_env_change zsh; }
@test "fish: re-entering after WS_ENV changed outside gives what a fresh evaluation gives" { reenter_after_ws_env_change fish; }

# ------------------------------------------------------------- Ctrl-C ----

# direnv's SIGINT guard: Ctrl-C while ws-export waits for a slow build does
# not break the shell. The prompt comes back with the last command's status,
# the environment is the context's in full or not at all, Ctrl-C still stops
# a command afterwards, and once the build finishes a prompt applies it.
# exited PID — the process is gone (a zombie nobody reaps counts as gone).
exited() { ! _wsh_alive "$1"; }

ctrl_c_during_export() {
  local shell=$1 ws="$BATS_TEST_TMPDIR/work/slow" gate="$BATS_TEST_TMPDIR/gate"
  local started="$BATS_TEST_TMPDIR/started" out="$BATS_TEST_TMPDIR/after-ctrl-c" report="$BATS_TEST_TMPDIR/report"
  mkdir -p "$ws"
  mkfifo "$gate"
  # report STATUS NAME... — the status it is given, then show NAME...
  printf '#!/usr/bin/env bash\nprintf "status=%%s\\n" "$1"; shift; exec %q "$@"\n' "$SHOW" >"$report"
  chmod +x "$report"
  local rc='export WS_BUILD_TIMEOUT=30000' status_var='$?'
  [[ $shell == fish ]] && rc='set -gx WS_BUILD_TIMEOUT 30000' status_var='$status'
  tmux_start "$shell" "$rc"
  tmux_run "cd $(q "$ws")"
  # The build holds until the test opens the gate (30 s at most); ws-export
  # meanwhile waits for it (up to WS_BUILD_TIMEOUT).
  write_workspace "$ws" <<WORKSPACE
: >$(printf %q "$started")
exec 3<>$(printf %q "$gate")
read -r -t 30 -u 3 _ || true
export FIRST=1 SECOND=2
WORKSPACE
  # No cd: the prompt after `false` finds the new file and runs ws-export.
  tmux_send false
  wait_until "[[ -e $(printf %q "$started") ]]" 10
  tmux_keys C-c
  # Back at the prompt while the build still waits (the gate opens only after).
  tmux_send "$report $status_var FIRST SECOND WS_ROOT >$(q "$out.tmp"); mv $(q "$out.tmp") $(q "$out")"
  wait_until "[[ -e $(printf %q "$out") ]]" 5 || { tmux_pane >&2; return 1; }
  run cat "$out"
  [ "${lines[0]}" = status=1 ]
  # Not applied at all; all applied; or (Ctrl-C sent the build to the background,
  # docs/builds.md) the shell is the context's user with only ws's own variables.
  [[ $output == *$'\nFIRST unset\nSECOND unset\nWS_ROOT unset' || $output == *$'\nFIRST=1\nSECOND=2\nWS_ROOT='* ||
    $output == *$'\nFIRST unset\nSECOND unset\nWS_ROOT='* ]] ||
    { echo "half applied: $output" >&2; return 1; }

  echo open 1<>"$gate"
  expect_show 'FIRST SECOND WS_ROOT' "FIRST=1
SECOND=2
WS_ROOT=$(printf %q "$ws")"

  # SIGINT is not left ignored: Ctrl-C stops a command (which inherits it).
  tmux_send 'sleep 30'
  local pid=''
  wait_until 'pid=$(pgrep -n -P "$TMUX_SHELL_PID" -x sleep)' 10
  track_pid "$pid"
  tmux_keys C-c
  wait_until "exited $pid" 5
}

@test "bash: Ctrl-C while a slow ws-export runs: the prompt comes back with \$?, the environment all applied or not at all" { ctrl_c_during_export bash; }
@test "zsh: Ctrl-C while a slow ws-export runs: the prompt comes back with \$?, the environment all applied or not at all" { ctrl_c_during_export zsh; }
@test "fish: Ctrl-C while a slow ws-export runs: the prompt comes back with \$status, the environment all applied or not at all" { ctrl_c_during_export fish; }

# ----------------------------------------------------- process counts ----

# measure_prompts LABEL [N=50] [BEFORE_CMD] — strace the shell and all it
# starts while it runs BEFORE_CMD (if any; a builtin), then shows N empty
# prompts, then runs one builtin command. Sets SPAWNS (processes started:
# fork, vfork, clone/clone3 without CLONE_THREAD, execve), THREADS (clones
# with CLONE_THREAD: fish's own worker threads), PROMPTS (prompt hooks that
# ran, by the counter) and HOOK_STATS (stat calls naming $WATCHED, i.e. the
# ws hook checking a watched file without spawning).
measure_prompts() {
  local label=$1 n=${2:-50} before=${3:-} p0 p1 i keys=()
  strace_start "$label" execve,execveat,fork,vfork,clone,clone3,%%stat || return
  p0=$(tmux_run 'echo $_t_prompts') || return
  [[ -z $before ]] || tmux_run "$before" || return
  for ((i = 0; i < n; i++)); do keys+=(Enter); done
  ((n == 0)) || tmux_keys "${keys[@]}"
  # Long enough for 50 prompts of a traced shell on a loaded machine.
  p1=$(tmux_run 'echo $_t_prompts' 60) || return
  strace_stop
  PROMPTS=$((p1 - p0))
  THREADS=$(grep -v 'resumed>' "$TRACE" | grep -E '^[0-9]+ +clone3?\(' | grep -c CLONE_THREAD) || true
  HOOK_STATS=0
  [[ -z ${WATCHED-} ]] || HOOK_STATS=$(grep -cF "\"$WATCHED\"" "$TRACE") || true
  echo "# $TMUX_SHELL, $label: $PROMPTS prompts, $SPAWNS processes started, $THREADS threads, $HOOK_STATS stat() of the workspace file" >&3
  # Every prompt ran (the BEFORE_CMD's and the last command's included).
  local expected=$((n + 1 + (${#before} ? 1 : 0)))
  ((PROMPTS == expected)) || { echo "expected $expected prompts, counted $PROMPTS" >&2; return 1; }
}

idle_prompts_spawn_nothing() {
  local shell=$1 prompt_init=${2:-} ws="$BATS_TEST_TMPDIR/work/proj" rc=()
  # Long enough that the context is still loaded when the shell comes back.
  export WS_UNLOAD_GRACE=60
  write_workspace "$ws" 'export INSIDE=1; PATH_add bin'
  mkdir -p "$ws/sub/deeper"
  rc=("$(counter_rc "$shell")")
  if [[ -n $prompt_init ]]; then
    case $shell in
      bash) rc+=('eval "$(ws-prompt init bash "%n|%e|%s|%u|%S")"' 'PS1='\''[$WS_PROMPT] $ '\''') ;;
      zsh) rc+=('eval "$(ws-prompt init zsh "%n|%e|%s|%u|%S")"' 'setopt prompt_subst' 'PS1='\''[$WS_PROMPT] $ '\''') ;;
      fish) rc+=('ws-prompt init fish "%n|%e|%s|%u|%S" | source' 'function fish_prompt; printf "[%s] > " "$WS_PROMPT"; end') ;;
    esac
  fi
  tmux_start "$shell" "${rc[@]}"

  tmux_run "cd $(q "$ws")"
  expect_show INSIDE INSIDE=1
  # The segment is rendered (NO_COLOR is set: no escapes); users and
  # services are checked at the end, after the counts.
  [[ -z $prompt_init ]] || tmux_wait '\[proj\|default\|●\|[0-9]+\|[0-9]+\] [$>]$'
  WATCHED="$ws/.workspace"
  measure_prompts inside-workspace 50
  ((SPAWNS == 0))
  ((HOOK_STATS >= 50)) # the hook did check the watched file at each prompt

  measure_prompts "cd-subdirectory" 50 'cd sub/deeper'
  ((SPAWNS == 0))
  ((HOOK_STATS >= 50))
  expect_show INSIDE INSIDE=1

  tmux_run "cd $(q "$BATS_TEST_TMPDIR/work")"
  expect_show INSIDE 'INSIDE unset'
  [[ -z $prompt_init ]] || tmux_wait '^\[\] [$>]$'
  WATCHED=
  measure_prompts outside-workspace 50
  ((SPAWNS == 0))

  # Back in: the three shells re-enter from the cached result (SPEC §4 fast
  # path, cache/enter.SHELL) with builtins only.
  measure_prompts re-enter 0 "cd $(q "$ws")"
  ((SPAWNS == 0))
  expect_show INSIDE INSIDE=1
  if [[ -n $prompt_init ]]; then
    # One user (this shell), no services.
    tmux_run ':'
    run tmux_pane
    [[ ${lines[${#lines[@]} - 1]} == '[proj|default|●|1|0] '[\$\>] ]] || { echo "last prompt: ${lines[${#lines[@]} - 1]}" >&2; return 1; }
  fi

  # The instrument does see processes: a changed knob always runs ws-export.
  measure_prompts knob-changed-control 0 "$(setx WS_CEILING_DIRS /nonexistent-ceiling)"
  ((SPAWNS > 0))
}

@test "bash: 50 prompts with nothing changed start no process (inside, after cd to a subdirectory, outside, back in from the cache)" { idle_prompts_spawn_nothing bash; }
@test "zsh: 50 prompts with nothing changed start no process (inside, after cd to a subdirectory, outside, back in from the cache)" { idle_prompts_spawn_nothing zsh; }
@test "fish: 50 prompts with nothing changed start no process (inside, after cd to a subdirectory, outside, back in from the cache)" { idle_prompts_spawn_nothing fish; }
@test "bash: with ws-prompt init, 50 prompts with nothing changed still start no process" { idle_prompts_spawn_nothing bash init; }
@test "zsh: with ws-prompt init, 50 prompts with nothing changed still start no process" { idle_prompts_spawn_nothing zsh init; }
@test "fish: with ws-prompt init, 50 prompts with nothing changed still start no process" { idle_prompts_spawn_nothing fish init; }
