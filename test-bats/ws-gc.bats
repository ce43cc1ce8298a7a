#!/usr/bin/env bats
# ws-gc (SPEC §4, docs/state-home.md "roots/ and garbage collection"): what
# it removes, what it never removes (anything a live user, a running service,
# a root or an entry during the collection holds), --dry-run, --max-age, the
# byte count, and bad state. Most contexts are built by hand as the state
# home protocol describes them (no reaper runs behind the test's back); the
# live ones are entered with ws-export and served by ws-service.

load test_helper/common-setup
load test_helper/state-home

setup() {
  common_setup
  home="$XDG_STATE_HOME/ws"
  work="$BATS_TEST_TMPDIR/work"
  mkdir -p -m 0700 "$home"
  echo 1 >"$home/VERSION"
}
teardown() { common_teardown; }

# gc_context NAME [STATE=unloaded] — make_context (test_helper/state-home: a
# context that ws-export loaded and, by default, the reaper unloaded), its
# .workspace allowed, cache/, and data/ with a file. Sets ctx, root, id.
gc_context() {
  make_context "$1" "${2:-unloaded}"
  ws-allow "$root" >/dev/null 2>&1
  mkdir -p "$ctx/data" "$ctx/cache"
  printf 'some project data\n' >"$ctx/data/db"
}

# age_context CTXDIR DAYS — last used DAYS days ago: context.json's lastUsed
# and the mtime of users/ (a shell joining or leaving changes it).
age_context() {
  local json
  json=$(jq -c --arg t "$(iso "$2")" '.lastUsed = $t' "$1/context.json")
  printf '%s\n' "$json" >"$1/context.json"
  touch -d "-$2 days" "$1/users"
}

# reserve PORT CTXID|null — a port reservation in ports/, as allocate_port makes it.
reserve() {
  mkdir -p "$home/ports"
  if [[ $2 == null ]]; then
    printf '{"v":1,"proto":"tcp","port":%d,"key":"tcp","context":null,"name":null,"root":null,"created":"%s","expires":"%s"}\n' \
      "$1" "$(iso 1)" "$(iso 1)" >"$home/ports/tcp-$1"
  else
    printf '{"v":1,"proto":"tcp","port":%d,"key":"tcp-%d","context":"%s","name":"x","root":"/x","created":"%s"}\n' \
      "$1" "$1" "$2" "$(iso 1)" >"$home/ports/tcp-$1"
  fi
}

# Everything in the state home: path, size, mtime.
snapshot() { find "$home" -printf '%p %s %T@\n' | sort; }

# The number in "recovered N bytes" / "would recover N bytes".
bytes_of() { sed -n 's/^\(recovered\|would recover\) \([0-9]*\) bytes (.*)$/\2/p' <<<"$1"; }

# --------------------------------------------------------- CLI contract ----

@test "ws-gc with no arguments collects and says what it recovered" {
  run -0 --separate-stderr ws-gc
  [ "$output" = "recovered 0 bytes (0.0 MiB)" ]
  [ -z "$stderr" ]
}

@test "ws-gc with an unknown option exits 64, one line on stderr only" {
  run -64 --separate-stderr ws-gc --bogus
  [ -z "$output" ]
  [ "$stderr" = "ws-gc: unknown option '--bogus'" ]
  run -64 --separate-stderr ws-gc --dry-run=yes
  [ "$stderr" = "ws-gc: option '--dry-run' takes no value" ]
}

@test "ws-gc --help describes the options, what it removes and the exit codes" {
  run -0 --separate-stderr ws-gc --help
  for word in --dry-run --json --max-age roots/ 'live user' 'EXIT CODES' 75; do
    [[ $output == *"$word"* ]]
  done
  [ -z "$stderr" ]
}

@test "ws-gc --version prints its name and version" {
  run -0 --separate-stderr ws-gc --version
  [[ $output =~ ^ws-gc\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "a bad --max-age exits 64 with one line, and removes nothing" {
  gc_context gone
  rm -rf "$root"
  for bad in 3x 30 -1d 1.5d '' d 30days; do
    run -64 --separate-stderr ws-gc --max-age "$bad"
    [ -z "$output" ]
    [[ $stderr == "ws-gc: invalid --max-age"* || $stderr == *"needs a value"* ]]
  done
  run -64 --separate-stderr ws-gc --max-age
  [ -d "$ctx" ]
}

@test "ws-gc refuses a state home that others can write (77)" {
  chmod 0777 "$home"
  run -77 --separate-stderr ws-gc
  [[ $stderr == *"writable by others"* ]]
  chmod 0700 "$home"
}

# ------------------------------------------------------------- removal ----

@test "a context whose directory was deleted is removed, with its ports and state" {
  gc_context shop
  reserve 45001 "$id"
  gc_context keep
  reserve 45002 "$id"
  rm -rf "$work/shop"
  run -0 --separate-stderr ws-gc
  [[ $output == *"removed context shop ($work/shop): its root is gone"* ]]
  [[ $output == *"removed port tcp/45001 (key tcp-45001"* ]]
  [[ $output == *"removed trust record allow/"*"$work/shop/.workspace no longer exists"* ]]
  [[ $output =~ recovered\ [1-9][0-9]*\ bytes\ \([0-9.]+\ MiB\) ]]
  [ ! -e "$home/contexts/shop-$(printf '%s' "$work/shop" | sha256sum | cut -c1-12)" ]
  [ ! -e "$home/ports/tcp-45001" ]
  [ -d "$ctx" ]
  [ -e "$home/ports/tcp-45002" ]
  [ ! -e "$home/.gc" ]
  # The figures are in a gc event, and the port's release in its own.
  jq -se 'any(.[]; .type == "gc" and .removed >= 3 and .bytes > 0)' "$home/events.jsonl"
  jq -se 'any(.[]; .type == "port.release" and .port == 45001)' "$home/events.jsonl"
}

@test "a context whose workspace file is gone is removed; a renamed one (.envrc) is not" {
  gc_context a
  rm "$root/.workspace"
  gc_context b
  mv "$root/.workspace" "$root/.envrc"
  run -0 --separate-stderr ws-gc
  [[ $output == *"removed context a ($work/a): its workspace file is gone"* ]]
  [[ $output != *"context b"* ]]
  [ -d "$ctx" ]
}

@test "dead users' registrations are removed, live ones stay" {
  gc_context shop
  start_user
  printf '{"pid":%d,"start":"%s","joined":"%s"}\n' "$user" "$(_wsh_starttime "$user")" "$(iso 0)" >"$ctx/users/$user"
  # A PID that does not exist, and a live PID with another start time (recycled).
  printf '{"pid":999999999,"start":"1","joined":"%s"}\n' "$(iso 0)" >"$ctx/users/999999999"
  printf '{"pid":%d,"start":"1","joined":"%s"}\n' "$$" "$(iso 0)" >"$ctx/users/$$"
  run -0 --separate-stderr ws-gc
  [[ $output == *"removed user 999999999 of shop: its process is gone"* ]]
  [[ $output == *"removed user $$ of shop: its process is gone"* ]]
  [ -e "$ctx/users/$user" ]
  [ ! -e "$ctx/users/999999999" ]
  [ ! -e "$ctx/users/$$" ]
  jq -se 'any(.[]; .type == "user.leave" and .pid == 999999999 and .reason == "gc")' "$home/events.jsonl"
}

@test "roots keep their target; dangling roots are removed; one outside the state home is reported and left" {
  gc_context rooted
  rooted=$ctx
  rm -rf "$root"
  mkdir -p "$home/roots" "$BATS_TEST_TMPDIR/outside"
  ln -s "$rooted" "$home/roots/keep"
  ln -s "$home/contexts/nothing-000000000000" "$home/roots/dangling"
  ln -s "$BATS_TEST_TMPDIR/outside" "$home/roots/elsewhere"
  run -0 --separate-stderr ws-gc
  [[ $output == *"kept context rooted ($work/rooted) (its root is gone): held by root roots/keep"* ]]
  [[ $output == *"removed root roots/dangling -> $home/contexts/nothing-000000000000: its target is gone"* ]]
  [[ $stderr == *"roots/elsewhere points outside the state home"* ]]
  [ -d "$rooted" ]
  [ -L "$home/roots/keep" ]
  [ -L "$home/roots/elsewhere" ]
  [ ! -L "$home/roots/dangling" ]
  [ -d "$BATS_TEST_TMPDIR/outside" ]
}

@test "a context with a live user is kept (entered with ws-export)" {
  write_workspace "$work/live" 'export A=1' >/dev/null 2>&1
  start_user
  (cd "$work/live" && ws-export json --pid "$user" >/dev/null 2>&1)
  ctx=$(ls -d "$home"/contexts/live-*)
  [ -e "$ctx/users/$user" ]
  rm -rf "$work/live"
  run -0 --separate-stderr ws-gc --max-age 0s
  [[ $output == *"kept context live ($work/live) (its root is gone; unused for"*"): held by 1 live user (PID $user)"* ]]
  [ -d "$ctx" ]
  [ -e "$ctx/users/$user" ]
}

@test "a context with a running service is kept (ws-service)" {
  gc_context served
  (cd "$root" && WS_ROOT="$root" WS_CONTEXT=served ws-service start db -- sleep 300 >/dev/null 2>&1)
  [ -s "$ctx/services/db/pid" ]
  rm -rf "$root"
  run -0 --separate-stderr ws-gc
  [[ $output == *"kept context served ($work/served) (its root is gone): held by running service db"* ]]
  [ -d "$ctx/services/db" ]
}

@test "a context whose service pid file names a live process is kept, one whose process is gone is not" {
  gc_context alive
  start_user
  mkdir -p "$ctx/services/web"
  printf '{"pid":%d,"start":"%s"}\n' "$user" "$(_wsh_starttime "$user")" >"$ctx/services/web/pid"
  rm -rf "$root"
  gc_context dead
  mkdir -p "$ctx/services/web"
  printf '{"pid":999999999,"start":"1"}\n' >"$ctx/services/web/pid"
  rm -rf "$root"
  run -0 --separate-stderr ws-gc
  [[ $output == *"kept context alive"*"held by running service web"* ]]
  [[ $output == *"removed context dead"* ]]
}

@test "a context entered while the collection runs survives, with its user" {
  gc_context shop
  age_context "$ctx" 40
  _WS_GC_PAUSE="$BATS_TEST_TMPDIR/go" ws-gc --max-age 30d >"$BATS_TEST_TMPDIR/gc.out" 2>&1 3>&- &
  gc=$!
  wait_until '[[ -e $BATS_TEST_TMPDIR/go.paused ]]'
  # The plan has the context; enter it now.
  start_user
  (cd "$root" && ws-export json --pid "$user" >/dev/null 2>&1)
  [ -e "$ctx/users/$user" ]
  touch "$BATS_TEST_TMPDIR/go"
  wait "$gc"
  cat "$BATS_TEST_TMPDIR/gc.out"
  grep -q "kept context shop ($work/shop) (unused for 40d): held by 1 live user (PID $user)" "$BATS_TEST_TMPDIR/gc.out"
  [ -e "$ctx/users/$user" ]
  [ -e "$ctx/data/db" ]
  run -0 ws-list --json
  [ "$(jq -r '.contexts[0].users[0].pid' <<<"$output")" = "$user" ]
}

@test "--max-age removes contexts unused longer than that, by context.json's lastUsed and users/" {
  gc_context old
  age_context "$ctx" 40
  old=$ctx
  gc_context recent
  age_context "$ctx" 2
  recent=$ctx
  gc_context fresh
  run -0 --separate-stderr ws-gc
  [[ $output != *removed\ context* ]]
  run -0 --separate-stderr ws-gc --max-age 30d
  [[ $output == *"removed context old ($work/old): unused for 40d"* ]]
  [ ! -e "$old" ]
  [ -d "$recent" ]
  run -0 --separate-stderr ws-gc --max-age 36h
  [[ $output == *"removed context recent ($work/recent): unused for 2d"* ]]
  [ ! -e "$recent" ]
  [ -d "$ctx" ]
  # A shell that joined or left recently (users/ changed) counts as a use.
  gc_context joined
  age_context "$ctx" 40
  touch "$ctx/users"
  run -0 --separate-stderr ws-gc --max-age 30d
  [ -d "$ctx" ]
}

@test "--dry-run changes nothing and reports what the real run then removes, with the same bytes" {
  gc_context gone
  reserve 45011 "$id"
  mkdir -p "$ctx/cache/nix"
  ln -s /nix/store/00000000000000000000000000000000-shell "$ctx/cache/nix/out"
  head -c 100000 /dev/zero >"$ctx/data/big"
  printf '{"pid":999999999,"start":"1","joined":"x"}\n' >"$ctx/users/999999999"
  rm -rf "$root"
  gc_context stale
  age_context "$ctx" 90
  gc_context kept
  printf '{"pid":999999998,"start":"1","joined":"x"}\n' >"$ctx/users/999999998"
  reserve 45012 null
  mkdir -p "$home/roots"
  ln -s "$home/resources/nothing" "$home/roots/dangling"
  before=$(snapshot)
  run -0 --separate-stderr ws-gc --dry-run --max-age 30d
  dry=$output
  [ "$(snapshot)" = "$before" ]
  [[ $dry == *"would remove context gone"* && $dry == *"would remove context stale"* ]]
  [[ $dry == *"would remove nix GC root contexts/gone-"*"/cache/nix/out -> /nix/store/"* ]]
  [[ $dry == *"would remove port tcp/45011"* && $dry == *"would remove port tcp/45012"* ]]
  [[ $dry == *"would remove root roots/dangling"* ]]
  [[ $dry == *"would remove user 999999998 of kept"* ]]
  [[ $dry =~ would\ recover\ [0-9]+\ bytes\ \(0\.1\ MiB\) ]]
  run ! grep -q '"type":"gc"' "$home/events.jsonl"
  run -0 --separate-stderr ws-gc --max-age 30d
  real=$output
  [ "$(bytes_of "$dry")" = "$(bytes_of "$real")" ]
  [ "$(grep -c '^would remove' <<<"$dry")" = "$(grep -c '^removed' <<<"$real")" ]
  [ "$(sed -n 's/^would remove //p' <<<"$dry" | sort)" = "$(sed -n 's/^removed //p' <<<"$real" | sort)" ]
}

@test "--json carries the same figures as the text" {
  gc_context gone
  rm -rf "$root"
  run -0 --separate-stderr ws-gc --dry-run
  text=$output
  run -0 --separate-stderr ws-gc --json
  jq -e '.v == 1 and .dryRun == false' <<<"$output"
  [ "$(jq '.bytes' <<<"$output")" = "$(bytes_of "$text")" ]
  [ "$(jq '[.removed[].bytes] | add' <<<"$output")" = "$(jq .bytes <<<"$output")" ]
  jq -e '.removed[] | select(.kind == "context" and .context == "gone" and .reason == "its root is gone" and .bytes > 0)' <<<"$output"
  jq -e '.removed[] | select(.kind == "trust")' <<<"$output"
  [ "$(jq '.mib' <<<"$output")" = 0 ]
}

@test "port reservations outside contexts go once their hold expired and their holder is gone" {
  reserve 45021 null
  start_user
  printf '{"v":1,"proto":"tcp","port":45022,"key":"tcp","context":null,"name":null,"root":null,"created":"%s","expires":"%s","holder":{"pid":%d,"start":"%s"},"until":"%s"}\n' \
    "$(iso 1)" "$(iso 1)" "$user" "$(_wsh_starttime "$user")" "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%S.000Z)" >"$home/ports/tcp-45022"
  run -0 --separate-stderr ws-gc
  [[ $output == *"removed port tcp/45021 (key tcp): its hold expired and its holder is gone"* ]]
  [ ! -e "$home/ports/tcp-45021" ]
  [ -e "$home/ports/tcp-45022" ]
}

@test "trust records of files that no longer exist are removed, like direnv prune" {
  write_workspace "$work/a" 'export A=1' >/dev/null 2>&1
  write_workspace "$work/b" 'export B=1' >/dev/null 2>&1
  ws-deny "$work/b" >/dev/null 2>&1
  rm -rf "$work/a" "$work/b"
  write_workspace "$work/c" 'export C=1' >/dev/null 2>&1
  run -0 --separate-stderr ws-gc
  [ "$(grep -c '^removed trust record' <<<"$output")" -eq 2 ]
  [[ $output == *"$work/a/.workspace no longer exists"* && $output == *"$work/b/.workspace no longer exists"* ]]
  run -0 ws-allow --list
  [[ $output == *"$work/c/.workspace"* && $output != *"$work/a/"* ]]
}

@test "the cold path's scratch files of shells that are gone go; a live shell's and a young one stay" {
  start_user
  mkdir -p "$home/cold/tmp"
  dead=$(bash -c 'echo $$')
  for f in "$dead.out" "$dead.root" "$dead.trust" "$user.out"; do echo x >"$home/cold/tmp/$f"; done
  touch -d '-2 minutes' "$home/cold/tmp/$dead.out" "$home/cold/tmp/$dead.root" "$home/cold/tmp/$user.out"
  run -0 --separate-stderr ws-gc --dry-run --json
  [ "$(jq -r '[.removed[] | select(.path | startswith("cold/")) | .path] | sort | join(" ")' <<<"$output")" = "cold/tmp/$dead.out cold/tmp/$dead.root" ]
  [ -e "$home/cold/tmp/$dead.out" ]
  run -0 --separate-stderr ws-gc
  [[ $output == *"cold/tmp/$dead.out"*"a cold entry's scratch file of a shell that is gone"* ]]
  [ ! -e "$home/cold/tmp/$dead.out" ]
  [ ! -e "$home/cold/tmp/$dead.root" ]
  [ -e "$home/cold/tmp/$user.out" ]
  [ -e "$home/cold/tmp/$dead.trust" ]
}

@test "events beyond WS_EVENTS_MAX are dropped: the log is rotated and the older generation goes" {
  head -c 3000 /dev/zero | tr '\0' 'x' >"$home/events.jsonl.1"
  for i in $(seq 60); do printf '{"v":1,"ts":"%s","type":"t","context":"","root":"","i":%d}\n' "$(iso 1)" "$i"; done >"$home/events.jsonl"
  size=$(stat -c %s "$home/events.jsonl")
  WS_EVENTS_MAX=1000 run -0 --separate-stderr ws-gc
  [[ $output == *"removed old events events.jsonl.1: events.jsonl passed WS_EVENTS_MAX (1000 bytes)"*"[3000 bytes]"* ]]
  [ "$(stat -c %s "$home/events.jsonl.1")" -eq "$size" ]
}

@test "nix GC roots of removed contexts are removed with them and listed" {
  gc_context nixy
  mkdir -p "$ctx/cache/nix"
  ln -s /nix/store/00000000000000000000000000000000-drv "$ctx/cache/nix/drv"
  ln -s /nix/store/00000000000000000000000000000000-out "$ctx/cache/nix/out"
  rm -rf "$root"
  run -0 --separate-stderr ws-gc --json
  [ "$(jq '[.removed[] | select(.kind == "nix-root")] | length' <<<"$output")" -eq 2 ]
  jq -e '.removed[] | select(.kind == "nix-root" and .target == "/nix/store/00000000000000000000000000000000-out")' <<<"$output"
  [ ! -e "$ctx" ]
}

@test "an unfinished unload or hooks not yet run keep a context for the reaper" {
  gc_context pending
  mkdir -p "$ctx/unload-run"
  printf '{"started":"x","reason":"x","order":[],"hooks":{}}' >"$ctx/unload-run/journal.json"
  rm -rf "$root"
  gc_context due ready
  mkdir -p "$ctx/unload"
  printf '{"kind":"argv","args":["true"],"seq":"000001","registered":"x"}\n' >"$ctx/unload/000001"
  rm -rf "$root"
  run -0 --separate-stderr ws-gc
  [[ $output == *"kept context pending"*"an unload is unfinished"* ]]
  [[ $output == *"kept context due"*"its unload has not run yet"* ]]
}

@test "read-only directories inside a context (a Go module cache) do not stop its removal" {
  gc_context ro
  mkdir -p "$ctx/data/mod/pkg"
  echo x >"$ctx/data/mod/pkg/file"
  chmod -R a-w "$ctx/data/mod"
  rm -rf "$root"
  run -0 --separate-stderr ws-gc
  [ ! -e "$ctx" ]
}

@test "two collections at once: the second waits for nobody and exits 75" {
  gc_context shop
  age_context "$ctx" 40
  _WS_GC_PAUSE="$BATS_TEST_TMPDIR/go" ws-gc --max-age 30d >/dev/null 2>&1 3>&- &
  gc=$!
  wait_until '[[ -e $BATS_TEST_TMPDIR/go.paused ]]'
  run -75 --separate-stderr ws-gc
  [[ $stderr == "ws-gc: another ws-gc is running"* ]]
  run -0 --separate-stderr ws-gc --dry-run
  touch "$BATS_TEST_TMPDIR/go"
  wait "$gc"
  [ ! -e "$ctx" ]
}

# ----------------------------------------------------------- bad input ----

@test "a corrupt context.json is reported; the context is kept until --max-age says it is unused" {
  gc_context broken
  printf '{"root": "/tru' >"$ctx/context.json"
  run -0 --separate-stderr ws-gc
  [[ $stderr == *"$ctx/context.json is corrupt"* ]]
  [ -d "$ctx" ]
  touch -d '-40 days' "$ctx" "$ctx"/* "$ctx"/*/* "$ctx/users"
  run -0 --separate-stderr ws-gc --max-age 30d
  [[ $output == *"removed context $id: unused for 40d, root unknown"* ]]
  [ ! -e "$ctx" ]
}

@test "a corrupt context.json whose root is known elsewhere is judged by that root" {
  gc_context broken
  printf '{"WS_ROOT":"%s"}' "$root" >"$ctx/cache/loaded-env.json"
  echo garbage >"$ctx/context.json"
  rm -rf "$root"
  run -0 --separate-stderr ws-gc
  [[ $output == *"removed context $id ($root): its root is gone"* ]]
}

@test "a user record pointing at a PID that does not exist, and an unreadable one, are removed; one being written is not" {
  gc_context shop
  printf '{"pid":999999999,"start":"12","joined":"x"}\n' >"$ctx/users/999999999"
  printf 'not json' >"$ctx/users/123"
  touch -d '-1 minute' "$ctx/users/123"
  # Unreadable and under 2 s old: the hook's cached entry may be writing it (a plain `printf >`).
  # Its mtime is set ahead so that it stays that young however slowly ws-gc starts.
  printf '{"pid":45' >"$ctx/users/456"
  touch -d '+1 hour' "$ctx/users/456"
  run -0 --separate-stderr ws-gc
  [[ $output == *"removed user 999999999 of shop: its process is gone"* ]]
  [[ $output == *"removed user 123 of shop: an unreadable user record"* ]]
  [[ $output != *"user 456"* ]]
  [[ $stderr == *"users/123 is not a valid user record"* ]]
  [[ $stderr != *"users/456"* ]]
  [ "$(ls "$ctx/users")" = 456 ]
}

@test "contexts as a file is reported and removed; ws-export then works again" {
  echo junk >"$home/contexts"
  run -0 --separate-stderr ws-gc
  [[ $stderr == *"$home/contexts is not a directory"* ]]
  [[ $output == *"removed contexts: a file where a directory belongs"* ]]
  [ ! -e "$home/contexts" ]
  write_workspace "$work/p" 'export P=1' >/dev/null 2>&1
  start_user
  (cd "$work/p" && ws-export json --pid "$user" >/dev/null 2>&1)
  [ -d "$home/contexts" ]
}

@test "a context's users as a file, and a context that is a file, are reported and removed" {
  gc_context shop
  rmdir "$ctx/users"
  echo junk >"$ctx/users"
  echo junk >"$home/contexts/not-a-dir"
  run -0 --separate-stderr ws-gc
  [[ $stderr == *"$ctx/users is not a directory"* ]]
  [[ $stderr == *"contexts/not-a-dir is not a directory"* ]]
  [ ! -e "$ctx/users" ]
  [ ! -e "$home/contexts/not-a-dir" ]
  [ -d "$ctx" ]
}

@test "a root that is not a symlink is reported and left alone" {
  mkdir -p "$home/roots/plain-dir"
  run -0 --separate-stderr ws-gc
  [[ $stderr == *"roots/plain-dir is not a symlink"* ]]
  [ -d "$home/roots/plain-dir" ]
}
