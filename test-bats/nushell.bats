#!/usr/bin/env bats
# nushell (SPEC §4 `ws-export hook nu`, `ws-export nu`, `ws-prompt init
# nu`): a real interactive nu under tmux, the hook installed the README's
# way (saved into nushell's autoload directory). nushell cannot evaluate
# code it is handed: the hook loads `ws-export nu`'s JSON with load-env and
# hide-env, keeps PATH a list, and checks at each prompt with builtins only
# whether anything changed (no process at an idle prompt, strace-counted).

load test_helper/common-setup
load test_helper/state-home
load test_helper/strace

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

setup() {
  command -v nu >/dev/null || skip "nu is not installed (.ci/run installs it from the npm registry)"
  common_setup
  proj="$BATS_TEST_TMPDIR/work/proj"
  out="$BATS_TEST_TMPDIR/work"
}
teardown() { common_teardown; }

@test "ws-export hook nu: nushell's checker finds nothing; sourced twice it installs one pre_prompt hook" {
  ws-export hook nu >"$BATS_TEST_TMPDIR/hook.nu"
  run nu --no-config-file --ide-check 100 "$BATS_TEST_TMPDIR/hook.nu"
  [[ $output != *'"type":"diagnostic"'* ]] || { echo "$output" >&2; return 1; }
  run nu --no-config-file -c "source '$BATS_TEST_TMPDIR/hook.nu'; source '$BATS_TEST_TMPDIR/hook.nu'; \$env.config.hooks.pre_prompt | length"
  [ "$status" -eq 0 ]
  [ "$output" = 1 ]
  ws-prompt init nu >"$BATS_TEST_TMPDIR/prompt.nu"
  run nu --no-config-file --ide-check 100 "$BATS_TEST_TMPDIR/prompt.nu"
  [[ $output != *'"type":"diagnostic"'* ]] || { echo "$output" >&2; return 1; }
}

@test "ws-export nu prints the changes and the hook's variables as one JSON document" {
  write_workspace "$proj" $'export A=1\nunset GONE'
  cd "$proj"
  run --separate-stderr env GONE=x ws-export nu --pid $$
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.A <<<"$output")" = 1 ]
  [ "$(jq -c .unset <<<"$output")" = '["GONE"]' ]
  [ "$(jq -r '.hook | .root + " " + .name + " " + .state' <<<"$output")" = "$proj proj ready" ]
  [ "$(jq -r '.hook.watch | length % 3' <<<"$output")" = 0 ]
}

@test "nu: cd into a workspace loads it exactly, PATH stays a list, cd out restores everything" {
  mkdir -p "$proj/bin"
  write_workspace "$proj" <<'EOF'
export CHANGED=inside
export EVIL=$'it\'s "q" $HOME `x` $(touch pwned)\nline two\t✓'
export EMPTIED=
unset REMOVED
PATH_add bin
EOF
  tmux_start nu '$env.CHANGED = "before"' '$env.REMOVED = "was here"' '$env.EMPTIED = "full"'
  local path_before
  path_before=$(tmux_run '^printenv PATH')
  run tmux_run "cd $(q "$proj")"
  [ "$status" -eq 0 ]
  [ "$(tmux_run '^printenv CHANGED')" = inside ]
  [ "$(tmux_run '^printenv EMPTIED')" = "" ]
  run tmux_run '^printenv REMOVED'
  [ "$status" -ne 0 ]
  tmux_run '$env.EVIL | save -f evil.got'
  [ "$(cat "$proj/evil.got")" = "$(bash -c "$(grep '^export EVIL' "$proj/.workspace"); printf %s \"\$EVIL\"")" ]
  [ ! -e "$proj/pwned" ]
  [ "$(tmux_run '$env.PATH | describe')" = "list<string>" ]
  [ "$(tmux_run '$env.PATH | first')" = "$proj/bin" ]
  [ "$(tmux_run '^printenv PATH')" = "$proj/bin:$path_before" ]
  [ "$(tmux_run '^printenv WS_CONTEXT')" = proj ]
  # The shell is a user of the context.
  local home="$XDG_STATE_HOME/ws" pid
  pid=$(tmux_run '$nu.pid')
  compgen -G "$home/contexts/*/users/$pid" >/dev/null
  # The hook's own variables are no child's business.
  run tmux_run '^env'
  [[ $output != *_ws=* ]]

  tmux_run "cd $(q "$out")"
  [ "$(tmux_run '^printenv CHANGED')" = before ]
  [ "$(tmux_run '^printenv REMOVED')" = "was here" ]
  [ "$(tmux_run '^printenv EMPTIED')" = full ]
  [ "$(tmux_run '^printenv PATH')" = "$path_before" ]
  [ "$(tmux_run '$env.PATH | describe')" = "list<string>" ]
  run tmux_run '^printenv WS_ROOT'
  [ "$status" -ne 0 ]
  run tmux_run '^printenv EVIL'
  [ "$status" -ne 0 ]
  # The shell is no user any more: its record says it left (or the reaper removed it).
  local rec
  for rec in "$home"/contexts/*/users/"$pid"; do
    [[ ! -e $rec || $(cat "$rec") == *'"left":'* ]]
  done
}

@test "nu: a blocked file shows the message and applies nothing; ws-allow loads it at the next prompt; an edit reloads" {
  mkdir -p "$proj"
  echo 'export B=loaded' >"$proj/.workspace"
  tmux_start nu
  tmux_run "cd $(q "$proj")"
  tmux_wait "ws: $proj/.workspace is blocked"
  run tmux_run '^printenv B'
  [ "$status" -ne 0 ]
  tmux_run '^ws-allow'
  [ "$(tmux_run '^printenv B')" = loaded ]
  echo 'export B=edited' >"$proj/.workspace"
  ws-allow "$proj" 2>/dev/null
  tmux_run 'null | ignore'
  [ "$(tmux_run '^printenv B')" = edited ]
}

# count_spawns LABEL N [CMD] — strace the shell while it runs CMD (if any)
# and then shows N prompts; SPAWNS = the processes it started.
count_spawns() {
  local label=$1 n=$2 before=${3:-} trace="$BATS_TEST_TMPDIR/strace.$1" keys=() i
  (
    for i in /proc/$BASHPID/fd/*; do
      i=${i##*/}
      ((i > 2)) && eval "exec $i>&-" 2>/dev/null
    done
    exec strace -f -e trace=execve,execveat,fork,vfork,clone,clone3 -o "$trace" -p "$TMUX_SHELL_PID"
  ) </dev/null >/dev/null 2>"$trace.err" &
  local strace_pid=$!
  track_pid "$strace_pid"
  wait_until "grep -q attached $(printf %q "$trace.err")" 10
  tmux_run "'' | save -f $(q "$BATS_TEST_TMPDIR/before-$label")"
  [[ -z $before ]] || tmux_run "$before"
  for ((i = 0; i < n; i++)); do keys+=(Enter); done
  ((n == 0)) || tmux_keys "${keys[@]}"
  tmux_run "'' | save -f $(q "$BATS_TEST_TMPDIR/after-$label")" 60
  kill -INT "$strace_pid"
  wait "$strace_pid" || true
  # The prompts between the two markers: what tmux_run itself starts (none: save is a builtin) counts too.
  SPAWNS=$(grep -vE 'resumed>|CLONE_THREAD' "$trace" | grep -cE '^[0-9]+ +(fork|vfork|clone|clone3|execve|execveat)\(') || true
  echo "# nu, $label: $n prompts, $SPAWNS processes started" >&3
  ((SPAWNS == 0)) || grep -vE 'resumed>|CLONE_THREAD' "$trace" | grep -E '^[0-9]+ +(fork|vfork|clone|clone3|execve|execveat)\(' >&2
}

@test "nu: 50 prompts with nothing changed start no process, inside and outside a workspace; a changed knob does" {
  command -v strace >/dev/null || skip "strace is needed"
  mkdir -p "$proj/sub"
  write_workspace "$proj" 'export INSIDE=1'
  tmux_start nu "$(cat <<'EOF'
ws-prompt init nu '%s %n' | save -f ($nu.user-autoload-dirs | first | path join ws-prompt.nu)
EOF
)"
  tmux_run "cd $(q "$proj")"
  [ "$(tmux_run '^printenv INSIDE')" = 1 ]
  count_spawns inside 50
  ((SPAWNS == 0))
  tmux_run 'cd sub'
  count_spawns subdirectory 50
  ((SPAWNS == 0))
  [ "$(tmux_run '^printenv INSIDE')" = 1 ]
  tmux_run "cd $(q "$out")"
  count_spawns outside 50
  ((SPAWNS == 0))
  # The instrument sees processes: a changed knob runs ws-export.
  count_spawns knob-changed 0 '$env.WS_CEILING_DIRS = "/nonexistent"'
  ((SPAWNS > 0))
}

@test "nu: ws-prompt init nu renders what ws-prompt prints, and exports WS_PROMPT_STATE and WS_PROMPT_CONTEXT, blocked included" {
  write_workspace "$proj" 'export A=1'
  tmux_start nu "ws-prompt init nu '%n|%e|%s|%u' | save -f (\$nu.user-autoload-dirs | first | path join ws-prompt.nu)"
  tmux_run "cd $(q "$proj")"
  [ "$(tmux_run '$env.WS_PROMPT')" = "proj|default|●|1" ]
  [ "$(tmux_run '$env.WS_PROMPT')" = "$(tmux_run "^ws-prompt '%n|%e|%s|%u'")" ]
  [ "$(tmux_run '^printenv WS_PROMPT_STATE WS_PROMPT_CONTEXT')" = $'ready\nproj' ]
  echo 'export A=2' >>"$proj/.workspace"
  tmux_run 'null | ignore'
  [ "$(tmux_run '^printenv WS_PROMPT_STATE')" = blocked ]
  run tmux_run '$env.WS_PROMPT'
  [[ $output == "proj|"*"|⊘|"* ]] || { echo "segment: $output" >&2; return 1; }
  tmux_run "cd $(q "$out")"
  [ "$(tmux_run '$env.WS_PROMPT')" = "" ]
  run tmux_run '^printenv WS_PROMPT_STATE'
  [ "$status" -ne 0 ]
}

@test "docs/prompt.md's nushell lines: the hook and the segment from the autoload directory, the segment in the prompt, none outside" {
  write_workspace "$proj" 'export A=1'
  local block
  block=$(awk '$0 == "## nushell" { f = 1; next } f && $0 == "```nu" { i = 1; next } i && /^```$/ { exit } i { print }' "$REPO/docs/prompt.md")
  [[ $block == *PROMPT_COMMAND* ]]
  tmux_start --no-hook nu "$block"
  tmux_run "cd $(q "$proj")"
  [ "$(tmux_run '^printenv A')" = 1 ]
  tmux_wait "^● proj $proj> ?$"
  tmux_run "cd $(q "$out")"
  tmux_wait "^$out> ?$"
}

# ------------------------------------------ cached re-entry, process-free leave ----
# (docs/hook.md "Entering a project it has seen before starts no node",
# "Leaving without a process"): after a ready load ws-export writes
# cache/enter.nu.json; the nu hook checks and applies it with builtins, and
# leaves with the values before kept in $env._ws.revert.

# nu_dump NAME — what a child of the nu shell sees, NUL-separated, as sorted
# NAME=<%q value> lines without the names that differ between two prompts.
nu_dump() {
  tmux_run "^env -0 | save -f $(q "$BATS_TEST_TMPDIR/env.$1")"
  local entry name
  while IFS= read -r -d '' entry; do
    name=${entry%%=*}
    case $name in _ | SHLVL | PWD | OLDPWD | CMD_DURATION_MS | CURRENT_FILE | FILE_PWD) continue ;; esac
    printf '%s=%q\n' "$name" "${entry#*=}"
  done <"$BATS_TEST_TMPDIR/env.$1" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/dump.$1"
}
same_dump() { diff "$BATS_TEST_TMPDIR/dump.$1" "$BATS_TEST_TMPDIR/dump.$2" >&2; }

# A workspace with hostile values, PATH_add and a watched file; each evaluation appends to $counter.
hostile_workspace() {
  export WS_UNLOAD_GRACE=60 # leaving and coming back is a re-entry, not an unload
  counter="$BATS_TEST_TMPDIR/evaluations"
  mkdir -p "$proj/bin"
  echo one >"$proj/data.txt"
  write_workspace "$proj" <<EOF
echo run >>$(printf %q "$counter")
watch_file data.txt
export DATA=\$(cat data.txt)
export CHANGED=inside
export EVIL=\$'it\\'s "q" \$HOME \`x\` \$(touch pwned)\\nline two\\t✓'
export EMPTIED=
unset REMOVED
PATH_add bin
EOF
}

@test "nu: cached re-entry and leave start no process; the environments equal a fresh evaluation's and the one before; one cached user.join and user.leave" {
  hostile_workspace
  tmux_start nu '$env.CHANGED = "before"' '$env.REMOVED = "was here"' '$env.EMPTIED = "full"'
  nu_dump outside
  tmux_run "cd $(q "$proj")"
  nu_dump fresh
  [ "$(lines_of "$counter")" -eq 1 ]
  run same_dump outside fresh
  [ "$status" -ne 0 ]
  local dir home="$XDG_STATE_HOME/ws"
  dir=$(ctx_dir "$proj")
  [ -f "$dir/cache/enter.nu.json" ]

  strace_start leave
  tmux_run "cd $(q "$out")"
  strace_stop
  ((SPAWNS == 0))
  nu_dump left
  same_dump outside left
  # Its record says it left (or the reaper removed it already).
  [[ ! -e $dir/users/$TMUX_SHELL_PID || $(cat "$dir/users/$TMUX_SHELL_PID") == *'"left":'* ]]

  strace_start reenter
  tmux_run "cd $(q "$proj")"
  strace_stop
  ((SPAWNS == 0))
  nu_dump cached
  same_dump fresh cached
  [ "$(lines_of "$counter")" -eq 1 ]
  [ ! -e "$proj/pwned" ]
  [ "$(tmux_run '$env.PATH | describe')" = "list<string>" ]
  [ "$(tmux_run '$env._ws.state')" = ready ]
  # The entry registered the shell itself, with its real start time.
  local record="$dir/users/$TMUX_SHELL_PID"
  [ "$(jq -r .start "$record")" = "$(_wsh_starttime "$TMUX_SHELL_PID")" ]
  [ "$(jq -r .shell "$record")" = nu ]
  [ "$(jq -r .left "$record")" = null ]
  local joins leaves
  joins=$(jq -c --argjson pid "$TMUX_SHELL_PID" 'select(.type == "user.join" and .pid == $pid and .cached == true)' "$home/events.jsonl")
  leaves=$(jq -c --argjson pid "$TMUX_SHELL_PID" 'select(.type == "user.leave" and .pid == $pid and .cached == true)' "$home/events.jsonl")
  [ "$(grep -c . <<<"$joins")" -eq 1 ]
  [ "$(grep -c . <<<"$leaves")" -eq 1 ]
  [ "$(jq -r .ts <<<"$joins")" = "$(jq -r .joined "$record")" ]
  [ "$(jq -r .root <<<"$leaves")" = "$proj" ]
  [[ $(jq -r .ts <<<"$leaves") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]]

  # Leaving again from the cached entry: process-free too, the environment before.
  strace_start leave-again
  tmux_run "cd $(q "$out")"
  strace_stop
  ((SPAWNS == 0))
  nu_dump left-again
  same_dump outside left-again
}

@test "nu: a watched file changed while outside makes the re-entry evaluate again" {
  hostile_workspace
  tmux_start nu
  tmux_run "cd $(q "$proj")"
  tmux_run "cd $(q "$out")"
  [ "$(tmux_run '^printenv DATA')" = "" ]
  echo two >"$proj/data.txt"
  tmux_run "cd $(q "$proj")"
  [ "$(lines_of "$counter")" -eq 2 ]
  [ "$(tmux_run '^printenv DATA')" = two ]
}

@test "nu: a value that is not UTF-8 gets no cached entry: ws-export enters and leaves" {
  write_workspace "$proj" $'export RAW=$\'a\\xffb\''
  tmux_start nu
  tmux_run "cd $(q "$proj")"
  [ "$(tmux_run '$env._ws.state')" = ready ]
  [ ! -e "$(ctx_dir "$proj")/cache/enter.nu.json" ]
  [ "$(tmux_run '$env._ws.revert | describe')" = nothing ]
}

@test "nu: after a process-free leave the unload runs once, after WS_UNLOAD_GRACE" {
  export WS_UNLOAD_GRACE=1
  local log="$BATS_TEST_TMPDIR/unload.log"
  write_workspace "$proj" "on_unload 'echo unloaded >>$(printf %q "$log")'"
  tmux_start nu
  tmux_run "cd $(q "$proj")"
  local dir
  dir=$(ctx_dir "$proj")
  strace_start leave
  tmux_run "cd $(q "$out")"
  strace_stop
  ((SPAWNS == 0))
  wait_until "grep -q '\"state\":\"unloaded\"' $(printf %q "$dir/context.json")" 20
  wait_until "[[ -s $(printf %q "$log") ]]" 10
  [ "$(lines_of "$log")" -eq 1 ]
}

# Issue 18 #11 in nushell: the hook compares the workspace file's approved
# text (hook.nu _ws_content_ok), at the prompt and before a cached re-entry.
@test "nu: a same-size edit whose mtime was put back (touch -r) is seen at the next prompt and on re-entry" {
  mkdir -p "$proj"
  write_workspace "$proj" 'export FOO=bar' 2>/dev/null
  ref="$BATS_TEST_TMPDIR/ref"
  tmux_start nu
  tmux_run "cd $(q "$proj")"
  [ "$(tmux_run '$env.FOO? | default unset')" = bar ]
  touch -r "$proj/.workspace" "$ref"
  printf 'export FOO=baz\n' >"$proj/.workspace" && touch -r "$ref" "$proj/.workspace"
  tmux_run 'print prompt'
  [ "$(tmux_run '$env.FOO? | default unset')" = unset ]
  # The approved text back: loaded again; then left, edited the same way, re-entered.
  printf 'export FOO=bar\n' >"$proj/.workspace" && touch -r "$ref" "$proj/.workspace"
  tmux_run 'print prompt'
  [ "$(tmux_run '$env.FOO? | default unset')" = bar ]
  tmux_run "cd $(q "$out")"
  printf 'export FOO=baz\n' >"$proj/.workspace" && touch -r "$ref" "$proj/.workspace"
  tmux_run "cd $(q "$proj")"
  [ "$(tmux_run '$env.FOO? | default unset')" = unset ]
  tmux_pane | grep -qF "$proj/.workspace is blocked"
}
