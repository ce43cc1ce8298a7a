#!/usr/bin/env bats
# Shared contexts (SPEC §1, §5; docs/contexts.md): `ws_context NAME` in the
# workspace files of several roots gives them one context — one WS_CONTEXT,
# one $WS_STATE_DIR, one set of users, services, ports and unload hooks —
# while WS_ROOT stays each shell's own root. A hostile NAME is refused and
# never runs code or reaches outside the state home.

load test_helper/common-setup
load test_helper/state-home

setup() {
  common_setup
  home="$XDG_STATE_HOME/ws"
  a="$BATS_TEST_TMPDIR/work/a"
  b="$BATS_TEST_TMPDIR/work/b"
  HOOKS="$BATS_TEST_TMPDIR/hooks.log"
  mkdir -p "$a" "$b"
  # Evaluate in the foreground: the first prompt has the environment.
  export WS_BUILD_TIMEOUT=60000
}

teardown() {
  local file pid start
  # Any web server still recorded: by its PID (the reaper first, so that it restarts nothing).
  for file in "$home"/reaper.pid "$home"/contexts/*/services/*/pid; do
    [[ -f $file ]] || continue
    if [[ $file == */reaper.pid ]]; then read -r pid start <"$file" || true; else pid=$(jq -r .pid "$file" 2>/dev/null); fi
    [[ $pid =~ ^[0-9]+$ ]] && track_pid "$pid"
  done
  common_teardown
}

# The shared context's directory, as core's sharedContextId: NAME-sha256("ws_context:NAME")[:12].
shared_dir() {
  local sum
  sum=$(printf 'ws_context:%s' "$1" | sha256sum)
  printf '%s/contexts/%s-%s\n' "$home" "$1" "${sum:0:12}"
}

# shared_workspace DIR TAG — DIR/.workspace in context "shared": a web server
# on a port from allocate_port (the same key from either root), and an unload
# hook of its own that appends TAG to $HOOKS.
shared_workspace() {
  write_workspace "$1" <<EOF
ws_context shared
export WEB_PORT=\$(allocate_port --tcp 18480)
service web --ready-port "\$WEB_PORT" -- python3 -m http.server "\$WEB_PORT" --bind 127.0.0.1
on_unload -- sh -c 'echo $2 >>"\$1"' - $(printf '%q' "$HOOKS")
EOF
}

# In the current tmux shell: "WS_CONTEXT WS_STATE_DIR WEB_PORT PID-of-web".
facts() { tmux_run 'echo "$WS_CONTEXT $WS_STATE_DIR $WEB_PORT $(ws-service status web --json | jq -r ".[0].pid")"' 30; }

accepting() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

unloads_of() { jq -r --arg c "$1" 'select(.type == "context.unload" and .context == $c) | .type' "$home/events.jsonl" 2>/dev/null | wc -l; }

@test "two roots with ws_context shared: one state dir, one server (same PID and port), one unload after the last shell of either" {
  shared_workspace "$a" a
  shared_workspace "$b" b
  mkdir -p "$BATS_TEST_TMPDIR/work/clock"
  write_workspace "$BATS_TEST_TMPDIR/work/clock" 'export CLOCK=1'

  tmux_start -n one bash
  tmux_run "cd $a" 60
  read -r ctx1 dir1 port1 pid1 <<<"$(facts)"
  [ "$(tmux_run 'echo "$WS_ROOT"')" = "$a" ]
  tmux_start -n two bash
  tmux_run "cd $b" 60
  read -r ctx2 dir2 port2 pid2 <<<"$(facts)"
  [ "$(tmux_run 'echo "$WS_ROOT"')" = "$b" ]
  track_pid "$pid1"

  [ "$ctx1" = shared ]
  [ "$ctx2" = shared ]
  [ "$dir1" = "$(shared_dir shared)/data" ]
  [ "$dir2" = "$dir1" ]
  [[ $port1 =~ ^[0-9]+$ && $pid1 =~ ^[0-9]+$ ]]
  # Started from root a, reused from root b.
  [ "$port2" = "$port1" ]
  [ "$pid2" = "$pid1" ]
  accepting "$port1"
  [ "$(jq -r 'select(.type == "service.start") | .service' "$home/events.jsonl" | wc -l)" -eq 1 ]
  # The reservation is the shared context's, as are both users.
  [ "$(jq -r .context "$home/ports/tcp-$port1")" = "$(basename "$(shared_dir shared)")" ]
  [ "$(find "$(shared_dir shared)/users" -name '[0-9]*' | wc -l)" -eq 2 ]
  [ ! -e "$(ctx_dir "$a")/users/$(tmux_use one && echo "$TMUX_SHELL_PID")" ]
  # ws-list shows it once, with both roots; the prompt names it.
  run ws-list --json
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.contexts[] | select(.name == "shared") | .sharedRoots]' <<<"$output")" = "[[\"$a\",\"$b\"]]" ]
  [ "$(jq '[.contexts[] | select(.root == "'"$a"'" or .root == "'"$b"'")] | length' <<<"$output")" -eq 1 ]
  [ "$(jq '.contexts[] | select(.name == "shared") | .users | length' <<<"$output")" -eq 2 ]
  tmux_use two
  [ "$(tmux_run "ws-prompt '%n %u %S'")" = "shared 2 1" ]
  # Both roots' hooks are registered in it, once each.
  [ "$(cd "$b" && ws-on-unload --list | wc -l)" -eq 2 ]
  # ws exec and ws-shell -- CMD in either root see the same context, and start no second server.
  run --separate-stderr ws exec "$b" -- sh -c 'echo "$WS_CONTEXT $WS_STATE_DIR $WEB_PORT"'
  [ "$output" = "shared $dir1 $port1" ]
  run --separate-stderr ws-shell "$a" --shell bash -- sh -c 'echo "$WS_CONTEXT $WS_STATE_DIR $WEB_PORT $WS_ROOT"'
  [ "$output" = "shared $dir1 $port1 $a" ]
  [ "$(cd "$b" && ws-service status web --json | jq -r '.[0].pid')" = "$pid1" ]

  # A shell in an unrelated context times the grace period: it leaves after shell one.
  tmux_start -n three bash
  tmux_run "cd $BATS_TEST_TMPDIR/work/clock" 30
  tmux_use one
  one=$TMUX_SHELL_PID
  tmux_send exit
  # (-s and any: jq 1.6's -e judges by the last line only, and events may follow the leave.)
  wait_until "jq -s -e --argjson p $one 'any(.[]; .type == \"user.leave\" and .pid == \$p)' \"$home/events.jsonl\" >/dev/null" 15
  tmux_use three
  tmux_run 'cd /'
  wait_until '[ "$(unloads_of clock)" -eq 1 ]' 15
  # Shell two still uses the context: nothing unloaded, the server runs.
  [ "$(unloads_of shared)" -eq 0 ]
  [ "$(lines_of "$HOOKS")" -eq 0 ]
  _wsh_alive "$pid1"
  accepting "$port1"

  tmux_use two
  tmux_send exit
  wait_until '[ "$(unloads_of shared)" -eq 1 ]' 30
  run ! _wsh_alive "$pid1"
  run ! accepting "$port1"
  # Each root's hook ran exactly once.
  [ "$(sort "$HOOKS" | tr '\n' ' ')" = "a b " ]
  [ ! -e "$home/ports/tcp-$port1" ]
  [ "$(unloads_of a)" -eq 0 ]
  [ "$(unloads_of b)" -eq 0 ]
}

@test "a hostile ws_context NAME is refused with one line naming the file; none runs code or makes a directory" {
  long=$(printf 'x%.0s' {1..65})
  names=('../x' '/' 'a/b' '..' '.hidden' '-x' 'a b' $'a\nb' '$(touch canary)' '`touch canary`' "\$(touch $BATS_TEST_TMPDIR/canary)" '' "$long" 'a;touch canary' $'tab\there')
  cd "$a"
  for name in "${names[@]}"; do
    printf 'ws_context %q\nexport AFTER=1\n' "$name" >"$a/.workspace"
    ws-allow "$a" 2>/dev/null
    run --separate-stderr timeout 20 ws-export json --pid $$
    [ "$status" -eq 0 ]
    # The file stopped there; the shell is in the root's own context.
    [[ $output != *AFTER* ]]
    [ "$(jq -r '.set.WS_CONTEXT // "a"' <<<"$output")" = a ]
    # One refusal line, naming the file; the value shown quoted on that line.
    refusals=$(grep -c "^ws: $a/.workspace: ws_context: refused name " <<<"$stderr")
    [ "$refusals" -eq 1 ] || { echo "name $(printf '%q' "$name"): $stderr" >&2; false; }
    [[ $stderr == *"failed with exit status 65"* ]]
    [ ! -e "$a/canary" ]
    [ ! -e "$BATS_TEST_TMPDIR/canary" ]
    [ ! -e "$BATS_TEST_TMPDIR/work/canary" ]
  done
  # The same with two arguments.
  printf 'ws_context one two\n' >"$a/.workspace"
  ws-allow "$a" 2>/dev/null
  run --separate-stderr timeout 20 ws-export json --pid $$
  [[ $stderr == *'ws_context: refused name one\ two '* ]]
  # No context but the root's own; no directory of a context anywhere else (../x would be $home/x-<hash>).
  [ "$(ls "$home/contexts")" = "$(basename "$(ctx_dir "$a")")" ]
  [ -z "$(find "$BATS_TEST_TMPDIR" -name '*-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]' ! -path "$home/contexts/*")" ]
  [ -z "$(find "$BATS_TEST_TMPDIR" -name '*canary*')" ]
  # A name of 64 characters is fine: the limit is 64.
  printf 'ws_context %s\n' "${long:1}" >"$a/.workspace"
  ws-allow "$a" 2>/dev/null
  run --separate-stderr timeout 20 ws-export json --pid $$
  [ "$(jq -r .set.WS_CONTEXT <<<"$output")" = "${long:1}" ]
}

@test "declaring another NAME moves the root at the next prompt; the old context unloads when its last user left" {
  write_workspace "$a" <<EOF
ws_context first
on_unload -- sh -c 'echo "\$WS_CONTEXT" >>"\$1"' - $(printf '%q' "$HOOKS")
EOF
  tmux_start bash
  tmux_run "cd $a" 30
  [ "$(tmux_run 'echo "$WS_CONTEXT $WS_STATE_DIR"')" = "first $(shared_dir first)/data" ]
  [ -e "$(shared_dir first)/users/$TMUX_SHELL_PID" ]
  write_workspace "$a" <<EOF
ws_context second
on_unload -- sh -c 'echo "\$WS_CONTEXT" >>"\$1"' - $(printf '%q' "$HOOKS")
EOF
  tmux_run true 30
  [ "$(tmux_run 'echo "$WS_CONTEXT $WS_STATE_DIR $WS_ROOT"')" = "second $(shared_dir second)/data $a" ]
  [ -e "$(shared_dir second)/users/$TMUX_SHELL_PID" ]
  [ ! -e "$(shared_dir first)/users/$TMUX_SHELL_PID" ]
  # The old one had its last user leave: its hook runs, with its own environment.
  wait_until '[ "$(unloads_of first)" -eq 1 ]' 15
  [ "$(cat "$HOOKS")" = first ]
  [ "$(unloads_of second)" -eq 0 ]
  [ "$(jq -c .roots "$(shared_dir first)/context.json")" = '[]' ]
  # Without the line, the root is its own context again.
  write_workspace "$a" 'export PLAIN=1'
  tmux_run true 30
  [ "$(tmux_run 'echo "$WS_CONTEXT $WS_STATE_DIR"')" = "a $(ctx_dir "$a")/data" ]
  wait_until '[ "$(unloads_of second)" -eq 1 ]' 15
  [ "$(sort "$HOOKS" | tr '\n' ' ')" = "first second " ]
}

@test "ws-gc: a shared context lives on while one of its roots exists, though the root it last recorded is gone" {
  write_workspace "$b" 'ws_context kept'
  write_workspace "$a" 'ws_context kept'
  start_user
  (cd "$b" && ws-export json --pid "$user" >/dev/null 2>&1)
  (cd "$a" && ws-export json --pid "$user" >/dev/null 2>&1)
  [ "$(jq -r .root "$(shared_dir kept)/context.json")" = "$a" ]
  kill "$user"
  # Unloaded (nothing pending that would hold it anyway).
  wait_until '[ "$(unloads_of kept)" -eq 1 ]' 15
  rm -rf "$a"
  run -0 --separate-stderr ws-gc --json
  # a's own directory goes with its root; the shared context stays for b.
  [ "$(jq -r '[.removed[] | select(.kind == "context") | .id] | join(" ")' <<<"$output")" = "$(basename "$(ctx_dir "$a")")" ] ||
    { echo "$output" >&2; false; }
  [ -d "$(shared_dir kept)" ]
  [ "$(ws-list --json | jq -r '.contexts[] | select(.name == "kept") | .root')" = "$b" ]
  # Both roots gone: it goes too.
  rm -rf "$b"
  run -0 --separate-stderr ws-gc --json
  [ ! -e "$(shared_dir kept)" ]
  [ ! -e "$(ctx_dir "$b")" ]
}

@test "after the shared context unloaded, each root evaluates its file again, whichever enters first" {
  write_workspace "$a" "ws_context again; echo x >>$(printf '%q' "$BATS_TEST_TMPDIR/evals-a")"
  write_workspace "$b" "ws_context again; echo x >>$(printf '%q' "$BATS_TEST_TMPDIR/evals-b")"
  start_user
  (cd "$a" && ws-export json --pid "$user" >/dev/null 2>&1)
  (cd "$b" && ws-export json --pid "$user" >/dev/null 2>&1)
  [ "$(lines_of "$BATS_TEST_TMPDIR/evals-a") $(lines_of "$BATS_TEST_TMPDIR/evals-b")" = "1 1" ]
  kill "$user"
  wait_until '[ "$(unloads_of again)" -eq 1 ]' 15
  # a comes back first (the shared context is loaded again), then b: b's build from before the unload is void.
  start_user
  (cd "$a" && ws-export json --pid "$user" >/dev/null 2>&1)
  (cd "$b" && ws-export json --pid "$user" >/dev/null 2>&1)
  [ "$(lines_of "$BATS_TEST_TMPDIR/evals-a") $(lines_of "$BATS_TEST_TMPDIR/evals-b")" = "2 2" ]
}
