#!/usr/bin/env bats
# ws-reaper (SPEC §4): the tiny PID reaper. These tests build contexts and
# user records by hand, as the state home protocol (docs/state-home.md)
# describes them, so no other command starts a reaper behind the test's back.

load test_helper/common-setup
load test_helper/state-home

setup() {
  common_setup
  home="$XDG_STATE_HOME/ws"
  mkdir -p -m 0700 "$home"
  echo 1 >"$home/VERSION"
  export LOG="$BATS_TEST_TMPDIR/hooks.log"
}
teardown() { common_teardown; }



# The PID in reaper.pid once it names a live process.
reaper_pid() {
  local pid start
  [[ -s $home/reaper.pid ]] || return 1
  read -r pid start <"$home/reaper.pid"
  [[ $(_wsh_starttime "$pid") == "$start" ]] && echo "$pid"
}

# --------------------------------------------------------- CLI contract ----

@test "ws-reaper with no arguments starts a reaper in the background and returns; a second call finds it" {
  run --separate-stderr ws-reaper
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [[ $stderr =~ ^ws-reaper:\ started\ \(pid\ ([0-9]+)\)$ ]]
  pid=${BASH_REMATCH[1]}
  track_pid "$pid"
  # It returned, and the reaper it started goes on.
  _wsh_alive "$pid"
  wait_until 'reaper_pid >/dev/null' 5
  [ "$(reaper_pid)" = "$pid" ]
  # Its own session: closing the terminal does not reach it.
  [ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ]
  run --separate-stderr ws-reaper
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws-reaper: already running (pid $pid)" ]
}

@test "an unknown option exits 64 with the error on stderr only" {
  run --separate-stderr -64 ws-reaper --bogus
  [ -z "$output" ]
  [ "$stderr" = "ws-reaper: unknown option '--bogus'" ]
  run --separate-stderr -64 ws-reaper extra
  [ -z "$output" ]
  [ "$stderr" = "ws-reaper: unexpected argument 'extra'" ]
  run --separate-stderr -64 ws-reaper --once=yes
  [ "$stderr" = "ws-reaper: option '--once' takes no value" ]
  [ ! -e "$home/reaper.pid" ]
}

@test "--help prints the usage, options, examples and exit codes on stdout" {
  run --separate-stderr ws-reaper --help
  [ "$status" -eq 0 ]
  [[ $output == *"ws-reaper [OPTIONS]"* ]]
  for option in --foreground --once EXAMPLES "EXIT CODES" WS_REAPER_IDLE WS_UNLOAD_GRACE; do [[ $output == *"$option"* ]]; done
  [ -z "$stderr" ]
}

@test "--version prints the name and version" {
  run --separate-stderr ws-reaper --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^ws-reaper\ [0-9]+\.[0-9]+\.[0-9]+ ]]
  [ -z "$stderr" ]
}

@test "a state home writable by others is refused (77)" {
  chmod 0777 "$home"
  run --separate-stderr -77 ws-reaper --once
  [ -z "$output" ]
  [[ $stderr == "ws-reaper: state home $home is writable by others"* ]]
}

# ------------------------------------------------------------ --once ----

@test "--once sweeps once and exits: drops a dead user, starts the grace period, unloads on a later sweep" {
  make_context proj ready
  bash -c 'exit 0' &
  gone=$!
  wait "$gone"
  printf '{"pid":%d,"start":"1","joined":"2026-01-01T00:00:00.000Z"}\n' "$gone" >"$ctx/users/$gone"
  add_hook "$ctx" sh -c 'echo ran >>"$LOG"'
  run --separate-stderr ws-reaper --once
  [ "$status" -eq 0 ]
  [ -z "$output$stderr" ]
  [ ! -e "$ctx/users/$gone" ]
  [ -e "$ctx/idle-since" ]
  [ ! -e "$LOG" ]
  [ ! -e "$home/reaper.pid" ]
  sleep 1.1 # deliberately: the grace period (WS_UNLOAD_GRACE=1) passes
  run ws-reaper --once
  [ "$status" -eq 0 ]
  [ "$(cat "$LOG")" = ran ]
  [ ! -e "$ctx/idle-since" ]
  grep -q '"state":"unloaded"' "$ctx/context.json"
  grep -q '"type":"user.leave"' "$home/events.jsonl"
  # An unloaded context is left alone.
  run ws-reaper --once
  [ "$status" -eq 0 ]
  [ "$(cat "$LOG")" = ran ]
}

@test "--once while a reaper runs leaves the sweeping to it" {
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 5
  run --separate-stderr ws-reaper --once
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws-reaper: another reaper is running; it does the sweeping" ]
}

@test "a corrupt user record is removed with a note in reaper.log, never a crash" {
  make_context proj ready
  start_user
  add_user "$ctx" "$user"
  printf '{"pid":' >"$ctx/users/777777"
  printf 'garbage' >"$ctx/users/888888"
  # A fresh unreadable record may be mid-write (the cached entry's printf): age them.
  touch -d '-10 seconds' "$ctx/users/777777" "$ctx/users/888888"
  run --separate-stderr ws-reaper --once
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  grep -q "removed corrupt user record $ctx/users/777777" "$home/reaper.log"
  grep -q "removed corrupt user record $ctx/users/888888" "$home/reaper.log"
  [ -e "$ctx/users/$user" ]
  [ ! -e "$ctx/idle-since" ]
}

# ------------------------------------------------------------ lifetime ----

@test "the reaper exits by itself after WS_REAPER_IDLE seconds with no users, releasing reaper.pid" {
  export WS_REAPER_IDLE=1
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 5
  pid=$(reaper_pid)
  wait_until "! _wsh_alive $pid" 6
  [ ! -e "$home/reaper.pid" ]
}

@test "the reaper stays while a user lives, unloads when it dies, then exits after the idle time" {
  export WS_REAPER_IDLE=1
  make_context proj ready
  start_user
  add_user "$ctx" "$user"
  add_hook "$ctx" sh -c 'echo ran >>"$LOG"'
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 5
  pid=$(reaper_pid)
  sleep 2.5 # deliberately past WS_REAPER_IDLE (1 s): it stays, for the user
  _wsh_alive "$pid"
  [ ! -e "$LOG" ]
  kill "$user"
  wait_until '[ -s "$LOG" ]' 5
  wait_until "! _wsh_alive $pid" 6
  [ "$(cat "$LOG")" = ran ]
}

# How soon (SPEC: within 1 s) is a figure of `pnpm bench` (h1), not a test.
@test "a dead user is noticed: its record removed, user.leave emitted, the other user kept" {
  make_context proj ready
  start_user
  add_user "$ctx" "$user"
  start_user
  add_user "$ctx" "$user" # a second user keeps the context loaded
  first=$(ls "$ctx/users" | head -1)
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 5
  kill "$first"
  wait_until "[ ! -e '$ctx/users/$first' ]" 5
  grep -q "\"type\":\"user.leave\".*\"pid\":$first" "$home/events.jsonl"
  [ -e "$ctx/users/$user" ]
}

@test "SIGTERM stops the reaper and releases reaper.pid" {
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 5
  pid=$(reaper_pid)
  kill -TERM "$pid"
  wait_until "! _wsh_alive $pid" 5
  [ ! -e "$home/reaper.pid" ]
}

# ------------------------------------------------------- one per home ----

@test "20 concurrent ws-reaper starts leave exactly one reaper" {
  export WS_STATE_HOME=$home
  pids=()
  for i in $(seq 20); do
    ws-reaper >/dev/null 2>&1 3>&- &
    pids+=($!)
  done
  # Each by its PID: a bare `wait` would wait for bats' own timeout too.
  wait "${pids[@]}"
  # Each of them returned once its reaper ran: all exist now, and the ones
  # that lose the lock leave.
  wait_until '[ "$(reapers | wc -l)" -eq 1 ]' 10
  run reapers
  [ "${#lines[@]}" -eq 1 ]
  [ "$(reaper_pid)" = "${lines[0]}" ]
}

@test "a reaper.pid left by a killed reaper, or naming a recycled PID, is taken over" {
  start_user
  # A live process, but not the one that wrote the lock: another start time.
  echo "$user 1" >"$home/reaper.pid"
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 5
  pid=$(reaper_pid)
  [ "$pid" != "$user" ]
  kill -KILL "$pid"
  wait_until "! _wsh_alive $pid" 5
  [ -e "$home/reaper.pid" ] # SIGKILL leaves it behind...
  ws-reaper 2>/dev/null     # ...and the next one takes it over
  wait_until '[ -n "$(reaper_pid)" ] && [ "$(reaper_pid)" != "$pid" ]' 5
}

# ---------------------------------------------------------- no memory ----

@test "a reaper killed during the grace period: its successor keeps the grace period and unloads" {
  export WS_UNLOAD_GRACE=60
  make_context proj ready
  start_user
  add_user "$ctx" "$user"
  add_hook "$ctx" sh -c 'echo ran >>"$LOG"'
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 5
  pid=$(reaper_pid)
  kill "$user"
  wait_until "[ -e '$ctx/idle-since' ]" 5
  kill -KILL "$pid"
  wait_until "! _wsh_alive $pid" 5
  [ ! -e "$LOG" ]
  # As if the grace period had run out while no reaper ran: a successor that
  # counts from the recorded start unloads now; one that started it again
  # would wait another minute.
  date -u -d '-61 seconds' +%Y-%m-%dT%H:%M:%S.000Z >"$ctx/idle-since"
  ws-reaper 2>/dev/null
  wait_until '[ -s "$LOG" ]' 10
  [ "$(cat "$LOG")" = ran ]
}

@test "slow hooks of one context do not delay the unload of another" {
  make_context slow ready
  slow=$ctx
  make_context fast ready
  fast=$ctx
  start_user
  add_user "$slow" "$user"
  slow_user=$user
  start_user
  add_user "$fast" "$user"
  # The slow hook runs until the test opens $gate (at most 30 s).
  gate="$BATS_TEST_TMPDIR/gate"
  add_hook "$slow" sh -c 'echo slow-start >>"$LOG"; i=0; while [ ! -e "$1" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; echo slow-end >>"$LOG"' sh "$gate"
  add_hook "$fast" sh -c 'echo fast >>"$LOG"'
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 5
  kill "$slow_user"
  wait_until 'grep -q slow-start "$LOG"' 5
  kill "$user"
  # While the slow hook is still running.
  wait_until 'grep -q fast "$LOG"' 10
  [ "$(cat "$LOG")" = $'slow-start\nfast' ]
  touch "$gate"
  wait_until 'grep -q slow-end "$LOG"' 10
}

# -------------------------------------------------------- the watcher ----
# What stays resident is a bash watcher holding reaper.pid; it starts the
# Node reaper (ws-reaper --worker, holding reaper.worker) only when there is
# work, and that exits when idle again (docs/unload.md, "The watcher").

# idle_reaper — starts the reaper and waits until only the watcher is left
# (the worker of its first sweep has exited); $pid is the watcher.
idle_reaper() {
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 5
  pid=$(reaper_pid)
  # The watcher makes reaper.wake once it holds reaper.pid (a loser of that race must not replace it).
  wait_until '[ -p "$home/reaper.wake" ]' 10
  wait_until '[ -z "$(workers)" ]' 10
}

@test "the watcher alone stays while users just live, and notices a SIGKILLed one" {
  make_context proj ready
  start_user
  add_user "$ctx" "$user"
  keep=$user
  start_user
  add_user "$ctx" "$user"
  idle_reaper
  # The holder of reaper.pid is the bash watcher, and it is all that runs.
  [ "$(cat "/proc/$pid/comm")" = bash ]
  [ "$(reapers)" = "$pid" ]
  kill -KILL "$user"
  wait_until "[ ! -e '$ctx/users/$user' ]" 10
  grep -q "\"type\":\"user.leave\".*\"pid\":$user,\"reason\":\"exited\"" "$home/events.jsonl"
  [ -e "$ctx/users/$keep" ]
  # The worker it started for that goes again; the watcher stays.
  wait_until '[ -z "$(workers)" ]' 10
  [ "$(reaper_pid)" = "$pid" ]
}

# bash's kill returns 0 if it could signal any of its PIDs: a tick's one
# `kill -0` over every user saw a death only once all of them were dead, and
# one dead user among live ones waited for the next look at the directories.
# With those looks off, only the tick itself can notice it.
@test "the watcher's tick itself notices one SIGKILLed user among live ones" {
  export _WS_TEST_REAPER_TICK_ONLY=1 # no periodic looks, no first sweep (watcher.bash)
  make_context proj ready
  local keep=() i
  for i in 1 2 3; do
    start_user
    add_user "$ctx" "$user"
    keep+=("$user")
  done
  start_user
  add_user "$ctx" "$user"
  idle_reaper
  kill -KILL "${keep[1]}"
  wait_until "[ ! -e '$ctx/users/${keep[1]}' ]" 10
  [ -e "$ctx/users/${keep[0]}" ] && [ -e "$ctx/users/${keep[2]}" ] && [ -e "$ctx/users/$user" ]
}

@test "the watcher notices a recycled PID: a record whose live PID has another start time" {
  make_context proj ready
  start_user
  add_user "$ctx" "$user"
  keep=$user
  idle_reaper
  start_user
  # Written as ws-export writes a record (a temporary name, then a rename).
  printf '{"pid":%d,"start":"1","joined":"2026-01-01T00:00:00.000Z"}\n' "$user" >"$ctx/users/$user.tmp.1"
  mv "$ctx/users/$user.tmp.1" "$ctx/users/$user"
  wait_until "[ ! -e '$ctx/users/$user' ]" 15
  _wsh_alive "$user"
  [ -e "$ctx/users/$keep" ]
  grep -q "\"type\":\"user.leave\".*\"pid\":$user" "$home/events.jsonl"
}

@test "a departure record written by hand, and a line on reaper.wake: the unload runs after the grace, once" {
  make_context proj ready
  start_user
  add_user "$ctx" "$user"
  add_hook "$ctx" sh -c 'echo ran >>"$LOG"'
  idle_reaper
  [ -p "$home/reaper.wake" ]
  [ "$(stat -c %a "$home/reaper.wake")" = 600 ]
  # The protocol: the join record's JSON plus "left", rewritten in place; then
  # one line (the context directory) to reaper.wake, opened read-write.
  record=$(cat "$ctx/users/$user")
  printf '%s,"left":"%s"}\n' "${record%\}}" "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" >"$ctx/users/$user"
  printf '%s\n' "$ctx" 1<>"$home/reaper.wake"
  wait_until '[ -s "$LOG" ]' 10
  _wsh_alive "$user" # the shell lives on: it only left
  [ ! -e "$ctx/users/$user" ]
  # The shell that left wrote its own user.leave: the reaper writes none for a left record.
  [ "$(grep -c "\"type\":\"user.leave\".*\"pid\":$user[,}]" "$home/events.jsonl")" -eq 0 ]
  grep -q '"state":"unloaded"' "$ctx/context.json"
  wait_until '[ -z "$(workers)" ]' 10
  [ "$(cat "$LOG")" = ran ]
  [ "$(grep -c '\] unload done$' "$ctx/unload.log")" -eq 1 ]
}

# A shell leaving without a process (bash, zsh, fish, nushell) writes
# nothing to reaper.wake: the watcher's tick sees events.jsonl change. With
# the periodic looks off, only that can find the departure.
@test "a departure as the hooks write it, nothing on reaper.wake: the watcher's tick sees events.jsonl change; the unload runs after the grace, once" {
  export _WS_TEST_REAPER_TICK_ONLY=1 # no periodic looks, no first sweep (watcher.bash)
  make_context proj ready
  start_user
  add_user "$ctx" "$user"
  add_hook "$ctx" sh -c 'echo ran >>"$LOG"'
  idle_reaper
  local start now
  start=$(jq -r .start "$ctx/users/$user")
  now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
  # bash's and zsh's _ws_depart: the record emptied, then appended to; then the user.leave.
  : >"$ctx/users/$user"
  printf '{"pid":%d,"start":"%s","left":"%s"}\n' "$user" "$start" "$now" >>"$ctx/users/$user"
  printf '{"v":1,"ts":"%s","type":"user.leave","context":"proj","root":"/nonexistent","pid":%d,"cached":true}\n' "$now" "$user" >>"$home/events.jsonl"
  wait_until '[ -s "$LOG" ]' 10
  _wsh_alive "$user"
  [ ! -e "$ctx/users/$user" ]
  [ "$(grep -c "\"type\":\"user.leave\".*\"pid\":$user[,}]" "$home/events.jsonl")" -eq 1 ]
  wait_until '[ -z "$(workers)" ]' 10
  [ "$(cat "$LOG")" = ran ]
  [ "$(grep -c '\] unload done$' "$ctx/unload.log")" -eq 1 ]
}

@test "reaper.wake: something else in its place is replaced by a FIFO of our own" {
  echo stray >"$home/reaper.wake"
  idle_reaper
  [ -p "$home/reaper.wake" ]
  [ ! -L "$home/reaper.wake" ]
  [ "$(stat -c %a "$home/reaper.wake")" = 600 ]
}

# three_slow_hooks — a context with a live user and hooks 1, 2, 3 that take
# a while each and count their runs in $m.N (they run 3, 2, 1).
three_slow_hooks() {
  make_context "${1:-proj}" ready
  start_user
  add_user "$ctx" "$user"
  m="$BATS_TEST_TMPDIR/marker-${1:-proj}"
  for n in 1 2 3; do add_hook "$ctx" sh -c "sleep 0.5; echo $n >>'$m.$n'"; done
}

# Each hook of three_slow_hooks ran exactly once, and the unload is over.
assert_each_once() {
  wait_until "[ ! -e '$ctx/unload-run' ] && grep -q '\] unload done\$' '$ctx/unload.log'" 20
  for n in 1 2 3; do [ "$(lines_of "$m.$n")" -eq 1 ]; done
  [ "$(grep -c '\] unload done$' "$ctx/unload.log")" -eq 1 ]
}

@test "the worker SIGKILLed during an unload: the watcher starts another, which resumes it; each hook ran once" {
  three_slow_hooks
  idle_reaper
  kill "$user"
  wait_until "[ -e '$ctx/unload-run/000002.started' ]" 15
  read -r worker _ <"$home/reaper.worker"
  kill -KILL "$worker"
  assert_each_once
  grep -q 'unload resumed' "$ctx/unload.log"
  grep -q 'exit ? after [0-9]* ms: .*echo 2 .*(started by an unload runner that died' "$ctx/unload.log"
  [ "$(reaper_pid)" = "$pid" ]
}

@test "the watcher SIGKILLed during an unload: the worker finishes it and starts a new watcher; each hook ran once" {
  three_slow_hooks
  idle_reaper
  kill "$user"
  wait_until "[ -e '$ctx/unload-run/000002.started' ]" 15
  kill -KILL "$pid"
  assert_each_once
  wait_until 'reaper_pid >/dev/null && [ "$(reaper_pid)" != "$pid" ]' 10
}

@test "SIGKILL of the watcher, the worker or both at random moments of unloads: nothing lost, nothing twice" {
  for round in 1 2 3 4; do
    three_slow_hooks "round$round"
    idle_reaper
    kill "$user"
    # A random moment: once hook N has started, or before any has.
    n=$((RANDOM % 4))
    if ((n)); then wait_until "[ -e '$ctx/unload-run/00000$n.started' ]" 15; else wait_until "[ -e '$ctx/unload-run' ]" 15; fi
    victims=()
    case $((RANDOM % 3)) in
      0) victims=("$pid") ;;
      1) read -r w _ <"$home/reaper.worker" && victims=("$w") ;;
      2) read -r w _ <"$home/reaper.worker" && victims=("$pid" "$w") ;;
    esac
    kill -KILL "${victims[@]}"
    # Both gone: the next command that needs a reaper starts one (here, by hand).
    if ((${#victims[@]} == 2)); then
      for v in "${victims[@]}"; do wait_until "! _wsh_alive $v" 5; done
      ws-reaper 2>/dev/null
    fi
    assert_each_once
  done
}
