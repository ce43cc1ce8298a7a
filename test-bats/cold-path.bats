#!/usr/bin/env bats
# The cold path (docs/hook.md "The cold path: a first entry without node"):
# the first entry of a project from a bash in no context runs the build
# itself (cold.bash) and applies its answer; `ws-export adopt`, detached,
# does the bookkeeping. The shell must get exactly the values a fresh node
# evaluation gives, a real WS_DIFF, the trust rule unchanged, and wait for
# no node.

load test_helper/common-setup
load test_helper/state-home
load test_helper/strace

setup() {
  common_setup
  home="$XDG_STATE_HOME/ws"
  proj="$BATS_TEST_TMPDIR/work/proj"
  COUNTER="$BATS_TEST_TMPDIR/evaluations"
  DUMPS="$BATS_TEST_TMPDIR/dumps"
  CANARY="$BATS_TEST_TMPDIR/canary"
  mkdir -p "$DUMPS"
}
teardown() { common_teardown; }

# dump NAME — the tmux shell's exported environment, NUL-separated.
dump() { tmux_run "env -0 >$(q "$DUMPS/$1")"; }

# normalized NAME HOME — sorted NAME=<%q value> lines, the state home's path
# as STATE, WS_DIFF by its record's content; names that differ between two
# shells or moments left out.
normalized() {
  local entry name value record
  while IFS= read -r -d '' entry; do
    name=${entry%%=*} value=${entry#*=}
    case $name in _ | SHLVL | PWD | OLDPWD | WS_STATE_HOME | TMUX | TMUX_PANE | ZDOTDIR) continue ;; esac
    if [[ $name == WS_DIFF ]]; then
      record="$2/contexts/${value%%/*}/cache/applied/${value#*/}.json"
      [[ -f $record ]] && value="record $(jq -cS . "$record")"
    fi
    value=${value//"$2"/STATE}
    printf '%s=%q\n' "$name" "$value"
  done <"$DUMPS/$1" | LC_ALL=C sort
}

same_env() { # A HOME_A B HOME_B
  local a b
  a=$(normalized "$1" "$2") b=$(normalized "$3" "$4")
  [[ $a == "$b" ]] && return 0
  echo "environments $1 and $3 differ:" >&2
  diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") >&2 || true
  return 1
}

# adopted — until the shell's cold entry was adopted: the adopted file is there.
adopted() { wait_until "compgen -G $(printf %q "$(ctx_dir)")/cache/adopted/$TMUX_SHELL_PID-'*' >/dev/null" 20; }

# A workspace with plain ASCII values of every awkward kind, a base variable
# it unsets, PATH_add, an unload hook, and a count of its evaluations.
typical_workspace() {
  mkdir -p "$proj/bin"
  write_workspace "$proj" <<EOF
echo run >>$(printf %q "$COUNTER")
export PLAIN=1 EMPTY= QUOTES="it's \"quoted\"" BACKSLASH='a\\b\\\\c' DOLLAR='\$(touch $CANARY) \${x} \`y\`' SPACES='  two  spaces  '
unset DROPME
export GONE=x; unset GONE
PATH_add bin
on_unload 'echo unloaded >>$(printf %q "$BATS_TEST_TMPDIR/unloads")'
EOF
}

# node_outside_adopt TRACE — the execs of node or ws-export in TRACE (strace
# -f) that do not descend from the detached adopt (the subshell that execs
# `setsid … adopt`): what the shell would have waited for; then
# `under adopt: N`, the number of those that do.
node_outside_adopt() {
  awk '
    / clone3?\(|fork\(/ && / = [0-9]+$/ { n = $NF; parent[n] = $1 }
    /execve\(/ && /"adopt"/ { adopt[$1] = 1 }
    /execve\("[^"]*(\/node|ws-export[^"\/]*)"/ && !/ENOENT/ { execs[++k] = $1; line[k] = $0 }
    END {
      for (i = 1; i <= k; i++) {
        p = execs[i]; under = 0
        for (d = 0; d < 50 && p != ""; d++) { if (p in adopt) { under = 1; break } p = parent[p] }
        if (!under) print line[i]; else u++
      }
      print "under adopt: " u + 0
    }' "$1"
}

first_entry_is_cold() {
  typical_workspace
  tmux_start "$1" 'export DROPME=base-value'
  strace_start cold
  tmux_run "cd $(q "$proj")"
  # It was the cold path: an adopt ran for this shell, and every node started
  # meanwhile descends from it (detached: not waited for). The trace ends
  # once the adopt wrote its file: on a loaded machine a trace stopped at
  # the prompt could end before the detached setsid had exec'd node.
  adopted
  strace_stop
  dump cold
  run node_outside_adopt "$TRACE"
  [[ $output =~ ^under\ adopt:\ [1-9] ]] || { echo "node outside adopt: $output" >&2; false; }
  [ "$(lines_of "$COUNTER")" -eq 1 ]
  [ ! -e "$CANARY" ]
  # WS_DIFF names a record whose name is the sha256 of its content.
  run tmux_run 'printf "%s\n" "$WS_DIFF" >'"$(q "$DUMPS/diff")"
  read -r diff <"$DUMPS/diff"
  record="$home/contexts/${diff%%/*}/cache/applied/${diff#*/}.json"
  [ -f "$record" ]
  [ "$(sha256sum <"$record" | cut -d' ' -f1)" = "${diff#*/}" ]
  # The same file evaluated by node in another state home, from the same base.
  other="$BATS_TEST_TMPDIR/other-state"
  tmux_start -n node "$1" 'export DROPME=base-value' "export WS_STATE_HOME=$(q "$other")"
  tmux_run '_ws_cold() { return 1; }'
  tmux_run "ws-allow $(q "$proj") >/dev/null 2>&1"
  tmux_run "cd $(q "$proj")"
  dump node
  same_env cold "$home" node "$other"
}
@test "bash: the first entry takes the cold path: the values of a fresh node evaluation, a real WS_DIFF, no node waited for" { first_entry_is_cold bash; }
@test "zsh: the first entry takes the cold path: the values of a fresh node evaluation, a real WS_DIFF, no node waited for" { first_entry_is_cold zsh; }

leave_after_cold_entry() {
  typical_workspace
  tmux_start "$1" 'export DROPME=base-value'
  dump before
  tmux_run "cd $(q "$proj")"
  run tmux_run 'printf "%s\n" "$PLAIN${_ws_adopt:+ cold}"'
  [ "$output" = "1 cold" ]
  # The user is registered at once (by cold.bash), exactly once (adopt does not add one).
  [ -f "$(ctx_dir)/users/$TMUX_SHELL_PID" ]
  tmux_run "cd .."
  dump after
  same_env before "$home" after "$home"
  wait_until "[ \"\$(grep -cs '\] unload done\$' \"\$(ctx_dir)/unload.log\")\" -ge 1 ]" 20
  [ "$(lines_of "$BATS_TEST_TMPDIR/unloads")" -eq 1 ]
  [ "$(jq -c "select(.type == \"user.join\" and .pid == $TMUX_SHELL_PID)" "$home/events.jsonl" | wc -l)" -eq 1 ]
  [ "$(jq -c "select(.type == \"user.leave\" and .pid == $TMUX_SHELL_PID)" "$home/events.jsonl" | wc -l)" -eq 1 ]
  [ "$(jq -c 'select(.type == "context.load")' "$home/events.jsonl" | wc -l)" -eq 1 ]
  [ "$(lines_of "$COUNTER")" -eq 1 ]
}
@test "bash: after a cold entry, cd .. reverts at the next prompt and the unload runs once after the grace" { leave_after_cold_entry bash; }
@test "zsh: after a cold entry, cd .. reverts at the next prompt and the unload runs once after the grace" { leave_after_cold_entry zsh; }

adopted_then_idle() {
  typical_workspace
  tmux_start "$1"
  tmux_run "cd $(q "$proj")"
  adopted
  tmux_run ':'
  run tmux_run 'printf "[%s] %s\n" "${_ws_adopt-}" "${_ws_known[$PWD]:+known}"'
  [ "$output" = "[] known" ]
  run ws-list --json
  [ "$status" -eq 0 ]
  jq -e --argjson pid "$TMUX_SHELL_PID" '[.. | objects | select(.pid? == $pid)] | length >= 1' <<<"$output" >/dev/null
  strace_start idle
  tmux_run ':'
  strace_stop
  ((SPAWNS == 0))
}
@test "bash: once adopted, the shell is a user in ws-list and the next prompts start no process" { adopted_then_idle bash; }
@test "zsh: once adopted, the shell is a user in ws-list and the next prompts start no process" { adopted_then_idle zsh; }

@test "bash: a blocked file never runs on the cold path, nor one changed after it was allowed" {
  mkdir -p "$proj"
  printf 'touch %q\nexport X=1\n' "$CANARY" >"$proj/.workspace"
  tmux_start bash
  run tmux_run "cd $(q "$proj")"
  message_seen "is blocked"
  [ ! -e "$CANARY" ]
  [ ! -e "$(ctx_dir)/cache/build" ]
  tmux_run "cd .."
  # Allowed, then changed: the allow record names other content.
  ws-allow "$proj"
  printf 'touch %q\nexport X=2\n' "$CANARY" >"$proj/.workspace"
  run tmux_run "cd $(q "$proj")"
  message_seen "is blocked"
  [ ! -e "$CANARY" ]
  run tmux_run 'printf "[%s]\n" "${X-unset}"'
  [ "$output" = "[unset]" ]
}

@test "bash: values that are not plain ASCII go through node and stay exact" {
  mkdir -p "$proj"
  write_workspace "$proj" <<'EOF'
export UTF=$'caf\xc3\xa9 \xe2\x9c\x93' NL=$'line1\nline2' TAB=$'a\tb'
EOF
  tmux_start bash
  tmux_run "cd $(q "$proj")"
  run tmux_run 'printf "%q|%q|%q|[%s]\n" "$UTF" "$NL" "$TAB" "${_ws_adopt-}"'
  [ "$output" = "$(printf '%q|%q|%q|[]' $'caf\xc3\xa9 \xe2\x9c\x93' $'line1\nline2' $'a\tb')" ]
  # A base value that is not plain ASCII: node from the start (no build by cold.bash).
  tmux_start -n utf bash "export BASEUTF=$'\\xc3\\xa9'"
  mkdir -p "$BATS_TEST_TMPDIR/work/p2"
  write_workspace "$BATS_TEST_TMPDIR/work/p2" 'export P2=1'
  tmux_run "cd $(q "$BATS_TEST_TMPDIR/work/p2")"
  run tmux_run 'printf "%s [%s]\n" "$P2" "${_ws_adopt-}"'
  [ "$output" = "1 []" ]
}

@test "bash: a second shell entering while the cold build runs shares it (one evaluation)" {
  mkdir -p "$proj"
  write_workspace "$proj" <<EOF
echo run >>$(printf %q "$COUNTER")
while [[ ! -e $(printf %q "$BATS_TEST_TMPDIR/go") ]]; do sleep 0.05; done
export SHARED=yes
EOF
  tmux_start -n a bash
  tmux_start -n b bash
  tmux_use a
  tmux_send "cd $(q "$proj")"
  wait_until "[ -s $(printf %q "$(ctx_dir)")/cache/build/owner ]" 10
  tmux_use b
  tmux_send "cd $(q "$proj")"
  # b is waiting for the running build (node shares it); then it finishes.
  wait_until "[ \"\$(lines_of $(printf %q "$COUNTER"))\" -ge 1 ]" 10
  touch "$BATS_TEST_TMPDIR/go"
  for s in a b; do
    tmux_use "$s"
    wait_until "tmux_run 'printf \"%s\n\" \"\${SHARED-}\"' | grep -qx yes" 20
  done
  [ "$(lines_of "$COUNTER")" -eq 1 ]
}

# A build slower than the progress delay, on a terminal: the script shows
# ws-export's progress line itself (the shell's only child is cold.bash, no
# node), and a Ctrl-C hands the build to ws-export --interrupted, which sends
# it to the background at once; its result applies when the gate opens.
slow_cold_entry_ctrl_c() {
  local shell=$1 gate="$BATS_TEST_TMPDIR/gate" after='env | grep "^AFTER=" || echo AFTER=unset'
  export WS_BUILD_WAIT=30
  mkdir -p "$proj"
  write_workspace "$proj" <<EOF
while [[ ! -e $(printf %q "$gate") ]]; do sleep 0.05; done
export AFTER=1
EOF
  tmux_start "$shell"
  tmux_send "cd $(q "$proj")"
  tmux_wait 'ws: building proj… [0-9.]+ s — Ctrl-C to continue in the background' 10
  run ps -o comm=,args= --ppid "$TMUX_SHELL_PID"
  [[ ${#lines[@]} == 1 && ${lines[0]} == "bash "*"/cold.bash "* ]] || { echo "the shell's children: $output" >&2; false; }
  tmux_keys C-c
  tmux_wait 'ws: building proj in the background…' 10
  run tmux_run "$after"
  [ "$output" = AFTER=unset ]
  touch "$gate"
  wait_until "[ -e $(printf %q "$(ctx_dir)")/cache/build/status ]" 15
  [ "$(cut -d' ' -f1 "$(ctx_dir)/cache/build/status")" = 0 ]
  # zsh applies it at once (live); bash when readline returns.
  [[ $shell == bash ]] || tmux_wait 'ws: export .*\+AFTER' 10
  run tmux_run "$after"
  [ "$output" = AFTER=1 ]
}
@test "bash: a slow cold entry shows the progress line itself; Ctrl-C sends the build to the background, which applies" { slow_cold_entry_ctrl_c bash; }
@test "zsh: a slow cold entry shows the progress line itself; Ctrl-C sends the build to the background, which applies" { slow_cold_entry_ctrl_c zsh; }

# ws-on-unload right after the prompt of a cold entry runs while adopt may
# still be registering the file's hooks: it waits for the adopt.
@test "bash: ws-on-unload --list typed right after a cold entry lists the file's hook" {
  typical_workspace
  tmux_start bash
  tmux_run "cd $(q "$proj")"
  run tmux_run 'ws-on-unload --list'
  [ "${#lines[@]}" -eq 1 ]
  [[ ${lines[0]} == *"echo unloaded"* ]]
}

# edited_before_adopt SHELL blocked|allowed — the workspace file is rewritten after
# a cold entry answered the shell but before its adopt evaluates anything
# (held at a gate: the shell's own _ws_cold is given an exporter that makes
# adopt wait for the test), then allowed or not. adopt must not answer for
# that moment, which no prompt of the shell saw: it records the build the
# shell has (last good environment, its unload hook, context.load), starts
# nothing, and only makes the next prompt ask ws-export, which then answers
# for the file as it is by then.
edited_before_adopt() {
  local shell=$1 mode=$2 show=(declare -f)
  [[ $shell == zsh ]] && show=(functions)
  typical_workspace
  local gate="$BATS_TEST_TMPDIR/gate" exporter="$BATS_TEST_TMPDIR/gated-ws-export" seam="$BATS_TEST_TMPDIR/seam.bash"
  mkfifo "$gate"
  cat >"$exporter" <<EOF
#!/bin/bash
if [[ \$1 == adopt ]]; then exec 3<>$(q "$gate"); read -r -t 30 -u 3 _; fi
exec $(q "$REPO/bin/ws-export") "\$@"
EOF
  chmod +x "$exporter"
  tmux_start "$shell"
  tmux_run "${show[*]} _ws_cold >$(q "$seam")"
  sed -i "s|'[^' ]*/ws-export\.mjs'|$(q "$exporter")|" "$seam"
  grep -qF "$exporter" "$seam"
  tmux_run "source $(q "$seam")"
  tmux_run "cd $(q "$proj")"
  [ "$(lines_of "$COUNTER")" -eq 1 ]
  if [[ $mode == allowed ]]; then
    write_workspace "$proj" "echo run >>$(q "$COUNTER"); export PLAIN=2
if then"
  else
    printf 'export PLAIN=2\n' >"$proj/.workspace"
  fi
  timeout 20 bash -c 'printf "go\n" >"$1"' _ "$gate"
  adopted
  wait_until "! compgen -G $(q "$(ctx_dir)")/cache/adopted/'*.adopting' >/dev/null" 20
  run cat "$(ctx_dir)"/cache/adopted/"$TMUX_SHELL_PID"-*
  [ "$output" = '_ws_watch_ok() { return 1; }' ]
  # What a node entry records at the build's moment, and nothing of the later one.
  [ "$(jq -r '.next.PLAIN' "$(ctx_dir)/cache/last-good.json")" = 1 ]
  run bash -c 'cd "$1" && ws-on-unload --list' _ "$proj"
  [[ $output == *"echo unloaded"* ]]
  [ "$(jq -c 'select(.type == "context.load")' "$home/events.jsonl" | wc -l)" -eq 1 ]
  [ "$(jq -c 'select(.type == "build.start")' "$home/events.jsonl" | wc -l)" -eq 1 ]
  [ "$(jq -c 'select(.type == "user.leave")' "$home/events.jsonl" | wc -l)" -eq 0 ]
  [ "$(lines_of "$COUNTER")" -eq 1 ]
  # The next prompt sources that, and so asks ws-export about the file as it is now.
  run tmux_run 'printf "%s\n" "${PLAIN-unset}"'
  [ "$output" = 1 ]
  if [[ $mode == allowed ]]; then
    tmux_wait "$proj/.workspace:2: syntax error"
    run tmux_run 'printf "%s\n" "${PLAIN-unset}"'
    [ "$output" = 1 ]
    [ "$(lines_of "$COUNTER")" -eq 1 ]
  else
    tmux_wait "$proj/.workspace is blocked"
    run tmux_run 'printf "%s\n" "${PLAIN-unset}"'
    [ "$output" = unset ]
    ws-allow "$proj"
    tmux_run true
    run tmux_run 'printf "%s\n" "${PLAIN-unset}"'
    [ "$output" = 2 ]
  fi
  # Still its user all along: leaving runs the first build's unload hook, once.
  [ -f "$(ctx_dir)/users/$TMUX_SHELL_PID" ]
  tmux_run "cd .."
  wait_until "[ \"\$(grep -cs '\] unload done\$' \"\$(ctx_dir)/unload.log\")\" -ge 1 ]" 20
  [ "$(lines_of "$BATS_TEST_TMPDIR/unloads")" -eq 1 ]
}
@test "bash: a file edited (not allowed) between a cold entry and its adopt is the next prompt's ws-export's: adopt records the build the shell has" { edited_before_adopt bash blocked; }
@test "zsh: a file edited (not allowed) between a cold entry and its adopt is the next prompt's ws-export's: adopt records the build the shell has" { edited_before_adopt zsh blocked; }
@test "bash: a file edited and allowed (broken) between a cold entry and its adopt: the next prompt reports it, keeping the cold entry's environment" { edited_before_adopt bash allowed; }
