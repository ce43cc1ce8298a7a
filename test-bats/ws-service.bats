#!/usr/bin/env bats
# ws-service (SPEC §4, docs/services.md): development servers started
# detached, ready-checked, idempotent, stopped by process group, restarted by
# the reaper, and stopped when the context's last user leaves. First the
# pieces without shells (python3 http.server and small bash services), then
# PostgreSQL 15 and Redis 7 from a real .workspace in interactive shells.
#
# PostgreSQL refuses to run as root, and tests run as root: the server runs
# as the unprivileged user $PG_USER (created once, idempotently, in
# setup_file) through setpriv. The state home is root's and mode 0700, so
# setpriv also hands the server the one capability CAP_DAC_OVERRIDE (as an
# ambient capability) to reach $WS_STATE_DIR/pg (owned by $PG_USER) and to
# create its socket in $WS_STATE_DIR. Nothing else runs as that user.
#

load test_helper/common-setup
load test_helper/state-home

PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=wspgtest

setup_file() {
  if [[ $EUID -eq 0 ]] && ! id -u "$PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER" 2>/dev/null ||
      id -u "$PG_USER" >/dev/null # created meanwhile by a parallel run
  fi
}

setup() {
  common_setup
  home="$XDG_STATE_HOME/ws"
  proj="$BATS_TEST_TMPDIR/work/proj"
  mkdir -p "$proj"
  : >"$proj/.workspace"
  cd "$proj" || return
}

teardown() {
  stop_everything
  common_teardown
}

# -------------------------------------------------------------- helpers ----

# The reaper first (so that it restarts nothing), then every service group
# recorded in the state home, by PID: TERM, then KILL after 3 s.
stop_everything() {
  local file pid start json groups=()
  for file in "$home/reaper.pid"; do
    [[ -f $file ]] || continue
    read -r pid start <"$file" || true
    [[ $pid =~ ^[0-9]+$ && $(_wsh_starttime "$pid" 2>/dev/null) == "$start" ]] && kill -TERM "$pid" 2>/dev/null
  done
  for file in "$home"/contexts/*/services/*/state.json; do
    [[ -f $file ]] || continue
    json=$(jq -r '"\(.pid // "") \(.start // "")"' "$file" 2>/dev/null) || continue
    read -r pid start <<<"$json"
    [[ $pid =~ ^[0-9]+$ ]] || continue
    [[ $(_wsh_starttime "$pid" 2>/dev/null) == "$start" ]] && groups+=("$pid")
  done
  ((${#groups[@]})) || return 0
  for pid in "${groups[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  wait_until 'groups_gone "${groups[@]}"' 3 2>/dev/null ||
    for pid in "${groups[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}

groups_gone() {
  local pid
  for pid; do group_running "$pid" && return 1; done
  return 0
}

# group_running PGID — a process of that group is alive. Not `kill -0 -PGID`:
# a zombie counts for kill, and where PID 1 does not reap (some containers)
# an exited service leader stays one.
group_running() {
  local pgid=$1 file stat fields
  for file in /proc/[0-9]*/stat; do
    { read -r stat <"$file"; } 2>/dev/null || continue
    read -ra fields <<<"${stat##*) }" # state ppid pgrp ...
    [[ ${fields[2]} == "$pgid" && ${fields[0]} != [ZX] ]] && return 0
  done
  return 1
}

svc_dir() { printf '%s/services/%s\n' "$(ctx_dir)" "$1"; }

# A free TCP port (outside a context allocate_port holds it 30 s for us).
free_port() { (cd / && allocate_port); }

# The command's own PID, from status --json.
main_pid() { ws-service status "$1" --json | jq -r '.[0].pid'; }

accepting() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

events_of() { jq -c "select(.type | startswith(\"service.\")) | select(.service == \"$1\") | [.type, .status // .reason // null]" "$home/events.jsonl"; }


# --------------------------------------------------------- CLI contract ----

@test "ws-service with no arguments exits 64 with a usage error on stderr" {
  run --separate-stderr -64 ws-service
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "ws-service: missing command: start, stop, restart, status or logs" ]
}

@test "an unknown option exits 64 with the error on stderr only" {
  run --separate-stderr -64 ws-service status --bogus
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "ws-service: unknown option '--bogus'" ]
}

@test "--help prints the usage, every command, option and the exit codes on stdout" {
  run --separate-stderr ws-service --help
  [ "$status" -eq 0 ]
  for word in 'ws-service start NAME' 'stop NAME | --all' 'restart NAME' 'status [NAME] [--json]' 'logs NAME [-f] [-n N]' \
    --ready-port --ready-cmd --ready-timeout --after --restart --stop-timeout EXIT\ CODES; do
    [[ $output == *"$word"* ]]
  done
  [ -z "$stderr" ]
}

@test "--version prints the name and version" {
  run --separate-stderr ws-service --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^ws-service\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "bad usage exits 64 with one line each" {
  run --separate-stderr -64 ws-service frobnicate
  [[ ${stderr_lines[0]} == "ws-service: unknown command 'frobnicate'"* ]]
  run --separate-stderr -64 ws-service start web
  [[ ${stderr_lines[0]} == "ws-service: start needs the command to run"* ]]
  run --separate-stderr -64 ws-service start 'we b' -- true
  [[ ${stderr_lines[0]} == "ws-service: invalid service name 'we b'"* ]]
  run --separate-stderr -64 ws-service start web --restart sometimes -- true
  [[ ${stderr_lines[0]} == "ws-service: invalid --restart 'sometimes'"* ]]
  run --separate-stderr -64 ws-service start web --ready-port 70000 -- true
  [[ ${stderr_lines[0]} == "ws-service: invalid port '70000'"* ]]
  run --separate-stderr -64 ws-service start web --ready-timeout soon -- true
  run --separate-stderr -64 ws-service status --ready-port 80
  [ "${stderr_lines[0]}" = "ws-service: option '--ready-port' does not apply to 'status'" ]
  run --separate-stderr -64 ws-service stop web --all
  run --separate-stderr -64 ws-service logs
  run --separate-stderr -64 ws-service stop web -- true
  [ ! -d "$home/contexts" ] || [ -z "$(ls "$home"/contexts/*/services 2>/dev/null)" ]
}

@test "outside any context it exits 66; WS_ROOT names the context" {
  cd "$BATS_TEST_TMPDIR"
  run --separate-stderr -66 ws-service status
  [[ ${stderr_lines[0]} == "ws-service: not in a context: WS_ROOT is not set"* ]]
  WS_ROOT="$proj" run --separate-stderr ws-service status --json
  [ "$status" -eq 0 ]
  [ "$output" = "[]" ]
}

# ------------------------------------------------------------ behaviour ----

@test "start returns once a python3 http.server accepts connections; stop frees the port" {
  port=$(free_port)
  run --separate-stderr ws-service start web --ready-port "$port" -- python3 -m http.server "$port" --bind 127.0.0.1
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [[ ${stderr_lines[0]} =~ ^ws-service:\ web\ ready\ \(pid\ [0-9]+,\ [0-9.]+\ s\)$ ]]
  accepting "$port"
  curl -fsS "http://127.0.0.1:$port/" >/dev/null
  pid=$(main_pid web)
  track_pid "$pid"
  [[ $(tr '\0' ' ' <"/proc/$pid/cmdline") == *"python3 -m http.server $port --bind 127.0.0.1 " ]]
  # cwd = the context root; the pid file is {pid,start} of its process group.
  [ "$(readlink "/proc/$pid/cwd")" = "$proj" ]
  jq -e '(.pid | type) == "number" and (.start | type) == "string"' "$(svc_dir web)/pid"
  [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$(jq .pid "$(svc_dir web)/pid")" ]
  [ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$(jq .pid "$(svc_dir web)/pid")" ]

  run --separate-stderr ws-service status
  [[ ${lines[0]} =~ ^NAME\ +STATE\ +PID\ +UPTIME\ +PORT\ +COMMAND$ ]]
  [[ ${lines[1]} =~ ^web\ +ready\ +$pid\ +[0-9]+s\ +$port\ +python3\ -m\ http.server ]]

  run --separate-stderr ws-service stop web
  [ "$status" -eq 0 ]
  run ! _wsh_alive "$pid"
  run ! accepting "$port"
  [ ! -e "$(svc_dir web)/pid" ]
  run ws-service status web --json
  [ "$(jq -r '.[0].state' <<<"$output")" = stopped ]
  run events_of web
  [ "${lines[*]}" = '["service.start",null] ["service.ready",null] ["service.stop",143]' ]
}

@test "the service keeps no descriptor of its caller: only /dev/null and its log" {
  # (bats owns descriptor 3.)
  exec 5>"$BATS_TEST_TMPDIR/held-by-caller"
  ws-service start sleeper -- sleep 60 6>"$BATS_TEST_TMPDIR/held-too" 2>/dev/null
  exec 5>&-
  group=$(jq .pid "$(svc_dir sleeper)/pid")
  pid=$(main_pid sleeper)
  [ "$pid" != "$group" ]
  for p in "$group" "$pid"; do
    run ls -l "/proc/$p/fd"
    [[ $output != *held* ]]
    run find "/proc/$p/fd" -mindepth 1 -printf '%f %l\n'
    [ "${#lines[@]}" -eq 3 ]
    [ "${lines[0]}" = "0 /dev/null" ]
    [[ ${lines[1]} == "1 $(svc_dir sleeper)/log" && ${lines[2]} == "2 $(svc_dir sleeper)/log" ]]
  done
  # Its own session: no controlling terminal, no way to be hung up with ours.
  [ "$(ps -o tty= -p "$pid" | tr -d ' ')" = "?" ]
}

# How soon these return is a figure of `pnpm bench` (h2-h4), not a test.
@test "a service whose command exits at once fails with its last log lines, status 1" {
  run --separate-stderr ws-service start crash -- bash -c 'echo starting up; echo "config error: no such file" >&2; exit 3'
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "ws-service: crash exited with status 3 before it was ready" ]
  [ "${stderr_lines[1]}" = "ws-service: last lines of $(svc_dir crash)/log:" ]
  [ "${stderr_lines[2]}" = "  starting up" ]
  [ "${stderr_lines[3]}" = "  config error: no such file" ]
  [ ! -e "$(svc_dir crash)/pid" ]
  run events_of crash
  [ "${lines[*]}" = '["service.start",null] ["service.exit",3]' ]
  run --separate-stderr ws-service start missing -- no-such-command-here
  [ "$status" -eq 1 ]
  [ "${stderr_lines[0]}" = "ws-service: missing exited with status 127 before it was ready" ]
  [[ ${stderr_lines[2]} == *"no-such-command-here: command not found" ]]
}

@test "a service that never becomes ready fails after --ready-timeout and is stopped" {
  port=$(free_port)
  run --separate-stderr ws-service start deaf --ready-port "$port" --ready-timeout 1.5 -- bash -c 'echo listening nowhere; exec sleep 60'
  [ "$status" -eq 1 ]
  [ "${stderr_lines[0]}" = "ws-service: deaf was not ready after 1.5 s (port $port is not accepting connections); stopped it" ]
  [[ ${stderr[*]} == *"  listening nowhere"* ]]
  group=$(jq .pid "$(svc_dir deaf)/state.json")
  run ! group_running "$group"
  [ ! -e "$(svc_dir deaf)/pid" ]
  # --ready-cmd that keeps failing: the same.
  run --separate-stderr ws-service start picky --ready-cmd 'echo not yet; exit 1' --ready-timeout 0.5 -- sleep 60
  [ "$status" -eq 1 ]
  [ "${stderr_lines[0]}" = "ws-service: picky was not ready after 0.5 s (--ready-cmd failed: not yet); stopped it" ]
}

@test "--ready-cmd runs in the service's environment and cwd" {
  port=$(free_port)
  export WEB_PORT=$port
  EXPECT_ROOT=$proj run --separate-stderr ws-service start web --ready-timeout 10 --ready-cmd 'test "$PWD" = "$EXPECT_ROOT" && exec 3<>/dev/tcp/127.0.0.1/$WEB_PORT' \
    -- bash -c 'sleep 0.5; exec python3 -m http.server "$WEB_PORT" --bind 127.0.0.1'
  [ "$status" -eq 0 ]
  accepting "$port"
}

@test "a service that ignores SIGTERM is killed after its --stop-timeout" {
  ws-service start stubborn --stop-timeout 1 -- bash -c 'trap "" TERM; echo up; while :; do sleep 0.1; done' 2>/dev/null
  group=$(jq .pid "$(svc_dir stubborn)/pid")
  run --separate-stderr ws-service stop stubborn
  [ "$status" -eq 0 ]
  [ "${stderr_lines[0]}" = "ws-service: stubborn did not stop after SIGTERM; killed it" ]
  run ! group_running "$group"
  [ "$(tail -n 1 "$home/events.jsonl" | jq -c '[.type, .killed]')" = '["service.stop",true]' ]
}

# A server on port $2 that appends "SIGTERM PID" to file $1 for each SIGTERM
# it receives; it exits once no other SIGTERM came for half a second after
# one (so a second signal of the same stop is seen, as redis-server logs it).
sigterm_counter() {
  cat >"$BATS_TEST_TMPDIR/sigterm-counter.py" <<'EOF'
import os, signal, socket, sys
log, port = sys.argv[1], int(sys.argv[2])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen()
signal.sigwait({signal.SIGTERM})
while True:
    with open(log, "a") as f:
        f.write(f"SIGTERM {os.getpid()}\n")
    if signal.sigtimedwait({signal.SIGTERM}, 0.5) is None:
        sys.exit(0)
EOF
  echo "$BATS_TEST_TMPDIR/sigterm-counter.py"
}

@test "stop and restart send one SIGTERM: a server that logs each one logs one line" {
  port=$(free_port)
  counter=$(sigterm_counter)
  log=$BATS_TEST_TMPDIR/sigterms
  ws-service start counter --ready-port "$port" -- python3 "$counter" "$log" "$port" 2>/dev/null
  first=$(main_pid counter)
  track_pid "$first"
  run --separate-stderr ws-service stop counter
  [ "$status" -eq 0 ]
  [ -z "$stderr" ] # no SIGKILL
  [ "$(cat "$log")" = "SIGTERM $first" ]

  ws-service start counter --ready-port "$port" -- python3 "$counter" "$log" "$port" 2>/dev/null
  second=$(main_pid counter)
  track_pid "$second"
  rm -f "$log"
  run --separate-stderr ws-service restart counter
  [ "$status" -eq 0 ]
  track_pid "$(main_pid counter)"
  [ "$(cat "$log")" = "SIGTERM $second" ]
}

@test "stop reaches processes that left the service's session (as PostgreSQL's backends do)" {
  ws-service start tree -- bash -c 'setsid sleep 300 & echo $! >escaped; exec sleep 300' 2>/dev/null
  wait_until '[ -s escaped ]' 5
  escaped=$(cat escaped)
  track_pid "$escaped"
  [ "$(ps -o sid= -p "$escaped" | tr -d ' ')" = "$escaped" ]
  run --separate-stderr ws-service stop tree
  [ "$status" -eq 0 ]
  [ -z "$stderr" ] # SIGTERM was enough
  run ! _wsh_alive "$escaped"
}

@test "start is idempotent: the same command keeps its PID, a changed command or environment restarts it" {
  ws-service start s -- sleep 60 2>/dev/null
  first=$(main_pid s)
  run --separate-stderr ws-service start s -- sleep 60
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$(main_pid s)" = "$first" ]
  # Per-terminal variables do not count.
  TMUX_PANE=%9 OLDPWD=/elsewhere TERM=dumb run --separate-stderr ws-service start s -- sleep 60
  [ "$status" -eq 0 ]
  [ "$(main_pid s)" = "$first" ]
  # A changed command does.
  run --separate-stderr ws-service start s -- sleep 61
  [ "$status" -eq 0 ]
  [ "${stderr_lines[0]}" = "ws-service: restarting s: its command or environment changed" ]
  second=$(main_pid s)
  [ "$second" != "$first" ]
  run ! _wsh_alive "$first"
  # So does a changed environment.
  DATABASE_URL=postgres://x run --separate-stderr ws-service start s -- sleep 61
  [ "$status" -eq 0 ]
  third=$(main_pid s)
  [ "$third" != "$second" ]
  [ "$(tr '\0' '\n' <"/proc/$third/environ" | grep '^DATABASE_URL=')" = "DATABASE_URL=postgres://x" ]
}

@test "restart NAME starts the same command again with the environment it had" {
  MARK=kept ws-service start s -- sleep 60 2>/dev/null
  first=$(main_pid s)
  run --separate-stderr ws-service restart s
  [ "$status" -eq 0 ]
  [[ ${stderr_lines[0]} == "ws-service: s restarted, ready (pid "* ]]
  second=$(main_pid s)
  [ "$second" != "$first" ]
  [ "$(tr '\0' '\n' <"/proc/$second/environ" | grep '^MARK=')" = "MARK=kept" ]
  run --separate-stderr -66 ws-service restart nope
  [ "${stderr_lines[0]}" = "ws-service: no service named 'nope' in context proj" ]
}

@test "--after: an unknown service exits 66; a known one is waited for; stop --all goes in reverse order" {
  run --separate-stderr -66 ws-service start web --after db -- sleep 60
  [ "${stderr_lines[0]}" = "ws-service: no service named 'db' in context proj (--after db)" ]
  [ ! -e "$(svc_dir web)/pid" ]
  # db becomes ready only after 1.5 s; web (started meanwhile) waits for it.
  ws-service start db --ready-cmd 'test -e ready-flag' -- bash -c 'sleep 1.5; touch ready-flag; exec sleep 60' 2>/dev/null &
  db_start=$!
  wait_until '[ -f "$(svc_dir db)/spec.json" ]' 5
  run --separate-stderr ws-service start cache -- sleep 60
  [ "$status" -eq 0 ]
  run --separate-stderr ws-service start web --after db --after=cache -- sleep 60
  [ "$status" -eq 0 ]
  wait "$db_start"
  db_ready=$(jq -r 'select(.type == "service.ready" and .service == "db") | .ts' "$home/events.jsonl")
  web_start=$(jq -r 'select(.type == "service.start" and .service == "web") | .ts' "$home/events.jsonl")
  [[ $web_start > $db_ready ]]
  jq -e '.after == ["db", "cache"]' "$(svc_dir web)/spec.json"
  # A comma list works too.
  run --separate-stderr ws-service start api --after db,cache -- sleep 60
  [ "$status" -eq 0 ]
  run --separate-stderr ws-service stop --all
  [ "$status" -eq 0 ]
  run jq -r 'select(.type == "service.stop") | .service' "$home/events.jsonl"
  [ "${lines[*]}" = "api web cache db" ]
  [ -z "$(ls "$(ctx_dir)"/services/*/pid 2>/dev/null)" ]
}

@test "status --json is an array with the documented fields" {
  port=$(free_port)
  ws-service start web --ready-port "$port" --restart on-failure --stop-timeout 3 -- python3 -m http.server "$port" --bind 127.0.0.1 2>/dev/null
  ws-service start crash -- false 2>/dev/null || true
  run --separate-stderr ws-service status --json
  [ "$status" -eq 0 ]
  jq -e --arg port "$port" --arg root "$proj" '
    length == 2 and
    (.[0] | .name == "web" and .state == "ready" and .running == true and (.pid | type) == "number"
      and (.pgid | type) == "number" and .readyPort == ($port | tonumber) and .restart == "on-failure"
      and .stopTimeout == 3 and .command[0] == "python3" and .cwd == $root and .order == 1
      and (.startedAt | test("^20")) and (.log | endswith("/services/web/log"))) and
    (.[1] | .name == "crash" and .state == "failed" and .running == false and .pid == null and .status == 1)' <<<"$output"
}

@test "logs -n 5 prints the last five lines; logs -f follows what is appended" {
  ws-service start chatty -- bash -c 'for i in $(seq 1 20); do echo "line $i"; done; while :; do sleep 0.2; echo tick; done' 2>/dev/null
  run --separate-stderr ws-service logs chatty -n 5
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 5 ]
  [ "${lines[4]}" = tick ]
  run --separate-stderr ws-service logs chatty
  [[ ${lines[0]} == "--- ws-service: starting chatty at "* ]]
  [ "${lines[1]}" = "line 1" ]
  [ "${lines[20]}" = "line 20" ]
  run timeout 1.5 ws-service logs chatty -f -n 1
  [ "$status" -eq 124 ]
  [ "${lines[0]}" = tick ]
  ((${#lines[@]} >= 4))
  run --separate-stderr -64 ws-service logs chatty -n many
  run --separate-stderr -66 ws-service logs nobody
}

@test "the log is capped: an old run's output moves to log.1" {
  export WS_SERVICE_LOG_MAX=200
  ws-service start noisy -- bash -c 'for i in $(seq 1 30); do echo "old run line $i"; done; exec sleep 60' 2>/dev/null
  ws-service start noisy -- bash -c 'echo new run; exec sleep 61' 2>/dev/null
  grep -q 'old run line 30' "$(svc_dir noisy)/log.1"
  run -1 grep -q 'old run' "$(svc_dir noisy)/log"
  [ "$(ws-service logs noisy -n 1)" = "new run" ]
}

@test "--restart on-failure: the reaper restarts a killed service, with backoff" {
  port=$(free_port)
  ws-service start flaky --ready-port "$port" --restart on-failure -- python3 -m http.server "$port" --bind 127.0.0.1 2>/dev/null
  first=$(main_pid flaky)
  kill -KILL "$first"
  wait_until '{ ws-reaper --once 2>/dev/null; ws-service status flaky --json | jq -e ".[0].state == \"ready\" and .[0].pid != $first" >/dev/null; }' 15
  accepting "$port"
  run events_of flaky
  [ "${lines[*]}" = '["service.start",null] ["service.ready",null] ["service.exit",137] ["service.start",null] ["service.ready",null]' ]
  jq -e 'select(.type == "service.start") | .restart' "$home/events.jsonl" | grep -qx 1
  # Stopped by hand it stays stopped.
  ws-service stop flaky
  ws-reaper --once 2>/dev/null || true
  sleep 1.2 # deliberately: a restart, had one been scheduled, would be due now
  ws-reaper --once 2>/dev/null || true
  [ "$(ws-service status flaky --json | jq -r '.[0].state')" = stopped ]
}

@test "a workspace file that starts a service does not hold ws-export" {
  port=$(free_port)
  write_workspace "$proj" <<EOF
service web --ready-port $port -- python3 -m http.server $port --bind 127.0.0.1
echo evaluated
EOF
  # \$(...) reads until every writer of the pipe is gone: a service holding it
  # would hang here until timeout killed ws-export (status 124).
  out=$(WS_BUILD_TIMEOUT=60000 timeout 20 ws-export bash 2>"$BATS_TEST_TMPDIR/err")
  rc=$?
  [ "$rc" -eq 0 ]
  grep -q evaluated "$BATS_TEST_TMPDIR/err"
  [[ $out == *PGPORT* || $out == *WS_ROOT* ]]
  accepting "$port"
  # Its descriptors: nothing of ws-export's.
  pid=$(main_pid web)
  run find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -lname 'pipe:*'
  [ -z "$output" ]
  # A second evaluation leaves it alone.
  out=$(WS_BUILD_TIMEOUT=60000 timeout 20 ws-export bash 2>/dev/null)
  [ "$(main_pid web)" = "$pid" ]
}

# ---------------------------------------- PostgreSQL and Redis, in shells ----

# db_workspace [PG_PREFERRED REDIS_PREFERRED] — $proj/.workspace: PostgreSQL
# (data in $WS_STATE_DIR/pg, socket in $WS_STATE_DIR) and Redis after it, each
# on a port from allocate_port. (Tests that may run in parallel prefer
# different ports: their state homes do not see each other's reservations.)
db_workspace() {
  local pg_preferred=${1:-5432} redis_preferred=${2:-6379}
  # CI installs both (.ci/run): a missing server is a failure, not a skip.
  [[ -x $PG_BIN/postgres ]] || { echo "PostgreSQL 15 is not installed" >&2; return 1; }
  command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; return 1; }
  id -u "$PG_USER" >/dev/null 2>&1 || { echo "no user $PG_USER" >&2; return 1; }
  write_workspace "$proj" <<EOF
PATH_add $PG_BIN
export PGPORT=\$(allocate_port --tcp $pg_preferred)
export REDIS_PORT=\$(allocate_port --tcp $redis_preferred)
export PGHOST=\$WS_STATE_DIR PGUSER=postgres PGDATABASE=postgres
as_pg() { setpriv --reuid=$PG_USER --regid=$PG_USER --clear-groups --inh-caps=+dac_override --ambient-caps=+dac_override -- "\$@"; }
if [[ ! -s \$WS_STATE_DIR/pg/PG_VERSION ]]; then
  as_pg initdb -D "\$WS_STATE_DIR/pg" -U postgres -A trust --no-sync >/dev/null
fi
service postgres --ready-cmd 'pg_isready -q -h "\$WS_STATE_DIR" -p "\$PGPORT"' --ready-timeout 30 -- \\
  setpriv --reuid=$PG_USER --regid=$PG_USER --clear-groups --inh-caps=+dac_override --ambient-caps=+dac_override -- \\
  postgres -D "\$WS_STATE_DIR/pg" -p "\$PGPORT" -k "\$WS_STATE_DIR"
service redis --ready-port "\$REDIS_PORT" --after postgres -- redis-server --port "\$REDIS_PORT" --save '' --bind 127.0.0.1
EOF
  # Evaluate in the foreground: the first prompt has the environment.
  export WS_BUILD_TIMEOUT=60000
}

# In the current tmux shell: "PGPORT REDIS_PORT POSTMASTER_PID REDIS_PID".
db_facts() {
  tmux_run 'echo "$PGPORT $REDIS_PORT $(head -n 1 "$WS_STATE_DIR/pg/postmaster.pid") $(redis-cli -p "$REDIS_PORT" info server | tr -d "\r" | sed -n "s/^process_id://p")"' 20
}

# start_shell NAME — an interactive bash in tmux, started outside $proj (so
# that its first prompt loads nothing); tmux_run "cd $proj" enters.
start_shell() {
  cd "$BATS_TEST_TMPDIR/work" || return
  tmux_start -n "$1" bash || return
  cd "$proj"
}

# Both servers answer from the current shell.
db_answers() {
  run tmux_run 'psql -tAc "select 40 + 2"' 20
  [ "$status" -eq 0 ]
  [ "$output" = 42 ]
  run tmux_run 'redis-cli -p "$REDIS_PORT" ping' 20
  [ "$status" -eq 0 ]
  [ "$output" = PONG ]
}

@test "PostgreSQL and Redis from a .workspace: psql and redis-cli work, a second shell reuses both" {
  db_workspace
  start_shell one
  tmux_run "cd $proj" 90
  db_answers
  facts=$(db_facts)
  read -r pgport redisport pgpid redispid <<<"$facts"
  track_pid "$pgpid" "$redispid"
  [[ $pgport =~ ^[0-9]+$ && $redisport =~ ^[0-9]+$ && $pgpid =~ ^[0-9]+$ && $redispid =~ ^[0-9]+$ ]]
  # The server runs as the unprivileged user, in the service's process group.
  [ "$(ps -o user= -p "$pgpid" | tr -d ' ')" = "$PG_USER" ]
  [ "$(ps -o pgid= -p "$pgpid" | tr -d ' ')" = "$(jq .pid "$(svc_dir postgres)/pid")" ]
  [ "$(main_pid postgres)" = "$pgpid" ]
  # redis started after postgres was ready.
  pg_ready=$(jq -r 'select(.type == "service.ready" and .service == "postgres") | .ts' "$home/events.jsonl")
  redis_start=$(jq -r 'select(.type == "service.start" and .service == "redis") | .ts' "$home/events.jsonl")
  [[ $redis_start > $pg_ready ]]
  # ws-prompt's %S counts them.
  [ "$(ls "$(ctx_dir)"/services/*/pid | wc -l)" -eq 2 ]

  start_shell two
  tmux_run "cd $proj" 60
  db_answers
  [ "$(db_facts)" = "$facts" ]
  [ "$(jq -r 'select(.type == "service.start") | .service' "$home/events.jsonl" | wc -l)" -eq 2 ]
}

@test "exiting both shells stops PostgreSQL and Redis; re-entering starts them on the same ports" {
  db_workspace 5442 6389
  start_shell one
  tmux_run "cd $proj" 90
  facts=$(db_facts)
  read -r pgport redisport pgpid redispid <<<"$facts"
  track_pid "$pgpid" "$redispid"
  start_shell two
  tmux_run "cd $proj" 60
  [ "$(db_facts)" = "$facts" ]
  state_dir=$(tmux_run 'echo "$WS_STATE_DIR"')

  # A client still connected (its backend runs in a session of its own) does not hold the stop up.
  PGHOST=$state_dir PGPORT=$pgport PGUSER=postgres "$PG_BIN/psql" -d postgres -c 'select pg_sleep(60)' >/dev/null 2>&1 3>&- &
  client=$!
  track_pid "$client"
  wait_until '[ "$(PGHOST=$state_dir PGPORT=$pgport PGUSER=postgres "$PG_BIN/psql" -d postgres -tAc "select count(*) from pg_stat_activity where query like '"'"'select pg_sleep%'"'"'")" = 1 ]' 10

  tmux_use one
  tmux_send exit
  tmux_use two
  tmux_send exit
  wait_until '! _wsh_alive "$pgpid" && ! _wsh_alive "$redispid"' 30
  # Shut down by SIGTERM, not killed after the 10 s stop timeout.
  grep -q 'database system is shut down' "$(svc_dir postgres)/log"
  run -1 grep -q 'SIGKILL' "$(svc_dir postgres)/log"
  [ "$(jq -r 'select(.type == "service.stop") | .killed' "$home/events.jsonl" | sort -u)" = false ]
  # One shutdown request each: the stop signals every process once.
  [ "$(grep -c 'Received SIGTERM' "$(svc_dir redis)/log")" -eq 1 ]
  [ "$(grep -c 'received smart shutdown request' "$(svc_dir postgres)/log")" -eq 1 ]
  wait "$client" || true
  run ! accepting "$pgport"
  run ! accepting "$redisport"
  wait_until '[ -z "$(ls "$(ctx_dir)"/services/*/pid 2>/dev/null)" ]' 5
  [ -s "$state_dir/pg/PG_VERSION" ]
  # Stopped in reverse start order, before the context was unloaded.
  run jq -r 'select(.type == "service.stop" or .type == "context.unload") | .type + (if .service then " " + .service else "" end)' "$home/events.jsonl"
  [ "${lines[*]}" = "service.stop redis service.stop postgres context.unload" ]

  start_shell three
  tmux_run "cd $proj" 60
  db_answers
  read -r pgport2 redisport2 pgpid2 redispid2 <<<"$(db_facts)"
  track_pid "$pgpid2" "$redispid2"
  [ "$pgport2" = "$pgport" ]
  [ "$redisport2" = "$redisport" ]
  [ "$pgpid2" != "$pgpid" ]
}
