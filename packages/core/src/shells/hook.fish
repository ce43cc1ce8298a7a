## The fish hook: `ws-export hook fish | source` runs this file (see docs/hook.md).
## Lines starting with ## are dropped; @WS_EXPORT@ becomes the path of the
## ws-export binary, quoted for fish by hooks.ts. Lint: scripts/lint-shell.sh.
# True when nothing relevant changed since the last export: builtins only.
function _ws_unchanged
  set -q _ws_knobs; or return 1
  test "$WS_WORKSPACE"\x1f"$WS_CEILING_DIRS"\x1f"$WS_ENVRC"\x1f"$WS_ENV" = "$_ws_knobs"; or return 1
  if test -n "$WS_WORKSPACE"
    test "$PWD" = "$_ws_pwd"; or return 1
  else
    # The nearest workspace directory, at every prompt (a file created here or above counts).
    set -l d $PWD
    set -l found ''
    while true
      # fish's break leaves one loop only: a ceiling ends the walk through a flag.
      set -l ceiling 0
      for c in $_ws_ceil
        if test "$d" = "$c"; or test "$d" -ef "$c"
          set ceiling 1
          break
        end
      end
      test $ceiling = 1; and break
      if test -f "$d/.workspace"; or begin; test "$WS_ENVRC" != 0; and test -f "$d/.envrc"; end
        set found $d
        break
      end
      test "$d" = /; and break
      set d (path dirname -- $d)
    end
    if test "$found" != "$_ws_root"
      # Leaving the context it loaded, for no context or for one whose cached
      # entry it knows: _ws_leave (the last result's _ws_revert, no process)
      # undoes the load and records the departure; it fails unless that
      # result was ready, and then ws-export does it all.
      if test -n "$_ws_root"
        if test -z "$found"; or contains -- $found $_ws_known_roots
          _ws_leave; or return 1
        else
          return 1
        end
        test -n "$found"; or return 0
      end
      # Entering from outside a context it entered before: the cached result, if still valid.
      _ws_enter_known $found; and return 0
      return 1
    end
    set -g _ws_pwd $PWD
  end
  if test -n "$_ws_valid"; and not test -e "$_ws_valid"
    return 1
  end
  set -l n (count $_ws_watch)
  set -l i 1
  while test $i -le $n
    set -l f $_ws_watch[$i]
    set -l lo $_ws_watch[(math $i + 1)]
    set -l hi $_ws_watch[(math $i + 2)]
    if test -z "$lo"
      if test -z "$hi"
        test -e "$f"; and return 1
      else
        test -e "$f"; or return 1
      end
    else
      test "$f" -nt "$lo" -a "$f" -ot "$hi"; or return 1
    end
    set i (math $i + 3)
  end
  return 0
end
# Sources the cached entry of ROOT (ws-export's cache/enter.fish) if this shell
# loaded ROOT before (the parallel lists _ws_known_roots and _ws_known_scripts,
# set by ws-export's output) and is in no context now. True if it applied it.
function _ws_enter_known
  test -n "$argv[1]"; and test -z "$WS_DIFF"; or return 1
  set -l i (contains -i -- $argv[1] $_ws_known_roots); or return 1
  test -f "$_ws_known_scripts[$i]"; or return 1
  source $_ws_known_scripts[$i]
end
# Leaves the context it loaded without a process: the revert ws-export's last
# (ready) result defined, which records the departure too; fails otherwise. A
# switch to a context with a cached entry is this, then that entry.
function _ws_leave
  functions -q _ws_revert; and _ws_revert
end
# The time now, UTC, ISO-8601 with milliseconds, with builtins only: the boot
# time (BOOT_MS, as ws-export measured it; else /proc/stat's btime, whole
# seconds) + /proc/uptime, then civil-from-days.
function _ws_utc
  set -l boot $argv[1]
  if test -z "$boot"
    while read -l k v
      if test "$k" = btime
        set boot (math --scale=0 "$v * 1000")
        break
      end
    end </proc/stat
  end
  read -l up rest </proc/uptime
  _ws_iso (math --scale=0 "$boot + floor($up * 1000)")
end
# Milliseconds since the epoch as ISO-8601 UTC (civil-from-days arithmetic).
function _ws_iso
  set -l ms $argv[1]
  set -l t (math --scale=0 "floor($ms / 1000)")
  set -l z (math --scale=0 "floor($t / 86400) + 719468")
  set -l era (math --scale=0 "floor($z / 146097)")
  set -l doe (math --scale=0 "$z - $era * 146097")
  set -l yoe (math --scale=0 "floor(($doe - floor($doe / 1460) + floor($doe / 36524) - floor($doe / 146096)) / 365)")
  set -l doy (math --scale=0 "$doe - (365 * $yoe + floor($yoe / 4) - floor($yoe / 100))")
  set -l mp (math --scale=0 "floor((5 * $doy + 2) / 153)")
  set -l d (math --scale=0 "$doy - floor((153 * $mp + 2) / 5) + 1")
  set -l m (math --scale=0 "$mp + 3")
  test $mp -lt 10; or set m (math --scale=0 "$mp - 9")
  set -l y (math --scale=0 "$yoe + $era * 400")
  test $m -gt 2; or set y (math --scale=0 "$y + 1")
  set -l s (math --scale=0 "$t % 86400")
  printf '%04d-%02d-%02dT%02d:%02d:%02d.%03dZ' $y $m $d (math --scale=0 "floor($s / 3600)") (math --scale=0 "floor($s % 3600 / 60)") (math --scale=0 "$s % 60") (math --scale=0 "$ms % 1000")
end
# The departure of this shell, with builtins only (docs/state-home.md "Leaving
# without a process"), called by _ws_revert: USERS_RECORD EVENTS CONTEXT_JSON
# ROOT_JSON CONTEXT_DIR WAKE_FIFO BOOT_MS. Its own record, if it still is one (never
# read a FIFO), is rewritten with "left"; then the user.leave event. fish has
# no read-write redirection, and opening a FIFO write-only blocks while no one
# reads it: fish leaves the wake FIFO alone (the reaper notices the event).
function _ws_depart
  set -l rec ''
  if test -f $argv[1]; and not test -L $argv[1]
    read -z rec <$argv[1] 2>/dev/null
  end
  set rec (string trim --right --chars=\n -- $rec)
  string match -q -- '{*}' $rec; or return 0
  string match -q -- '*"left":*' $rec; and return 0
  set -l now (_ws_utc $argv[7])
  printf '%s,"left":"%s"}\n' (string replace -r -- '}$' '' $rec) $now >$argv[1]; or return 0
  printf '{"v":1,"ts":"%s","type":"user.leave","context":%s,"root":%s,"pid":%d,"cached":true}\n' $now $argv[3] $argv[4] $fish_pid >>$argv[2]
  return 0
end
# What ws-export says when a shell leaves a context (WS_LOG_FORMAT; empty: quiet).
function _ws_unloading
  set -l f 'ws: %s'
  set -q WS_LOG_FORMAT; and set f $WS_LOG_FORMAT
  test -z "$f"; or printf '%s\n' (string replace -- '%s' unloading $f) >&2
end
function _ws_hook --on-event fish_prompt --on-variable PWD
  _ws_unchanged; or _ws_apply
  functions -q _ws_prompt_render; and _ws_prompt_render
end
# Runs ws-export and applies what it prints.
function _ws_apply
  set -l args fish --pid $fish_pid
  # Live apply: a background build this shell waits for sends it SIGUSR1 when it is over.
  test "$WS_LIVE_APPLY" = 0; or set -a args --live
  # Ctrl-C while ws-export runs must not leave the shell half-applied: the
  # output of a ws-export killed by a signal is not evaluated. (fish needs
  # no trap: it runs its own functions to the end or cancels them.)
  set -l code (@WS_EXPORT@ $args | string collect -N)
  test $pipestatus[1] -gt 128; or printf '%s' $code | source
end
# While the prompt waits for input: apply, then redraw it. WS_LIVE_APPLY=0 turns it off.
function _ws_live_apply --on-signal USR1
  test "$WS_LIVE_APPLY" = 0; and return
  _ws_apply
  functions -q _ws_prompt_render; and _ws_prompt_render
  commandline -f repaint
end
