## Completion for zsh: `ws completion zsh` prints this file (see the ws
## README). @WS@ becomes the path of the ws binary quoted for zsh; @COMMANDS@
## the names completed (ws and each ws command, plain words). Each TAB asks
## `ws __complete WORD...` (the words up to the cursor): its first line is
## `words` (the candidates follow, one a line) or `files`. Lines starting
## with ## are dropped. Lint: scripts/lint-shell.sh.
_ws_complete() {
  local -a out
  out=("${(@f)$(@WS@ __complete "${(@)words[1,CURRENT-1]}" "$PREFIX" 2>/dev/null)}")
  if [[ ${out[1]-} == files ]]; then
    _files
    return
  fi
  (( ${#out} > 1 )) && compadd -- "${(@)out[2,-1]}"
}
# compdef comes with compinit: load it if the rc file has not.
(( $+functions[compdef] )) || { autoload -Uz compinit && compinit -u; }
compdef _ws_complete @COMMANDS@
