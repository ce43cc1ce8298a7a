# ws: the reaper's watcher (docs/unload.md, "The watcher")
## Run by ensureReaper (reaper.ts) as
##   bash --noprofile --norc -c "$THIS" ws-reaper NODE REAPER_BIN IDLE_SECONDS
## with WS_STATE_HOME set. It is what stays resident: it holds reaper.pid,
## watches every user with builtins only (no process per tick), and starts
## the Node reaper (`ws-reaper --worker`) only when there is work: a dead or
## departed user, a context that lost its users, an unfinished unload, a
## line on reaper.wake. The worker does the work and exits when idle again.
## Lines starting with ## are dropped. Lint: scripts/lint-shell.sh.
# shellcheck shell=bash
umask 077
home=${WS_STATE_HOME:?} node=${1:?} bin=${2:?} idle=${3:-60}
[[ $idle =~ ^[0-9]+$ ]] || idle=60
lock=$home/reaper.pid wake=$home/reaper.wake log=$home/reaper.log
# Seconds between ticks; every tick checks each user's PID (kill -0: no
# file opened), so a death is seen within 0.8 s (SPEC: 1 s); every DIRS
# ticks (4.8 s) the directories' mtimes; every FULL ticks (2 minutes) every
# record and every start time: a PID recycled between two ticks, a zombie, a
# departure whose writer could not wake us. With 300 users (CPU on a loaded
# VM, docs/unload.md): a tick ~1.1 ms (0.15 ms of it waking up at all, 0.75
# ms the kill -0), a directory look ~2.7 ms, a full look ~80 ms (loaded).
tick=0.8 dirs=6 full=150
# Tests only: no periodic looks, so that what the tick alone notices is
# tested apart from what a look would find (ws-reaper.bats).
[[ -z ${_WS_TEST_REAPER_TICK_ONLY-} ]] || dirs=1000000 full=1000000

# A symlink where we write a state file is corrupt state: the link goes, never
# its target (docs/reliability.md "Symlinks"). A builtin test, and rm only then.
unlink_planted() {
  [[ ! -L $1 ]] || rm -f -- "$1"
}

note() {
  local t
  TZ=UTC printf -v t '%(%Y-%m-%dT%H:%M:%S)T' -1
  unlink_planted "$log"
  printf '[%s.%sZ] watcher: %s\n' "$t" "${EPOCHREALTIME:11:3}" "$1" >>"$log"
}

# The start time (field 22 of /proc/PID/stat) of a live, non-zombie PID, in $st.
# read -a splits in one builtin (a pattern on the line costs 3 times more);
# a command name with a space in it shifts the fields: then split after its ')'.
# The caller silences it (2>/dev/null once around many: an open each).
start_of() {
  local f line
  st=''
  read -r -a f <"/proc/$1/stat" || return 1
  if [[ ${f[1]} != *')' || ${f[2]} == *')'* ]]; then
    read -r line <"/proc/$1/stat" || return 1
    line=${line##*') '}
    # shellcheck disable=SC2206 # split on purpose: numbers and a state letter after the command name
    f=(pid comm $line)
  fi
  [[ ${f[2]} != Z ]] && st=${f[21]}
}

start_of $$ 2>/dev/null || exit 70
me="$$ $st"
# reaper.pid is our lock: created with O_EXCL (noclobber), written in one write.
# A stale one is moved aside by whoever starts us (ensureReaper).
set -C
{ printf '%s\n' "$me" >"$lock"; } 2>/dev/null || exit 0
set +C
release() {
  local line
  { read -r line <"$lock"; } 2>/dev/null && [[ $line == "$me" ]] && rm -f -- "$lock"
}

# reaper.wake: a FIFO any process may write a line to (opened read-write, so a
# writer never blocks); every line means "look now". Made under a temporary
# name and renamed into place, so no one ever opens a half-made one.
if [[ ! -p $wake || -L $wake || ! -O $wake ]]; then
  rm -f -- "$wake.tmp.$$"
  if ! mkfifo -m 600 -- "$wake.tmp.$$" || ! mv -fT -- "$wake.tmp.$$" "$wake"; then
    rm -f -- "$wake.tmp.$$"
    note "cannot make $wake; exiting"
    release
    exit 73
  fi
fi
exec 3<>"$wake"
# reaper.gone: what kill -0 says of the PIDs it could not signal (its exit
# status is 0 if it signalled any one of them). Opened once (and again after
# it said something): a tick where every PID is there writes nothing. Read
# through /dev/fd/4, so a removed or replaced file changes nothing. If it
# cannot be opened (a full disk), every tick looks at /proc/PID instead.
gone=$home/reaper.gone gone_ok=''
open_gone() {
  unlink_planted "$gone"
  { exec 4>"$gone"; } 2>/dev/null && gone_ok=1
}
open_gone
marks=("$home/reaper.mark.0" "$home/reaper.mark.1") m=0
unlink_planted "${marks[0]}"
: >"${marks[0]}"

declare -A users=() sig=() odd=() ok=() okp=()
verify='' events_new='' events_seen=''

line='' live=() kills='' foreign=() need=1 woke=0 quiet=0 worker='' wstart='' busy=$SECONDS stop=0 next=0
trap 'stop=1' TERM INT HUP

# (Re)reads the user records of context $1: users[$1] = its live PIDs. A dead
# or recycled PID, a departure ("left") or a record corrupt for 2 s or more
# means work: need=1. So does a context that just lost its last user.
# A line seen before whose PID had its start time then (ok) is not parsed
# again, and unless $verify (the full look) only its PID's existence counts:
# a zombie or a PID recycled since is the full look's.
read_ctx() {
  local c=$1 f line rest pid start good had=${users[$1]-} list=''
  for f in "$c"/users/*; do
    [[ $f == *.tmp.* || ! -f $f ]] && continue
    line='' good=''
    read -r -n 4096 line <"$f"
    if [[ $line && ${ok[$f]-} == "$line" ]]; then
      pid=${okp[$f]} good=1
      start=${pid#* } pid=${pid%% *}
      if [[ ! $verify ]]; then
        if [[ -e /proc/$pid ]]; then list+=" $pid"; else need=1; fi
        continue
      fi
    else
      unset 'ok[$f]' 'okp[$f]'
      # {"pid":N,"start":"S",... (JSON.stringify's order, and the cached entry's).
      rest=${line#'{"pid":'} pid=${rest%%,*} rest=${rest#*,'"start":"'} start=${rest%%'"'*}
      [[ $line == '{"pid":'* && $pid && $pid != *[!0-9]* && ${#pid} -lt 10 && $start && $start != *[!0-9]* && $line != *'"left":'* ]] && good=1
    fi
    if [[ $good ]]; then
      if start_of "$pid" && [[ $st == "$start" ]]; then
        list+=" $pid"
        ok[$f]=$line okp[$f]="$pid $start"
      else
        need=1
      fi
    elif [[ $line == *'"left":'* ]]; then
      need=1
    elif [[ ${odd[$f]-} ]]; then
      # The cached entry writes a record with one printf: give a torn one 2 s.
      ((SECONDS - odd[$f] >= 2)) && need=1
    else
      odd[$f]=$SECONDS
    fi
  done
  users[$c]=$list
  # (Not when the worker has just ended: it removed them.)
  [[ $had && ! $list ]] && ((!quiet)) && need=1
  return 0
} 2>/dev/null

# What a context asks of the worker besides its users: an unfinished unload
# (U), a grace period or an unload due without users (I). A change of it is
# work, unless the worker just saw it.
look_ctx() {
  local c=$1 s=
  [[ -e $c/unload-run ]] && s=U
  [[ ! ${users[$c]} && (-e $c/needs-unload || -e $c/idle-since) ]] && s+=I
  [[ $s && $s != "${sig[$c]-}" ]] && ((!quiet)) && need=1
  sig[$c]=$s
}

# kills: the PIDs for kill -0 as one string, split there (digits and spaces
# only): a third cheaper than expanding an array of 300.
flatten() {
  # shellcheck disable=SC2206 # PIDs only: validated digits
  live=(${users[*]}) kills=${users[*]} foreign=()
  ((${#live[@]})) && busy=$SECONDS
}

# Are all users' PIDs still there? One kill -0 over all of them: a builtin, one
# syscall per PID, a third of the cost of a [[ -e /proc/PID ]] each. Its
# complaints go to reaper.gone: any there means a PID it could not signal,
# gone (ESRCH) or another user's (EPERM). Then /proc says which; the other
# users' PIDs are checked there from then on (foreign), so a tick where all
# are alive writes nothing. Its status still counts: where a complaint could
# not be written (a full disk), all of them gone is still seen.
all_alive() {
  local p keep=''
  if [[ ! $gone_ok ]]; then
    for p in "${live[@]}"; do [[ -e /proc/$p ]] || return 1; done
    return 0
  fi
  # shellcheck disable=SC2086 # split on purpose (flatten)
  if [[ $kills ]] && { ! kill -0 $kills 2>&4 || [[ -s /dev/fd/4 ]]; }; then
    [[ -s /dev/fd/4 ]] && gone_ok='' && open_gone
    for p in $kills; do
      [[ -e /proc/$p ]] || return 1
      if kill -0 "$p" 2>/dev/null; then keep+=" $p"; else foreign+=("$p"); fi
    done
    kills=$keep
  fi
  for p in "${foreign[@]}"; do [[ -e /proc/$p ]] || return 1; done
}

full_scan() {
  local c verify=1
  users=() sig=()
  [[ $gone_ok ]] || open_gone
  # Records of users long gone: forgotten now and then (a few hundred bytes each).
  ((${#ok[@]} > 2 * ${#live[@]} + 100)) && ok=() okp=()
  for c in "$home"/contexts/*; do
    [[ -d $c ]] || continue
    read_ctx "$c"
    look_ctx "$c"
  done
  flatten
}

# Only what changed since the previous one (the mark touched then; -ot is
# false for an equal mtime, so a change in the same clock tick is seen).
dir_scan() {
  local c prev=${marks[m]} seen=0 events=0
  # The new mark first: whatever changes after it is seen at the next look.
  m=$((1 - m))
  unlink_planted "${marks[m]}"
  : >"${marks[m]}"
  # A shell that left without a process rewrote its record in place (users/
  # keeps its mtime) and appended its user.leave, and did not wake us through
  # the FIFO: a changed events.jsonl means every record is read again.
  [[ -f $home/events.jsonl && ! $home/events.jsonl -ot $prev ]] && events=1
  if [[ ! $home/contexts -ot $prev ]]; then
    for c in "$home"/contexts/*; do
      [[ -d $c && ! -v users[$c] ]] && read_ctx "$c" && look_ctx "$c" && seen=1
    done
    for c in "${!users[@]}"; do
      [[ -d $c ]] || { unset 'users[$c]' 'sig[$c]'; seen=1; }
    done
  fi
  for c in "${!users[@]}"; do
    if ((events)) || [[ ! $c/users -ot $prev || ! $c -ot $prev ]]; then
      read_ctx "$c"
      look_ctx "$c"
      seen=1
    fi
  done
  ((seen)) && flatten
  return 0
}

start_worker() {
  unlink_planted "$log"
  "$node" "$bin" --worker </dev/null >/dev/null 2>>"$log" 3>&- 4>&- &
  worker=$!
  start_of "$worker" 2>/dev/null
  wstart=$st
  busy=$SECONDS
}

# The worker ended (exited, or was killed: an unload it left is resumed by
# the next one, which the look at unload-run/ below starts).
worker_ended() {
  [[ $worker ]] || return 1
  start_of "$worker" 2>/dev/null && [[ $st == "$wstart" ]] && return 1
  wait "$worker" 2>/dev/null
  # 75: another worker holds reaper.worker (one whose watcher was killed): it does the work.
  (($? == 75)) && woke=0 next=$((SECONDS + 5))
  worker='' busy=$SECONDS
  return 0
}

# (Tests only, _WS_TEST_REAPER_TICK_ONLY: no first sweep by a worker either
# unless the first look found work: it would find what the tick should.)
[[ -z ${_WS_TEST_REAPER_TICK_ONLY-} ]] || need=0
full_scan
[[ -n ${_WS_TEST_REAPER_TICK_ONLY-} ]] || need=1
n=0
while ((!stop)); do
  if read -r -t "$tick" -u 3 line; then
    # This line and what else is there: a context directory (a user joined or
    # left it) is read again now, and is work only if read_ctx finds some;
    # any other line is work.
    while :; do
      if [[ $line == "$home"/contexts/* && ${line#"$home"/contexts/} != */* && -d $line ]]; then
        read_ctx "$line"
        look_ctx "$line"
        flatten
      else
        need=1
      fi
      read -r -t 0.01 -u 3 line || break
    done
    # Work for a running worker: it looks again at its next sweep (it watches
    # this file's mtime), and if it has ended by then, the next one does.
    [[ $worker ]] && ((need)) && woke=1 && unlink_planted "$home/reaper.poke" && : >"$home/reaper.poke"
  fi
  ((stop)) && break
  n=$((n + 1))
  if [[ $worker ]]; then
    if worker_ended; then
      # What the worker left, without calling it back for what it has seen (a
      # dead user it could not remove waits a second): the directories it
      # changed since the last look at them (every record if it emitted
      # events), and the PIDs of the others.
      quiet=1 need=0
      dir_scan
      ((need || !${#live[@]})) || all_alive || need=1
      quiet=0
      # Work found right away is work the worker could not do (a record it
      # cannot remove): wait a second or two before the next one. A wake-up
      # while it ran is new work: at once.
      ((need)) && next=$((SECONDS + 2))
      ((woke)) && need=1 woke=0
    fi
    continue
  fi
  # events.jsonl newer than the last look at the directories (two stats a tick).
  events_new=''
  [[ -f $home/events.jsonl && ! $home/events.jsonl -ot ${marks[m]} ]] && events_new=1
  if ((n % full == 0)); then
    full_scan
  elif ((n % dirs == 0)) || [[ $events_new && ! $events_seen ]]; then
    # Also at the first tick after events.jsonl changed: a shell that left
    # without a process wrote nothing to the FIFO. (Once: an mtime in the
    # future, after the clock stepped back, stays newer than every mark.)
    dir_scan
  fi
  events_seen=$events_new
  ((need || !${#live[@]})) || all_alive || need=1
  if ((need && SECONDS >= next)); then
    need=0
    start_worker
    continue
  fi
  if ((${#live[@]})); then
    busy=$SECONDS
  elif ((SECONDS - busy >= idle)); then
    # Nobody anywhere: let go of the lock, then look once more (a user who
    # registered meanwhile saw no reaper and started one, or is seen here).
    release
    full_scan
    ((${#live[@]} || need)) || exit 0
    set -C
    { printf '%s\n' "$me" >"$lock"; } 2>/dev/null || exit 0
    set +C
    busy=$SECONDS
  fi
done
# SIGTERM, SIGINT, SIGHUP: the worker finishes its sweep and unloads, then we go.
if [[ $worker ]]; then
  kill -TERM "$worker" 2>/dev/null
  wait "$worker" 2>/dev/null
fi
release
exit 0
