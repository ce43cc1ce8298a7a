## The fish hook: `ws-export hook fish | source` runs this file (see docs/hook.md).
## Lines starting with ## are dropped; @WS_EXPORT@ becomes the path of the
## ws-export binary, quoted for fish by hooks.ts. Lint: scripts/lint-shell.sh.
# Set by each ws-export: test's arguments over the validity marker and the
# watched files, each condition after -a (false until then).
set -g _ws_watch_test -a ''
# Redefined by each ws-export: the workspace files still hold the approved text.
function _ws_content_ok; true; end
# True when nothing relevant changed since the last export: builtins only.
function _ws_unchanged
  test "$WS_WORKSPACE"\x1f"$WS_CEILING_DIRS"\x1f"$WS_ENVRC"\x1f"$WS_ENV" = "$_ws_knobs"; or return 1
  if test -n "$WS_WORKSPACE"
    test "$PWD" = "$_ws_pwd"; or return 1
  else
    # The nearest workspace directory, at every prompt (a file created here or
    # above counts): the last walk's answer while its test still holds, else a walk.
    test "$PWD"\x1f"$WS_ENVRC" = "$_ws_wkey"; and test x $_ws_wtest; or _ws_walk
    set -l found $_ws_found
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
  test x $_ws_watch_test; and _ws_content_ok
end
# Walks up from $PWD to the nearest workspace directory (_ws_found, '' for
# none), stopping at a ceiling ($_ws_ceil, by name or -ef). It keeps the
# answer's conditions as test's arguments, each after -a (_ws_wtest: no
# workspace file below it, one there, no ceiling met by -ef below it, the
# one met by -ef), which the hook tests at the next prompt in the same
# directory (_ws_wkey) instead of walking again. Every operand is an
# absolute path: no value reads as an operator of test. Other ceilings
# ($_ws_ceil, set by ws-export's output) forget the walk (below). One
# command substitution, for the parents.
function _ws_walk
  set -g _ws_wkey "$PWD"\x1f"$WS_ENVRC"
  set -g _ws_wceil $_ws_ceil
  set -g _ws_found ''
  set -g _ws_wtest
  set -l dirs $PWD
  set -l up 0
  while set -q dirs[1]
    set -l d $dirs[1]
    set -e dirs[1]
    for c in $_ws_ceil
      test "$d" = "$c"; and return
      if test "$d" -ef "$c"
        set -ga _ws_wtest -a $d -ef $c
        return
      end
      set -ga _ws_wtest -a ! $d -ef $c
    end
    if test "$WS_ENVRC" != 0
      if test -f "$d/.workspace"; or test -f "$d/.envrc"
        set -g _ws_found $d
        set -ga _ws_wtest -a \( -f $d/.workspace -o -f $d/.envrc \)
        return
      end
      set -ga _ws_wtest -a ! -f $d/.workspace -a ! -f $d/.envrc
    else
      if test -f "$d/.workspace"
        set -g _ws_found $d
        set -ga _ws_wtest -a -f $d/.workspace
        return
      end
      set -ga _ws_wtest -a ! -f $d/.workspace
    end
    test "$d" = /; and return
    if test $up = 0
      # The parents of $PWD, nearest first, as path dirname gives them.
      set up 1
      set -l p ''
      for part in (string split / -- $PWD)
        test -n "$part"; or continue
        set dirs $p $dirs
        set p $p/$part
      end
      set dirs[-1] /
    end
  end
end
function _ws_walk_forget --on-variable _ws_ceil
  # Unless it is the list the walk saw (ws-export's output sets it every time).
  set -l old $_ws_wceil
  for c in $_ws_ceil
    if not set -q old[1]; or test "x$c" != "x$old[1]"
      set -e _ws_wkey
      return
    end
    set -e old[1]
  end
  set -q old[1]; and set -e _ws_wkey
end
# Applies the cached entry of ROOT (ws-export's cache/enter.fish) if this shell
# loaded ROOT before (the parallel lists _ws_known_roots and _ws_known_scripts,
# set by ws-export's output) and is in no context now. True if it applied it.
# The file defines and calls a function named after it (its first line:
# function _ws_entry_ID_VERSION, VERSION a hash of the rest): one defined
# already is the same code, called without parsing the file again. A new
# version of ROOT's entry forgets the one before (_ws_entry_last_ID).
function _ws_enter_known
  test -n "$argv[1]"; and test -z "$WS_DIFF"; or return 1
  # The root known last is the lists' last (ws-export's output appends it): found
  # without a command substitution (~0.06 ms), the one re-entered most often.
  set -l s $_ws_known_scripts[-1]
  if test "x$argv[1]" != "x$_ws_known_roots[-1]"
    set -l i (contains -i -- $argv[1] $_ws_known_roots); or return 1
    set s $_ws_known_scripts[$i]
  end
  test -f "$s"; or return 1
  read -l line 2>/dev/null <$s
  if string match -qr -- '^function (?<fn>_ws_entry_(?<id>[0-9a-f]{12})_[0-9a-f]{16})$' $line
    if functions -q $fn
      $fn
      return
    end
    set -l last _ws_entry_last_$id
    set -q $last; and functions -e $$last
    set -g $last $fn
  end
  source $s
end
# Leaves the context it loaded without a process: the revert ws-export's last
# (ready) result defined, which records the departure too; fails otherwise. A
# switch to a context with a cached entry is this, then that entry.
function _ws_leave
  functions -q _ws_revert; and _ws_revert
end
# The time now, UTC, ISO-8601 with milliseconds, into _ws_now, with builtins
# only: the boot time (BOOT_MS, as ws-export measured it; else /proc/stat's
# btime, whole seconds) + /proc/uptime. The date is _ws_iso's once a day
# (_ws_day: the first millisecond of the day and its date); the time of day
# is one math, as the number 1HHMMSSmmm (a command substitution costs more
# than the arithmetic). Outside that day the number does not match (fewer
# digits before it, an hour past 23 after it): then _ws_iso, and the new day.
set -g _ws_day 0 ''
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
  set -l t "($boot + floor($up * 1000) - $_ws_day[1])"
  set -l f (math --scale=0 "1000000000 + floor($t / 3600000) * 10000000 + floor($t % 3600000 / 60000) * 100000 + floor($t % 60000 / 1000) * 1000 + $t % 1000")
  if not string match -qr -- '^1(?<h>[01][0-9]|2[0-3])(?<m>[0-5][0-9])(?<s>[0-5][0-9])(?<ms>[0-9]{3})$' $f
    set -l ms (math --scale=0 "$boot + floor($up * 1000)")
    set -l day (math --scale=0 "floor($ms / 86400000) * 86400000")
    set -g _ws_day $day (string sub -l 10 -- (_ws_iso $day))
    set -g _ws_now (_ws_iso $ms)
    return
  end
  set -g _ws_now $_ws_day[2]T$h:$m:$s.$ms"Z"
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
# ROOT_JSON CONTEXT_DIR WAKE_FIFO BOOT_MS. Its own record, if it still is a
# regular file (never a FIFO, never through a symlink), is rewritten to say
# it left (pid and start time: _ws_self_start, from /proc once per shell);
# then the user.leave event. Nothing goes to the wake FIFO (fish has no
# read-write redirection, and opening a FIFO write-only blocks while no one
# reads it): the reaper's watcher sees events.jsonl change.
function _ws_depart
  test -f $argv[1] -a ! -L $argv[1]; or return 0
  if not set -q _ws_self_start[1]
    read -l _ws_line 2>/dev/null </proc/$fish_pid/stat; or return 0
    string match -qr -- '^.*\) (?!.*\) )(?:[^ ]* ){19}(?<_ws_start>[^ ]*)' $_ws_line; or return 0
    set -g _ws_self_start $_ws_start
  end
  _ws_utc $argv[7]
  # Emptied, then appended to: an O_TRUNC write of a file with data makes ext4
  # flush it at close (~0.3 ms; docs/hook.md), as hook.bash's `: >`, `>>`.
  true >$argv[1]; and printf '{"pid":%d,"start":"%s","left":"%s"}\n' $fish_pid $_ws_self_start $_ws_now >>$argv[1]; or return 0
  printf '{"v":1,"ts":"%s","type":"user.leave","context":%s,"root":%s,"pid":%d,"cached":true}\n' $_ws_now $argv[3] $argv[4] $fish_pid >>$argv[2]
  return 0
end
# Joins the context of a cached entry (enter.fish) as ws-export would, with
# builtins only: REAPER_PID CONTEXTS CTXDIR USERS EVENTS BOOT_MS CONTEXT_JSON
# ROOT_JSON. It fails, having written nothing, if no reaper runs (nobody to
# notice the shell leave: ws-export starts one) or the context directory
# vanished (ws-gc). Every path holds a /: none reads as an operator of test.
function _ws_join
  # (2>/dev/null before the redirection: a missing file says nothing; never read a FIFO.)
  test -f $argv[1] -a ! -L $argv[1]; or return 1
  read -l _ws_line 2>/dev/null <$argv[1]; or return 1
  # "PID START", START as field 22 of /proc/PID/stat: the 20th after the
  # command name, which may hold ") " (string match sets the named groups).
  string match -qr -- '^(?<_ws_rpid>[0-9]+) (?<_ws_rstart>.*)$' $_ws_line; or return 1
  read -l _ws_line 2>/dev/null </proc/$_ws_rpid/stat; or return 1
  string match -qr -- '^.*\) (?!.*\) )(?:[^ ]* ){19}(?<_ws_f20>[^ ]*)' $_ws_line; and test "x$_ws_f20" = "x$_ws_rstart"; or return 1
  # Register this shell as a user first, as ws-export would (pid + start
  # time); never write through a link planted in the state home
  # (docs/reliability.md "Symlinks").
  test -d $argv[4] -a ! -L $argv[2] -a ! -L $argv[3] -a ! -L $argv[4] -a ! -L $argv[4]/$fish_pid -a ! -L $argv[5]; or return 1
  # Its own start time: read once (it never changes).
  if not set -q _ws_self_start[1]
    read -l _ws_line </proc/$fish_pid/stat; or return 1
    string match -qr -- '^.*\) (?!.*\) )(?:[^ ]* ){19}(?<_ws_start>[^ ]*)' $_ws_line; or return 1
    set -g _ws_self_start $_ws_start
  end
  # Registered already, unless its record says it left (then it is overwritten).
  set -l _ws_rec ''
  if test -f $argv[4]/$fish_pid -a ! -L $argv[4]/$fish_pid
    read -z _ws_rec 2>/dev/null <$argv[4]/$fish_pid
  end
  if test -z "$_ws_rec"; or string match -q -- '*"left":*' $_ws_rec
    _ws_utc $argv[6]
    set -l _ws_ts $_ws_now
    # Emptied, then appended to (no flush at close, as in _ws_depart).
    true >$argv[4]/$fish_pid; and printf '{"pid":%d,"start":"%s","shell":"fish","joined":"%s"}\n' $fish_pid $_ws_self_start $_ws_ts >>$argv[4]/$fish_pid; or return 1
    printf '{"v":1,"ts":"%s","type":"user.join","context":%s,"root":%s,"pid":%d,"shell":"fish","cached":true}\n' $_ws_ts $argv[7] $argv[8] $fish_pid >>$argv[5]
  end
end
# What ws-export says when a shell leaves a context (WS_LOG_FORMAT; empty: quiet).
function _ws_unloading
  set -l f 'ws: %s'
  set -q WS_LOG_FORMAT; and set f $WS_LOG_FORMAT
  test -z "$f"; or printf '%s\n' (string replace -- '%s' unloading $f) >&2
end
function _ws_hook --on-event fish_prompt --on-variable PWD
  # The usual prompt, in one test: the knobs, the directory, the last walk's
  # answer still holding and loaded (or WS_WORKSPACE), the watched files.
  # What it passes _ws_unchanged passes too; every value behind an x.
  test x"$WS_WORKSPACE"\x1f"$WS_CEILING_DIRS"\x1f"$WS_ENVRC"\x1f"$WS_ENV" = x"$_ws_knobs" -a x"$PWD" = x"$_ws_pwd" -a \( x"$WS_WORKSPACE" != x -o x"$PWD"\x1f"$WS_ENVRC" = x"$_ws_wkey" -a x"$_ws_found" = x"$_ws_root" $_ws_wtest \) $_ws_watch_test; and _ws_content_ok
  or _ws_unchanged; or _ws_apply
  functions -q _ws_prompt_render; and _ws_prompt_render
end
# Runs ws-export and applies what it prints. With --held (live apply):
# ws-export's messages are held in $_ws_held, not written under the prompt
# (a command substitution writes to the shell's own stderr whatever the
# function's redirections: fd 3 takes its stdout).
function _ws_apply
  set -l args fish --pid $fish_pid
  # Live apply: a background build this shell waits for sends it SIGUSR1 when it is over.
  test "$WS_LIVE_APPLY" = 0; or set -a args --live
  # Ctrl-C while ws-export runs must not leave the shell half-applied or
  # unapplied: ws-export handles it (the build goes on in the background)
  # and prints a whole result, and fish, which cancels the running function
  # at a SIGINT no handler observes, runs this one to the end while
  # _ws_sigint is defined (then the next prompt waited for the build again).
  # The output of a ws-export killed by a signal is not evaluated.
  # (Only the call that defined it removes it: a live apply's handler can
  # run between this function's lines.)
  set -l guard 0
  functions -q _ws_sigint; or begin; function _ws_sigint --on-signal INT; end; set guard 1; end
  set -l code
  set -l st
  if test "$argv[1]" = --held
    set -g _ws_held ''
    set code (begin; @WS_EXPORT@ $args 2>&1 >&3 | string collect -N | read -gz _ws_held; set -g _ws_status $pipestatus[1]; end 3>&1 | string collect -N)
    set st $_ws_status
  else
    set code (@WS_EXPORT@ $args | string collect -N)
    set st $pipestatus[1]
  end
  test $st -gt 128; or printf '%s' $code | source
  test $guard = 0; or functions -e _ws_sigint
end
# While the prompt waits for input: apply, then redraw it. WS_LIVE_APPLY=0 turns it off.
function _ws_live_apply --on-signal USR1
  test "$WS_LIVE_APPLY" = 0; and return
  # ws-export's messages go on lines of their own below the line being
  # edited, and the prompt is drawn again under them (as fish's own
  # __fish_echo does): fish cannot know of output it did not write, and
  # repainted over it at a guess.
  # Not at the prompt (a command runs, or fish is not interactive): plain.
  if not status is-interactive; or test -n "$(status current-commandline)"
    _ws_apply
    return
  end
  _ws_apply --held
  functions -q _ws_prompt_render; and _ws_prompt_render
  if test -n "$_ws_held"
    set -l line (commandline --line)
    string repeat -N -n (math "max(0, $(count (commandline)) - $line + 1)") \n >&2
    string match -q -- '*'\n $_ws_held; or set _ws_held $_ws_held\n
    printf '%s' $_ws_held >&2
    string repeat -N -n (math "max(0, $(count (fish_prompt)) - 1) + max(0, $line - 1)") \n >&2
  end
  commandline -f repaint
end
