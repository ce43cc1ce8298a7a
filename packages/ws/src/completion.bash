## Completion for bash: `ws completion bash` prints this file (see the ws
## README). @WS@ becomes the path of the ws binary quoted for bash; @COMMANDS@
## the names completed (ws and each ws command, plain words). Each TAB asks
## `ws __complete WORD...` (the words up to the cursor): its first line is
## `words` (the candidates follow, one a line) or `files`. Lines starting
## with ## are dropped. Lint: scripts/lint-shell.sh.
# shellcheck shell=bash
_ws_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]} words=("${COMP_WORDS[@]:0:COMP_CWORD}") out=()
  # bash splits --flag=value at '=': complete the value of that flag.
  [[ $cur == = ]] && cur=''
  [[ ${words[-1]} == = ]] && unset 'words[-1]'
  mapfile -t out < <(@WS@ __complete "${words[@]}" "$cur" 2>/dev/null)
  COMPREPLY=()
  if [[ ${out[0]-} == files ]]; then
    compopt -o default 2>/dev/null
    return 0
  fi
  COMPREPLY=("${out[@]:1}")
}
complete -F _ws_complete @COMMANDS@
