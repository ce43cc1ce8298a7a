#!/usr/bin/env bats
# ws-on-event (SPEC §4) and the event stream it follows (docs/events.md).
#
# Events are produced by test-bats/fixtures/emit-events.mjs, which runs the
# real emitEvent of packages/core (bundled once per file by setup_file), so
# the concurrency and rotation tests exercise the product's own writer.

bats_require_minimum_version 1.5.0

load test_helper/common-setup

setup_file() {
  local repo
  repo=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
  export EVENTS_MODULE="$BATS_FILE_TMPDIR/events.mjs"
  "$repo/node_modules/.bin/esbuild" "$repo/packages/core/src/events/emit.ts" --bundle --platform=node \
    --format=esm --log-level=warning --outfile="$EVENTS_MODULE"
}

setup() {
  common_setup
  STATE="$XDG_STATE_HOME/ws"
  FIXTURES="$REPO/test-bats/fixtures"
}
teardown() { common_teardown; }

# emit ARGS... — append events with the real emitEvent (see the fixture).
emit() { timeout 120 node "$FIXTURES/emit-events.mjs" "$@"; }

# True once PID has ended (a zombie waiting for `wait` counts as ended).
gone() {
  local stat
  read -r stat <"/proc/$1/stat" 2>/dev/null || return 0
  stat=${stat##*) }
  [[ ${stat%% *} == Z ]]
}

# finish PID [TIMEOUT_S] — wait (bounded) for a background job; sets $status.
finish() {
  wait_until "gone $1" "${2:-10}" || return 1
  status=0
  wait "$1" || status=$?
}

# follow OUT [ARGS...] — start ws-on-event in the background (stdout to OUT,
# stderr to OUT.err), track it, and return once it has the stream open.
# Sets $follower. The stream file must exist (emit something first).
follow() {
  local out=$1
  shift
  ws-on-event "$@" >"$out" 2>"$out.err" 3>&- &
  follower=$!
  track_pid "$follower"
  wait_until "ls -l /proc/$follower/fd 2>/dev/null | grep -q 'events.jsonl\$'" 10 ||
    { echo "ws-on-event did not open the stream; its stderr:" >&2; cat "$out.err" >&2; return 1; }
}

lines() { if [[ -f $1 ]]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# The stream is read in order: once a follower has printed an event emitted
# last (a `*.marker`), it has printed everything before it, extras included.
# saw_marker FILE [TYPE=end.marker] — until FILE has that event.
saw_marker() { wait_until "grep -qF '\"type\":\"${2:-end.marker}\"' $(printf %q "$1")"; }
# JQ filter: the events that are not markers.
NOT_MARKER='select(.type | endswith(".marker") | not)'

# --------------------------------------------------------- CLI contract ----

@test "ws-on-event with no arguments follows only new events and stops on SIGINT with status 130" {
  emit --type before.start
  follow out
  emit --type service.start --count 2
  wait_until '[ "$(lines out)" -eq 2 ]'
  kill -INT "$follower"
  finish "$follower"
  [ "$status" -eq 130 ]
  [ "$(jq -r .type out | sort -u)" = service.start ]
  [ "$(jq -r .seq out | tr '\n' ' ')" = "1 2 " ]
  [ ! -s out.err ]
}

@test "ws-on-event with an unknown option exits 64, one line on stderr only" {
  run -64 --separate-stderr ws-on-event --bogus
  [ -z "$output" ]
  [ "$stderr" = "ws-on-event: unknown option '--bogus'" ]
  run -64 --separate-stderr ws-on-event --type a --type
  [ "$stderr" = "ws-on-event: option '--type' needs a value" ]
  run -64 --separate-stderr ws-on-event --once=yes
  [ "$stderr" = "ws-on-event: option '--once' takes no value" ]
}

@test "ws-on-event --help describes the options and the variables" {
  run -0 --separate-stderr ws-on-event --help
  for word in --type --context --snapshot --once --since 'CMD ARGS' WS_EVENT_JSON WS_EVENT_TYPE; do
    [[ $output == *"$word"* ]]
  done
  [ -z "$stderr" ]
}

@test "ws-on-event --version prints its name and version" {
  run -0 --separate-stderr ws-on-event --version
  [[ $output =~ ^ws-on-event\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

@test "ws on-event dispatches to ws-on-event" {
  run -0 ws on-event --version
  [[ $output == "ws-on-event "* ]]
}

@test "bad --since, '--' without a command, and a missing CMD are refused before following" {
  run -64 --separate-stderr ws-on-event --since yesterday
  [[ $stderr == *"--since 'yesterday' is not an ISO-8601 time"* ]]
  run -64 --separate-stderr ws-on-event --
  [[ $stderr == *"no command after '--'"* ]]
  run -69 --separate-stderr ws-on-event -- no-such-command-here
  [[ $stderr == *"no-such-command-here: command not found"* ]]
}

# ----------------------------------------------------------- the stream ----

@test "10 processes appending 1,000 events each at once: every line parses, none lost or repeated, even over 8 KB" {
  export WS_EVENTS_MAX=1000000000 # this test is about interleaving, not rotation
  emit --type warmup --writer 99
  follow followed
  pids=()
  for writer in 0 1 2 3 4 5 6 7 8 9; do
    emit --writer "$writer" --count 1000 --big-every 20 --big-size 9000 3>&- &
    pids+=($!)
  done
  track_pid "${pids[@]}"
  for pid in "${pids[@]}"; do
    finish "$pid" 120
    [ "$status" -eq 0 ]
  done
  # The file: 10,001 lines, the 500 long ones whole.
  [ "$(awk 'length > 8192' "$STATE/events.jsonl" | wc -l)" -eq 500 ]
  grep -v '"warmup"' "$STATE/events.jsonl" >written
  run -0 node "$FIXTURES/check-events.mjs" --writers 10 --count 1000 written
  [ "$output" = "lines=10000 unparsable=0 missing=0 duplicated=0 unexpected=0" ]
  # A reader following meanwhile saw the same, never half a line.
  wait_until '[ "$(lines followed)" -ge 10000 ]' 30
  run -0 node "$FIXTURES/check-events.mjs" --writers 10 --count 1000 followed
  [ "$output" = "lines=10000 unparsable=0 missing=0 duplicated=0 unexpected=0" ]
}

@test "a follower across many rotations sees every event exactly once, writers at full speed" {
  export WS_EVENTS_MAX=4000
  emit --type warmup --writer 99
  follow followed
  pids=()
  for writer in 0 1 2 3; do
    emit --writer "$writer" --count 1000 3>&- &
    pids+=($!)
  done
  track_pid "${pids[@]}"
  for pid in "${pids[@]}"; do finish "$pid" 120; done
  [ -f "$STATE/events.jsonl.1" ] # it did rotate (about 30 times)
  wait_until '[ "$(lines followed)" -ge 4000 ]' 30
  emit --type end.marker --writer 99
  saw_marker followed
  jq -c "$NOT_MARKER" followed >checked
  run -0 node "$FIXTURES/check-events.mjs" --writers 4 --count 1000 checked
  [ "$output" = "lines=4000 unparsable=0 missing=0 duplicated=0 unexpected=0" ]
  # The follower registered itself for the rotations to wait for, and unregisters on exit.
  [ "$(ls "$STATE/readers")" = "$follower-1" ]
  kill -INT "$follower"
  finish "$follower"
  [ "$status" -eq 130 ]
  [ -z "$(ls "$STATE/readers")" ]
}

@test "without followers, the file is rotated as soon as it passes WS_EVENTS_MAX" {
  export WS_EVENTS_MAX=4000
  emit --count 100
  [ "$(stat -c %s "$STATE/events.jsonl")" -le 4200 ]
  [ "$(stat -c %s "$STATE/events.jsonl.1")" -gt 4000 ]
  [ "$(stat -c %s "$STATE/events.jsonl.1")" -le 4200 ]
}

@test "--since replays events with ts >= TS from both files, then follows" {
  export WS_EVENTS_MAX=4000 # one rotation: about 33 events in each file
  emit --writer 0 --count 5
  # Deliberately: time stamps have milliseconds; the two batches get others than $since.
  sleep 0.05
  since=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  sleep 0.05
  emit --writer 1 --count 40 # spread over events.jsonl.1 and events.jsonl
  [ -f "$STATE/events.jsonl.1" ]
  follow out --since "$since"
  wait_until '[ "$(lines out)" -ge 40 ]'
  emit --writer 1 --count 1 --first-seq 41
  emit --type end.marker --writer 1
  saw_marker out
  [ "$(jq -r "$NOT_MARKER | .writer" out | sort -u)" = 1 ]
  [ "$(jq -r "$NOT_MARKER | .seq" out | tr '\n' ' ')" = "$(seq 1 41 | tr '\n' ' ')" ]
}

@test "a malformed line in the stream is skipped with one warning, and the stream goes on" {
  emit --type warmup
  follow out
  printf 'not json\n{"half":\n' >>"$STATE/events.jsonl"
  emit --type after.garbage
  wait_until '[ "$(lines out)" -eq 1 ]'
  [ "$(jq -r .type out)" = after.garbage ]
  [ "$(grep -c 'skipped a malformed line' out.err)" -eq 1 ]
}

# ------------------------------------------------------------------ CMD ----

@test "--once -- CMD runs CMD once with the event in WS_EVENT_* variables, then exits 0" {
  emit --type warmup
  export WS_EVENT_STALE=inherited # a stale variable of ours is not passed on
  follow out --once -- sh -c 'printf "%s\n" "$WS_EVENT_TYPE" "$WS_EVENT_CONTEXT" "$WS_EVENT_ROOT" "$WS_EVENT_SERVICE" "$WS_EVENT_PORT" "$WS_EVENT_DURATION_MS" "${WS_EVENT_STALE-unset}" >vars; printf "%s" "$WS_EVENT_JSON" >json'
  unset WS_EVENT_STALE
  emit --type service.ready --context shop --root /src/shop \
    --fields-json '{"service":"db","port":5432,"duration_ms":12}'
  finish "$follower"
  [ "$status" -eq 0 ]
  [ "$(cat vars)" = "$(printf '%s\n' service.ready shop /src/shop db 5432 12 unset)" ]
  [ "$(jq -r '[.type, .service, .port] | join(" ")' json)" = "service.ready db 5432" ]
  [ "$(jq -r .seq json)" = 1 ] # the first event only
}

@test "hostile event values run nothing, and CMD sees them exactly" {
  value=$(printf '$(touch %s/pwned-1) `touch %s/pwned-2` "dq" '"'"'sq'"'"' ; touch %s/pwned-3 \\ \n line two\ttab é' \
    "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR")
  fields=$(jq -cn --arg v "$value" '{service: $v, "$(touch pwned-4)": $v}')
  emit --type warmup
  follow out --once -- sh -c 'printf "%s" "$WS_EVENT_SERVICE" >got; printf "%s" "$WS_EVENT_CONTEXT" >ctx; env >env.txt'
  emit --type service.start --context '$(touch pwned-5)' --fields-json "$fields"
  finish "$follower"
  [ "$status" -eq 0 ]
  printf '%s' "$value" >want
  cmp got want
  [ "$(cat ctx)" = '$(touch pwned-5)' ]
  grep -q '^WS_EVENT_TOUCH_PWNED_4=' env.txt # a hostile field name becomes a plain variable name
  # CMD has ended (ws-on-event waited for it before it exited): nothing ran.
  run ls "$BATS_TEST_TMPDIR"/pwned-* pwned-*
  [ "$status" -ne 0 ]
  # Printed as JSON, the value round-trips exactly too.
  follow printed --once
  emit --type service.start --fields-json "$fields"
  finish "$follower"
  jq -j .service printed >printed.value
  cmp printed.value want
}

@test "a failing CMD is reported on stderr and the stream goes on" {
  emit --type warmup
  follow out -- sh -c 'echo "$WS_EVENT_SEQ" >>seen; [ "$WS_EVENT_SEQ" != 2 ] || exit 3'
  emit --type build.done --context shop --count 3
  wait_until '[ "$(lines seen)" -eq 3 ]'
  [ "$(tr '\n' ' ' <seen)" = "1 2 3 " ]
  grep -q "ws-on-event: sh exited with status 3 (event build.done, context shop)" out.err
  [ "$(grep -c 'exited with status' out.err)" -eq 1 ]
  run ! gone "$follower"
  kill -TERM "$follower"
  finish "$follower"
  [ "$status" -eq 143 ]
}

@test "CMD runs once per event, one at a time, in order" {
  emit --type warmup
  follow out -- sh -c 'echo "start $WS_EVENT_SEQ" >>log; sleep 0.05; echo "end $WS_EVENT_SEQ" >>log'
  emit --count 4
  wait_until '[ "$(lines log)" -eq 8 ]'
  [ "$(tr '\n' ' ' <log)" = "start 1 end 1 start 2 end 2 start 3 end 3 start 4 end 4 " ]
}

# ------------------------------------------------------------- filters ----

@test "--type GLOB (repeatable) and --context NAME|DIR filter the stream" {
  mkdir -p shop api
  emit --type warmup
  follow by-name --type 'service.*' --type context.load --context shop
  by_name=$follower
  follow by-dir --context ./api
  by_dir=$follower
  follow by-comma --type 'port.*,user.join'
  by_comma=$follower
  emit --type service.start --context shop --root "$PWD/shop"
  emit --type service.start --context api --root "$PWD/api"
  emit --type user.join --context shop --root "$PWD/shop"
  emit --type context.load --context shop --root "$PWD/shop"
  emit --type port.allocate --context api --root "$PWD/api"
  emit --type servicex --context shop --root "$PWD/shop"
  emit --type service.exit --context renamed --root "$PWD/api" # matched by root
  # Markers last: service.marker for by-name, port.marker for by-dir and by-comma.
  emit --type service.marker --context shop --root "$PWD/shop"
  emit --type port.marker --context api --root "$PWD/api"
  saw_marker by-name service.marker
  saw_marker by-dir port.marker
  saw_marker by-comma port.marker
  [ "$(jq -r "$NOT_MARKER"' | .type + " " + .context' by-name | tr '\n' ,)" = "service.start shop,context.load shop," ]
  [ "$(jq -r "$NOT_MARKER"' | .type + " " + .context' by-dir | tr '\n' ,)" = "service.start api,port.allocate api,service.exit renamed," ]
  [ "$(jq -r "$NOT_MARKER | .type" by-comma | tr '\n' ,)" = "user.join,port.allocate," ]
}

# ------------------------------------------------------------ snapshot ----

# context_record ID JSON — write contexts/ID/context.json by hand.
context_record() {
  mkdir -p "$STATE/contexts/$1/users"
  printf '%s\n' "$2" >"$STATE/contexts/$1/context.json"
}

@test "--snapshot prints one snapshot event per context with its state, users and services, then follows" {
  mkdir -p -m 0700 "$STATE"
  sleep 300 >/dev/null 2>&1 3>&- &
  user=$!
  track_pid "$user"
  start=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$user/stat")
  context_record shop-1 '{"root":"/src/shop","name":"shop","file":"/src/shop/.workspace","state":"ready","env":"default"}'
  printf '{"pid":%d,"start":"%s","shell":"bash"}\n' "$user" "$start" >"$STATE/contexts/shop-1/users/$user"
  printf '{"pid":999999,"start":"1"}\n' >"$STATE/contexts/shop-1/users/999999"
  mkdir -p "$STATE/contexts/shop-1/services/db" "$STATE/contexts/shop-1/services/web"
  context_record api-2 '{"root":"/src/api","name":"api","state":"error"}'
  context_record broken-3 '{"root":"/src/bro'
  mkdir -p "$STATE/contexts/empty-4"
  emit --type warmup
  follow out --snapshot
  wait_until '[ "$(lines out)" -ge 2 ]'
  emit --type context.unload --context shop --root /src/shop
  emit --type end.marker
  saw_marker out
  [ "$(lines out)" -eq 4 ]
  [ "$(jq -c '[.type, .context, .root, .state, .users, .services]' out | head -n2 | tr '\n' ' ')" = \
    "[\"snapshot\",\"api\",\"/src/api\",\"error\",[],[]] [\"snapshot\",\"shop\",\"/src/shop\",\"ready\",[$user],[\"db\",\"web\"]] " ]
  [ "$(sed -n 2p out | jq -r '[.v, .env, .file] | join(" ")')" = "1 default /src/shop/.workspace" ]
  [ "$(sed -n 3p out | jq -r .type)" = context.unload ]
  [ ! -s out.err ]
}

@test "--snapshot --context keeps only that context; snapshot events do not end --once" {
  mkdir -p -m 0700 "$STATE"
  context_record shop-1 '{"root":"/src/shop","name":"shop","state":"ready"}'
  context_record api-2 '{"root":"/src/api","name":"api","state":"stale"}'
  emit --type warmup
  follow out --snapshot --once --context api -- sh -c 'printf "%s %s %s\n" "$WS_EVENT_TYPE" "$WS_EVENT_CONTEXT" "$WS_EVENT_STATE" >>got'
  wait_until '[ "$(lines got)" -ge 1 ]'
  run ! gone "$follower"
  emit --type service.stop --context api --root /src/api
  finish "$follower"
  [ "$status" -eq 0 ]
  [ "$(cat got)" = "$(printf '%s\n' 'snapshot api stale' 'service.stop api ')" ]
}

# ------------------------------------------------------ ending the stream ----

@test "ws-on-event | head -n1 ends when head exits, without another event" {
  emit --type warmup
  bash -c 'ws-on-event | head -n1 >first; echo "${PIPESTATUS[*]}" >pipestatus' >/dev/null 2>&1 3>&- &
  pipeline=$!
  track_pid "$pipeline"
  wait_until 'oe=$(pgrep -P "$pipeline" -f ws-on-event) && ls -l "/proc/$oe/fd" | grep -q "events.jsonl\$"'
  emit --type tick # exactly one: no later write can end ws-on-event by EPIPE
  finish "$pipeline" 5
  [ "$(cat pipestatus)" = "0 0" ]
  [ "$(jq -r .type first)" = tick ]
}

@test "ws-on-event -- CMD | head -n1 ends when head exits too" {
  emit --type warmup
  bash -c 'ws-on-event -- sh -c "echo \"\$WS_EVENT_TYPE\"" | head -n1 >first; echo "${PIPESTATUS[*]}" >pipestatus' >/dev/null 2>&1 3>&- &
  pipeline=$!
  track_pid "$pipeline"
  wait_until 'oe=$(pgrep -P "$pipeline" -f ws-on-event) && ls -l "/proc/$oe/fd" | grep -q "events.jsonl\$"'
  emit --type tick
  finish "$pipeline" 5
  [ "$(cat pipestatus)" = "0 0" ]
  [ "$(cat first)" = tick ]
}

@test "SIGINT while CMD runs: CMD and its children get it too, status 130" {
  emit --type warmup
  follow out -- sh -c 'sleep 30; echo "not stopped" >after'
  emit
  # Until the CMD's own child runs (a signal before that would find the shell between commands).
  wait_until 'sh_pid=$(pgrep -P "$follower" -x sh) && sleep_pid=$(pgrep -P "$sh_pid" -x sleep)'
  kill -INT "$follower"
  finish "$follower" 5
  [ "$status" -eq 130 ]
  wait_until "gone $sleep_pid" 5
  [ ! -e after ]
  [ ! -s out.err ]
}

# --------------------------------------------------------------- redis ----

@test "redis: ws-on-event -- redis-cli publish delivers every event, in order, to a subscriber" {
  command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; return 1; }
  command -v redis-cli >/dev/null || { echo "redis-cli is not installed" >&2; return 1; }
  PORT=$(allocate_port 2>/dev/null) && [[ $PORT =~ ^[0-9]+$ ]] ||
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  export PORT
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >redis.log 2>&1 3>&- &
  track_pid $!
  wait_until 'redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG'
  redis-cli -p "$PORT" subscribe ws >subscribed 2>&1 3>&- &
  track_pid $!
  wait_until 'grep -q "^subscribe$" subscribed'
  emit --type warmup
  follow out -- sh -c 'redis-cli -p "$PORT" publish ws "$WS_EVENT_JSON"'
  emit --type service.ready --context shop --root /src/shop --count 5 --fields-json '{"service":"db \"quoted\" $(x)"}'
  wait_until '[ "$(grep -c "^message$" subscribed)" -ge 5 ]'
  awk 'prev2 == "message" { print } { prev2 = prev1; prev1 = $0 }' subscribed >messages
  [ "$(jq -r .seq messages | tr '\n' ' ')" = "1 2 3 4 5 " ]
  [ "$(jq -r .service messages | sort -u)" = 'db "quoted" $(x)' ]
  [ ! -s out.err ]
}
