#!/usr/bin/env bats
# ws-resource (SPEC §4, docs/resources.md): cached, hash-addressed resources
# with holders, roots, release and quarantine.

load test_helper/common-setup

setup() {
  common_setup
  home="$XDG_STATE_HOME/ws"
  work="$BATS_TEST_TMPDIR/work"
  export COUNTER="$BATS_TEST_TMPDIR/counter" RELEASED="$BATS_TEST_TMPDIR/released"
  cp "$REPO/test-bats/fixtures/resource-init.sh" "$work/init.sh"
  cd "$work"
}
teardown() { common_teardown; }

runs() { if [[ -f $COUNTER ]]; then wc -l <"$COUNTER"; else echo 0; fi; }
released() { if [[ -f $RELEASED ]]; then wc -l <"$RELEASED"; else echo 0; fi; }
hash_of() { local p=${1%/out}; echo "${p##*/}"; }

# A process that holds what it is given with --pid; gone when killed.
start_holder() {
  sleep 1000 &
  holder=$!
  track_pid "$holder"
}
kill_holder() {
  kill "$holder"
  wait "$holder" 2>/dev/null || true
}

# Stops the reaper that ws-resource started, so that `ws-reaper --once`
# sweeps deterministically.
stop_reaper() {
  local pid
  [[ -f $home/reaper.pid ]] || return 0
  read -r pid _ <"$home/reaper.pid"
  kill "$pid" 2>/dev/null || true
  wait_until "! _wsh_alive $pid" 10
}

# --------------------------------------------------------- CLI contract ----

@test "ws-resource with no arguments (no '--', no INIT) exits 64 with one line on stderr" {
  run --separate-stderr -64 ws-resource
  [ -z "$output" ]
  [ "$stderr" = "ws-resource: nothing to do: give -- INIT ARGS..., or a command: list, show, release, quarantine, root, unroot" ]
  run --separate-stderr -64 ws-resource --seed x
  run --separate-stderr -64 ws-resource --
  [ "$stderr" = "ws-resource: no INIT after '--'" ]
}

@test "an unknown option or command exits 64" {
  run --separate-stderr -64 ws-resource --bogus -- true
  [ "$stderr" = "ws-resource: unknown option '--bogus'" ]
  run --separate-stderr -64 ws-resource frobnicate
  [[ $stderr == "ws-resource: unknown command 'frobnicate': list, show, release"* ]]
  run --separate-stderr -64 ws-resource list --seed x
  [ "$stderr" = "ws-resource: option '--seed' does not apply to 'list'" ]
}

@test "--help prints the usage, commands, examples and exit codes; --version the version" {
  run -0 --separate-stderr ws-resource --help
  for word in --seed --transient --target --release --failure --pid --hold --retry quarantine root unroot EXAMPLES "EXIT CODES" 'failed (code CODE)'; do
    [[ $output == *"$word"* ]]
  done
  [ -z "$stderr" ]
  run -0 --separate-stderr ws-resource --version
  [[ $output =~ ^ws-resource\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

@test "bad input: --failure abc, a bad --target, --pid of no process are refused" {
  run --separate-stderr -64 ws-resource --failure abc -- ./init.sh
  [ "$stderr" = "ws-resource: invalid --failure 'abc': expected a whole number" ]
  run --separate-stderr -64 ws-resource --target a/b -- ./init.sh
  [[ $stderr == "ws-resource: invalid --target 'a/b'"* ]]
  run --separate-stderr -64 ws-resource --pid abc -- ./init.sh
  run --separate-stderr -66 ws-resource --pid 999999999 -- ./init.sh
  [ "$(runs)" -eq 0 ]
}

# ------------------------------------------------------------- hashing ----

@test "same inputs give the same path without running INIT again; a changed byte or seed gives a new one; --transient a new one each call" {
  run -0 --separate-stderr ws-resource -- ./init.sh
  first=$output
  [[ $first == "$home/resources/"*/out ]]
  [ "${#lines[@]}" -eq 1 ]
  [ "$(cat "$first/a")" = a ]
  run -0 --separate-stderr ws-resource -- ./init.sh
  [ "$output" = "$first" ]
  [ "$(runs)" -eq 1 ]
  echo '#' >>init.sh
  run -0 --separate-stderr ws-resource -- ./init.sh
  [ "$output" != "$first" ]
  [ "$(runs)" -eq 2 ]
  changed=$output
  run -0 --separate-stderr ws-resource --seed v2 -- ./init.sh
  [ "$output" != "$changed" ]
  [ "$output" != "$first" ]
  [ "$(runs)" -eq 3 ]
  # A script named as INIT's first argument is an input too.
  run -0 --separate-stderr ws-resource -- bash init.sh
  viabash=$output
  echo '#' >>init.sh
  run -0 --separate-stderr ws-resource -- bash init.sh
  [ "$output" != "$viabash" ]
  run -0 --separate-stderr ws-resource --transient -- ./init.sh
  t1=$output
  run -0 --separate-stderr ws-resource --transient -- ./init.sh
  [ "$output" != "$t1" ]
  [ "$(runs)" -eq 7 ]
}

@test "INIT runs with \$out, stdin /dev/null, its output in the log, not on stdout" {
  run -0 --separate-stderr ws-resource -- bash -c 'echo said-this; echo and-this >&2; [ -t 0 ] || read -r x || echo "stdin empty"; pwd >"$out/cwd"'
  dir=${output%/out}
  [ "$(cat "$output/cwd")" = "$work" ]
  grep -q said-this "$dir/log"
  grep -q and-this "$dir/log"
  grep -q 'stdin empty' "$dir/log"
  [ -z "$stderr" ]
}

# -------------------------------------------------------------- targets ----

@test "--target a --target b: a missing target quarantines with the exact message; identical calls fail at once; retry after fixing the script succeeds" {
  run --separate-stderr -1 ws-resource --target a --target b -- ./init.sh
  [ -z "$output" ]
  q=$(echo "$home"/quarantine/*)
  [ "$stderr" = "ws-resource: failed (code -): \$out does not hold exactly the targets a b: missing b; quarantine: $q" ]
  [ -x "$q/retry" ]
  [ -x "$q/resolve" ]
  [ -x "$q/discard" ]
  [ -f "$q/log" ]
  [ -f "$q/out/a" ]
  jq -e '.argv == ["./init.sh"] and .targets == ["a","b"]' "$q/inputs.json"
  jq -e '.phase == "init"' "$q/quarantine.json"
  [ ! -e "$home/resources/$(basename "$q")" ]
  # The next identical call does not run INIT: it fails the same way.
  run --separate-stderr -1 ws-resource --target b --target a -- ./init.sh
  [ "$stderr" = "ws-resource: failed (code -): \$out does not hold exactly the targets a b: missing b; quarantine: $q" ]
  [ "$(runs)" -eq 1 ]
  # Fix the script (make b too), then retry: the resource of the fixed script exists, the quarantine is gone.
  sed -i 's/\${MAKE-a}/${MAKE-a b}/' init.sh
  run -0 --separate-stderr "$q/retry"
  path=$output
  [ -f "$path/a" ]
  [ -f "$path/b" ]
  [ ! -e "$q" ]
  run -0 --separate-stderr ws-resource --target a --target b -- ./init.sh
  [ "$output" = "$path" ]
  [ "$(runs)" -eq 2 ]
}

@test "an extra entry (a b c) quarantines; resolve accepts the hand-fixed \$out; --failure gives the code" {
  run --separate-stderr -1 env MAKE='a b c' ws-resource --failure 42 --target a --target b -- ./init.sh
  q=$(echo "$home"/quarantine/*)
  [ "$stderr" = "ws-resource: failed (code 42): \$out does not hold exactly the targets a b: unexpected c; quarantine: $q" ]
  jq -e '.code == "42"' "$q/quarantine.json"
  rm "$q/out/c"
  run -0 --separate-stderr "$q/resolve"
  path=$output
  [ "$path" = "$home/resources/$(basename "$q")/out" ]
  [ ! -e "$q" ]
  [ -f "$path/a" ]
  [ -f "$path/b" ]
  [ ! -e "$path/c" ]
  run -0 --separate-stderr ws-resource --target a --target b -- ./init.sh
  [ "$output" = "$path" ]
  [ "$(runs)" -eq 1 ]
}

@test "discard removes the quarantine; the next identical call runs INIT again; --retry runs it at once" {
  run --separate-stderr -1 env EXIT=3 ws-resource -- ./init.sh
  q=$(echo "$home"/quarantine/*)
  [[ $stderr == "ws-resource: failed (code -): INIT exited with status 3; quarantine: $q" ]]
  run -0 --separate-stderr "$q/discard"
  [ ! -e "$q" ]
  run --separate-stderr -1 env EXIT=3 ws-resource -- ./init.sh
  [ "$(runs)" -eq 2 ]
  run -0 --separate-stderr ws-resource --retry -- ./init.sh
  [ "$(runs)" -eq 3 ]
  [ ! -e "$q" ]
  [ -f "$output/a" ]
}

@test "ws-resource quarantine lists the failures; a corrupt quarantine directory is reported, never a crash" {
  run --separate-stderr -1 env EXIT=3 ws-resource --failure 7 -- ./init.sh
  q=$(echo "$home"/quarantine/*)
  run -0 --separate-stderr ws-resource quarantine --json
  jq -e --arg q "$q" '.[0] | .path == $q and .phase == "init" and .code == "7" and .reason == "INIT exited with status 3"' <<<"$output"
  run -0 --separate-stderr ws-resource quarantine
  [[ $output == *"INIT exited with status 3"* ]]
  # Corrupt it: no quarantine.json, garbage in inputs.json, and a stray name.
  rm "$q/quarantine.json"
  echo '{' >"$q/inputs.json"
  mkdir "$home/quarantine/not-a-hash"
  run -0 --separate-stderr ws-resource quarantine
  [[ $stderr == *"$q/quarantine.json is missing or corrupt"* ]]
  [[ $stderr == *"$home/quarantine/not-a-hash is not a resource"* ]]
  run --separate-stderr -1 ws-resource -- ./init.sh
  [ "$stderr" = "ws-resource: failed (code -): its quarantine record is missing or corrupt; quarantine: $q" ]
  run --separate-stderr -65 "$q/retry"
  [[ $stderr == *"inputs.json is missing or corrupt"* ]]
  run -0 --separate-stderr ws-resource discard "$q"
  [ ! -e "$q" ]
}

@test "a corrupt resource record is reported by list and rebuilt by the next call" {
  run -0 --separate-stderr ws-resource -- ./init.sh
  path=$output
  echo 'garbage' >"${path%/out}/resource.json"
  run -0 --separate-stderr ws-resource list
  [[ $stderr == *"${path%/out}/resource.json is missing or corrupt"* ]]
  [[ $output == *corrupt* ]]
  run -0 --separate-stderr ws-resource -- ./init.sh
  [ "$output" = "$path" ]
  [[ $stderr == *"its resource.json is missing or corrupt; building it again"* ]]
  [ "$(runs)" -eq 2 ]
}

# ---------------------------------------------------------- concurrency ----

@test "10 concurrent identical calls run INIT once and all print the same path" {
  printf 'sleep 0.3\n' >>init.sh
  local pids=()
  for i in $(seq 10); do
    ws-resource -- ./init.sh >"$BATS_TEST_TMPDIR/out.$i" 2>"$BATS_TEST_TMPDIR/err.$i" &
    pids+=($!)
  done
  # Our own PIDs: a bare `wait` would also wait for bats' timeout watchdog.
  wait "${pids[@]}"
  [ "$(runs)" -eq 1 ]
  [ "$(cat "$BATS_TEST_TMPDIR"/out.* | sort -u | wc -l)" -eq 1 ]
  [ "$(cat "$BATS_TEST_TMPDIR"/out.* | wc -l)" -eq 10 ]
  [ -z "$(cat "$BATS_TEST_TMPDIR"/err.*)" ]
}

@test "SIGKILL of INIT midway: no resource appears, nothing is quarantined; the next call runs INIT again" {
  mkfifo "$BATS_TEST_TMPDIR/fifo"
  export WAIT_FIFO="$BATS_TEST_TMPDIR/fifo" INIT_PID="$BATS_TEST_TMPDIR/init.pid"
  ws-resource -- ./init.sh >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
  caller=$!
  wait_until '[ -s "$INIT_PID" ]'
  kill -KILL "$(cat "$INIT_PID")"
  status=0
  wait "$caller" || status=$?
  [ "$status" -eq 75 ]
  [[ $(cat "$BATS_TEST_TMPDIR/err") == "ws-resource: INIT was killed by SIGKILL: nothing was kept; the next call runs it again" ]]
  [ -z "$(ls "$home/resources")" ]
  [ ! -e "$home/quarantine" ] || [ -z "$(ls "$home/quarantine")" ]
  unset WAIT_FIFO
  run -0 --separate-stderr ws-resource -- ./init.sh
  [ "$(runs)" -eq 2 ]
  [ -f "$output/a" ]
}

@test "SIGKILL of ws-resource itself: the next call stops the orphaned INIT and runs it again" {
  mkfifo "$BATS_TEST_TMPDIR/fifo"
  export WAIT_FIFO="$BATS_TEST_TMPDIR/fifo" INIT_PID="$BATS_TEST_TMPDIR/init.pid"
  ws-resource -- ./init.sh >/dev/null 2>&1 &
  caller=$!
  wait_until '[ -s "$INIT_PID" ]'
  orphan=$(cat "$INIT_PID")
  track_pid "$orphan"
  kill -KILL "$caller"
  wait "$caller" || true
  [ -z "$(ls "$home/resources" | grep -v '^\.')" ]
  unset WAIT_FIFO
  run -0 --separate-stderr ws-resource -- ./init.sh
  wait_until "! _wsh_alive $orphan" 5
  [ "$(runs)" -eq 2 ]
  [ -z "$(ls "$home/resources/.build")" ]
}

# ----------------------------------------------------- holders and roots ----

@test "a holder shell exits: the reaper runs the release once and the directory is gone" {
  mkfifo "$BATS_TEST_TMPDIR/go"
  bash -c 'ws-resource --release "echo \$out >>\"\$RELEASED\"" -- ./init.sh >"$1"; read -r _ <"$2"' _ "$BATS_TEST_TMPDIR/path" "$BATS_TEST_TMPDIR/go" &
  shell=$!
  track_pid "$shell"
  wait_until '[ -s "$BATS_TEST_TMPDIR/path" ]'
  path=$(cat "$BATS_TEST_TMPDIR/path")
  run -0 --separate-stderr ws-resource list --json
  jq -e --argjson pid "$shell" '.[0].holders == [{"kind":"pid","pid":$pid,"start":.[0].holders[0].start}] and .[0].state == "ready"' <<<"$output"
  echo >"$BATS_TEST_TMPDIR/go"
  wait "$shell"
  wait_until '[ ! -e "${path%/out}" ]' 10
  [ "$(released)" -eq 1 ]
  [ "$(cat "$RELEASED")" = "$path" ]
}

@test "a rooted resource survives its holder; unroot then releases it; a root outside the state home is refused" {
  start_holder
  run -0 --separate-stderr ws-resource --pid "$holder" --release 'echo gone >>"$RELEASED"' -- ./init.sh
  path=$output
  run -0 --separate-stderr ws-resource root keep "$path"
  [ "$(readlink "$home/roots/keep")" = "../resources/$(hash_of "$path")" ]
  stop_reaper
  kill_holder
  run -0 --separate-stderr ws-reaper --once
  [ -d "$path" ]
  [ "$(released)" -eq 0 ]
  run -0 --separate-stderr ws-resource list --json
  jq -e '.[0].roots == ["keep"] and .[0].holders == []' <<<"$output"
  run -0 --separate-stderr ws-resource unroot keep
  [ ! -e "$home/roots/keep" ]
  [ ! -e "${path%/out}" ]
  [ "$(released)" -eq 1 ]
  run --separate-stderr -64 ws-resource root elsewhere /tmp
  [[ $stderr == "ws-resource: /tmp is not a resource of the state home $home"* ]]
  [ ! -e "$home/roots/elsewhere" ]
  run --separate-stderr -66 ws-resource unroot keep
}

@test "release drops your hold at once; another holder keeps it" {
  start_holder
  first=$holder
  run -0 --separate-stderr ws-resource --pid "$first" --release 'echo gone >>"$RELEASED"' -- ./init.sh
  path=$output
  start_holder
  run -0 --separate-stderr ws-resource --pid "$holder" --release 'echo gone >>"$RELEASED"' -- ./init.sh
  run -0 --separate-stderr ws-resource release --pid "$first" "$path"
  [[ $stderr == *"still held by pid $holder"* ]]
  [ -d "$path" ]
  run -0 --separate-stderr ws-resource release --pid "$holder" "$(hash_of "$path")"
  [ ! -e "${path%/out}" ]
  [ "$(released)" -eq 1 ]
}

@test "a failing release is quarantined; resolve marks it done" {
  start_holder
  run -0 --separate-stderr ws-resource --pid "$holder" --failure 9 --release 'echo trying >>"$RELEASED"; exit 4' -- ./init.sh
  path=$output
  hash=$(hash_of "$path")
  stop_reaper
  kill_holder
  run -0 --separate-stderr ws-reaper --once
  q="$home/quarantine/$hash"
  [ -d "$q" ]
  [ ! -e "${path%/out}" ]
  jq -e '.phase == "release" and .reason == "the release exited with status 4" and .code == "9"' "$q/quarantine.json"
  jq -s -e --arg q "$q" 'any(.[]; .type == "resource.fail" and .phase == "release" and .code == "9" and .quarantine == $q)' "$home/events.jsonl"
  # While quarantined, the same call fails at once.
  run --separate-stderr -1 ws-resource --release 'echo trying >>"$RELEASED"; exit 4' -- ./init.sh
  [ "$stderr" = "ws-resource: failed (code 9): the release exited with status 4; quarantine: $q" ]
  run -0 --separate-stderr "$q/resolve"
  [ ! -e "$q" ]
  jq -s -e 'any(.[]; .type == "resource.release" and .reason == "resolved")' "$home/events.jsonl"
  [ "$(released)" -eq 1 ]
}

@test "a nested resource (INIT calls ws-resource): both exist; releasing the outer releases the inner" {
  cat >outer.sh <<'EOF'
inner=$(ws-resource --release 'echo inner >>"$RELEASED"' -- bash -c 'echo secret >"$out/key"') || exit 1
cp "$inner/key" "$out/key"
echo "$inner" >"$out/inner"
EOF
  start_holder
  run -0 --separate-stderr ws-resource --pid "$holder" --release 'echo outer >>"$RELEASED"' -- bash outer.sh
  outer=$output
  inner=$(cat "$outer/inner")
  [ -d "$inner" ]
  [ "$(cat "$outer/key")" = secret ]
  run -0 --separate-stderr ws-resource show --json "$inner"
  jq -e --arg h "$(hash_of "$outer")" '.holders == [{"kind":"resource","hash":$h}]' <<<"$output"
  run -0 --separate-stderr ws-resource release --pid "$holder" "$outer"
  [ ! -e "${outer%/out}" ]
  [ ! -e "${inner%/out}" ]
  [ "$(cat "$RELEASED")" = $'outer\ninner' ]
}

@test "an inner resource held by someone else survives the outer's release" {
  cat >outer.sh <<'EOF'
ws-resource -- bash -c 'echo secret >"$out/key"' >"$out/inner"
EOF
  start_holder
  run -0 --separate-stderr ws-resource --pid "$holder" -- bash outer.sh
  outer=$output
  inner=$(cat "$outer/inner")
  run -0 --separate-stderr ws-resource --pid "$holder" -- bash -c 'echo secret >"$out/key"'
  [ "$output" = "$inner" ]
  run -0 --separate-stderr ws-resource release --pid "$holder" "$outer"
  [ ! -e "${outer%/out}" ] && [ -d "$inner" ]
}

# ------------------------------------------------------ workspace file ----

@test "a workspace file's resource is held by the context while it has users and released after the unload" {
  proj="$work/proj"
  export LOG="$BATS_TEST_TMPDIR/log"
  mkdir -p "$proj"
  cp init.sh "$proj/init.sh"
  write_workspace "$proj" "export RES=\$(resource --release 'echo released >>\"\$LOG\"' -- ./init.sh)"
  tmux_start bash
  tmux_run "cd $proj"
  run tmux_run 'echo "RES=$RES"'
  [[ $output == *"RES=$home/resources/"*/out* ]]
  run -0 --separate-stderr ws-resource list --json
  jq -e '.[0].holders | length == 1 and .[0].kind == "context" and .[0].name == "proj"' <<<"$output"
  path=$(jq -r '.[0].path' <<<"$output")
  [ "$(runs)" -eq 1 ]
  tmux_run "cd $BATS_TEST_TMPDIR"
  wait_until '[ ! -e "${path%/out}" ]' 15
  [ "$(cat "$LOG")" = released ]
}

# ------------------------------------------------------ ws-list, ws-gc ----

@test "ws-list --resources shows state and holders; ws-gc removes what nothing holds (after its release) and reports the bytes" {
  start_holder
  run -0 --separate-stderr ws-resource --pid "$holder" --release 'echo gc >>"$RELEASED"' -- ./init.sh
  path=$output
  run -0 --separate-stderr ws-list --resources --json
  jq -e --arg h "$(hash_of "$path")" --arg p "pid $holder" '.resources[0] | .hash == $h and .state == "ready" and .holders == [$p]' <<<"$output"
  run -0 --separate-stderr ws-gc --dry-run
  [[ $output != *"resources/"* ]]
  stop_reaper
  kill_holder
  run -0 --separate-stderr ws-gc --dry-run --json
  bytes=$(jq '[.removed[] | select(.kind == "resource")][0].bytes' <<<"$output")
  [ "$bytes" -gt 0 ]
  [ -d "$path" ]
  run -0 --separate-stderr ws-gc
  [[ $output == *"removed resources/$(hash_of "$path"): nothing holds or roots it (its release ran) [$bytes bytes]"* ]]
  [[ $output == *"recovered $bytes bytes"* ]]
  [ ! -e "${path%/out}" ]
  [ "$(cat "$RELEASED")" = gc ]
}

# --------------------------------------------------------------- events ----

@test "events: resource.init (cached false, then true), resource.fail and resource.release carry their fields" {
  start_holder
  run -0 --separate-stderr ws-resource --pid "$holder" -- ./init.sh
  path=$output
  hash=$(hash_of "$path")
  run -0 --separate-stderr ws-resource --pid "$holder" -- ./init.sh
  run --separate-stderr -1 env EXIT=2 ws-resource --failure 5 -- ./init.sh --other
  run -0 --separate-stderr ws-resource release --pid "$holder" "$path"
  run jq -c 'select(.type | startswith("resource."))' "$home/events.jsonl"
  [ "${#lines[@]}" -eq 4 ]
  jq -e --arg h "$hash" --arg p "$path" '.type == "resource.init" and .hash == $h and .path == $p and .cached == false and (.duration_ms | type == "number")' <<<"${lines[0]}"
  jq -e --arg h "$hash" '.type == "resource.init" and .hash == $h and .cached == true' <<<"${lines[1]}"
  jq -e '.type == "resource.fail" and .phase == "init" and .code == "5" and .reason == "INIT exited with status 2" and (.quarantine | startswith("'"$home"'/quarantine/"))' <<<"${lines[2]}"
  jq -e --arg h "$hash" --arg p "$path" '.type == "resource.release" and .hash == $h and .path == $p and .reason == "released"' <<<"${lines[3]}"
}

@test "events reach a real Redis through ws-on-event and redis-cli PUBLISH" {
  command -v redis-server >/dev/null || skip "redis-server is not installed"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$BATS_TEST_TMPDIR/redis.log" 2>&1 3>&- &
  track_pid $!
  wait_until "redis-cli -p $port ping 2>/dev/null | grep -qx PONG"
  timeout 30 redis-cli -p "$port" SUBSCRIBE ws-events >"$BATS_TEST_TMPDIR/sub" 2>&1 3>&- &
  track_pid $!
  wait_until "[ \"\$(redis-cli -p $port PUBSUB NUMSUB ws-events | tail -1)\" = 1 ]"
  export PORT=$port
  ws-on-event --type 'resource.*' -- sh -c 'redis-cli -p "$PORT" PUBLISH ws-events "$WS_EVENT_JSON" >/dev/null' >/dev/null 2>&1 3>&- &
  follower=$!
  track_pid "$follower"
  wait_until '[ -n "$(ls "$home/readers" 2>/dev/null)" ]'
  run -0 --separate-stderr ws-resource -- ./init.sh
  path=$output
  wait_until 'grep -q "resource.init" "$BATS_TEST_TMPDIR/sub"' 15
  line=$(grep '"resource.init"' "$BATS_TEST_TMPDIR/sub")
  jq -e --arg p "$path" '.type == "resource.init" and .path == $p and .cached == false' <<<"$line"
}
