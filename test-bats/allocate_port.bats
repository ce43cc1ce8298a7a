#!/usr/bin/env bats
# allocate_port (SPEC §4): ports that don't collide.

load test_helper/common-setup

setup() {
  common_setup
  # A window of 300 ports per test (below the kernel's ephemeral range), so
  # that tests running in parallel never meet; the offset varies per run.
  base=$((21000 + (BATS_TEST_NUMBER % 35) * 300 + RANDOM % 100))
}
teardown() { common_teardown; }

# listen tcp|udp PORT... — one python process binding every PORT on 127.0.0.1
# (TCP: listening), tracked for teardown; returns once the sockets are bound,
# fails if one could not be. The wait is long: a parallel test may load the CPUs.
listen() {
  local proto=$1 ready="$BATS_TEST_TMPDIR/ready.$RANDOM"
  shift
  python3 - "$proto" "$ready" "$@" >/dev/null 2>&1 3>&- <<'EOF' &
import os, socket, sys, time
proto, ready, ports = sys.argv[1], sys.argv[2], sys.argv[3:]
socks, status = [], "ok"
try:
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", int(port)))
        if proto == "tcp":
            s.listen()
        socks.append(s)
except OSError as error:
    status = f"cannot bind {port}: {error}"
with open(ready + ".tmp", "w") as f:
    f.write(status)
os.rename(ready + ".tmp", ready)
if status == "ok":
    time.sleep(120)
EOF
  track_pid $!
  wait_until "[ -e '$ready' ]" 30
  [ "$(cat "$ready")" = ok ] || { echo "listen: $(cat "$ready")" >&2; return 1; }
}

# --------------------------------------------------------- CLI contract ----

@test "allocate_port with no arguments prints a port" {
  run --separate-stderr allocate_port
  [ "$status" -eq 0 ]
  [[ $output =~ ^[0-9]+$ ]]
  ((output >= 1024 && output <= 65535))
  [ -z "$stderr" ]
}

@test "an unknown option, a missing value or a value to a switch exits 64 with one line on stderr only" {
  run --separate-stderr -64 allocate_port --bogus
  [ -z "$output" ]
  [ "$stderr" = "allocate_port: unknown option '--bogus'" ]
  run --separate-stderr -64 allocate_port --key
  [ "$stderr" = "allocate_port: option '--key' needs a value" ]
  run --separate-stderr -64 allocate_port --list --json=1
  [ "$stderr" = "allocate_port: option '--json' takes no value" ]
}

@test "a knob with an invalid value is one warning line, and the default applies" {
  run --separate-stderr env WS_PORT_HOLD=abc allocate_port
  [ "$status" -eq 0 ]
  [[ $output =~ ^[0-9]+$ ]]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ ${stderr_lines[0]} == 'allocate_port: warning: WS_PORT_HOLD="abc" is not a number'* ]]
}

@test "--help prints the usage, options and exit codes on stdout" {
  run --separate-stderr allocate_port --help
  [ "$status" -eq 0 ]
  [[ $output == *"allocate_port [OPTIONS] [PREFERRED]"* ]]
  for option in --tcp --udp --key --range --release --list --json; do [[ $output == *"$option"* ]]; done
  [[ $output == *"EXIT CODES"* ]]
  [ -z "$stderr" ]
}

@test "--version prints the name and version" {
  run --separate-stderr allocate_port --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^allocate_port\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

# ------------------------------------------------------------ behaviour ----

@test "prints exactly a port and a newline, nothing else" {
  allocate_port "$base" >out 2>err
  [ "$(cat out)" = "$base" ]
  [ "$(wc -c <out)" -eq $((${#base} + 1)) ]
  [ "$(tail -c 1 out | od -An -c | tr -d ' ')" = '\n' ]
  [ ! -s err ]
}

@test "PREFERRED is returned when it is free" {
  run --separate-stderr allocate_port --tcp "$base"
  [ "$status" -eq 0 ]
  [ "$output" = "$base" ]
}

@test "a PREFERRED port held by a real listener gives another port, near it" {
  listen tcp "$base"
  run --separate-stderr allocate_port "$base"
  [ "$status" -eq 0 ]
  [ "$output" -ne "$base" ]
  ((output > base && output <= base + 100))
}

@test "--udp probes and reserves UDP ports, apart from TCP" {
  listen udp "$base"
  run --separate-stderr allocate_port --udp "$base"
  [ "$status" -eq 0 ]
  [ "$output" -ne "$base" ]
  [ -f "$XDG_STATE_HOME/ws/ports/udp-$output" ]
  # The UDP socket does not make the TCP port busy.
  run --separate-stderr allocate_port --tcp "$base"
  [ "$output" = "$base" ]
}

@test "--range keeps every port in LO-HI" {
  for _ in 1 2 3 4 5; do
    run --separate-stderr allocate_port --range "$base-$((base + 9))"
    [ "$status" -eq 0 ]
    ((output >= base && output <= base + 9))
  done
  [ "$(ls "$XDG_STATE_HOME/ws/ports" | wc -l)" -eq 5 ]
}

@test "outside a context the port is held briefly: at least WS_PORT_HOLD s, then while the calling shell lives" {
  first=$(allocate_port "$base")
  second=$(allocate_port "$base")
  [ "$first" = "$base" ]
  [ "$second" -ne "$first" ]
  grep -q '"context":null' "$XDG_STATE_HOME/ws/ports/tcp-$first"
  grep -q '"expires":' "$XDG_STATE_HOME/ws/ports/tcp-$first"
  # The hold goes on while the calling shell (this test's bash) lives.
  grep -q '"holder":{"pid":' "$XDG_STATE_HOME/ws/ports/tcp-$first"
  WS_PORT_HOLD=1 allocate_port "$((base + 50))" >/dev/null
  sleep 1.2 # deliberately past WS_PORT_HOLD: held still, for its live holder
  [ "$(allocate_port "$((base + 50))")" -ne "$((base + 50))" ]
  # Once the holder is gone and the minimum hold is over, the port is free again.
  [ "$(bash -c 'WS_PORT_HOLD=1 allocate_port "$1"; true' - "$((base + 80))")" = "$((base + 80))" ]
  sleep 1.2 # deliberately past WS_PORT_HOLD
  [ "$(allocate_port "$((base + 80))")" = "$((base + 80))" ]
}

@test "inside a context (WS_ROOT) the port is sticky per key, even while a server listens on it" {
  export WS_ROOT="$BATS_TEST_TMPDIR/proj"
  mkdir -p "$WS_ROOT"
  port=$(allocate_port "$base")
  [ "$port" = "$base" ]
  [ "$(allocate_port "$base")" = "$port" ]
  listen tcp "$port"
  [ "$(allocate_port "$base")" = "$port" ]
  [ "$(allocate_port --tcp "$base")" = "$port" ]
  # Another key of the same context gets its own port, sticky too.
  other=$(allocate_port --key web "$base")
  [ "$other" -ne "$port" ]
  [ "$(allocate_port --key web "$base")" = "$other" ]
}

@test "two contexts asking for the same port get different ports, stable across repeats" {
  a=$(WS_ROOT="$BATS_TEST_TMPDIR/a" allocate_port "$base")
  b=$(WS_ROOT="$BATS_TEST_TMPDIR/b" allocate_port "$base")
  [ "$a" -ne "$b" ]
  for _ in 1 2 3; do
    [ "$(WS_ROOT="$BATS_TEST_TMPDIR/b" allocate_port "$base")" = "$b" ]
    [ "$(WS_ROOT="$BATS_TEST_TMPDIR/a" allocate_port "$base")" = "$a" ]
  done
}

@test "--release gives the port back and the next allocation for the key tries the last port first" {
  a="$BATS_TEST_TMPDIR/a" b="$BATS_TEST_TMPDIR/b"
  [ "$(WS_ROOT=$a allocate_port --key db "$base")" = "$base" ]
  mine=$(WS_ROOT=$b allocate_port --key db "$base")
  [ "$mine" -ne "$base" ]
  WS_ROOT=$b run --separate-stderr allocate_port --release db
  [ "$status" -eq 0 ]
  [ ! -e "$XDG_STATE_HOME/ws/ports/tcp-$mine" ]
  WS_ROOT=$a run --separate-stderr allocate_port --release
  [ "$status" -eq 0 ]
  [ -z "$(ls "$XDG_STATE_HOME/ws/ports")" ]
  # PREFERRED is free again, but the key's last port comes first.
  [ "$(WS_ROOT=$b allocate_port --key db "$base")" = "$mine" ]
  grep -q '"type":"port.release".*"key":"db"' "$XDG_STATE_HOME/ws/events.jsonl"
  grep -q '"type":"port.allocate"' "$XDG_STATE_HOME/ws/events.jsonl"
}

@test "--release 5432 releases the default key of 'allocate_port 5432'" {
  export WS_ROOT="$BATS_TEST_TMPDIR/proj"
  port=$(allocate_port "$base")
  run --separate-stderr allocate_port --release "$base"
  [ "$status" -eq 0 ]
  [ ! -e "$XDG_STATE_HOME/ws/ports/tcp-$port" ]
}

@test "--release outside any context exits 66" {
  run --separate-stderr -66 allocate_port --release
  [ -z "$output" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ $stderr == "allocate_port: not in a context"* ]]
}

@test "the allowed context of the current directory is used without WS_ROOT" {
  write_workspace "$BATS_TEST_TMPDIR/proj" 'true'
  cd "$BATS_TEST_TMPDIR/proj"
  port=$(allocate_port "$base")
  [ "$(allocate_port "$base")" = "$port" ]
  grep -q "\"root\":\"$BATS_TEST_TMPDIR/proj\"" "$XDG_STATE_HOME/ws/ports/tcp-$port"
}

@test "--list prints every reservation, --list --json the same as JSON" {
  run --separate-stderr allocate_port --list
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  WS_ROOT="$BATS_TEST_TMPDIR/shop" WS_CONTEXT=shop allocate_port --key db "$base" >/dev/null
  allocate_port --udp "$((base + 50))" >/dev/null
  run --separate-stderr allocate_port --list
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 3 ]
  [[ ${lines[0]} == PROTO* ]]
  [[ ${lines[1]} =~ ^tcp\ +$base\ +db\ +shop\ +$BATS_TEST_TMPDIR/shop\ +held$ ]]
  [[ ${lines[2]} =~ ^udp\ +$((base + 50))\ +udp-$((base + 50))\ +-\ +-\ +until\  ]]
  run --separate-stderr allocate_port --list --json
  [ "$status" -eq 0 ]
  run node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log(rows.map((r) => [r.proto, r.port, r.key, r.name, r.context === null, r.stale].join(" ")).join("\n"));
  ' <<<"$output"
  [ "${lines[0]}" = "tcp $base db shop false false" ]
  [ "${lines[1]}" = "udp $((base + 50)) udp-$((base + 50))  true false" ]
}

@test "bad input exits 64 with exactly one line on stderr" {
  for args in 70000 0 abc "--range 9-3" "--range x" "--key db --release db" "--tcp --udp" "--json"; do
    # shellcheck disable=SC2086
    run --separate-stderr -64 allocate_port $args
    [ -z "$output" ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ ${stderr_lines[0]} == "allocate_port: "* ]]
  done
}

@test "a range with every port held exits 75 with one line" {
  listen tcp "$base" "$((base + 1))" "$((base + 2))"
  run --separate-stderr -75 allocate_port --range "$base-$((base + 2))"
  [ -z "$output" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ $stderr == "allocate_port: no free tcp port in range $base-$((base + 2))"* ]]
  [ -z "$(ls "$XDG_STATE_HOME/ws/ports" 2>/dev/null)" ]
}

@test "200 concurrent calls, mixed contexts and keys, get 200 distinct ports" {
  mkdir -p out
  pids=()
  for i in $(seq 1 200); do
    if ((i % 4 == 0)); then
      # Outside any context.
      timeout 120 allocate_port "$base" >"out/$i" 2>"out/$i.err" 3>&- &
    else
      WS_ROOT="$BATS_TEST_TMPDIR/ctx$((i % 10))" timeout 120 allocate_port --key "k$i" "$base" >"out/$i" 2>"out/$i.err" 3>&- &
    fi
    pids+=($!)
  done
  track_pid "${pids[@]}"
  failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  cat out/*.err >&2
  [ "$failed" -eq 0 ]
  [ "$(cat out/[0-9]* | grep -cxE '[0-9]+')" -eq 200 ]
  [ -z "$(cat out/[0-9]* | sort | uniq -d)" ]
  [ "$(ls "$XDG_STATE_HOME/ws/ports" | wc -l)" -eq 200 ]
  # Sticky: asking again in a context returns what that key got.
  [ "$(WS_ROOT="$BATS_TEST_TMPDIR/ctx1" allocate_port --key k1 "$base")" = "$(cat out/1)" ]
}
