#!/usr/bin/env bats
# A full disk (issue 18, #9): the state home on a small tmpfs, filled to
# several levels with a file the test then deletes. Every command finishes
# with a one-line error, ws-export still prints a document, nothing torn is
# left behind, and once space is freed everything works again: the fresh
# environment is applied, hooks ran exactly once. docs/reliability.md, "Full disk".

load test_helper/common-setup
load test_helper/state-home

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-180}

# Free space (KiB) left on the state home at each level: nothing, a page, a few.
LEVELS=(0 4 8 12 16 24 32 64)

setup() {
  common_setup
  # The state home's parent is a 1 MiB tmpfs of its own (we are root in CI).
  mount -t tmpfs -o size=1m,mode=0700 tmpfs "$XDG_STATE_HOME" 2>"$BATS_TEST_TMPDIR/mount.err" ||
    skip "cannot mount a tmpfs for the state home: $(<"$BATS_TEST_TMPDIR/mount.err")"
  mounted=1
  home="$XDG_STATE_HOME/ws"
  FILL="$XDG_STATE_HOME/fill"
  W="$BATS_TEST_TMPDIR/work"
  ERR="$BATS_TEST_TMPDIR/ws.err"
  export LOG="$BATS_TEST_TMPDIR/hooks.log"
}

teardown() {
  common_teardown
  if [[ -n ${mounted-} ]]; then
    umount "$XDG_STATE_HOME" || umount -l "$XDG_STATE_HOME"
  fi
}

# fill_to KIB — the state home's filesystem left with KIB KiB free (0: full).
fill_to() {
  local avail
  rm -f "$FILL"
  avail=$(df --output=avail -k "$XDG_STATE_HOME" | tail -n 1)
  if (($1 == 0)); then
    dd if=/dev/zero of="$FILL" bs=4k 2>/dev/null || true
  elif ((avail > $1)); then
    dd if=/dev/zero of="$FILL" bs=1k count=$((avail - $1)) 2>/dev/null || true
  fi
}

# state_is_whole — no temp file left behind, every JSON state file parses,
# every line of events.jsonl is a JSON object.
state_is_whole() {
  local f
  f=$(find "$home" -name '*.tmp.*' -print -quit)
  [[ -z $f ]] || { echo "temp file left behind: $f" >&2; return 1; }
  while IFS= read -r -d '' f; do
    jq -e . "$f" >/dev/null 2>&1 || { echo "unparseable: $f: $(head -c 200 "$f")" >&2; return 1; }
  done < <(find "$home" -name '*.json' -type f -print0)
  if [[ -f $home/events.jsonl ]]; then
    jq -e 'type == "object"' "$home/events.jsonl" >/dev/null 2>&1 || { echo "torn events.jsonl: $(tail -c 300 "$home/events.jsonl")" >&2; return 1; }
  fi
}

# no_crash FILE — FILE (a command's stderr) has no stack trace nor internal error.
no_crash() {
  [[ $(<"$1") != *'    at '* && $(<"$1") != *'internal error'* && $(<"$1") != *'Error:'* ]] || { echo "crash: $(cat "$1")" >&2; return 1; }
}

@test "ws-export json on a full disk prints a document and one line; after space is freed the fresh environment loads, nothing is left torn" {
  write_workspace "$W/proj" 'export FOO=start' 2>/dev/null
  cd "$W/proj"
  timeout 20 ws-export json --pid $$ >/dev/null 2>&1
  local level rc out
  for level in "${LEVELS[@]}"; do
    write_workspace "$W/proj" "export FOO=v$level" 2>/dev/null
    fill_to "$level"
    rc=0
    out=$(timeout 20 ws-export json --pid $$ 2>"$ERR") || rc=$?
    ((rc == 0)) || { echo "level $level: exit $rc: $(cat "$ERR")" >&2; false; }
    no_crash "$ERR"
    # A document, with this context's environment in it (the last good one or the fresh one).
    [[ $(jq -r '.set.WS_ROOT' <<<"$out") == "$W/proj" ]] || { echo "level $level: $out / $(cat "$ERR")" >&2; false; }
    [[ $(jq -r '.set.FOO' <<<"$out") == v* || $(jq -r '.set.FOO' <<<"$out") == start ]]
    # At most one line of complaint (besides ws's usual "loading" and "export" lines).
    (($(grep -cv '^ws: \(loading\|export\) ' "$ERR") <= 1)) || { echo "level $level: $(cat "$ERR")" >&2; false; }
    rm -f "$FILL"
    rc=0
    out=$(timeout 20 ws-export json --pid $$ 2>"$ERR") || rc=$?
    ((rc == 0)) || { echo "level $level, space freed: exit $rc: $(cat "$ERR")" >&2; false; }
    [[ $(jq -r '.set.FOO' <<<"$out") == "v$level" ]] || { echo "level $level, space freed: $out / $(cat "$ERR")" >&2; false; }
    run ! grep -v '^ws: \(loading\|export\) ' "$ERR"
    state_is_whole
    for cmd in ws-prompt ws-list ws-gc; do
      timeout 20 $cmd >/dev/null 2>"$ERR" || { echo "level $level: $cmd exited $?: $(cat "$ERR")" >&2; false; }
    done
  done
}

@test "a shell on a full disk keeps its environment and applies the fresh one at the first prompt after space is freed" {
  write_workspace "$W/proj" 'export FOO=old' 2>/dev/null
  cd "$W/proj"
  eval "$(timeout 20 ws-export bash --pid $$ 2>/dev/null)"
  [ "$FOO" = old ]
  write_workspace "$W/proj" 'export FOO=new' 2>/dev/null
  fill_to 0
  local code
  code=$(timeout 20 ws-export bash --pid $$ 2>"$ERR")
  no_crash "$ERR"
  grep -q '^ws: no space left on device in the state home ' "$ERR"
  eval "$code"
  [ "$FOO" = old ]
  [[ -n $WS_DIFF ]]
  # The hook's variables say "run ws-export at the next prompt".
  run ! _ws_watch_ok
  rm -f "$FILL"
  eval "$(timeout 20 ws-export bash --pid $$ 2>"$ERR")"
  [ "$FOO" = new ]
  run ! grep -v '^ws: \(loading\|export\) ' "$ERR"
  state_is_whole
}

@test "an ENOSPC while the build writes its results is no bogus error and does not stick: the next evaluation applies the fresh environment" {
  # The workspace file itself fills the disk (once), so the driver's dump of
  # the environment and its status cannot be written.
  touch "$BATS_TEST_TMPDIR/fill-once"
  write_workspace "$W/proj" 'export FOO=fresh
if [[ -e $FLAG ]]; then rm -f "$FLAG"; dd if=/dev/zero of="$FILLFILE" bs=4k 2>/dev/null || true; fi' 2>/dev/null
  cd "$W/proj"
  export FLAG="$BATS_TEST_TMPDIR/fill-once" FILLFILE="$FILL"
  run --separate-stderr timeout 20 ws-export json --pid $$
  [ "$status" -eq 0 ]
  no_crash <(printf '%s' "$stderr")
  jq -e . <<<"$output" >/dev/null
  [[ $stderr != *'may not unset'* ]]
  [[ $stderr == *'no space left'* ]]
  [[ -e $FILL ]]
  rm -f "$FILL"
  run --separate-stderr timeout 20 ws-export json --pid $$
  [ "$status" -eq 0 ]
  [[ $(jq -r '.set.FOO' <<<"$output") == fresh ]] || { echo "$output / $stderr" >&2; false; }
  [[ $stderr != *'may not unset'* && $stderr != *'no space'* ]]
  state_is_whole
}

@test "the reaper on a full disk: no crash, the unload is retried and each hook runs exactly once when space is freed" {
  # No grace: the reaper tries the unload in the very sweep that removes the
  # dead user's record (no await in between), so once the record is gone the
  # attempt on the full disk has been made.
  export WS_UNLOAD_GRACE=0
  local level n=0 reaper ctx
  for level in 0 4 8 12 16 24; do
    n=$((n + 1))
    write_workspace "$W/p$n" "on_unload 'echo p$n >>\"\$LOG\"'" 2>/dev/null
    start_user
    (cd "$W/p$n" && timeout 20 ws-export json --pid "$user" >/dev/null 2>&1)
    ctx=$(ctx_dir "$W/p$n")
    [[ -d $ctx/users ]]
    wait_until '[[ -s $home/reaper.pid ]]' 10
    read -r reaper _ <"$home/reaper.pid"
    fill_to "$level"
    kill "$user"
    # The reaper notices the user is gone (removing a file needs no space).
    wait_until "[[ ! -e $ctx/users/$user ]]" 10
    rm -f "$FILL"
    wait_until "grep -q 'unload done' $ctx/unload.log 2>/dev/null" 20
    [ "$(grep -c "^p$n\$" "$LOG")" -eq 1 ]
    # Still the same reaper, alive: it never died on ENOSPC.
    _wsh_alive "$reaper" || { echo "level $level: the reaper died: $(cat "$home/reaper.log" 2>/dev/null)" >&2; false; }
  done
  [[ ! -e $home/reaper.log ]] || no_crash "$home/reaper.log"
  state_is_whole
  # Every hook exactly once, over all levels.
  [ "$(wc -l <"$LOG")" -eq "$n" ]
}
