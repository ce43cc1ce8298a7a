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
teardown() { common_teardown; }

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
  sleep 1.5 # a few sweeps see the stray file
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

@test "(11) re-entering a cached context while reaper.pid is missing prints no raw shell error" {
  write_workspace "$W/proj" 'export FOO=bar' 2>/dev/null
  for shell in bash zsh; do
    case $shell in
      bash) run --separate-stderr timeout 20 bash --norc --noprofile -c 'eval "$(ws-export hook bash)"; h() { _ws_hook; }; '"$BODY" _ "$W/proj" "$home" ;;
      zsh) run --separate-stderr timeout 20 zsh -f -c 'eval "$(ws-export hook zsh)"; h() { local f; for f in $precmd_functions; do $f; done; }; '"$BODY" _ "$W/proj" "$home" ;;
    esac
    [[ $output == *"FOO=bar"* ]] || { echo "$shell: $output $stderr" >&2; false; }
    [[ $stderr != *"reaper.pid"* && $stderr != *"No such file"* ]] || { echo "$shell: $stderr" >&2; false; }
  done
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
}
