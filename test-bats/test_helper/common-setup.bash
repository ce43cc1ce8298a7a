# Shared harness for every test-bats/*.bats file:
#
#   load test_helper/common-setup
#   setup() { common_setup; }
#   teardown() { common_teardown; }
#
# Like direnv's test/direnv-test-common.sh, every test gets its own HOME and
# XDG directories inside $BATS_TEST_TMPDIR, so nothing leaks between tests,
# into the real home, or between tests run in parallel (bats --jobs).
#
#   common_setup               isolate HOME, XDG_*, XDG_RUNTIME_DIR; unset WS_*,
#                              DIRENV_*, _WS_*; NO_COLOR=1, WS_REAPER_IDLE=5, WS_BUILD_WAIT=0,
#                              WS_UNLOAD_GRACE=1, LC_ALL=C.UTF-8, umask 022;
#                              REPO=repo root, PATH=$REPO/bin:...; cd into
#                              $BATS_TEST_TMPDIR/work
#   common_teardown            kill reapers (reaper.pid in the test's state
#                              homes), tmux servers, tracked PIDs, then every
#                              leftover process whose HOME is the test's
#                              (named on stderr): TERM, KILL after 2 s
#   track_pid PID...           kill PID in teardown (PID reuse is detected)
#   wait_until 'cond' [S=10]   eval cond every 0.1 s until true; else fail
#   write_workspace DIR [TEXT] DIR/.workspace from TEXT (or stdin), ws-allow DIR
#
#   tmux_start [-n NAME] [--no-hook] bash|zsh|fish|nu ['rc line']...
#                              a real interactive shell in a private tmux
#                              server (200x50, TERM=screen, prompt '$ ', fish
#                              and nu '> '), rc lines then the ws hook (none with
#                              --no-hook or WS_TEST_NO_HOOK=1); waits for the
#                              prompt; sets TMUX_TARGET TMUX_SHELL
#                              TMUX_SHELL_PID TMUX_SOCKET. Call it directly,
#                              not via `run`. Several shells per test are fine.
#   tmux_use NAME              switch the helpers below to another shell
#   tmux_run 'cmd' [S=10]      run cmd in the shell: prints its stdout and
#                              stderr, returns its status, once the prompt is
#                              back (prompt hooks done). cmd is in the shell's
#                              own language (fish: set -gx, begin/end; nu:
#                              $env.X = v; nu's `print` goes to the pane, not
#                              to stdout: use an external like ^printf)
#   tmux_send 'text'           type text, press Enter (no waiting)
#   tmux_keys KEY...           tmux key names: C-c, C-d, Up...
#   tmux_wait REGEX [S=10]     until a pane line (history included) matches
#                              the extended regex; else fail, printing the pane
#   tmux_pane                  the pane and its history, trailing blanks cut
#   tmux_stop                  close the terminal (SIGHUP), wait for the shell
#   TMUX_RUN_TIMEOUT, TMUX_START_TIMEOUT (10 s), TMUX_PROMPT_RE ('[$>%#] $',
#                              what the cursor line must end with for "at the
#                              prompt": set it if a test's PS1 ends otherwise)
#   q VALUE                    VALUE quoted for $TMUX_SHELL's language, for
#                              building commands to tmux_run
#   message_seen TEXT          TEXT was printed by the last `run tmux_run` or
#                              is on the terminal (a prompt hook's message);
#                              else fail, printing the pane
#   counter_rc SHELL           an rc line for tmux_start: a prompt counter in
#                              $_t_prompts, independent of ws
#
# Every test is stopped after BATS_TEST_TIMEOUT seconds (default 300), so a
# hang fails that test instead of the whole run.
#
# More helpers, each file loaded after this one by the tests that need it
# (`load test_helper/NAME`) and described in its own header:
#   state-home.bash            contexts, users and reapers of the state home
#                              as tests build and read them (ctx_dir,
#                              make_context, start_user, lines_of, reapers...)
#   strace.bash                strace_start / strace_stop: what a tmux shell
#                              starts (SPAWNS, NODE_EXECS)
#   ws-export.bash             the ws-export*.bats files' setup and helpers
#
# What tmux_run captures: everything the command writes, including what shell
# hooks write while it runs (zsh's chpwd). What prompt hooks write (bash's
# PROMPT_COMMAND, zsh's precmd, fish's fish_prompt event) goes to the pane:
# look for it with tmux_wait or tmux_pane.
#
# Internal names start with _wsh_ (not _WS_, which common_setup unsets).

_wsh_repo=$(cd "${BASH_SOURCE[0]%/*}/../.." && pwd)

# `run --separate-stderr` and `run -N` (exit code checks) need bats >= 1.5.
bats_require_minimum_version 1.5.0

# No test may hang the run, whatever the product does. What the caller set
# wins; a file may set its own after loading this one (keeping the caller's:
# ${_wsh_caller_timeout:-N}).
_wsh_caller_timeout=${BATS_TEST_TIMEOUT-}
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}

# ---------------------------------------------------------------- setup ----

common_setup() {
  local name
  # Inherited ws/direnv state would change what every command does.
  for name in $(compgen -v WS_) $(compgen -v DIRENV_) $(compgen -v _WS_); do
    unset "$name" 2>/dev/null || true
  done
  # Anything that makes a shell or tmux read the developer's own setup.
  unset BASH_ENV ENV CDPATH ZDOTDIR PROMPT_COMMAND GLOBIGNORE TMUX TMUX_PANE \
    TMUX_TMPDIR LANGUAGE

  export REPO="$_wsh_repo"
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_STATE_HOME="$BATS_TEST_TMPDIR/state"
  export XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/config"
  export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/cache"
  export XDG_DATA_HOME="$BATS_TEST_TMPDIR/data"
  export XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR/run"
  umask 022
  mkdir -p "$HOME" "$XDG_STATE_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" \
    "$XDG_DATA_HOME" "$BATS_TEST_TMPDIR/work"
  mkdir -p -m 0700 "$XDG_RUNTIME_DIR"

  export NO_COLOR=1
  export WS_REAPER_IDLE=5
  export WS_UNLOAD_GRACE=1
  # Loaded machines (CI, parallel jobs) can make even a trivial evaluation
  # miss the 100 ms default and go to the background; tests of background
  # builds set their own WS_BUILD_TIMEOUT.
  export WS_BUILD_TIMEOUT=10000
  # And no extra wait on a first entry (tests of that wait set their own).
  export WS_BUILD_WAIT=0
  # UTF-8 everywhere, so tmux and the shells keep non-ASCII (prompt glyphs).
  export LANG=C.UTF-8 LC_ALL=C.UTF-8
  case ":$PATH:" in
    *":$REPO/bin:"*) ;;
    *) export PATH="$REPO/bin:$PATH" ;;
  esac

  _wsh_tmux_dir="$BATS_TEST_TMPDIR/tmux"
  _wsh_tmux_count=0
  TMUX_TARGET="" TMUX_SHELL="" TMUX_SHELL_PID="" TMUX_SOCKET=""
  TMUX_PROMPT_RE='[$>%#] $'
  cd "$BATS_TEST_TMPDIR/work" || return
}

# ------------------------------------------------------- process helpers ----

# Prints the start time (clock ticks since boot) of PID; fails if PID is
# gone or a zombie. A PID with another start time is another process.
_wsh_starttime() {
  local stat rest
  [[ -r /proc/$1/stat ]] || return 1
  read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
  rest=${stat##*) } # comm may hold spaces and parentheses
  # shellcheck disable=SC2086
  set -- $rest
  [[ $1 != Z && $1 != X ]] || return 1
  printf '%s\n' "${20}"
}

_wsh_alive() { _wsh_starttime "$1" >/dev/null; }

# track_pid PID... — kill these in common_teardown (TERM, KILL after 2 s).
# Works from inside `run` too: the list lives in a file.
track_pid() {
  local pid start
  for pid; do
    [[ $pid =~ ^[0-9]+$ ]] || { echo "track_pid: not a PID: $pid" >&2; return 64; }
    start=$(_wsh_starttime "$pid") || continue
    printf '%s %s\n' "$pid" "$start" >>"$BATS_TEST_TMPDIR/.tracked-pids"
  done
}

# _wsh_kill_all "PID START"... — TERM, wait up to 2 s, then KILL and wait
# up to 2 s more. An entry whose PID now has another start time is skipped.
_wsh_kill_all() {
  local entry sig deadline live=() still=()
  for entry; do
    [[ $(_wsh_starttime "${entry%% *}") == "${entry#* }" ]] && live+=("$entry")
  done
  for sig in TERM KILL; do
    ((${#live[@]})) || return 0
    for entry in "${live[@]}"; do kill -"$sig" "${entry%% *}" 2>/dev/null || true; done
    _wsh_deadline deadline 2
    while ((${#live[@]} && ${EPOCHREALTIME/./} < deadline)); do
      sleep 0.05
      still=()
      for entry in "${live[@]}"; do
        [[ $(_wsh_starttime "${entry%% *}") == "${entry#* }" ]] && still+=("$entry")
      done
      live=("${still[@]}")
    done
  done
  return 0
}

# Every process started by this test (its environment has our HOME),
# printed as "PID START". grep runs with another HOME so it never lists itself.
_wsh_leftovers() {
  local file pid start
  HOME=/ grep -lzxF "HOME=$BATS_TEST_TMPDIR/home" /proc/[0-9]*/environ 2>/dev/null |
    while IFS= read -r file; do
      pid=${file#/proc/} pid=${pid%/environ}
      start=$(_wsh_starttime "$pid") && printf '%s %s\n' "$pid" "$start"
    done
}

# Reapers whose state home is inside this test's temp dir.
_wsh_reapers() {
  local file pid start cmdline
  # reaper.pid: the watcher (or a Node reaper); reaper.worker: the Node worker it started.
  for file in "$XDG_STATE_HOME/ws/reaper.pid" "${WS_STATE_HOME:+$WS_STATE_HOME/reaper.pid}" \
    "$XDG_STATE_HOME/ws/reaper.worker" "${WS_STATE_HOME:+$WS_STATE_HOME/reaper.worker}" \
    $(find "$BATS_TEST_TMPDIR" -maxdepth 6 \( -name reaper.pid -o -name reaper.worker \) 2>/dev/null); do
    [[ -n $file && -f $file && $file == "$BATS_TEST_TMPDIR"/* ]] || continue
    read -r pid _ <"$file" || true
    [[ $pid =~ ^[0-9]+$ ]] || continue
    start=$(_wsh_starttime "$pid") || continue
    # The PID may have been recycled: only a reaper or one of ours.
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    if [[ $cmdline == *reaper* ]] || HOME=/ grep -qzxF "HOME=$BATS_TEST_TMPDIR/home" "/proc/$pid/environ" 2>/dev/null; then
      printf '%s %s\n' "$pid" "$start"
    fi
  done
}

common_teardown() {
  local entries=() known=() entry sock
  : "${_wsh_tmux_dir:=$BATS_TEST_TMPDIR/tmux}"
  cd "$BATS_TEST_TMPDIR" 2>/dev/null || cd /
  # Reapers first, so that dying shells start no unload.
  mapfile -t entries < <(_wsh_reapers)
  ((${#entries[@]} == 0)) || _wsh_kill_all "${entries[@]}"
  # Closing a tmux server hangs up its shell (interactive bash and zsh
  # ignore SIGTERM, not SIGHUP).
  for sock in "$_wsh_tmux_dir"/*/socket; do
    [[ -f $sock ]] || continue
    read -r sock <"$sock"
    tmux -S "$sock" kill-server >/dev/null 2>&1 || true
  done
  for entry in "$_wsh_tmux_dir"/*/server-pid "$BATS_TEST_TMPDIR/.tracked-pids"; do
    [[ -f $entry ]] && mapfile -t -O "${#known[@]}" known <"$entry"
  done
  # Anything else this test started (its environment has our HOME) is a
  # leak: say so (shown when the test fails), then kill it too. A second
  # round catches what the dying processes started.
  local round
  for round in 1 2; do
    mapfile -t entries < <(_wsh_leftovers)
    for entry in "${entries[@]}"; do
      [[ " ${known[*]/%/,} " == *" $entry, "* ]] && continue
      echo "common_teardown: killing leftover process ${entry%% *}: $(tr '\0' ' ' <"/proc/${entry%% *}/cmdline" 2>/dev/null)" >&2
    done
    entries+=("${known[@]}")
    ((${#entries[@]} == 0)) || _wsh_kill_all "${entries[@]}"
    known=()
  done
  for sock in "$_wsh_tmux_dir"/*/socket; do
    [[ -f $sock ]] && read -r sock <"$sock" && rm -f "$sock"
  done
  return 0
}

# ----------------------------------------------------------- waiting ----

# _wsh_deadline VAR SECONDS — VAR = now + SECONDS (may be fractional), in µs.
_wsh_deadline() {
  local secs=$2 int frac=000000
  int=${secs%%.*}
  [[ $secs == *.* ]] && frac=${secs#*.}000000
  printf -v "$1" '%d' $((${EPOCHREALTIME/./} + ${int:-0} * 1000000 + 10#${frac:0:6}))
}

# wait_until 'shell condition' [TIMEOUT_S=10] — poll every 0.1 s.
# Locals are prefixed so that they do not hide the caller's variables.
wait_until() {
  local _wsh_cond=$1 _wsh_timeout=${2:-10} _wsh_until
  _wsh_deadline _wsh_until "$_wsh_timeout"
  while :; do
    if eval "$_wsh_cond"; then return 0; fi
    if ((${EPOCHREALTIME/./} > _wsh_until)); then
      echo "wait_until: timed out after ${_wsh_timeout}s: $_wsh_cond" >&2
      return 1
    fi
    sleep 0.1
  done
}

# write_workspace DIR ['content'] — writes DIR/.workspace (content from
# stdin when not given) and allows it with ws-allow.
write_workspace() {
  local dir=$1
  mkdir -p "$dir" || return
  if (($# >= 2)); then
    printf '%s\n' "$2" >"$dir/.workspace"
  else
    cat >"$dir/.workspace"
  fi || return
  ws-allow "$dir"
}

# ------------------------------------------------------------- tmux ----

# Runs "$@" with every file descriptor above 2 closed: the tmux server is
# forked from this client and keeps whatever it inherits, and an open copy of
# bats' output pipe would hang the whole run.
_wsh_exec_fds_closed() {
  (
    local fd
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
    done
    exec "$@" </dev/null >/dev/null
  )
}

_wsh_tmux() {
  [[ -n $TMUX_SOCKET ]] || { echo "tmux helpers: no shell started (call tmux_start first)" >&2; return 1; }
  tmux -S "$TMUX_SOCKET" "$@"
}

# Quote a word for bash/zsh or for fish; plain paths stay as they are so
# that the pane stays readable.
_wsh_quote_sh() {
  if [[ $1 =~ ^[-A-Za-z0-9_./+,:=@%]+$ ]]; then printf '%s' "$1"; else printf '%q' "$1"; fi
}
_wsh_quote_fish() { # in fish single quotes only \ and ' are special
  if [[ $1 =~ ^[-A-Za-z0-9_./+,:=@%]+$ ]]; then printf '%s' "$1"; return; fi
  local s=${1//\\/\\\\}
  printf "'%s'" "${s//\'/\\\'}"
}
# nushell: single quotes take everything but '; a raw string r#'...'# takes that too.
_wsh_quote_nu() {
  if [[ $1 != *"'"* ]]; then printf "'%s'" "$1"; return; fi
  local hashes='#'
  while [[ $1 == *"'$hashes"* ]]; do hashes+='#'; done
  printf "r%s'%s'%s" "$hashes" "$1" "$hashes"
}

# tmux_start [-n NAME] [--no-hook] bash|zsh|fish|nu ['rc line']...
# Starts a private tmux server (its own socket in the test dir, 200x50,
# TERM=screen) running the shell interactively with a generated rc file:
# prompt '$ ' (fish: '> '), no history file, then the extra rc lines, then the
# ws hook (skipped with --no-hook or WS_TEST_NO_HOOK=1). Waits until the
# prompt is up. Sets TMUX_TARGET, TMUX_SHELL, TMUX_SHELL_PID, TMUX_SOCKET.
# Call it directly, not through `run` (it sets variables).
tmux_start() {
  local name="" hook=1 timeout=${TMUX_START_TIMEOUT:-10}
  while (($#)); do
    case $1 in
      -n) name=$2; shift 2 ;;
      --no-hook) hook=0; shift ;;
      --) shift; break ;;
      -*) echo "tmux_start: unknown option: $1" >&2; return 64 ;;
      *) break ;;
    esac
  done
  local shell=${1:-}
  shift || true
  [[ ${WS_TEST_NO_HOOK:-} == 1 ]] && hook=0
  _wsh_tmux_count=$((_wsh_tmux_count + 1))
  name=${name:-sh$_wsh_tmux_count}
  local dir="$_wsh_tmux_dir/$name"
  [[ ! -e $dir ]] || { echo "tmux_start: a shell named $name exists already" >&2; return 64; }
  mkdir -p "$dir" || return

  local sock="$dir/tmux.sock"
  if ((${#sock} > 100)); then # sun_path holds 108 bytes
    sock=$(mktemp -u "${TMPDIR:-/tmp}/ws-bats-tmux.XXXXXXXX") || return
  fi
  printf '%s\n' "$sock" >"$dir/socket"

  local line argv=() env=()
  case $shell in
    bash)
      {
        echo "# generated by test-bats/test_helper/common-setup.bash"
        echo "PS1='\$ '"
        echo "unset HISTFILE"
        echo "set +H" # no history expansion: '!' in commands stays literal
        for line; do printf '%s\n' "$line"; done
        ((hook)) && echo 'eval "$(ws-export hook bash)"'
        echo ": >$(_wsh_quote_sh "$dir/ready")"
      } >"$dir/rc.bash"
      argv=(bash --noprofile --rcfile "$dir/rc.bash" -i)
      ;;
    zsh)
      mkdir -p "$dir/zdotdir"
      {
        echo "# generated by test-bats/test_helper/common-setup.bash"
        echo "PS1='\$ '"
        echo "unset HISTFILE"
        echo "setopt interactive_comments no_bang_hist"
        for line; do printf '%s\n' "$line"; done
        ((hook)) && echo 'eval "$(ws-export hook zsh)"'
        echo ": >$(_wsh_quote_sh "$dir/ready")"
      } >"$dir/zdotdir/.zshrc"
      # -d: no /etc/zsh/zshrc and friends; ZDOTDIR replaces ~/.zshrc.
      argv=(zsh -d -i)
      env=(-e "ZDOTDIR=$dir/zdotdir")
      ;;
    fish)
      {
        echo "# generated by test-bats/test_helper/common-setup.bash"
        echo "function fish_prompt; printf '> '; end"
        echo "function fish_right_prompt; end"
        echo "set -g fish_greeting ''"
        for line; do printf '%s\n' "$line"; done
        ((hook)) && echo 'ws-export hook fish | source'
        echo "true >$(_wsh_quote_fish "$dir/ready")"
      } >"$dir/rc.fish"
      argv=(fish --no-config --init-command "source $(_wsh_quote_fish "$dir/rc.fish")")
      ;;
    nu)
      # The hook the README's way: saved into nushell's autoload directory
      # (under this test's XDG_CONFIG_HOME), which nu sources after the rc file.
      {
        echo "# generated by test-bats/test_helper/common-setup.bash"
        echo "\$env.PROMPT_COMMAND = {|| '' }"
        echo "\$env.PROMPT_COMMAND_RIGHT = {|| '' }"
        echo "\$env.PROMPT_INDICATOR = {|| '> ' }"
        echo "\$env.config.show_banner = false"
        echo "\$env.config.use_kitty_protocol = false"
        echo "\$env.config.shell_integration = {osc2: false, osc7: false, osc8: false, osc9_9: false, osc133: false, osc633: false, reset_application_mode: false}"
        echo "mkdir (\$nu.user-autoload-dirs | first)"
        for line; do printf '%s\n' "$line"; done
        ((hook)) && echo 'ws-export hook nu | save -f ($nu.user-autoload-dirs | first | path join ws.nu)'
        echo "'' | save -f $(_wsh_quote_nu "$dir/ready")"
      } >"$dir/rc.nu"
      : >"$dir/env.nu"
      argv=(nu --no-history --config "$dir/rc.nu" --env-config "$dir/env.nu")
      ;;
    *)
      echo "tmux_start: unknown shell '$shell' (bash, zsh, fish or nu)" >&2
      return 64
      ;;
  esac

  cat >"$dir/tmux.conf" <<'EOF'
set -g default-terminal screen
set -g default-size 200x50
set -g status off
set -g history-limit 10000
set -sg escape-time 0
set -g remain-on-exit off
EOF
  # No WS_TEST_NO_HOOK in the server's (and so the shell's) environment.
  _wsh_exec_fds_closed env -u WS_TEST_NO_HOOK tmux -u -S "$sock" -f "$dir/tmux.conf" \
    new-session -d -s "$name" -x 200 -y 50 "${env[@]}" -- "${argv[@]}" ||
    { echo "tmux_start: tmux new-session failed" >&2; return 1; }

  TMUX_TARGET=$name TMUX_SHELL=$shell TMUX_SOCKET=$sock
  local ids server_pid start
  ids=$(_wsh_tmux display -p -t "$name" '#{pid} #{pane_pid}') || return
  server_pid=${ids% *} TMUX_SHELL_PID=${ids#* }
  start=$(_wsh_starttime "$server_pid") && echo "$server_pid $start" >"$dir/server-pid"
  track_pid "$TMUX_SHELL_PID"
  printf '%s\n' "$shell" "$TMUX_SHELL_PID" >"$dir/info"

  if ! _wsh_poll "$timeout" '[[ -e $dir/ready ]] && _wsh_at_prompt'; then
    echo "tmux_start: $shell did not show a prompt within ${timeout}s; pane:" >&2
    tmux_pane >&2
    return 1
  fi
}

# tmux_use NAME — make another started shell the target of the helpers.
tmux_use() {
  local dir="$_wsh_tmux_dir/$1" info=()
  [[ -f $dir/info ]] || { echo "tmux_use: no shell named $1" >&2; return 64; }
  mapfile -t info <"$dir/info"
  read -r TMUX_SOCKET <"$dir/socket"
  TMUX_TARGET=$1 TMUX_SHELL=${info[0]} TMUX_SHELL_PID=${info[1]}
}

# tmux_stop — close the current shell's terminal (its tmux server); the shell
# gets SIGHUP, as when a terminal window is closed. Waits until it is gone.
tmux_stop() {
  _wsh_tmux kill-server >/dev/null 2>&1 || true
  _wsh_poll 5 '! _wsh_alive "$TMUX_SHELL_PID"'
}

# _wsh_poll TIMEOUT_S 'condition' — every 20 ms.
_wsh_poll() {
  local _wsh_until
  _wsh_deadline _wsh_until "$1"
  while ! eval "$2"; do
    ((${EPOCHREALTIME/./} < _wsh_until)) || return 1
    sleep 0.02
  done
}

# True when the cursor sits right after a prompt ($TMUX_PROMPT_RE, default
# '[$>%#] $', matched against the cursor line up to the cursor) with nothing
# after it: the shell has run its prompt hooks and waits for input.
_wsh_at_prompt() {
  local lines=() pos x y line
  mapfile -t lines < <(_wsh_tmux display -p -t "$TMUX_TARGET" '#{cursor_x} #{cursor_y}' \; \
    capture-pane -p -N -t "$TMUX_TARGET" 2>/dev/null)
  pos=${lines[0]:-}
  [[ $pos =~ ^([0-9]+)\ ([0-9]+)$ ]] || return 1
  x=${BASH_REMATCH[1]} y=${BASH_REMATCH[2]}
  line=${lines[y + 1]:-}
  [[ ${line:0:x} =~ $TMUX_PROMPT_RE && ${line:x} =~ ^[[:space:]]*$ ]]
}

# tmux_send 'text' — type text into the shell and press Enter.
tmux_send() {
  if [[ -n ${1:-} ]]; then _wsh_tmux send-keys -t "$TMUX_TARGET" -l -- "$1" || return; fi
  _wsh_tmux send-keys -t "$TMUX_TARGET" Enter
}

# tmux_keys KEY... — send tmux key names (C-c, C-d, Up, Enter...).
tmux_keys() { _wsh_tmux send-keys -t "$TMUX_TARGET" "$@"; }

# tmux_pane — the pane's content with its history, trailing blanks removed.
tmux_pane() {
  local lines=() line i last=-1
  mapfile -t lines < <(_wsh_tmux capture-pane -p -J -S - -t "$TMUX_TARGET")
  for i in "${!lines[@]}"; do
    line=${lines[i]}
    line=${line%"${line##*[![:space:]]}"}
    lines[i]=$line
    [[ -n $line ]] && last=$i
  done
  for ((i = 0; i <= last; i++)); do printf '%s\n' "${lines[i]}"; done
}

# tmux_wait REGEX [TIMEOUT_S=10] — until a line of the pane (history
# included) matches the extended regex; else fail and print the pane.
tmux_wait() {
  local re=$1 timeout=${2:-10}
  if _wsh_poll "$timeout" 'tmux_pane | grep -qE -- "$re"'; then return 0; fi
  echo "tmux_wait: /$re/ did not appear within ${timeout}s; pane:" >&2
  tmux_pane >&2
  return 1
}

# tmux_run 'command' [TIMEOUT_S=${TMUX_RUN_TIMEOUT:-10}]
# Runs the command in the interactive shell (as typed there: cd, export,
# set -gx persist), prints its stdout on stdout and its stderr on stderr,
# and returns its exit status. The command is written to a file that the
# shell sources with its output sent to files, so nothing is scraped from
# the screen and any text (quotes, newlines, tabs) is fine. Returns once the
# shell is back at its prompt, i.e. after the prompt hook ran. Commands that
# end the shell (exit, exec) never return: use tmux_send for those.
tmux_run() {
  local cmd=$1 timeout=${2:-${TMUX_RUN_TIMEOUT:-10}}
  local dir="$_wsh_tmux_dir/$TMUX_TARGET" seq=0 base
  [[ -n $TMUX_TARGET && -d $dir ]] || { echo "tmux_run: no shell started (call tmux_start first)" >&2; return 1; }
  # The counter lives in a file: `run tmux_run` works in a subshell.
  [[ -f $dir/seq ]] && read -r seq <"$dir/seq"
  seq=$((seq + 1))
  echo "$seq" >"$dir/seq"
  base="$dir/$seq"
  local q=_wsh_quote_sh line
  [[ $TMUX_SHELL == fish ]] && q=_wsh_quote_fish
  [[ $TMUX_SHELL == nu ]] && q=_wsh_quote_nu
  printf '%s\n' "$cmd" >"$base.cmd"
  if [[ $TMUX_SHELL == nu ]]; then
    # An error in the command ends the line: the catch still writes a status.
    # A command whose value is nothing (an assignment) writes an empty file.
    line="try { \$env.LAST_EXIT_CODE = 0; do --env { source $($q "$base.cmd") } e> $($q "$base.err") | default '' o> $($q "$base.out"); \$\"(\$env.LAST_EXIT_CODE)\\n\" | save -f $($q "$base.rc") } catch {|e| \$e.msg | save -f $($q "$base.err"); if not ($($q "$base.out") | path exists) { '' | save -f $($q "$base.out") }; \"1\\n\" | save -f $($q "$base.rc") }"
  elif [[ $TMUX_SHELL == fish ]]; then
    line="source $($q "$base.cmd") >$($q "$base.out") 2>$($q "$base.err"); echo \$status >$($q "$base.rc")"
  else
    line=". $($q "$base.cmd") >$($q "$base.out") 2>$($q "$base.err"); echo \$? >$($q "$base.rc")"
  fi
  tmux_send "$line" || return
  if ! _wsh_poll "$timeout" '[[ -s $base.rc ]]'; then
    echo "tmux_run: '$cmd' did not finish within ${timeout}s in $TMUX_SHELL; pane:" >&2
    tmux_pane >&2
    return 1
  fi
  if ! _wsh_poll "$timeout" _wsh_at_prompt; then
    echo "tmux_run: $TMUX_SHELL did not come back to a prompt matching /$TMUX_PROMPT_RE/ within ${timeout}s; pane:" >&2
    tmux_pane >&2
    return 1
  fi
  cat "$base.out"
  cat "$base.err" >&2
  local rc
  read -r rc <"$base.rc"
  return "$rc"
}

# q VALUE — VALUE quoted for $TMUX_SHELL's language (every byte but NUL,
# newlines too): for building commands to tmux_run.
q() {
  if [[ $TMUX_SHELL == nu ]]; then
    _wsh_quote_nu "$1"
  elif [[ $TMUX_SHELL == fish ]]; then
    local s=${1//\\/\\\\}
    printf "'%s'" "${s//\'/\\\'}"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

# message_seen TEXT — TEXT was printed by the last `run tmux_run` (zsh and
# fish run the hook inside `cd`) or on the terminal (bash runs it at the
# prompt, where tmux_run does not capture it); else say so, with the pane.
message_seen() {
  [[ ${output-}${stderr-} == *"$1"* ]] && return 0
  tmux_pane | grep -qF -- "$1" && return 0
  echo "message not seen: $1" >&2
  tmux_pane >&2
  return 1
}

# counter_rc bash|zsh|fish — an rc line for tmux_start: a prompt counter
# independent of ws, in $_t_prompts, with builtins only.
counter_rc() {
  case $1 in
    bash) echo '_t_prompts=0; PROMPT_COMMAND="_t_prompts=\$((_t_prompts + 1))"' ;;
    zsh) echo '_t_prompts=0; _t_count() { _t_prompts=$((_t_prompts + 1)); }; precmd_functions+=(_t_count)' ;;
    fish) echo 'set -g _t_prompts 0; function _t_count --on-event fish_prompt; set -g _t_prompts (math $_t_prompts + 1); end' ;;
  esac
}
