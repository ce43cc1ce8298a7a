# The state home as tests build and read it (docs/state-home.md), for the
# files that need it, after common-setup:
#
#   load test_helper/common-setup
#   load test_helper/state-home
#
#   state_home                 the state home: $WS_STATE_HOME, else
#                              $XDG_STATE_HOME/ws
#   context_id ROOT            contexts/<id> of a root: <basename>-<sha256[:12]>,
#                              the basename with all but [A-Za-z0-9._-] as _,
#                              at most 40 (as core's contextId; characters
#                              beyond U+FFFF would differ)
#   ctx_dir [ROOT=$proj]       that context's directory (ROOT's physical path
#                              if it exists), whether or not it exists yet
#   make_context NAME [STATE=unloaded] [DAYS_AGO=0]
#                              $BATS_TEST_TMPDIR/work/NAME with a .workspace,
#                              and its context as ws-export leaves it, built by
#                              hand (no reaper behind the test's back):
#                              context.json (created and last used DAYS_AGO
#                              days ago), users/ (with that mtime too); sets
#                              root, id, ctx
#   iso DAYS_AGO               an ISO-8601 UTC time DAYS_AGO days ago
#   start_user                 a live process (sleep 300) to be a user, tracked
#                              (track_pid); its PID in $user
#   lines_of FILE              FILE's line count, 0 if it does not exist
#   add_user CTXDIR PID        PID (with its start time) becomes a user of the
#                              context, as a registration writes it
#   add_hook CTXDIR CMD ARGS...  registers an unload hook in that context
#   reapers                    PIDs of the ws-reaper processes running for
#                              $WS_STATE_HOME (it is in their environment)

state_home() { printf '%s\n' "${WS_STATE_HOME:-$XDG_STATE_HOME/ws}"; }

context_id() {
  local base=${1##*/} slug sum
  slug=${base//[^A-Za-z0-9._-]/_}
  slug=${slug:0:40}
  sum=$(printf '%s' "$1" | sha256sum)
  printf '%s-%s\n' "${slug:-root}" "${sum:0:12}"
}

ctx_dir() {
  local root=${1:-$proj}
  [[ -d $root ]] && root=$(cd "$root" && pwd -P)
  printf '%s/contexts/%s\n' "$(state_home)" "$(context_id "$root")"
}

iso() { date -u -d "-$1 days" +%Y-%m-%dT%H:%M:%S.000Z; }

make_context() {
  local name=$1 state=${2:-unloaded} days=${3:-0}
  root="$BATS_TEST_TMPDIR/work/$name"
  mkdir -p "$root"
  printf 'export X=1\n' >"$root/.workspace"
  id=$(context_id "$root")
  ctx="$(state_home)/contexts/$id"
  mkdir -p "$ctx/users"
  printf '{"root":"%s","name":"%s","file":"%s/.workspace","state":"%s","env":"default","created":"%s","lastUsed":"%s"}\n' \
    "$root" "$name" "$root" "$state" "$(iso "$days")" "$(iso "$days")" >"$ctx/context.json"
  touch -d "-$days days" "$ctx/users"
}

start_user() {
  sleep 300 >/dev/null 2>&1 3>&- &
  user=$!
  track_pid "$user"
}

lines_of() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }

# reapers — the resident reapers of the state home (state_home): watchers
# (bash -c WATCHER ws-reaper ...), and Node reapers that hold reaper.pid
# themselves (--node, --once). workers — the Node workers (ws-reaper
# --worker) a watcher starts, which exit when idle.
reapers() { _reaper_processes resident; }
workers() { _reaper_processes worker; }
_reaper_processes() {
  local kind=$1 file pid argv
  HOME=/ grep -lzxF "WS_STATE_HOME=$(state_home)" /proc/[0-9]*/environ 2>/dev/null |
    while IFS= read -r file; do
      pid=${file#/proc/} pid=${pid%/environ}
      { mapfile -d '' -t argv <"/proc/$pid/cmdline"; } 2>/dev/null || continue
      if [[ ${argv[1]:-} =~ /ws-reaper(\.mjs)?$ ]]; then
        if [[ ${argv[2]:-} == --worker ]]; then [[ $kind == worker ]] && echo "$pid"; else [[ $kind == resident ]] && echo "$pid"; fi
      elif [[ $kind == resident && ${argv[0]:-} == bash && ${argv[3]:-} == -c && ${argv[5]:-} == ws-reaper ]]; then
        echo "$pid"
      fi
    done
}

add_user() {
  printf '{"pid":%d,"start":"%s","joined":"2026-01-01T00:00:00.000Z"}\n' "$2" "$(_wsh_starttime "$2")" >"$1/users/$2"
}

add_hook() {
  local root
  root=$(sed 's/^{"root":"\([^"]*\)".*/\1/' "$1/context.json")
  shift
  WS_ROOT="$root" ws-on-unload -- "$@"
}
