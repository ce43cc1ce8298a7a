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
