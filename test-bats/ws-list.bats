#!/usr/bin/env bats
# ws-list (SPEC §4): one row per context with its state, users, services,
# ports, disk use and last use; a plain aligned table when piped or with
# NO_COLOR, colors on a terminal, a stable JSON document with --json
# (packages/ws-list/README.md); --resources adds resources and roots. Bad
# state is reported on stderr and never stops the listing.

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

# listed_context NAME [STATE=unloaded] — make_context (test_helper/state-home),
# last used 3 days ago, with 2 KiB in data/. Sets ctx, root, id.
listed_context() {
  make_context "$1" "${2:-unloaded}" 3
  mkdir -p "$ctx/data"
  head -c 2048 /dev/zero >"$ctx/data/db"
}

# --------------------------------------------------------- CLI contract ----

@test "ws-list with no arguments prints the table header for an empty state home" {
  run -0 --separate-stderr ws-list
  [ "$output" = "NAME  STATE  USERS  SERVICES  PORTS  DISK  LAST USED  ROOT" ]
  [ -z "$stderr" ]
}

@test "ws-list with an unknown option exits 64, one line on stderr only" {
  run -64 --separate-stderr ws-list --bogus
  [ -z "$output" ]
  [ "$stderr" = "ws-list: unknown option '--bogus'" ]
  run -64 --separate-stderr ws-list extra
  [ -z "$output" ]
  [ "$stderr" = "ws-list: unexpected argument 'extra'" ]
}

@test "ws-list --help describes the columns, the options and the exit codes" {
  run -0 --separate-stderr ws-list --help
  for word in --json --resources NAME STATE USERS SERVICES PORTS DISK 'LAST USED' NO_COLOR 'EXIT CODES'; do
    [[ $output == *"$word"* ]]
  done
  [ -z "$stderr" ]
}

@test "ws-list --version prints its name and version" {
  run -0 --separate-stderr ws-list --version
  [[ $output =~ ^ws-list\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "ws-list creates no state home and changes nothing" {
  rm -rf "$home"
  run -0 --separate-stderr ws-list --json --resources
  [ ! -e "$home" ]
  [ "$(jq '.contexts | length' <<<"$output")" -eq 0 ]
  listed_context shop
  before=$(find "$home" -printf '%p %s %T@\n' | sort)
  run -0 ws-list --resources
  [ "$(find "$home" -printf '%p %s %T@\n' | sort)" = "$before" ]
}

# ------------------------------------------------------------- listing ----

@test "ws-list --json parses and matches the state: users, services, ports, disk, last use" {
  write_workspace "$work/live" 'export A=1' >/dev/null 2>&1
  start_user
  (cd "$work/live" && ws-export json --pid "$user" >/dev/null 2>&1)
  (cd "$work/live" && WS_ROOT="$work/live" WS_CONTEXT=live ws-service start web --ready-port 0 -- sleep 300 >/dev/null 2>&1 ||
    WS_ROOT="$work/live" WS_CONTEXT=live ws-service start web -- sleep 300 >/dev/null 2>&1)
  listed_context idle
  idle_id=$id
  mkdir -p "$home/ports"
  printf '{"v":1,"proto":"tcp","port":45100,"key":"tcp-5432","context":"%s","name":"idle","root":"%s","created":"%s"}\n' \
    "$id" "$root" "$(iso 1)" >"$home/ports/tcp-45100"
  run -0 --separate-stderr ws-list --json
  json=$output
  jq -e '.v == 1 and (.home | type == "string") and (.contexts | length == 2)' <<<"$json"
  # Sorted by name: idle, live.
  [ "$(jq -r '[.contexts[].name] | join(" ")' <<<"$json")" = "idle live" ]
  live=$(jq -c '.contexts[1]' <<<"$json")
  jq -e --arg root "$work/live" '.root == $root and .file == $root + "/.workspace" and .state == "ready" and .inUse and .rootExists and .fileExists' <<<"$live"
  jq -e --argjson pid "$user" '.users | length == 1 and .[0].pid == $pid and (.[0].start | type == "string") and .[0].shell == "sleep"' <<<"$live"
  jq -e '.services | length == 1 and .[0].name == "web" and .[0].running and (.[0].pid | type == "number")' <<<"$live"
  jq -e '.disk > 0 and (.lastUsed | type == "string") and .deadUsers == 0 and (.problems | length == 0)' <<<"$live"
  idle=$(jq -c '.contexts[0]' <<<"$json")
  jq -e --arg id "$idle_id" '.id == $id and .state == "unloaded" and (.inUse | not) and .users == [] and .services == []' <<<"$idle"
  jq -e '.ports == [{"proto":"tcp","port":45100,"key":"tcp-5432","created":.ports[0].created}]' <<<"$idle"
  # disk counts the bytes of its files: data/db (2048) + context.json.
  [ "$(jq .disk <<<"$idle")" -eq $((2048 + $(stat -c %s "$home/contexts/$idle_id/context.json"))) ]
  [ "$(jq -r .lastUsed <<<"$idle" | cut -c1-10)" = "$(iso 3 | cut -c1-10)" ]
  jq -e '.ports == [] and .problems == [] and (has("roots") | not)' <<<"$json"
}

@test "the table under NO_COLOR is plain and aligned, one row per context" {
  listed_context alpha
  listed_context beta-with-a-longer-name ready
  start_user
  printf '{"pid":%d,"start":"%s","shell":"bash","tty":"/dev/pts/7","joined":"x"}\n' "$user" "$(_wsh_starttime "$user")" >"$ctx/users/$user"
  rm -rf "$work/alpha"
  run -0 --separate-stderr ws-list
  [ "${#lines[@]}" -eq 3 ]
  [[ $output != *$'\e'* ]]
  [[ ${lines[0]} =~ ^NAME\ +STATE\ +USERS\ +SERVICES\ +PORTS\ +DISK\ +LAST\ USED\ +ROOT$ ]]
  [[ ${lines[1]} =~ ^alpha\ +unloaded\ +-\ +-\ +-\ +2\.[0-9]\ KiB\ +3d\ ago\ +$work/alpha\ \(gone\)$ ]]
  [[ ${lines[2]} =~ ^beta-with-a-longer-name\ +ready\ +$user\ bash\ pts/7\ +-\ +-\ +2\.[0-9]\ KiB\ +now\ +$work/beta-with-a-longer-name$ ]]
  # Every column starts at the same offset in every row.
  for col in STATE USERS ROOT; do
    head=${lines[0]%%"$col"*}
    for i in 1 2; do
      [[ ${lines[i]:${#head}:1} != ' ' && ${lines[i]:${#head}-1:1} == ' ' ]]
    done
  done
}

@test "on a terminal the table is colored, and NO_COLOR turns that off" {
  listed_context shop ready
  run -0 script -qec 'env -u NO_COLOR ws-list' /dev/null
  [[ $output == *$'\e['* ]]
  run -0 script -qec 'NO_COLOR=1 ws-list' /dev/null
  [[ $output != *$'\e['* ]]
}

@test "1,000 contexts are listed, as a table and as JSON" {
  node -e '
    const fs = require("fs"), home = process.argv[1], work = process.argv[2];
    const now = new Date().toISOString();
    for (let i = 0; i < 1000; i++) {
      const dir = `${home}/contexts/ctx${i}-${String(i).padStart(12, "0")}`;
      fs.mkdirSync(`${dir}/users`, { recursive: true });
      fs.mkdirSync(`${dir}/data`);
      fs.writeFileSync(`${dir}/data/db`, "x".repeat(i));
      fs.writeFileSync(`${dir}/context.json`, JSON.stringify({ root: `${work}/ctx${i}`, name: `ctx${i}`, file: `${work}/ctx${i}/.workspace`, state: "unloaded", env: "default", created: now, lastUsed: now }));
    }' "$home" "$work"
  run -0 timeout 20 ws-list
  [ "${#lines[@]}" -eq 1001 ]
  run -0 --separate-stderr timeout 20 ws-list --json
  [ "$(jq '.contexts | length' <<<"$output")" -eq 1000 ]
  [ "$(jq '[.contexts[] | select(.name == "ctx999")][0].disk' <<<"$output")" -gt 999 ]
}

@test "--resources adds resources, quarantines and roots" {
  listed_context shop
  mkdir -p "$home/resources/abc123" "$home/quarantine/def456" "$home/roots"
  echo data >"$home/resources/abc123/file"
  ln -s "$home/resources/abc123" "$home/roots/res"
  ln -s "$ctx" "$home/roots/shop"
  ln -s "$home/resources/gone" "$home/roots/dangling"
  run -0 --separate-stderr ws-list --resources
  [[ $output == *RESOURCE*HASH*DISK*ROOTS*PATH* ]]
  [[ $output =~ resource\ +abc123\ +5\ B\ +res ]]
  [[ $output =~ quarantine\ +def456 ]]
  [[ $output =~ shop\ +context\ +$id ]]
  [[ $output =~ dangling\ +dangling ]]
  run -0 --separate-stderr ws-list --json --resources
  jq -e '.resources | map(.hash) == ["abc123", "def456"]' <<<"$output"
  jq -e '.resources[0].roots == ["res"] and .resources[0].disk == 5' <<<"$output"
  jq -e --arg id "$id" '.roots | map({name, kind, holds}) == [{"name":"dangling","kind":"dangling","holds":null},{"name":"res","kind":"resource","holds":"abc123"},{"name":"shop","kind":"context","holds":$id}]' <<<"$output"
  jq -e '.contexts[0].roots == ["shop"]' <<<"$output"
}

@test "reservations outside any context are listed in their own table" {
  mkdir -p "$home/ports"
  printf '{"v":1,"proto":"udp","port":45200,"key":"udp","context":null,"name":null,"root":null,"created":"%s","expires":"2999-01-01T00:00:00.000Z"}\n' "$(iso 0)" >"$home/ports/udp-45200"
  run -0 --separate-stderr ws-list
  [[ $output =~ udp/45200\ +udp\ +\(none\)\ +2999-01-01 ]]
  run -0 ws-list --json
  jq -e '.ports[0] | .proto == "udp" and .port == 45200 and .context == null and (.stale | not)' <<<"$output"
}

# ----------------------------------------------------------- bad input ----

@test "a corrupt context.json is reported and listed as unknown" {
  listed_context good
  listed_context broken
  printf '{"root":' >"$ctx/context.json"
  run -0 --separate-stderr ws-list
  [[ $stderr == "ws-list: $ctx/context.json is corrupt" ]]
  [[ $output =~ $'\n'"$id"\ +unknown\ +.*\ \? ]]
  [[ $output =~ $'\n'good\ +unloaded ]]
  run -0 --separate-stderr ws-list --json
  jq -e --arg id "$id" '.contexts[] | select(.id == $id) | .state == "unknown" and .root == null and (.problems[0].message == "is corrupt")' <<<"$output"
}

@test "a user record pointing at a PID that does not exist is not a user; it is counted as dead" {
  listed_context shop
  printf '{"pid":999999999,"start":"1","joined":"x"}\n' >"$ctx/users/999999999"
  run -0 --separate-stderr ws-list
  [[ ${lines[1]} =~ ^shop\ +unloaded\ +\(\+1\ dead\) ]]
  run -0 --separate-stderr ws-list --json
  jq -e '.contexts[0] | .users == [] and .deadUsers == 1 and (.inUse | not)' <<<"$output"
}

@test "a root pointing outside the state home is reported" {
  mkdir -p "$home/roots"
  ln -s /tmp "$home/roots/elsewhere"
  run -0 --separate-stderr ws-list --resources
  [[ $stderr == *"roots/elsewhere points outside the state home (/tmp)"* ]]
  [[ $output =~ elsewhere\ +outside ]]
}

@test "files where directories belong are reported; the rest is listed" {
  listed_context ok
  listed_context shop
  rmdir "$ctx/users"
  echo junk >"$ctx/users"
  echo junk >"$home/contexts/stray-file"
  echo junk >"$home/roots"
  run -0 --separate-stderr ws-list
  [[ $stderr == *"$ctx/users is not a directory"* ]]
  [[ $stderr == *"$home/contexts/stray-file is not a directory"* ]]
  [[ $stderr == *"$home/roots is not a directory"* ]]
  [ "${#lines[@]}" -eq 3 ]
  rm -rf "$home/contexts"
  echo junk >"$home/contexts"
  run -0 --separate-stderr ws-list --json
  [[ $stderr == *"$home/contexts is not a directory"* ]]
  jq -e '.contexts == [] and (.problems | map(.path) | index("'"$home"'/contexts") != null)' <<<"$output"
}
