#!/usr/bin/env bats
# Real-world .envrc files read the way direnv reads them (SPEC §5,
# docs/direnv.md): the same files through `direnv export json` (the real
# direnv) and `ws-export json`, each in this test's isolated HOME and XDG
# directories, must give the same environment. Besides:
#   - the compatibility corpus, test-bats/fixtures/envrc-corpus/*/ (one test
#     each: .envrc, its files, RUN_IN = the directory to enter, setup.sh = run
#     first in the copy);
#   - the table of when a file fails (docs/direnv.md), row by row;
#   - the variables direnv never exports, every function of direnv's stdlib,
#     use flake with nix-direnv's flags, nothing written outside the project
#     and the state home (/ read-only), recursive watch_dir and glob watch_file.
#
# Intended differences, left out of every comparison: WS_* (ws's own) and
# DIRENV_DIR, DIRENV_FILE, DIRENV_DIFF, DIRENV_WATCHES (direnv's bookkeeping).

load test_helper/common-setup

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}
CORPUS="${BATS_TEST_DIRNAME}/fixtures/envrc-corpus"

setup() {
  common_setup
  command -v direnv >/dev/null || skip "direnv is not installed"
  # layout python makes a virtualenv: let every build finish before ws-export returns.
  export WS_BUILD_TIMEOUT=60000
  W="$BATS_TEST_TMPDIR/work"
  # The same base environment for both tools: a variable to keep, one to unset.
  export CORPUS_BASE=1 OLD_TOKEN=secret
}
teardown() { common_teardown; }

# ---------------------------------------------------------------- helpers ----

# direnv_json DIR / ws_json DIR — each tool's verdict for DIR, normalised to
# {"set":{...},"unset":[...]} without the intended differences; stderr in
# $BATS_TEST_TMPDIR/{direnv,ws}.err.
direnv_json() {
  local out
  (cd "$1" && direnv allow . 2>/dev/null)
  # direnv exits 1 when the file fails; what it prints is still its verdict.
  out=$(cd "$1" && timeout 60 direnv export json 2>"$BATS_TEST_TMPDIR/direnv.err") || true
  jq -S '(. // {}) as $e
    | ($e | with_entries(select(.key | IN("DIRENV_DIR", "DIRENV_FILE", "DIRENV_DIFF", "DIRENV_WATCHES") | not))) as $k
    | {set: ($k | with_entries(select(.value != null))), unset: ([$k | to_entries[] | select(.value == null) | .key] | sort)}' <<<"${out:-null}"
}
ws_json() {
  local out
  (cd "$1" && ws-allow >/dev/null 2>&1)
  out=$(cd "$1" && timeout 60 ws-export json 2>"$BATS_TEST_TMPDIR/ws.err")
  jq -S '{set: (.set | with_entries(select(.key | startswith("WS_") | not))),
    unset: (.unset | map(select(startswith("WS_") | not)) | sort)}' <<<"$out"
}

# same_as_direnv DIR — both verdicts equal; else the diff and both stderrs.
same_as_direnv() {
  direnv_json "$1" >"$BATS_TEST_TMPDIR/direnv.json"
  ws_json "$1" >"$BATS_TEST_TMPDIR/ws.json"
  diff -u "$BATS_TEST_TMPDIR/direnv.json" "$BATS_TEST_TMPDIR/ws.json" >&2 || {
    echo "--- direnv's stderr:" >&2
    cat "$BATS_TEST_TMPDIR/direnv.err" >&2
    echo "--- ws-export's stderr:" >&2
    cat "$BATS_TEST_TMPDIR/ws.err" >&2
    return 1
  }
}

# envrc DIR 'line'... — DIR/.envrc (read by both tools).
envrc() {
  local dir=$1
  shift
  mkdir -p "$dir"
  printf '%s\n' "$@" >"$dir/.envrc"
}

# ------------------------------------------------------------ the corpus ----

corpus_case() {
  local name=$1 dir="$W/$1" run_in=.
  cp -a "$CORPUS/$name" "$dir"
  if [[ -f $dir/setup.sh ]]; then (cd "$dir" && bash ./setup.sh); fi
  [[ -f $dir/RUN_IN ]] && read -r run_in <"$dir/RUN_IN"
  same_as_direnv "$dir/$run_in"
}

for _case in "$CORPUS"/*/; do
  _case=${_case%/}
  bats_test_function --description "corpus: ${_case##*/} gives the same environment as direnv" -- corpus_case "${_case##*/}"
done
unset _case

@test "the corpus holds at least 40 files" {
  local n=0
  for d in "$CORPUS"/*/; do [[ -f $d/.envrc ]] && n=$((n + 1)); done
  echo "# $n corpus files" >&3
  ((n >= 40))
}

# --------------------------------------------- when a file fails: the table ----
# name|fatal|line of the failure (for ws's message)|the .envrc, lines split at @
# Every row is docs/direnv.md's table; fatal rows apply nothing (first load).
STATUS_ROWS=(
  'last command fails|0||export A=1@false'
  'top-level return 1|0||export A=1@return 1@export B=1'
  'exit 0 part-way|0||export A=1@exit 0@export B=1'
  'exit N|1|2|export A=1@exit 3@export B=1'
  'exit after a failing command|1|3|export A=1@false@exit'
  'syntax error part-way|0||export A=1@if then@export B=1'
  'unterminated quote|0||export A=1@export B="x@export C=1'
  'strict_env and a failing command|1|3|strict_env@export A=1@false@export B=1'
  'strict_env and an unset variable|1|3|strict_env@export A=1@echo $NOPE_UNSET@export B=1'
  'set -e and a failing command|1|3|set -e@export A=1@false@export B=1'
  'set -u and an unset variable|1|3|set -u@export A=1@echo $NOPE_UNSET@export B=1'
  'pipefail alone|0||set -o pipefail@export A=1@false | true@export B=1'
  'source_env of a missing file|0||export A=1@source_env nope.sh@export B=1'
  'source_env of a file that exits|1||echo "exit 2" >sub.sh@export A=1@source_env sub.sh@export B=1'
  'source_env of a file with a syntax error|0||printf "export S1=1\nif then\nexport S2=1\n" >sub.sh@export A=1@source_env sub.sh@export B=1'
  'source_env of a file that returns 4|0||printf "export S1=1\nreturn 4\nexport S2=1\n" >sub.sh@export A=1@source_env sub.sh@export B=1'
  'source_up with nothing above|0||export A=1@source_up@export B=1'
  'strict_env and source_up with nothing above|1|3|strict_env@export A=1@source_up@export B=1'
  'strict_env and source_env of a missing file|1|3|strict_env@export A=1@source_env nope.sh@export B=1'
  'strict_env and source_up_if_exists|0||strict_env@export A=1@source_up_if_exists@export B=1'
  'a failing command substitution|0||export A=$(false)@export B=1'
  'bash killed|1||export A=1@kill -9 $$@export B=1'
  'env_vars_required missing|0||export A=1@env_vars_required NOPE_REQ@export B=1'
  'strict_env and env_vars_required missing|1|3|strict_env@export A=1@env_vars_required NOPE_REQ@export B=1'
  'unstrict_env after strict_env|0||strict_env@unstrict_env@export A=1@false@export B=1'
  'strict_env CMD that fails|1|2|export A=1@strict_env false@export B=1'
  'a function returning 3 last|0||f() { return 3; }@export A=1@f'
  'strict_env and failures in conditions|0||strict_env@export A=1@if false; then :; fi@false || true@export B=1'
  'use nix failing|0||export A=1@use nix@export B=1'
  'strict_env and use nix failing|1|3|strict_env@export A=1@use nix@export B=1'
  'use flake failing|0||export A=1@use flake@export B=1'
)

status_row() {
  local row=${STATUS_ROWS[$1]} name fatal line body dir
  IFS='|' read -r name fatal line body <<<"$row"
  dir="$W/row"
  mkdir -p "$dir"
  # A first segment that writes sub.sh is the row's setup, not its .envrc.
  if [[ ${body%%@*} == *'>sub.sh' ]]; then
    (cd "$dir" && eval "${body%%@*}")
    body=${body#*@}
  fi
  printf '%s\n' "${body//@/$'\n'}" >"$dir/.envrc"
  same_as_direnv "$dir"
  if ((fatal)); then
    [ "$(jq -c . "$BATS_TEST_TMPDIR/ws.json")" = '{"set":{},"unset":[]}' ]
    # ws's one line names the file (and the line, where bash says which).
    grep -q "^ws: $dir/[^:]*\(:[0-9]*\)\?: failed with exit status [0-9]*; keeping the last good environment" "$BATS_TEST_TMPDIR/ws.err"
    if [[ -n $line ]]; then grep -q "^ws: $dir/.envrc:$line: failed" "$BATS_TEST_TMPDIR/ws.err"; fi
  else
    run ! grep -q "failed with exit status" "$BATS_TEST_TMPDIR/ws.err"
  fi
}

for _i in "${!STATUS_ROWS[@]}"; do
  bats_test_function --description "status table: ${STATUS_ROWS[_i]%%|*}, as in direnv" -- status_row "$_i"
done
unset _i

@test "a .workspace with a syntax error runs nothing (unlike an .envrc) and names the line" {
  mkdir -p "$W/proj"
  printf 'export A=1\nif then\nexport B=1\n' >"$W/proj/.workspace"
  ws_json "$W/proj" >"$BATS_TEST_TMPDIR/ws.json"
  [ "$(jq -c . "$BATS_TEST_TMPDIR/ws.json")" = '{"set":{},"unset":[]}' ]
  grep -q "^$W/proj/.workspace:2: syntax error" "$BATS_TEST_TMPDIR/ws.err"
  grep -q "^ws: $W/proj/.workspace:2: failed" "$BATS_TEST_TMPDIR/ws.err"
}

# ------------------------------------------------ what direnv never exports ----

@test "the variables direnv never exports are not exported by ws either" {
  local names=(SHELL PWD OLDPWD SHLVL _ PS1 COMP_WORDBREAKS DIRENV_CONFIG DIRENV_BASH DIRENV_IN_ENVRC
    DIRENV_DIR DIRENV_FILE DIRENV_DIFF DIRENV_WATCHES __fish_private)
  local lines=() n
  for n in "${names[@]}"; do lines+=("export $n=set-by-envrc"); done
  lines+=('f() { echo; }; export -f f' 'export SHELLOPTS' 'export KEPT=1' 'export DIRENV_OWN=passes')
  envrc "$W/proj" "${lines[@]}"
  direnv_json "$W/proj" >"$BATS_TEST_TMPDIR/direnv.json"
  ws_json "$W/proj" >"$BATS_TEST_TMPDIR/ws.json"
  for n in "${names[@]}" SHELLOPTS BASH_FUNC_f%%; do
    [ "$(jq --arg n "$n" '.set | has($n)' "$BATS_TEST_TMPDIR/direnv.json")" = false ] || [[ $n == DIRENV_* ]]
    [ "$(jq --arg n "$n" '.set | has($n)' "$BATS_TEST_TMPDIR/ws.json")" = false ]
  done
  # Other names, DIRENV_* ones too, go through in both.
  [ "$(jq -r .set.KEPT "$BATS_TEST_TMPDIR/ws.json")" = 1 ]
  [ "$(jq -r .set.DIRENV_OWN "$BATS_TEST_TMPDIR/direnv.json")" = passes ]
  [ "$(jq -r .set.DIRENV_OWN "$BATS_TEST_TMPDIR/ws.json")" = passes ]
}

# --------------------------------------------------- every stdlib function ----

@test "every function of direnv's stdlib (direnv stdlib) is defined in ws's build" {
  mkdir -p "$W/proj"
  direnv stdlib | grep -oE '^[[:space:]]*[A-Za-z_][A-Za-z0-9_.]*\(\)' | tr -d ' ()' | sort -u >"$W/proj/names"
  [ "$(wc -l <"$W/proj/names")" -ge 50 ]
  envrc "$W/proj" 'missing=' 'while read -r n; do [[ $(type -t "$n") == function ]] || missing+=" $n"; done <names' \
    'export MISSING=${missing:-none} CHECKED=$(wc -l <names)'
  ws_json "$W/proj" >"$BATS_TEST_TMPDIR/ws.json"
  [ "$(jq -r .set.MISSING "$BATS_TEST_TMPDIR/ws.json")" = none ]
  [ "$(jq -r .set.CHECKED "$BATS_TEST_TMPDIR/ws.json")" = "$(wc -l <"$W/proj/names")" ]
}

@test "a function whose program is missing says so in one line and returns 1, never 'command not found'" {
  # A PATH with bash and coreutils but none of these tools.
  local farm="$BATS_TEST_TMPDIR/farm" calls=(
    'use rbenv' 'use guix hello' 'use nodenv 18.0.0' 'layout anaconda myenv' 'rvm use 3'
    'layout pipenv' 'use julia 1.9' 'use node 18' 'layout pyenv 3.11.0'
  )
  mkdir -p "$farm"
  cp -sn /usr/bin/* /bin/* "$farm"/ 2>/dev/null || true
  rm -f "$farm"/{rbenv,guix,nodenv,conda,pyenv,pipenv,julia}
  local lines=() i
  for i in "${!calls[@]}"; do lines+=("${calls[i]} 2>>err-$i; export RC_$i=\$?"); done
  envrc "$W/proj" 'touch Pipfile' "${lines[@]}"
  (cd "$W/proj" && PATH="$REPO/bin:$farm" ws_json . >"$BATS_TEST_TMPDIR/ws.json")
  for i in "${!calls[@]}"; do
    [ "$(jq -r ".set.RC_$i" "$BATS_TEST_TMPDIR/ws.json")" = 1 ] || { echo "${calls[i]}: $(cat "$W/proj/err-$i")" >&2; false; }
    # `use X` first says "using X", as direnv's does.
    [ "$(grep -vc '^ws: using ' "$W/proj/err-$i")" -eq 1 ] || { echo "${calls[i]}:" >&2; cat "$W/proj/err-$i" >&2; false; }
    run ! grep -q 'command not found' "$W/proj/err-$i"
  done
}

# ------------------------------------------------- nix-direnv's use flake ----

@test "use flake with nix-direnv's flags is not fatal, even in 'if ! use flake' and with || true" {
  command -v nix >/dev/null || skip "nix is not installed"
  envrc "$W/proj" \
    'use flake . --impure --no-pure-eval --accept-flake-config --override-input nixpkgs nixpkgs || true' \
    'if ! use flake --option substituters "" --impure; then export FELL_BACK=1; fi' \
    'use flake github:owner/repo#dev --no-write-lock-file' \
    'export AFTER=1'
  ws_json "$W/proj" >"$BATS_TEST_TMPDIR/ws.json"
  [ "$(jq -r .set.AFTER "$BATS_TEST_TMPDIR/ws.json")" = 1 ]
  [ "$(jq -r .set.FELL_BACK "$BATS_TEST_TMPDIR/ws.json")" = 1 ]
  run ! grep -q "unknown option\|failed with exit status" "$BATS_TEST_TMPDIR/ws.err"
  grep -q "use flake: passing . --impure --no-pure-eval" "$BATS_TEST_TMPDIR/ws.err"
}

# ------------------------------------ nothing written outside project + state ----

@test "the stdlib writes nothing outside the project and the state home (/ read-only, as root)" {
  [[ $EUID -eq 0 ]] || skip "needs root for a mount namespace"
  command -v unshare >/dev/null || skip "no unshare"
  local proj="$W/ro/proj" state="$W/ro/state"
  mkdir -p "$proj" "$state"
  export XDG_STATE_HOME=$state
  cat >"$proj/.envrc" <<'EOF'
layout go
layout perl
layout ruby
layout python3
layout node
layout php
layout julia
: >Pipfile; layout pipenv 2>/dev/null || true
use flake 2>/dev/null
use flake . --impure 2>/dev/null
use nix 2>/dev/null
use vim
export ALIASES="$(direnv_layout_dir)/aliases"
mkdir -p "$ALIASES" "$(direnv_layout_dir)/nix-rebuild"
source_url https://example.invalid/lib.sh "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
fetchurl https://example.invalid/tool
direnv_load "$direnv" dump
dotenv_if_exists
watch_dir .
export DONE=1
EOF
  ws-allow "$proj" >/dev/null
  # Everything read-only but the project, the state home and /dev, /proc.
  run --separate-stderr timeout 100 unshare -m bash -c '
    set -e
    mount --make-rprivate /
    mount --bind "$1" "$1"
    mount --bind "$2" "$2"
    while read -r _ mnt _; do
      case $mnt in /proc | /proc/* | /sys | /sys/* | /dev | /dev/pts | /dev/mqueue) continue ;; esac
      [[ $mnt == "$1" || $mnt == "$2" ]] && continue
      mount -o remount,bind,ro "$mnt" 2>/dev/null || true
    done < <(sed "s/\\\\040/ /g" /proc/self/mounts)
    if touch /ws-ro-probe 2>/dev/null; then echo "/ is still writable" >&2; exit 9; fi
    if touch "$HOME/probe" 2>/dev/null; then echo "HOME is still writable" >&2; exit 9; fi
    cd "$1" && ws-export json' ro "$proj" "$state"
  [ "$status" -eq 0 ] || { echo "$stderr" >&2; false; }
  [ "$(jq -r .set.DONE <<<"$output")" = 1 ] || { echo "$output" "$stderr" >&2; false; }
  [[ $stderr != *"Read-only file system"* ]] || { echo "$stderr" >&2; false; }
  [ -d "$proj/.direnv/aliases" ]
  [ ! -e /aliases ] && [ ! -e /nix-rebuild ]
}

# ---------------------------------------------- recursive watch_dir, globs ----

@test "watch_dir is recursive: a new file two levels down reloads; the idle prompt starts no process" {
  command -v strace >/dev/null || skip "strace is not installed"
  mkdir -p "$W/proj/config/a/b"
  echo 1 >"$W/proj/config/a/b/one"
  envrc "$W/proj" 'watch_dir config' 'export FILES=$(find config -type f | wc -l)'
  ws-allow "$W/proj" >/dev/null
  tmux_start bash
  tmux_run "cd $(printf %q "$W/proj")"
  [ "$(tmux_run 'echo $FILES')" = 1 ]
  echo 2 >"$W/proj/config/a/b/two"
  tmux_run true
  [ "$(tmux_run 'echo $FILES')" = 2 ]
  # A change to an existing file deep down reloads too.
  echo changed >"$W/proj/config/a/b/one"
  rm "$W/proj/config/a/b/two"
  tmux_run true
  [ "$(tmux_run 'echo $FILES')" = 1 ]
  # Nothing changed: prompts run builtins only.
  local trace="$BATS_TEST_TMPDIR/strace" pid
  (
    for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null; done
    exec strace -f -e trace=execve,fork,vfork,clone,clone3 -o "$trace" -p "$TMUX_SHELL_PID"
  ) </dev/null >/dev/null 2>"$trace.err" &
  pid=$!
  track_pid "$pid"
  wait_until "grep -q attached $(printf %q "$trace.err")" 10
  tmux_run true
  tmux_run true
  tmux_run true
  kill -INT "$pid"
  wait "$pid" || true
  [[ $(grep -vE 'resumed>|CLONE_THREAD' "$trace" | grep -cE '^[0-9]+ +(fork|vfork|clone|clone3|execve)\(') -eq 0 ]]
}

@test "watch_file takes a glob: a new match anywhere under it reloads, other files do not" {
  mkdir -p "$W/proj/nix/modules"
  echo '{}' >"$W/proj/nix/top.nix"
  envrc "$W/proj" "watch_file 'nix/**/*.nix'" 'echo run >>runs' 'export N=$(find nix -name "*.nix" | wc -l)'
  ws-allow "$W/proj" >/dev/null
  tmux_start bash
  tmux_run "cd $(printf %q "$W/proj")"
  [ "$(tmux_run 'echo $N')" = 1 ]
  echo '{}' >"$W/proj/nix/modules/deep.nix"
  tmux_run true
  [ "$(tmux_run 'echo $N')" = 2 ]
  echo '{ a = 1; }' >"$W/proj/nix/modules/deep.nix"
  tmux_run true
  [ "$(wc -l <"$W/proj/runs")" -eq 3 ]
  # The pattern's own matches are listed, so the prompt saw the edit.
  run jq -e --arg p "$W/proj/nix/modules/deep.nix" 'flatten | index($p) != null' "$XDG_STATE_HOME"/ws/contexts/proj-*/cache/build/watch-trees.json
  [ "$status" -eq 0 ]
}

@test "a tree larger than the limit is cut, directories first, with a note in the log" {
  mkdir -p "$W/proj/big"
  for d in $(seq 1 40); do mkdir -p "$W/proj/big/d$d"; for f in $(seq 1 30); do : >"$W/proj/big/d$d/f$f"; done; done
  envrc "$W/proj" 'watch_dir big' 'export OK=1'
  ws_json "$W/proj" >"$BATS_TEST_TMPDIR/ws.json"
  [ "$(jq -r .set.OK "$BATS_TEST_TMPDIR/ws.json")" = 1 ]
  grep -q "watch_dir $W/proj/big: 1241 paths; watching the first 1000 (directories first)" "$BATS_TEST_TMPDIR/ws.err"
  local listed
  listed=$(jq -r '.[0][]' "$XDG_STATE_HOME"/ws/contexts/proj-*/cache/build/watch-trees.json)
  [ "$(wc -l <<<"$listed")" -eq 1000 ]
  for d in $(seq 1 40); do grep -qx "$W/proj/big/d$d" <<<"$listed"; done
}
