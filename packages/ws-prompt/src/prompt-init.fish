## The prompt segment for fish: `ws-prompt init fish [FORMAT] | source` runs
## this file (see docs/prompt.md), filled in by init.ts: @RESET@ and each
## state's @<STATE>_GLYPH@ and @<STATE>_COLOR@ become that value quoted for
## fish; @SEGMENT@ becomes the FORMAT as code (quoted literals, "$var"
## fields); a line ending in `# if:u` (`# if:S`) stays only if FORMAT shows
## %u (%S). Lines starting with ## are dropped. Lint: scripts/lint-shell.sh.
# Called by the ws hook after each check: renders the segment into
# $WS_PROMPT from the hook's own variables, with builtins only.
function _ws_prompt_render
  set -g WS_PROMPT ''
  if test -z "$_ws_root" -o -z "$_ws_state"
    set -e WS_PROMPT_STATE WS_PROMPT_CONTEXT
    return 0
  end
  set -l g ''; set -l c ''; set -l r @RESET@
  # A service that should run and does not makes a ready context degraded
  # (as ws-list says: contextState in core); state.json is read with builtins.
  set -l st $_ws_state
  if test "$st" = ready
    for f in $_ws_ctxdir/services/*/state.json
      # Never read a FIFO or a directory planted there (it would block the shell).
      test -f $f; and not test -L $f; or continue
      read -l line <$f
      if string match -qr '"state":"(exited|failed|backoff)"' -- "$line"
        set st degraded
        break
      end
    end
  end
  switch $st
    case ready
      set g @READY_GLYPH@; set c @READY_COLOR@
    case building
      set g @BUILDING_GLYPH@; set c @BUILDING_COLOR@
    case stale
      set g @STALE_GLYPH@; set c @STALE_COLOR@
    case degraded
      set g @DEGRADED_GLYPH@; set c @DEGRADED_COLOR@
    case error
      set g @ERROR_GLYPH@; set c @ERROR_COLOR@
    case blocked
      set g @BLOCKED_GLYPH@; set c @BLOCKED_COLOR@
  end
  set -q NO_COLOR; and set c ''; and set r ''
  set -l u 0 # if:u
  # Only users and services whose process exists (the reaper drops the others' records within a second).
  for f in $_ws_ctxdir/users/* # if:u
    set -l pid (string match -r '/([0-9]+)$' -- $f)[2] # if:u
    test -n "$pid"; and test -e "/proc/$pid"; and set u (math $u + 1) # if:u
  end # if:u
  set -l S 0 # if:S
  for f in $_ws_ctxdir/services/*/pid # if:S
    test -f $f; and not test -L $f; or continue # if:S
    read -l line <$f # if:S
    set -l pid (string match -r '"pid":([0-9]+)' -- "$line")[2] # if:S
    test -n "$pid"; and test -e "/proc/$pid"; and set S (math $S + 1) # if:S
  end # if:S
  # Services that should run and do not: %S shows RUNNING/EXPECTED then (1/2).
  set -l d 0 # if:S
  for f in $_ws_ctxdir/services/*/state.json # if:S
    test -f $f; and not test -L $f; or continue # if:S
    read -l line <$f # if:S
    string match -qr '"state":"(exited|failed|backoff)"' -- "$line"; and set d (math $d + 1) # if:S
  end # if:S
  test $d -eq 0; or set S $S/(math $S + $d) # if:S
  # Plain words for prompts that draw their own segment without a process
  # (starship's env_var module reads the environment).
  set -gx WS_PROMPT_STATE $st
  set -gx WS_PROMPT_CONTEXT $_ws_name
  set -g WS_PROMPT @SEGMENT@
end
