## Completion for fish: `ws completion fish | source` runs this file (see the
## ws README). @WS@ becomes the path of the ws binary quoted for fish;
## @COMMANDS@ the names completed (ws and each ws command, plain words). Each
## TAB asks `ws __complete WORD...` (the words up to the cursor): its first
## line is `words` (the candidates follow, one a line) or `files`. Lines
## starting with ## are dropped. Lint: scripts/lint-shell.sh.
function __ws_complete
  set -l out (@WS@ __complete (commandline -opc) (commandline -ct) 2>/dev/null)
  if test "$out[1]" = files
    __fish_complete_path (commandline -ct)
    return
  end
  printf '%s\n' $out[2..-1]
end
for command in @COMMANDS@
  complete -c $command -f -a '(__ws_complete)'
end
