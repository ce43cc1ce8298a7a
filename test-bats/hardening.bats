#!/usr/bin/env bats
# Hardening (issue 18): corrupt state, hostile names and values, limits.
# Every command on corrupt state is bounded with `timeout 10`: a hang is a
# failure (124), never a stuck run. docs/reliability.md lists what is tested.

load test_helper/common-setup
load test_helper/state-home

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

setup() {
  common_setup
  home="$XDG_STATE_HOME/ws"
  W="$BATS_TEST_TMPDIR/work"
  ERR="$BATS_TEST_TMPDIR/ws.err"
  export LOG="$BATS_TEST_TMPDIR/hooks.log"
}
teardown() {
  # Lazily, if a process still has a file open there (a reaper the test
  # started): the directory must be free for common_teardown's rm.
  [[ -z ${ro_mount-} ]] || umount "$ro_mount" 2>/dev/null || umount -l "$ro_mount" 2>/dev/null || true
  common_teardown
}

# ------------------------------------------------------------- helpers ----

# make_context NAME — a context ws-export loaded, written by hand (as in
# ws-reaper.bats), so no command starts a reaper behind the test's back.
make_context() {
  local root="$W/$1" id
  mkdir -p "$root" -m 0700 "$home"
  [[ -e $home/VERSION ]] || echo 1 >"$home/VERSION"
  touch "$root/.workspace"
  id="$1-$(printf '%s' "$root" | sha256sum | cut -c1-12)"
  mkdir -p "$home/contexts/$id/users"
  printf '{"root":"%s","name":"%s","file":"%s/.workspace","state":"ready","env":"default","created":"2026-01-01T00:00:00.000Z","lastUsed":"2026-01-01T00:00:00.000Z"}\n' \
    "$root" "$1" "$root" >"$home/contexts/$id/context.json"
  echo "$home/contexts/$id"
}
reaper_pid() {
  local pid start
  [[ -f $home/reaper.pid && -s $home/reaper.pid ]] || return 1
  read -r pid start <"$home/reaper.pid"
  [[ $(_wsh_starttime "$pid") == "$start" ]] && echo "$pid"
}

# A loaded project: $W/proj exporting FOO=bar; its context dir in $ctx.
loaded_project() {
  write_workspace "$W/proj" 'export FOO=bar' 2>/dev/null
  cd "$W/proj"
  timeout 10 ws-export json --pid $$ >/dev/null 2>&1
  ctx=$(echo "$home"/contexts/proj-*)
  [[ -d $ctx ]]
}

# corrupt PATH KIND — puts a directory, a FIFO or a symlink (to a file
# outside the state home) where the state file PATH belongs.
corrupt() {
  rm -rf "$1"
  mkdir -p "${1%/*}"
  case $2 in
    dir) mkdir "$1" && echo x >"$1/inside" ;;
    fifo) mkfifo "$1" ;;
    link) ln -s "$BATS_TEST_TMPDIR/outside" "$1" ;;
  esac
}

# survives FILE — for each kind of corruption of FILE (relative to $ctx):
# ws-export json, ws-prompt, ws-list and ws-gc finish (no hang, no crash),
# nothing is written through the link, and once the corruption is removed
# the environment comes back.
survives() {
  local kind cmd rc
  echo 'outside, never written' >"$BATS_TEST_TMPDIR/outside"
  for kind in dir fifo link; do
    corrupt "$ctx/$1" "$kind"
    for cmd in "ws-export json --pid $$" ws-prompt ws-list ws-gc; do
      rc=0
      timeout 10 $cmd >"$BATS_TEST_TMPDIR/out" 2>"$ERR" || rc=$?
      if ((rc != 0)) && ! [[ $cmd == ws-prompt && $rc == 1 ]]; then
        echo "$1 as a $kind: '$cmd' exited $rc: $(cat "$ERR")" >&2
        return 1
      fi
      [[ $(<"$ERR") != *'internal error'* && $(<"$ERR") != *'    at '* ]] || { echo "$1 as a $kind: '$cmd': $(cat "$ERR")" >&2; return 1; }
    done
    [ "$(cat "$BATS_TEST_TMPDIR/outside")" = 'outside, never written' ]
    rm -rf "$ctx/$1"
    [ "$(timeout 10 ws-export json --pid $$ 2>/dev/null | jq -r .set.FOO)" = bar ] || {
      echo "$1 as a $kind: the environment did not come back" >&2
      return 1
    }
  done
}

# ------------------------------- (8) the reaper survives the state home ----

@test "(8) a stray regular file in contexts/ is logged once and skipped: the other context still unloads" {
  export WS_REAPER_IDLE=1
  ctx=$(make_context proj)
  start_user
  add_user "$ctx" "$user"
  add_hook "$ctx" sh -c 'echo ran >>"$LOG"'
  echo notes >"$home/contexts/notes.txt"
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 5
  pid=$(reaper_pid)
  # The worker the watcher starts for the dead user sweeps every 500 ms, and
  # lingers 1.5 s after the unload: several sweeps see the stray file.
  kill "$user"
  wait_until '[ -s "$LOG" ]' 10
  [ "$(cat "$LOG")" = ran ]
  wait_until "! _wsh_alive $pid" 10
  [ "$(grep -c 'contexts/notes.txt' "$home/reaper.log")" -eq 1 ]
  run ! grep -q 'Error\|    at ' "$home/reaper.log"
}

@test "(8) a directory in place of reaper.pid is taken over: a reaper starts and unloads" {
  ctx=$(make_context proj)
  start_user
  add_user "$ctx" "$user"
  add_hook "$ctx" sh -c 'echo ran >>"$LOG"'
  mkdir "$home/reaper.pid"
  run --separate-stderr timeout 10 ws-reaper
  [ "$status" -eq 0 ]
  [[ $stderr == "ws-reaper: started (pid "* ]]
  wait_until 'reaper_pid >/dev/null' 5
  kill "$user"
  wait_until '[ -s "$LOG" ]' 10
  [ "$(cat "$LOG")" = ran ]
}

@test "(8) a directory in place of context.json: ws-export loads and writes the record again" {
  loaded_project
  rm "$ctx/context.json"
  mkdir "$ctx/context.json"
  run --separate-stderr timeout 10 ws-export json --pid $$
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.FOO <<<"$output")" = bar ]
  [ -f "$ctx/context.json" ]
  jq -e .root "$ctx/context.json" >/dev/null
}

# ------------------ (7) a directory, FIFO or symlink in place of a state file ----

@test "(7) context.json as a directory, FIFO or symlink: no crash, no hang, treated as missing" {
  loaded_project
  survives context.json
}
@test "(7) cache/last-good.json as a directory, FIFO or symlink: no crash, no hang, treated as missing" {
  loaded_project
  survives cache/last-good.json
}
@test "(7) cache/loaded-env.json as a directory, FIFO or symlink: no crash, no hang, treated as missing" {
  loaded_project
  survives cache/loaded-env.json
}
@test "(7) unload/<seq> as a directory, FIFO or symlink: no crash, no hang, treated as missing" {
  loaded_project
  survives unload/1
}
@test "(7) users/<pid> as a directory, FIFO or symlink: no crash, no hang, treated as missing" {
  loaded_project
  survives "users/$$"
}
@test "(7) cache/build/status as a directory, FIFO or symlink: no crash, no hang, treated as missing" {
  loaded_project
  survives cache/build/status
}

@test "(7) the build's scratch files (env, watches, watch-stats, on_unload) as a directory, FIFO or symlink: no hang, treated as missing" {
  loaded_project
  local f
  for f in env watches watch-stats on_unload; do
    survives "cache/build/$f"
  done
}

@test "(7) events.jsonl as a FIFO: no command blocks on it; one warning, it is replaced by a log in place" {
  loaded_project
  rm -f "$home/events.jsonl"
  mkfifo "$home/events.jsonl"
  run --separate-stderr timeout 10 ws-allow "$W/proj"
  [ "$status" -eq 0 ]
  [[ $stderr == *"events.jsonl is not a regular file (corrupt state): replaced by a new file"* ]]
  [ "$(grep -c 'corrupt state' <<<"$stderr")" -eq 1 ]
  [ -f "$home/events.jsonl" ]
  [ ! -p "$home/events.jsonl" ]
  jq -s -e 'any(.[]; .type == "allow")' "$home/events.jsonl" >/dev/null
  # A build (the workspace changed) appends from its driver too: it must finish.
  rm -f "$home/events.jsonl"
  mkfifo "$home/events.jsonl"
  echo 'export FOO=baz' >"$W/proj/.workspace"
  timeout 10 ws-allow "$W/proj" 2>/dev/null
  rm -f "$home/events.jsonl"
  mkfifo "$home/events.jsonl"
  [ "$(timeout 20 ws-export json --pid $$ 2>"$ERR" | jq -r .set.FOO)" = baz ]
  [ ! -p "$home/events.jsonl" ]
}

@test "(7) a read-only state home: allocate_port and ws-export fail with one line naming the real path and the reason, exit 73" {
  [[ $(id -u) == 0 ]] || skip 'needs root (a read-only bind mount)'
  loaded_project
  # The remount fails (EBUSY) while a file is open for writing through the
  # new mount. The reaper ws-export started opens files (its pid file, its
  # log, reaper.gone, which it keeps open) whenever a busy machine lets it
  # start: it is not what this test is about, so it is stopped first.
  wait_until 'reaper_pid >/dev/null' 10
  reaper=$(reaper_pid)
  kill "$reaper"
  wait_until "! _wsh_alive $reaper" 10
  mount --bind "$home" "$home" && ro_mount=$home
  # A worker it had started may still be closing a file.
  wait_until 'mount -o remount,bind,ro "$home" 2>/dev/null' 10
  echo 'export FOO=baz' >"$W/proj/.workspace"
  run --separate-stderr timeout 10 allocate_port --key web
  [ "$status" -eq 73 ]
  [ "${#lines[@]}" -eq 0 ]
  [[ $stderr == "allocate_port: EROFS: read-only file system, mkdir '$home/"* ]]
  [ "$(wc -l <<<"$stderr")" -eq 1 ]
  run --separate-stderr timeout 10 ws-export json --pid $$
  [ "$status" -eq 73 ]
  [[ $stderr == *"ws-export: EROFS: read-only file system"* ]]
  [[ $stderr != *.tmp.* && $stderr != *'internal error'* ]]
}

@test "(7) a stop SIGKILLs a double-forked setsid grandchild that ignores SIGTERM, though the leader exits on SIGTERM" {
  loaded_project
  ws-service start forker --stop-timeout 1 -- \
    bash -c '(setsid bash -c "trap \"\" TERM; echo \$\$ >gc.pid; exec sleep 300" &); exec sleep 300' 2>/dev/null
  track_pid "$(ws-service status forker --json | jq -r '.[0].pid')"
  wait_until '[ -s gc.pid ]' 10
  gc=$(<gc.pid)
  track_pid "$gc"
  # It left the service's session, group and tree (its parent exited).
  [ "$(ps -o sid= -p "$gc" | tr -d ' ')" = "$gc" ]
  run --separate-stderr timeout 20 ws-service stop forker
  [ "$status" -eq 0 ]
  run ! _wsh_alive "$gc"
  grep -q 'stopped (stop) with SIGKILL' "$ctx/services/forker/log"
}

# ------------------------------------------- (3) terminal escape injection ----

@test "(3) a context name with escape sequences and a newline: shown with \\x.. escapes, machine output exact" {
  name=$'esc\e[31mred\e[0m\nline'
  dir="$W/$name"
  write_workspace "$dir" 'export SMALL=ok' 2>"$ERR"
  run ! grep -q $'\e' "$ERR"
  cd "$dir"
  timeout 10 ws-export json --pid $$ >"$BATS_TEST_TMPDIR/json" 2>"$ERR"
  # Machine output stays exact.
  [ "$(jq -r .set.WS_ROOT "$BATS_TEST_TMPDIR/json")" = "$dir" ]
  [ "$(jq -r .set.SMALL "$BATS_TEST_TMPDIR/json")" = ok ]
  [ "$(timeout 10 ws-list --json | jq -r '.contexts[0].root')" = "$dir" ]
  # What a person sees: no ESC, no raw newline inside the name.
  timeout 10 ws-prompt >"$BATS_TEST_TMPDIR/prompt"
  run ! grep -q $'\e' "$BATS_TEST_TMPDIR/prompt"
  grep -qF 'esc\x1b[31mred\x1b[0m\x0aline' "$BATS_TEST_TMPDIR/prompt"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/prompt")" -le 1 ]
  timeout 10 ws-list >"$BATS_TEST_TMPDIR/list"
  run ! grep -q $'\e' "$BATS_TEST_TMPDIR/list"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/list")" -eq 2 ]
  grep -qF 'esc\x1b[31mred\x1b[0m\x0aline' "$BATS_TEST_TMPDIR/list"
  # The process-free prompt renders _ws_name, which ws-export's shell output sets.
  code=$(timeout 10 ws-export bash --pid $$ 2>/dev/null)
  eval "$code"
  [ "$_ws_name" = 'esc\x1b[31mred\x1b[0m\x0aline' ]
  [ "$WS_ROOT" = "$dir" ]
}

# ----------------------------------------------- (1, 10) one big value ----

@test "(1, 10) a 1 MiB value fails alone with one message naming it and the limit; SMALL=ok and a 100 KB value load" {
  write_workspace "$W/big" <<'WS' 2>/dev/null
export MID=$(head -c 100000 /dev/zero | tr '\0' y)
export BIG=$(head -c 1048576 /dev/zero | tr '\0' x)
export SMALL=ok
WS
  cd "$W/big"
  run --separate-stderr timeout 20 ws-export json --pid $$
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.SMALL <<<"$output")" = ok ]
  [ "$(jq -r '.set.MID | length' <<<"$output")" -eq 100000 ]
  [ "$(jq -r '.set | has("BIG")' <<<"$output")" = false ]
  [ "$(grep -c 'BIG is not exported' <<<"$stderr")" -eq 1 ]
  [[ $stderr == *"over the 131072-byte limit"*"MAX_ARG_STRLEN"* ]]
  # The same in a shell: the rest loads.
  code=$(timeout 20 ws-export bash --pid $$ 2>/dev/null)
  eval "$code"
  [ "$SMALL" = ok ]
  [ "${#MID}" -eq 100000 ]
  [ -z "${BIG+x}" ]
}

# ----------------------------------------- (2) a newline in the project path ----

@test "(2) a project directory whose name holds a newline (or a backslash and a newline) loads in bash, zsh, fish and JSON" {
  for name in $'nl\nname' $'bs\\\nname'; do
    dir="$W/$name"
    write_workspace "$dir" 'export ROOTVAR=ok' 2>/dev/null
    cd "$dir"
    [ "$(timeout 20 ws-export json --pid $$ 2>/dev/null | jq -r .set.ROOTVAR)" = ok ]
    cd "$W"
    run timeout 20 bash --norc --noprofile -ic 'eval "$(ws-export hook bash)"; cd "$1" && _ws_hook; cd / && _ws_hook; cd "$1" && _ws_hook; echo "ROOTVAR=${ROOTVAR-unset} ROOT=$WS_ROOT"' _ "$dir"
    [[ $output == *"ROOTVAR=ok ROOT=$dir"* ]] || { echo "bash: $output" >&2; false; }
    run timeout 20 zsh -f -ic 'eval "$(ws-export hook zsh)"; h() { local f; for f in $precmd_functions; do $f; done; }; cd "$1" && h; cd / && h; cd "$1" && h; print -r -- "ROOTVAR=${ROOTVAR-unset} ROOT=$WS_ROOT"' _ "$dir"
    [[ $output == *"ROOTVAR=ok ROOT=$dir"* ]] || { echo "zsh: $output" >&2; false; }
    run timeout 20 fish --no-config -ic 'ws-export hook fish | source; cd $argv[1]; and emit fish_prompt; cd /; and emit fish_prompt; cd $argv[1]; and emit fish_prompt; printf "ROOTVAR=%s ROOT=%s\n" $ROOTVAR $WS_ROOT' "$dir"
    [[ $output == *"ROOTVAR=ok ROOT=$dir"* ]] || { echo "fish: $output" >&2; false; }
  done
}

# ------------------------------------------------- (11) the hook's fast path ----

# Enter, leave, stop the reaper (by its PID) and remove reaper.pid, re-enter: the cached entry runs.
BODY='cd "$1" && h; cd / && h; for i in {1..200}; do [ -s "$2/reaper.pid" ] && break; sleep 0.05; done; read -r pid _ <"$2/reaper.pid"; kill "$pid"; while [ -e "/proc/$pid" ]; do sleep 0.05; done; rm -f "$2/reaper.pid"; cd "$1" && h; echo "FOO=$FOO"'

@test "(11) re-entering a cached context while reaper.pid is missing prints no raw shell error (bash, zsh, fish)" {
  write_workspace "$W/proj" 'export FOO=bar' 2>/dev/null
  for shell in bash zsh; do
    case $shell in
      bash) run --separate-stderr timeout 20 bash --norc --noprofile -c 'eval "$(ws-export hook bash)"; h() { _ws_hook; }; '"$BODY" _ "$W/proj" "$home" ;;
      zsh) run --separate-stderr timeout 20 zsh -f -c 'eval "$(ws-export hook zsh)"; h() { local f; for f in $precmd_functions; do $f; done; }; '"$BODY" _ "$W/proj" "$home" ;;
    esac
    [[ $output == *"FOO=bar"* ]] || { echo "$shell: $output $stderr" >&2; false; }
    [[ $stderr != *"reaper.pid"* && $stderr != *"No such file"* ]] || { echo "$shell: $stderr" >&2; false; }
  done
  # fish: the same steps (its cd runs the hook itself, on PWD).
  run --separate-stderr timeout 20 fish --no-config -c '
    ws-export hook fish | source
    set -l home $argv[2]
    cd $argv[1]; _ws_hook; cd /; _ws_hook
    for i in (seq 200); test -s $home/reaper.pid; and break; sleep 0.05; end
    read -l pid rest <$home/reaper.pid
    kill $pid
    while test -e /proc/$pid; sleep 0.05; end
    rm -f $home/reaper.pid
    cd $argv[1]; _ws_hook
    echo "FOO=$FOO"' "$W/proj" "$home"
  [[ $output == *"FOO=bar"* ]] || { echo "fish: $output $stderr" >&2; false; }
  [[ $stderr != *"reaper.pid"* && $stderr != *"No such file"* && $stderr != *"redirect"* ]] || { echo "fish: $stderr" >&2; false; }
}

# --------------------------- (4) a symlinked workspace file, its own approval ----

# link_to_allowed — $W/B/.workspace allowed (exports FROM=B), $W/A/.workspace a symlink to it.
link_to_allowed() {
  write_workspace "$W/B" 'export FROM=B' 2>/dev/null
  ws-allow "$W/B" 2>/dev/null
  mkdir -p "$W/A"
  ln -s "$W/B/.workspace" "$W/A/.workspace"
}
from_in() { (cd "$1" && timeout 20 ws-export json --pid $$ 2>"$ERR") | jq -r '.set.FROM // "unset"'; }

@test "(4) a workspace file that is a symlink to an allowed one is blocked until its own path is allowed" {
  link_to_allowed
  [ "$(from_in "$W/A")" = unset ]
  grep -qxF "ws: $W/A/.workspace is blocked. Run 'ws-allow' to approve its content." "$ERR"
  run --separate-stderr -77 ws-exec "$W/A" -- touch "$BATS_TEST_TMPDIR/ran"
  [[ $stderr == *"$W/A/.workspace is blocked"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/ran" ]
  # B itself still loads; allowing B again does not approve A.
  [ "$(from_in "$W/B")" = B ]
  ws-allow "$W/B" 2>/dev/null
  [ "$(from_in "$W/A")" = unset ]
  # ws-allow A approves the link's own path, with the content it points to.
  run --separate-stderr ws-allow "$W/A"
  [ "$status" -eq 0 ]
  [ "$stderr" = "ws-allow: allowed $W/A/.workspace" ]
  [ "$(from_in "$W/A")" = B ]
  run --separate-stderr ws-exec "$W/A" -- sh -c 'echo "$FROM"'
  [ "$status" -eq 0 ]
  [ "$output" = B ]
  timeout 10 ws-allow --list --json | jq -e --arg a "$W/A/.workspace" --arg b "$W/B/.workspace" \
    '(map(select(.path == $a and .status == "allowed")) | length) == 1 and (map(select(.path == $b and .status == "allowed")) | length) == 1' >/dev/null
}

@test "(4) retargeting an allowed symlinked workspace file to other content blocks it again; ws-deny on the link leaves the target allowed" {
  link_to_allowed
  ws-allow "$W/A" 2>/dev/null
  [ "$(from_in "$W/A")" = B ]
  write_workspace "$W/C" 'export FROM=C' 2>/dev/null
  ws-allow "$W/C" 2>/dev/null
  ln -sfn "$W/C/.workspace" "$W/A/.workspace"
  [ "$(from_in "$W/A")" = unset ]
  grep -qxF "ws: $W/A/.workspace is blocked. Run 'ws-allow' to approve its content." "$ERR"
  # Back to B's content: allowed again. ws-deny A blocks A only.
  ln -sfn "$W/B/.workspace" "$W/A/.workspace"
  [ "$(from_in "$W/A")" = B ]
  ws-deny "$W/A" 2>/dev/null
  [ "$(from_in "$W/A")" = unset ]
  [ "$(from_in "$W/B")" = B ]
}

@test "(4) a symlink to a file in WS_TRUSTED_DIRS is not trusted from outside; a linked directory still is" {
  write_workspace "$W/trusted/proj" 'export FROM=T' 2>/dev/null
  rm -f "$home"/allow/*
  export WS_TRUSTED_DIRS="$W/trusted"
  [ "$(from_in "$W/trusted/proj")" = T ]
  mkdir -p "$W/A"
  ln -s "$W/trusted/proj/.workspace" "$W/A/.workspace"
  [ "$(from_in "$W/A")" = unset ]
  ln -s "$W/trusted/proj" "$W/dirlink"
  [ "$(from_in "$W/dirlink")" = T ]
}

# ------------------------------------ (5) a state home that is a symlink ----

# linked_home — the state home a symlink to $BATS_TEST_TMPDIR/disk/ws (0700, ours), as on another disk.
linked_home() {
  mkdir -p -m 0700 "$BATS_TEST_TMPDIR/disk/ws"
  chmod 0700 "$BATS_TEST_TMPDIR/disk/ws"
  rm -rf "$home"
  ln -s "$BATS_TEST_TMPDIR/disk/ws" "$home"
}

@test "(5) a state home that is a symlink to the user's own 0700 directory is used: the project loads, the state lands in the target" {
  linked_home
  write_workspace "$W/proj" 'export FOO=bar' 2>"$ERR"
  cd "$W/proj"
  run --separate-stderr timeout 20 ws-export json --pid $$
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.FOO <<<"$output")" = bar ]
  [ -L "$home" ]
  [ -f "$BATS_TEST_TMPDIR/disk/ws/VERSION" ]
  compgen -G "$BATS_TEST_TMPDIR/disk/ws/allow/*" >/dev/null
  compgen -G "$BATS_TEST_TMPDIR/disk/ws/contexts/proj-*/context.json" >/dev/null
  run --separate-stderr timeout 10 ws-list --json
  [ "$status" -eq 0 ]
  [ "$(jq -r '.contexts[0].root' <<<"$output")" = "$W/proj" ]
}

@test "(5) a state home symlink to an unsafe target (writable by others, another owner, not a directory, dangling) is refused with one line, exit 77" {
  linked_home
  mkdir -p "$W/proj" && echo 'export FOO=bar' >"$W/proj/.workspace"
  cd "$W/proj"
  target="$BATS_TEST_TMPDIR/disk/ws"
  check() {
    run --separate-stderr -77 timeout 10 ws-allow "$W/proj"
    [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ] || { echo "$1: $stderr" >&2; return 1; }
    [[ $stderr == "ws-allow: state home $home"*"$2"* ]] || { echo "$1: $stderr" >&2; return 1; }
    run --separate-stderr -77 timeout 10 ws-export json --pid $$
    [[ $stderr == *"state home $home"*"$2"* && $stderr != *'    at '* ]] || { echo "$1: $stderr" >&2; return 1; }
  }
  chmod 0777 "$target"
  check 'mode 0777' "(a symlink to $target) is writable by others (mode 0777)"
  chmod 0720 "$target"
  check 'mode 0720' 'is writable by others (mode 0720)'
  chmod 0700 "$target"
  chown nobody "$target"
  check 'owned by nobody' "is owned by uid $(id -u nobody), not by you"
  chown "$(id -u)" "$target"
  rm -rf "$target" && echo file >"$target"
  check 'a file' 'is not a directory'
  rm "$target"
  check 'dangling' "is a symlink to nothing ($target)"
  # Nothing was written anywhere on the way.
  [ ! -e "$target" ]
  [ "$(ls -A "$BATS_TEST_TMPDIR/disk")" = "" ]
}

# ----------------------- (6) symlinks planted inside the state home ----

# snapshot DIR — every entry of DIR with its type, size and checksum: equal before and after means nothing was written there.
snapshot() {
  (cd "$1" && find . -printf '%p %y %s\n' | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort)
}

# planted REL — replaces $home/REL (a directory or file of the state home) by a
# symlink to $OUT, an outside directory holding one file; then every command
# finishes with no crash, no stack trace and at most one-line messages, and
# nothing in $OUT changes.
planted() {
  local rel=$1 cmd rc before
  OUT="$BATS_TEST_TMPDIR/outside-$RANDOM"
  mkdir -p "$OUT" && echo 'outside, never written' >"$OUT/keep"
  before=$(snapshot "$OUT")
  rm -rf "${home:?}/$rel"
  ln -s "$OUT" "$home/$rel"
  for cmd in "ws-export json --pid $$" "allocate_port --key web" ws-prompt ws-list "ws-allow $W/proj" "ws-export json --pid $$" ws-gc; do
    rc=0
    (cd "$W/proj" && timeout 20 $cmd) >"$BATS_TEST_TMPDIR/out" 2>"$ERR" || rc=$?
    if ((rc != 0)) && ! [[ $cmd == ws-prompt && $rc == 1 ]]; then
      echo "$rel as a link: '$cmd' exited $rc: $(cat "$ERR")" >&2
      return 1
    fi
    if grep -q 'internal error\|    at \|Error:' "$ERR"; then
      echo "$rel as a link: '$cmd': $(cat "$ERR")" >&2
      return 1
    fi
  done
  [ "$(snapshot "$OUT")" = "$before" ] || { echo "$rel as a link: written outside: $(snapshot "$OUT")" >&2; return 1; }
}

@test "(6) ports/ planted as a symlink to an outside directory: nothing written there, allocate_port still works" {
  loaded_project
  (cd "$W/proj" && timeout 20 allocate_port --key web) >/dev/null
  planted ports
  [ ! -L "$home/ports" ]
  [ -d "$home/ports" ]
  compgen -G "$home/ports/tcp-*" >/dev/null
}

@test "(6) contexts/<id>/ planted as a symlink: nothing written outside, the context is rebuilt in place" {
  loaded_project
  planted "contexts/${ctx##*/}"
  [ ! -L "$ctx" ]
  [ -f "$ctx/context.json" ]
  [ "$(timeout 20 ws-export json --pid $$ | jq -r .set.FOO)" = bar ]
}

@test "(6) contexts/<id>/users/ and cache/ planted as symlinks: nothing written outside" {
  loaded_project
  planted "contexts/${ctx##*/}/users"
  [ ! -L "$ctx/users" ]
  [ -f "$ctx/users/$$" ]
  planted "contexts/${ctx##*/}/cache"
  [ ! -L "$ctx/cache" ]
}

@test "(6) allow/, unload/ and data/ planted as symlinks: nothing written outside, no approval read from outside" {
  loaded_project
  cp "$home"/allow/* "$BATS_TEST_TMPDIR/record"
  planted allow
  [ ! -L "$home/allow" ]
  planted "contexts/${ctx##*/}/unload"
  planted "contexts/${ctx##*/}/data"
  # A copy of the approval in the outside directory approves nothing.
  rm -rf "$home/allow" "$OUT"/* && cp "$BATS_TEST_TMPDIR/record" "$OUT/" && ln -s "$OUT" "$home/allow"
  cd "$W/proj"
  [ "$(timeout 20 ws-export json --pid $$ 2>"$ERR" | jq -r '.set.FOO // "unset"')" = unset ]
  grep -q 'is blocked' "$ERR"
}

@test "(6) events.jsonl planted as a symlink to an outside file: nothing appended there, the log starts again in place" {
  loaded_project
  echo 'outside, never written' >"$BATS_TEST_TMPDIR/outside"
  rm -f "$home/events.jsonl"
  ln -s "$BATS_TEST_TMPDIR/outside" "$home/events.jsonl"
  run --separate-stderr timeout 20 ws-allow "$W/proj"
  [ "$status" -eq 0 ]
  [[ $stderr == *"events.jsonl is a symlink (corrupt state)"* ]]
  [ "$(cat "$BATS_TEST_TMPDIR/outside")" = 'outside, never written' ]
  [ ! -L "$home/events.jsonl" ]
  jq -s -e 'any(.[]; .type == "allow")' "$home/events.jsonl" >/dev/null
}

@test "(6) the reaper's watcher never writes through its mark files, its log or reaper.gone planted as symlinks" {
  loaded_project
  for f in reaper.mark.0 reaper.mark.1 reaper.log reaper.poke reaper.gone; do
    echo "outside $f" >"$BATS_TEST_TMPDIR/outside-$f"
    rm -f "$home/$f"
    ln -s "$BATS_TEST_TMPDIR/outside-$f" "$home/$f"
  done
  start_user
  add_user "$(ctx_dir "$W/proj")" "$user"
  ws-reaper 2>/dev/null
  wait_until 'reaper_pid >/dev/null' 10
  # Mark 0 at its start, mark 1 at its first look at the directories (a few seconds).
  wait_until '[[ -f $home/reaper.mark.0 && ! -L $home/reaper.mark.0 ]]' 10
  wait_until '[[ -f $home/reaper.mark.1 && ! -L $home/reaper.mark.1 ]]' 20
  for f in reaper.mark.0 reaper.mark.1 reaper.log reaper.poke reaper.gone; do
    [ "$(cat "$BATS_TEST_TMPDIR/outside-$f")" = "outside $f" ]
  done
}

@test "(6) the cached entry of bash and zsh never writes through a planted users/ or events.jsonl link" {
  write_workspace "$W/proj" 'export FOO=bar' 2>/dev/null
  OUT="$BATS_TEST_TMPDIR/outside"
  mkdir -p "$OUT" && echo keep >"$OUT/keep" && echo keep >"$BATS_TEST_TMPDIR/outside-log"
  before=$(snapshot "$OUT")
  # Enter, leave, plant the links (the reaper may remove users/ meanwhile: planted again right before re-entry), re-enter.
  body='cd "$1" && h; cd / && h; u=$(echo "$2"/contexts/proj-*/users); rm -rf "$u" && ln -s "$3" "$u"; rm -f "$2/events.jsonl" && ln -s "$4" "$2/events.jsonl"; cd "$1" && h; echo "FOO=$FOO"'
  for shell in bash zsh; do
    case $shell in
      bash) run --separate-stderr timeout 30 bash --norc --noprofile -c 'eval "$(ws-export hook bash)"; h() { _ws_hook; }; '"$body" _ "$W/proj" "$home" "$OUT" "$BATS_TEST_TMPDIR/outside-log" ;;
      zsh) run --separate-stderr timeout 30 zsh -f -c 'eval "$(ws-export hook zsh)"; h() { local f; for f in $precmd_functions; do $f; done; }; '"$body" _ "$W/proj" "$home" "$OUT" "$BATS_TEST_TMPDIR/outside-log" ;;
    esac
    [[ $output == *"FOO=bar"* ]] || { echo "$shell: $output $stderr" >&2; false; }
    [[ $stderr != *'    at '* ]]
    [ "$(snapshot "$OUT")" = "$before" ] || { echo "$shell: written into users/ outside: $(snapshot "$OUT")" >&2; false; }
    [ "$(cat "$BATS_TEST_TMPDIR/outside-log")" = keep ] || { echo "$shell: appended to events outside" >&2; false; }
  done
}

# An edit of the same size whose mtime is restored (touch -r), at the prompt (fast path) and on re-entry (cached entry).
SAME_SIZE='cd "$1" && h; echo "in FOO=${FOO-unset}"; touch -r .workspace "$2"; printf "export FOO=baz\n" >.workspace; touch -r "$2" .workspace; h; echo "prompt FOO=${FOO-unset}"; cd / && h; printf "export FOO=bar\n" >"$1/.workspace"; touch -r "$2" "$1/.workspace"; cd "$1" && h; cd / && h; printf "export FOO=baz\n" >"$1/.workspace"; touch -r "$2" "$1/.workspace"; cd "$1" && h; echo "re-entry FOO=${FOO-unset} c=${_ws_c-none}"'

@test "(11) a same-size edit whose mtime was restored (touch -r) is seen at the next prompt and on re-entry, in bash and zsh" {
  for shell in bash zsh; do
    write_workspace "$W/proj" 'export FOO=bar' 2>/dev/null
    touch "$BATS_TEST_TMPDIR/ref"
    case $shell in
      bash) run --separate-stderr timeout 30 bash --norc --noprofile -c 'eval "$(ws-export hook bash)"; h() { _ws_hook; }; '"$SAME_SIZE" _ "$W/proj" "$BATS_TEST_TMPDIR/ref" ;;
      zsh) run --separate-stderr timeout 30 zsh -f -c 'eval "$(ws-export hook zsh)"; h() { local f; for f in $precmd_functions; do $f; done; }; '"$SAME_SIZE" _ "$W/proj" "$BATS_TEST_TMPDIR/ref" ;;
    esac
    [[ $output == *"in FOO=bar"* ]] || { echo "$shell: $output $stderr" >&2; false; }
    [[ $output == *"prompt FOO=unset"* ]] || { echo "$shell: the prompt kept the old environment: $output" >&2; false; }
    [[ $output == *"re-entry FOO=unset c=none"* ]] || { echo "$shell: the re-entry kept the old environment: $output" >&2; false; }
    [ "$(grep -c "$W/proj/.workspace is blocked" <<<"$stderr")" -ge 2 ]
  done
}

# The same in fish (its hook compares the content in _ws_content_ok).
SAME_SIZE_FISH='set p $argv[1]; set r $argv[2]; function foo; set -q FOO; and echo $FOO; or echo unset; end
cd $p; and h; echo "in FOO="(foo); touch -r .workspace $r; printf "export FOO=baz\n" >.workspace; touch -r $r .workspace; h; echo "prompt FOO="(foo)
cd /; and h; printf "export FOO=bar\n" >$p/.workspace; touch -r $r $p/.workspace; cd $p; and h; echo "back FOO="(foo); cd /; and h
printf "export FOO=baz\n" >$p/.workspace; touch -r $r $p/.workspace; cd $p; and h; echo "re-entry FOO="(foo)" c="(set -q _ws_c; and echo set; or echo none)'

@test "(11) a same-size edit whose mtime was restored (touch -r) is seen at the next prompt and on re-entry, in fish" {
  write_workspace "$W/proj" 'export FOO=bar' 2>/dev/null
  touch "$BATS_TEST_TMPDIR/ref"
  run --separate-stderr timeout 30 fish --no-config -c 'ws-export hook fish | source; function h; _ws_hook; end; '"$SAME_SIZE_FISH" "$W/proj" "$BATS_TEST_TMPDIR/ref"
  [[ $output == *"in FOO=bar"* ]] || { echo "fish: $output $stderr" >&2; false; }
  [[ $output == *"prompt FOO=unset"* ]] || { echo "fish: the prompt kept the old environment: $output" >&2; false; }
  [[ $output == *"back FOO=bar"* ]] || { echo "fish: the approved content back did not load: $output $stderr" >&2; false; }
  [[ $output == *"re-entry FOO=unset c=none"* ]] || { echo "fish: the re-entry kept the old environment: $output" >&2; false; }
  [ "$(grep -c "$W/proj/.workspace is blocked" <<<"$stderr")" -ge 2 ]
}

# -------------------------------------- (12) values that are not UTF-8 ----

# hex_of VAR — the bytes of $VAR in the tmux shell, as `ff fe`.
hex_of() {
  run tmux_run "printf %s \"\$$1\" | od -An -tx1"
  [ "$status" -eq 0 ]
  echo $output
}

@test "(12) values that are not UTF-8 keep their bytes in bash, zsh and fish; leaving restores a base value that held such bytes" {
  write_workspace "$W/bytes" <<'WS' 2>/dev/null
export FFFE=$'\xff\xfe' LATIN=$'caf\xe9' LONE=$'a\x80b' UTF='é✓😀' BASEV=inside
export COPY=$ORIG
WS
  local shell rc want
  declare -A want=([FFFE]='ff fe' [LATIN]='63 61 66 e9' [LONE]='61 80 62' [UTF]='c3 a9 e2 9c 93 f0 9f 98 80' [COPY]='6f c3 28 6b' [BASEV]='69 6e 73 69 64 65')
  for shell in bash zsh fish; do
    # The shell's own variables, set before the hook: ORIG reaches the build, BASEV is changed by it.
    case $shell in
      fish) rc='set -gx ORIG o\Xc3\(k; set -gx BASEV base\Xfa\X80' ;;
      *) rc="export ORIG=\$'o\\xc3(k' BASEV=\$'base\\xfa\\x80'" ;;
    esac
    tmux_start -n "$shell" "$shell" "$rc"
    [ "$(hex_of BASEV)" = '62 61 73 65 fa 80' ]
    for pass in enter re-enter; do
      tmux_run "cd $(q "$W/bytes")"
      for var in "${!want[@]}"; do
        [ "$(hex_of "$var")" = "${want[$var]}" ] || { echo "$shell ($pass): $var is $(hex_of "$var"), not ${want[$var]}" >&2; false; }
      done
      tmux_run 'cd /'
      [ "$(hex_of BASEV)" = '62 61 73 65 fa 80' ] || { echo "$shell ($pass): BASEV after leaving is $(hex_of BASEV)" >&2; false; }
      [ -z "$(hex_of LATIN)" ]
    done
    tmux_stop
  done
  # JSON cannot hold them: U+FFFD, a warning naming each variable; still valid JSON.
  cd "$W/bytes"
  run --separate-stderr timeout 20 ws-export json --pid $$
  [ "$status" -eq 0 ]
  [ "$(jq -r .set.LATIN <<<"$output")" = $'caf\xef\xbf\xbd' ]
  [ "$(jq -r .set.UTF <<<"$output")" = 'é✓😀' ]
  [[ $stderr == *'LATIN holds bytes that are not UTF-8'* && $stderr == *'FFFE holds bytes'* ]]
  [[ $stderr != *'UTF holds'* ]]
  # --bytes (what ws-exec reads): each such byte as the escape \udcNN, no warning; only with json.
  run --separate-stderr timeout 20 ws-export json --bytes --pid $$
  [ "$status" -eq 0 ]
  [[ $output == *'"LATIN":"caf\udce9"'* && $output == *'"FFFE":"\udcff\udcfe"'* ]]
  [[ $stderr != *'holds bytes'* ]]
  run --separate-stderr -64 ws-export bash --bytes
  [ "$stderr" = 'ws-export: --bytes goes with json' ]
}

@test "(12) ws exec's command, an on_unload hook and a service get values that are not UTF-8 with their exact bytes" {
  local out="$BATS_TEST_TMPDIR/bytes"
  # The private files that carry such values land here, so the test sees that none is left.
  export TMPDIR="$BATS_TEST_TMPDIR/tmp"
  mkdir -p "$out" "$TMPDIR" "$W/raw"
  # od_of VAR... — the bytes of each, one line each, into the file $OUT (via a temporary, whole or not at all).
  cat >"$W/raw/od-of.sh" <<'SH'
#!/bin/sh
to=$1
shift
for v in "$@"; do eval "printf %s \"\$$v\"" | od -An -tx1; done >"$to.tmp" && mv "$to.tmp" "$to"
SH
  chmod +x "$W/raw/od-of.sh"
  write_workspace "$W/raw" <<WS 2>/dev/null
export LATIN=\$'caf\\xe9' FFFE=\$'\\xff\\xfe' UTF='é✓'
on_unload -- ./od-of.sh $(q "$out/hook") LATIN FFFE UTF
service bytes -- sh -c './od-of.sh "\$1" LATIN FFFE UTF; exec sleep 1000' sh $(q "$out/service")
WS
  local want='63 61 66 e9 ff fe c3 a9 e2 9c 93'
  run --separate-stderr ws-exec "$W/raw" -- sh -c 'for v in LATIN FFFE UTF; do eval "printf %s \"\$$v\"" | od -An -tx1; done'
  [ "$status" -eq 0 ]
  [ "$(echo $output)" = "$want" ]
  # A value of the caller's own environment with such bytes reaches CMD too, through ws-shell -- CMD and ws exec.
  run --separate-stderr env BASE=$'x\xfa' ws-shell "$W/raw" -- sh -c 'printf %s "$BASE" | od -An -tx1; printf %s "$LATIN" | od -An -tx1'
  [ "$status" -eq 0 ]
  [ "$(echo $output)" = '78 fa 63 61 66 e9' ]
  # Through the bash that carries them, CMD is still what ws exec runs: its status, a command not found, SIGTERM.
  run -3 ws-exec "$W/raw" -- sh -c 'exit 3'
  run --separate-stderr -127 ws-exec "$W/raw" -- no-such-command-ws
  [ "${stderr_lines[-1]}" = 'ws-exec: no-such-command-ws: command not found' ]
  ws-exec "$W/raw" -- sh -c 'trap "exit 7" TERM; echo $$ >"$1/child"; while :; do sleep 0.05; done' sh "$out" >/dev/null 2>&1 &
  local exec_pid=$! rc=0
  track_pid "$exec_pid"
  wait_until '[ -s "$out/child" ]'
  track_pid "$(cat "$out/child")"
  kill -TERM "$exec_pid"
  wait "$exec_pid" || rc=$?
  [ "$rc" -eq 7 ]
  # The service, started by the build, has them too.
  wait_until '[ -f "$out/service" ]' 20
  [ "$(echo $(cat "$out/service"))" = "$want" ]
  # ws-exec was the only user: the context unloads, the hook runs with the loaded environment.
  wait_until '[ -f "$out/hook" ]' 30
  [ "$(echo $(cat "$out/hook"))" = "$want" ]
  # Every value file was removed by the bash that read it.
  wait_until '[ -z "$(ls -A "$TMPDIR")" ]'
}
