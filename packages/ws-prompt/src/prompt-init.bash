## The prompt segment for bash: `ws-prompt init bash [FORMAT]` prints this
## file (see docs/prompt.md), filled in by init.ts: @RESET@ and each state's
## @<STATE>_GLYPH@ and @<STATE>_COLOR@ become that value quoted for bash;
## @SEGMENT@ becomes the FORMAT as code (quoted literals, "$var" fields); a
## line ending in `# if:u` (`# if:S`) stays only if FORMAT shows %u (%S).
## Lines starting with ## are dropped. Lint: scripts/lint-shell.sh.
# shellcheck shell=bash
# shellcheck disable=SC2034 # read by the ws hook: it calls _ws_prompt_render when set
_ws_prompt_init=1
# Called by the ws hook after each check: renders the segment into
# $WS_PROMPT from the hook's own variables, with builtins only.
# shellcheck disable=SC2034,SC2154 # g c r u S are read by the segment code below, WS_PROMPT by PS1; _ws_* are set by ws-export
_ws_prompt_render() {
  WS_PROMPT=
  if [[ -z ${_ws_root-} || -z ${_ws_state-} ]]; then
    unset WS_PROMPT_STATE WS_PROMPT_CONTEXT
    return 0
  fi
  local g c r=@RESET@ f line st=$_ws_state u=0 S=0 d=0
  # A service that should run and does not makes a ready context degraded
  # (as ws-list says: contextState in core); state.json is read with builtins.
  if [[ $st == ready ]]; then
    for f in "$_ws_ctxdir"/services/*/state.json; do
      [[ -e $f ]] || continue
      line=''
      # Never read a FIFO or a directory planted there (it would block the shell).
      [[ -f $f && ! -L $f ]] || continue
      read -r line <"$f" || [[ -n $line ]] || continue
      case $line in *'"state":"exited"'* | *'"state":"failed"'* | *'"state":"backoff"'*) st=degraded; break ;; esac
    done
  fi
  case $st in
    ready) g=@READY_GLYPH@ c=@READY_COLOR@ ;;
    building) g=@BUILDING_GLYPH@ c=@BUILDING_COLOR@ ;;
    stale) g=@STALE_GLYPH@ c=@STALE_COLOR@ ;;
    degraded) g=@DEGRADED_GLYPH@ c=@DEGRADED_COLOR@ ;;
    error) g=@ERROR_GLYPH@ c=@ERROR_COLOR@ ;;
    blocked) g=@BLOCKED_GLYPH@ c=@BLOCKED_COLOR@ ;;
  esac
  [[ -n ${NO_COLOR+x} ]] && c='' r=''
  # Only users and services whose process exists (the reaper drops the others' records within a second).
  for f in "$_ws_ctxdir"/users/[0-9]*; do [[ -e /proc/${f##*/} ]] && ((u++)); done # if:u
  for f in "$_ws_ctxdir"/services/*/pid; do line='' && [[ -f $f && ! -L $f ]] && { read -r line <"$f" || [[ -n $line ]]; } && line=${line#*'"pid":'} && [[ -e /proc/${line%%[,\}]*} ]] && ((S++)); done # if:S
  # Services that should run and do not: %S shows RUNNING/EXPECTED then (1/2).
  for f in "$_ws_ctxdir"/services/*/state.json; do [[ -f $f && ! -L $f ]] || continue; line=''; { read -r line <"$f" || [[ -n $line ]]; } && case $line in *'"state":"exited"'* | *'"state":"failed"'* | *'"state":"backoff"'*) ((d++)) ;; esac; done # if:S
  ((d == 0)) || S="$S/$((S + d))" # if:S
  # Plain words for prompts that draw their own segment without a process
  # (starship's env_var module reads the environment, p10k a variable).
  export WS_PROMPT_STATE=$st WS_PROMPT_CONTEXT=$_ws_name
  WS_PROMPT=@SEGMENT@
}
