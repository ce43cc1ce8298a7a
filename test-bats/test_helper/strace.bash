# Counting what a tmux shell starts (SPEC §7: a prompt at which nothing
# changed spawns no process), for the files that need it, after
# common-setup:
#
#   load test_helper/common-setup
#   load test_helper/strace
#
#   strace_start LABEL [SYSCALLS]
#                              trace the current tmux shell ($TMUX_SHELL_PID)
#                              and everything it starts (strace -f) into
#                              $TRACE = $BATS_TEST_TMPDIR/strace.LABEL;
#                              returns once strace is attached. SYSCALLS:
#                              strace's -e trace= list, default the ones
#                              that start processes
#   strace_stop                detach (SIGINT; KILL if it has not gone after
#                              10 s) and count: SPAWNS (processes started:
#                              fork, vfork, clone/clone3 without CLONE_THREAD,
#                              execve/execveat), NODE_EXECS (execve of node or
#                              ws-export); lists them on stderr, shown when the
#                              test fails

strace_start() {
  TRACE="$BATS_TEST_TMPDIR/strace.$1"
  local syscalls=${2:-execve,execveat,fork,vfork,clone,clone3}
  command -v strace >/dev/null || { echo "strace_start: strace is needed" >&2; return 1; }
  # No descriptor of bats' kept open by strace (it would hang the run); the
  # subshell execs strace, so $! is strace's PID.
  (
    local fd
    for fd in "/proc/$BASHPID"/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
    done
    exec strace -f -s 256 -e trace="$syscalls" -o "$TRACE" -p "$TMUX_SHELL_PID"
  ) </dev/null >/dev/null 2>"$TRACE.err" &
  STRACE_PID=$!
  track_pid "$STRACE_PID"
  wait_until "grep -q attached $(printf %q "$TRACE.err")" 10 || { cat "$TRACE.err" >&2; return 1; }
}

strace_stop() {
  local spawns
  kill -INT "$STRACE_PID" # strace detaches and exits
  wait_until "! _wsh_alive $STRACE_PID" 10 || kill -KILL "$STRACE_PID"
  wait "$STRACE_PID" || true
  spawns=$(grep -vE 'resumed>|CLONE_THREAD' "$TRACE" | grep -E '^[0-9]+ +(fork|vfork|clone|clone3|execve|execveat)\(') || true
  SPAWNS=$(grep -c . <<<"$spawns") || true
  # shellcheck disable=SC2034 # read by the tests that load this helper
  NODE_EXECS=$(grep -E '^[0-9]+ +execve(at)?\(' <<<"$spawns" | grep -cE 'node|ws-export') || true
  if ((SPAWNS)); then
    echo "processes started (${TRACE##*.}):" >&2
    printf '%s\n' "$spawns" >&2
  fi
}
