#!/usr/bin/env bats
# README.md's examples, run exactly as written, so the README cannot rot.
# "A first `.workspace`" starts PostgreSQL: initdb and postgres refuse to run
# as root, and tests run as root, so the whole session runs as an
# unprivileged user (created once, idempotently) in a directory it owns, the
# way a person would: their own HOME, their own state home, a bare `psql`.

load test_helper/common-setup

README_USER=wsreadme

setup_file() {
  if [[ $EUID -eq 0 ]] && ! id -u "$README_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /bin/bash "$README_USER" 2>/dev/null ||
      id -u "$README_USER" >/dev/null # created meanwhile by a parallel run
  fi
}

setup() {
  common_setup
  # bats' own temporary directories are root's and 0700: the user needs its own.
  userdir=$(mktemp -d /tmp/ws-readme.XXXXXX)
  mkdir -p "$userdir/home/src/shop"
}

teardown() {
  # Everything the user started: the shell's reaper, postgres.
  [[ -z ${userdir-} || $EUID -ne 0 ]] || pkill -KILL -u "$README_USER" 2>/dev/null || true
  common_teardown
  [[ -z ${userdir-} ]] || rm -rf "$userdir"
}

# readme_block HEADING — the first ```bash block after the line "## HEADING".
readme_block() {
  awk -v heading="## $1" '
    $0 == heading { found = 1; next }
    found && /^```bash$/ { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }
  ' "$REPO/README.md"
}

# as_user SCRIPT — runs SCRIPT in bash as the unprivileged user (when the
# tests run as root; else as ourselves), with a clean environment of its own,
# as a login would give it.
as_user() {
  local become=()
  [[ $EUID -ne 0 ]] || become=(setpriv --reuid="$README_USER" --regid="$README_USER" --init-groups --)
  "${become[@]}" env -i HOME="$userdir/home" PATH="$REPO/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
    WS_BUILD_TIMEOUT=60000 WS_UNLOAD_GRACE=1 WS_REAPER_IDLE=5 NO_COLOR=1 \
    bash -c "$1"
}

@test "the README's first .workspace starts a PostgreSQL that a bare psql reaches, and stops it when the shell exits" {
  [[ -d /usr/lib/postgresql ]] || { echo "PostgreSQL is not installed (.ci/run installs it)" >&2; return 1; }
  readme_block 'A first `.workspace`' >"$userdir/home/src/shop/.workspace"
  grep -q 'service postgres' "$userdir/home/src/shop/.workspace"
  [[ $EUID -ne 0 ]] || chown -R "$README_USER:" "$userdir"

  # The README's session: cd, ws-allow, the hook loads, psql connects, exit.
  run --separate-stderr as_user '
    cd ~/src/shop || exit
    ws-allow || exit
    eval "$(ws-export bash)" || exit
    echo "PGPORT=$PGPORT PGHOST=$PGHOST"
    psql -tAc "select 40 + 2"
  '
  echo "stdout: $output" >&2
  echo "stderr: $stderr" >&2
  [ "$status" -eq 0 ]
  [[ ${lines[0]} =~ ^PGPORT=[0-9]+\ PGHOST=/.+/data$ ]]
  [ "${lines[1]}" = 42 ]
  [[ $stderr == *"ws: export ~PATH +PGDATA +PGDATABASE +PGHOST +PGPORT"* ]]

  # The shell has exited: after the grace the reaper stops postgres and runs the hook.
  state="$userdir/home/.local/state/ws"
  ctx=$(echo "$state"/contexts/shop-*)
  wait_until "grep -q 'bye from shop' '$ctx/unload.log'" 20
  wait_until "! pgrep -u $README_USER -x postgres >/dev/null" 20
  run jq -r 'select(.type == "service.stop") | .service' "$state/events.jsonl"
  [ "$output" = postgres ]
}

# readme_hook_line SHELL — the "line" cell of the README's hook table for
# SHELL, as a user copies it (the table writes | as \|).
readme_hook_line() {
  local line
  line=$(sed -n "s/^| $1 | \`[^\`]*\` | \`\\(.*\\)\` |\$/\\1/p" "$REPO/README.md" | head -n 1)
  printf '%s\n' "${line//\\|/|}"
}

@test "the README's hook line for bash, zsh, fish and nu, alone in the rc file: cd loads a workspace, leaving unloads it" {
  command -v nu >/dev/null || { echo "nu is not installed (.ci/run installs it from the npm registry)" >&2; return 1; }
  local proj="$BATS_TEST_TMPDIR/proj" shell line printenv
  write_workspace "$proj" 'export README_HOOK=loaded'
  for shell in bash zsh fish nu; do
    line=$(readme_hook_line "$shell")
    [[ $line == *"ws-export hook $shell"* ]] || { echo "the README has no hook line for $shell: '$line'" >&2; return 1; }
    printenv=printenv
    [[ $shell != nu ]] || printenv=^printenv
    # --no-hook: the README's line is the only hook (for nu after the
    # mkdir of the autoload directory that tmux_start's rc file has).
    tmux_start --no-hook "$shell" "$line"
    tmux_run "cd $(q "$proj")"
    [ "$(tmux_run "$printenv README_HOOK")" = loaded ]
    tmux_run "cd $(q "$BATS_TEST_TMPDIR")"
    run --separate-stderr tmux_run "$printenv README_HOOK"
    [ "$status" -ne 0 ]
    [ -z "$output" ] || { echo "$shell: still set after leaving: $output" >&2; return 1; }
  done
}

# docs/coming-from.md's ws commands, as written there (`ws-allow --list`,
# `ws exec DIR -- CMD`, `ws-service status|logs`): each is a command of
# bin/, and each subcommand or option it names is in that command's --help.
@test "docs/coming-from.md names only ws commands, subcommands and options that exist" {
  local span cmd help word checked=0
  while IFS= read -r span; do
    span=${span//\\|/|}
    span=${span%% | *} # a pipe into another program ends the ws command
    read -r -a words <<<"$span"
    cmd=${words[0]} words=("${words[@]:1}")
    if [[ $cmd == ws && ${#words[@]} -gt 0 ]]; then cmd=ws-${words[0]} words=("${words[@]:1}"); fi
    [[ -x $REPO/bin/$cmd ]] || { echo "coming-from.md: '$span': no command $cmd in bin/" >&2; return 1; }
    help=$("$REPO/bin/$cmd" --help)
    for word in "${words[@]}"; do
      # Placeholders (DIR, CMD, [PATH], ...) and the -- before a command are not checked.
      [[ $word == -- || $word =~ ^[A-Z.[] ]] && continue
      local part
      IFS='|' read -r -a parts <<<"$word"
      for part in "${parts[@]}"; do
        [[ $help == *"$part"* ]] || { echo "coming-from.md: '$span': '$part' is not in $cmd --help" >&2; return 1; }
        checked=$((checked + 1))
      done
    done
  done < <(grep -o '`ws[ -][^`]*`' "$REPO/docs/coming-from.md" | tr -d '`' | sort -u)
  # The page does name subcommands and options (the loop checked some).
  ((checked >= 8))
}
