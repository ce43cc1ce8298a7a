#!/usr/bin/env bats
# Trust (SPEC §3): ws-allow, ws-deny, ws-edit and WS_TRUSTED_DIRS. A
# workspace file never runs until its exact content is allowed.

load test_helper/common-setup

# No test may hang the run, whatever the product does.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

setup() {
  common_setup
  export WS_BUILD_TIMEOUT=60000
  W="$BATS_TEST_TMPDIR/work"
  BLOCKED_SUFFIX="is blocked. Run 'ws-allow' to approve its content."
}
teardown() { common_teardown; }

# ws_file DIR 'content' — a workspace file, not allowed.
ws_file() {
  mkdir -p "$1"
  printf '%s\n' "$2" >"$1/.workspace"
}

# loads DIR — true if ws-export in DIR applies the file (it sets LOADED=1).
loads() {
  local out
  out=$(cd "$1" && timeout 20 ws-export json 2>"$BATS_TEST_TMPDIR/export.err") || return 2
  [ "$(jq -r '.set.LOADED // "no"' <<<"$out")" = 1 ]
}

# blocked FILE — ws-export in FILE's directory prints the blocked message
# for FILE, exits 0 and applies nothing.
blocked() {
  local out status=0
  out=$(cd "${1%/*}" && timeout 20 ws-export json 2>"$BATS_TEST_TMPDIR/export.err") || status=$?
  [ "$status" -eq 0 ] || { echo "ws-export exited $status" >&2; return 1; }
  grep -qxF "ws: $1 $BLOCKED_SUFFIX" "$BATS_TEST_TMPDIR/export.err" || { cat "$BATS_TEST_TMPDIR/export.err" >&2; return 1; }
  [ "$out" = '{"set":{},"unset":[]}' ]
}

# An editor for ws-edit: writes $EDIT_CONTENT into the file, logs its argv.
make_editor() {
  cat >"$BATS_TEST_TMPDIR/editor" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$@" >>"$EDITOR_LOG"
file=${!#}
printf '%s\n' "$EDIT_CONTENT" >"$file"
exit "${EDITOR_STATUS:-0}"
EOF
  chmod +x "$BATS_TEST_TMPDIR/editor"
  export EDITOR_LOG="$BATS_TEST_TMPDIR/editor.log"
}

# --------------------------------------------------------- CLI contract ----

@test "ws-allow outside any workspace exits 66 naming the directory" {
  cd "$W"
  run --separate-stderr -66 ws-allow
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "ws-allow: no workspace file in $W or above" ]
}

@test "ws-deny outside any workspace exits 66" {
  cd "$W"
  run --separate-stderr -66 ws-deny
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == "ws-deny: "* ]]
}

@test "unknown options exit 64 with one line on stderr only" {
  for cmd in ws-allow ws-deny ws-edit; do
    run --separate-stderr -64 "$cmd" --bogus
    [ -z "$output" ]
    [ "$stderr" = "$cmd: unknown option '--bogus'" ]
  done
  run --separate-stderr -64 ws-allow --list=yes
  [ "$stderr" = "ws-allow: option '--list' takes no value" ]
}

@test "a surplus argument exits 64" {
  for cmd in ws-allow ws-deny ws-edit; do
    run --separate-stderr -64 "$cmd" a b
    [ -z "$output" ]
    [[ ${stderr_lines[0]} == "$cmd: unexpected argument 'b'" ]]
  done
}

@test "--help prints the usage on stdout and exits 0" {
  for cmd in ws-allow ws-deny ws-edit; do
    run --separate-stderr "$cmd" --help
    [ "$status" -eq 0 ]
    [[ $output == *"$cmd"* ]]
    [[ $output == *PATH* ]]
    [ -z "$stderr" ]
  done
  run --separate-stderr ws-allow --help
  [[ $output == *--list* ]]
}

@test "--version prints the name and version" {
  for cmd in ws-allow ws-deny ws-edit; do
    run --separate-stderr "$cmd" --version
    [ "$status" -eq 0 ]
    [[ $output =~ ^$cmd\ [0-9]+\.[0-9]+\.[0-9]+ ]]
    [ -z "$stderr" ]
  done
}

@test "ws-allow --json without --list exits 64" {
  ws_file "$W/proj" 'export LOADED=1'
  cd "$W/proj"
  run --separate-stderr -64 ws-allow --json
  [ -z "$output" ]
  [[ ${stderr_lines[0]} == "ws-allow: "*--list* ]]
}

@test "a path that does not exist exits 66" {
  for cmd in ws-allow ws-deny; do
    run --separate-stderr -66 "$cmd" "$W/nope"
    [ -z "$output" ]
    [[ ${stderr_lines[0]} == "$cmd: $W/nope"* ]]
  done
}

@test "a directory without a workspace file exits 66" {
  mkdir -p "$W/empty"
  run --separate-stderr -66 ws-allow "$W/empty"
  [ "${stderr_lines[0]}" = "ws-allow: no workspace file in $W/empty" ]
}

@test "an unsafe state home makes every trust command exit 77 and write nothing" {
  ws_file "$W/proj" 'export LOADED=1'
  mkdir -p "$XDG_STATE_HOME/ws"
  chmod 0777 "$XDG_STATE_HOME/ws"
  make_editor
  export EDITOR="$BATS_TEST_TMPDIR/editor" EDIT_CONTENT='export LOADED=1'
  cd "$W/proj"
  for cmd in ws-allow ws-deny ws-edit; do
    run --separate-stderr -77 "$cmd"
    [ -z "$output" ]
    [[ ${stderr_lines[0]} == "$cmd: state home "*"writable by others"* ]]
  done
  [ -z "$(ls -A "$XDG_STATE_HOME/ws")" ]
  [ ! -e "$EDITOR_LOG" ]
}

# ------------------------------------------------------------ ws-allow ----

@test "a new workspace file is blocked until ws-allow" {
  ws_file "$W/proj" "export LOADED=1; touch $(printf %q "$W/ran")"
  blocked "$W/proj/.workspace"
  [ ! -e "$W/ran" ]
  cd "$W/proj"
  run --separate-stderr ws-allow
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$stderr" = "ws-allow: allowed $W/proj/.workspace" ]
  loads "$W/proj"
  [ -e "$W/ran" ]
}

@test "ws-allow from a subdirectory allows the current context's file" {
  ws_file "$W/proj" 'export LOADED=1'
  mkdir -p "$W/proj/a/b"
  cd "$W/proj/a/b"
  ws-allow 2>/dev/null
  loads "$W/proj/a/b"
}

@test "ws-allow FILE allows that file; ws-allow DIR its workspace file and .workspace.local" {
  ws_file "$W/one" 'export LOADED=1'
  ws-allow "$W/one/.workspace" 2>/dev/null
  loads "$W/one"
  ws_file "$W/two" 'export X=1'
  echo 'export LOADED=1' >"$W/two/.workspace.local"
  run --separate-stderr ws-allow "$W/two"
  [ "$status" -eq 0 ]
  [ "${stderr_lines[0]}" = "ws-allow: allowed $W/two/.workspace" ]
  [ "${stderr_lines[1]}" = "ws-allow: allowed $W/two/.workspace.local" ]
  loads "$W/two"
}

@test "ws-allow with a relative path" {
  ws_file "$W/proj" 'export LOADED=1'
  cd "$W"
  ws-allow proj 2>/dev/null
  loads "$W/proj"
}

@test "any change of the content blocks it again, even one byte; restoring it unblocks" {
  ws_file "$W/proj" 'export LOADED=1'
  ws-allow "$W/proj" 2>/dev/null
  loads "$W/proj"
  printf ' ' >>"$W/proj/.workspace"
  blocked "$W/proj/.workspace"
  printf '%s\n' 'export LOADED=1' >"$W/proj/.workspace"
  loads "$W/proj"
}

@test "touching the file without changing its content keeps it allowed" {
  ws_file "$W/proj" 'export LOADED=1'
  ws-allow "$W/proj" 2>/dev/null
  touch -d '2001-01-01' "$W/proj/.workspace"
  loads "$W/proj"
}

@test "trust is per path: the same content copied elsewhere is blocked" {
  ws_file "$W/proj" 'export LOADED=1'
  ws-allow "$W/proj" 2>/dev/null
  mkdir -p "$W/copy"
  cp "$W/proj/.workspace" "$W/copy/.workspace"
  blocked "$W/copy/.workspace"
}

@test "trust follows the real path: allowing through a symlink allows the directory it points to" {
  ws_file "$W/real" 'export LOADED=1'
  ln -s real "$W/link"
  ws-allow "$W/link" 2>/dev/null
  loads "$W/real"
  loads "$W/link"
}

@test "trust covers the workspace file, not the files it sources" {
  echo 'export LOADED=1' >"$W/sourced.sh"
  ws_file "$W/proj" 'source_env ../sourced.sh'
  ws-allow "$W/proj" 2>/dev/null
  loads "$W/proj"
  echo 'export LOADED=1 CHANGED=1' >"$W/sourced.sh"
  loads "$W/proj"
}

@test "ws-allow records the allow event" {
  ws_file "$W/proj" 'export LOADED=1'
  ws-allow "$W/proj" 2>/dev/null
  jq -s -e --arg r "$W/proj" 'any(.[]; .type == "allow" and .root == $r)' "$XDG_STATE_HOME/ws/events.jsonl" >/dev/null
}

@test "ws-allow --list shows allowed, changed, missing and denied files" {
  ws_file "$W/ok" 'export LOADED=1'
  ws_file "$W/changed" 'export LOADED=1'
  ws_file "$W/gone" 'export LOADED=1'
  ws_file "$W/denied" 'export LOADED=1'
  for d in ok changed gone denied; do ws-allow "$W/$d" 2>/dev/null; done
  ws-deny "$W/denied" 2>/dev/null
  echo 'export LOADED=2' >"$W/changed/.workspace"
  rm "$W/gone/.workspace"
  run --separate-stderr ws-allow --list
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "${#lines[@]}" -eq 4 ]
  grep -qE "^allowed +$W/ok/.workspace\$" <<<"$output"
  grep -qE "^changed +$W/changed/.workspace\$" <<<"$output"
  grep -qE "^missing +$W/gone/.workspace\$" <<<"$output"
  grep -qE "^denied +$W/denied/.workspace\$" <<<"$output"
}

@test "ws-allow --list --json is one JSON array with path and status" {
  ws_file "$W/ok" 'export LOADED=1'
  ws-allow "$W/ok" 2>/dev/null
  ws_file "$W/no" 'export LOADED=1'
  ws-deny "$W/no" 2>/dev/null
  run --separate-stderr ws-allow --list --json
  [ "$status" -eq 0 ]
  # One document (not JSON lines), an array of both records, sorted by path.
  [ "$(jq -s 'length' <<<"$output")" -eq 1 ]
  [ "$(jq -r 'type' <<<"$output")" = array ]
  [ "$(jq -r '.[1].path' <<<"$output")" = "$W/ok/.workspace" ]
  [ "$(jq -r '.[1].status' <<<"$output")" = allowed ]
  [ "$(jq -r '.[1].sha256' <<<"$output")" = "$(sha256sum "$W/ok/.workspace" | cut -d' ' -f1)" ]
  [ "$(jq -r '.[0].path' <<<"$output")" = "$W/no/.workspace" ]
  [ "$(jq -r '.[0].status' <<<"$output")" = denied ]
}

@test "ws-allow --list with nothing recorded prints nothing" {
  run --separate-stderr ws-allow --list
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "a corrupt allow record is ignored by --list and counts as not allowed" {
  ws_file "$W/proj" 'export LOADED=1'
  ws-allow "$W/proj" 2>/dev/null
  for f in "$XDG_STATE_HOME"/ws/allow/*; do printf 'garbage{' >"$f"; done
  run --separate-stderr ws-allow --list
  [ "$status" -eq 0 ]
  blocked "$W/proj/.workspace"
  ws-allow "$W/proj" 2>/dev/null
  loads "$W/proj"
}

@test "allow records live in the 0700 state home, not in the project, and hold path and content hash" {
  ws_file "$W/proj" 'export LOADED=1'
  ws-allow "$W/proj" 2>/dev/null
  [ "$(ls -A "$W/proj")" = .workspace ]
  record=$(ls "$XDG_STATE_HOME"/ws/allow/*)
  [ "$(jq -r .path "$record")" = "$W/proj/.workspace" ]
  [ "$(jq -r .sha256 "$record")" = "$(sha256sum "$W/proj/.workspace" | cut -d' ' -f1)" ]
  [ "$(stat -c '%a' "$XDG_STATE_HOME/ws")" = 700 ]
  [ -z "$(find "$XDG_STATE_HOME/ws" -name '*.tmp*')" ]
}

# ------------------------------------------------------------- ws-deny ----

@test "ws-deny revokes an allowed file and blocks it" {
  ws_file "$W/proj" 'export LOADED=1'
  ws-allow "$W/proj" 2>/dev/null
  loads "$W/proj"
  cd "$W/proj"
  run --separate-stderr ws-deny
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$stderr" = "ws-deny: blocked $W/proj/.workspace" ]
  blocked "$W/proj/.workspace"
}

@test "ws-deny DIR blocks .workspace.local too" {
  ws_file "$W/proj" 'export LOADED=1'
  echo 'export L=1' >"$W/proj/.workspace.local"
  ws-allow "$W/proj" 2>/dev/null
  run --separate-stderr ws-deny "$W/proj"
  [ "$status" -eq 0 ]
  [ "${#stderr_lines[@]}" -eq 2 ]
  ws-allow "$W/proj/.workspace" 2>/dev/null
  blocked "$W/proj/.workspace.local"
}

@test "a denied file can be allowed again" {
  ws_file "$W/proj" 'export LOADED=1'
  ws-deny "$W/proj" 2>/dev/null
  blocked "$W/proj/.workspace"
  ws-allow "$W/proj" 2>/dev/null
  loads "$W/proj"
  run --separate-stderr ws-allow --list
  grep -qE "^allowed +$W/proj/.workspace\$" <<<"$output"
  [[ $output != *denied* ]]
}

@test "a file denied in a shell is unloaded at its next export" {
  ws_file "$W/proj" 'export LOADED=1'
  ws-allow "$W/proj" 2>/dev/null
  cd "$W/proj"
  eval "$(ws-export bash 2>/dev/null)"
  [ "$LOADED" = 1 ]
  ws-deny 2>/dev/null
  eval "$(ws-export bash 2>/dev/null)"
  [ -z "${LOADED+set}" ]
  [ -z "${WS_ROOT+set}" ]
}

# ------------------------------------------------------------- ws-edit ----

@test "ws-edit opens \$EDITOR on the file and allows what was saved" {
  ws_file "$W/proj" 'export LOADED=0'
  make_editor
  export EDITOR="$BATS_TEST_TMPDIR/editor" EDIT_CONTENT='export LOADED=1'
  cd "$W/proj"
  run --separate-stderr ws-edit
  [ "$status" -eq 0 ]
  [ "$(cat "$EDITOR_LOG")" = "$W/proj/.workspace" ]
  [[ $stderr == *"ws-edit: allowed $W/proj/.workspace"* ]]
  loads "$W/proj"
}

@test "ws-edit prefers \$VISUAL to \$EDITOR, and an editor with arguments works" {
  ws_file "$W/proj" 'export LOADED=0'
  make_editor
  export EDITOR=false VISUAL="$BATS_TEST_TMPDIR/editor --wait" EDIT_CONTENT='export LOADED=1'
  run --separate-stderr ws-edit "$W/proj"
  [ "$status" -eq 0 ]
  [ "$(cat "$EDITOR_LOG")" = $'--wait\n'"$W/proj/.workspace" ]
  loads "$W/proj"
}

@test "ws-edit with no workspace around creates ./.workspace and allows it" {
  make_editor
  export EDITOR="$BATS_TEST_TMPDIR/editor" EDIT_CONTENT='export LOADED=1'
  mkdir -p "$W/new"
  cd "$W/new"
  run --separate-stderr ws-edit
  [ "$status" -eq 0 ]
  [ -f "$W/new/.workspace" ]
  loads "$W/new"
}

@test "ws-edit PATH of a file that does not exist yet creates it" {
  make_editor
  export EDITOR="$BATS_TEST_TMPDIR/editor" EDIT_CONTENT='export LOADED=1'
  mkdir -p "$W/new"
  run --separate-stderr ws-edit "$W/new/.workspace"
  [ "$status" -eq 0 ]
  loads "$W/new"
}

@test "an editor that fails: its exit status, nothing allowed" {
  ws_file "$W/proj" 'export LOADED=0'
  make_editor
  export EDITOR="$BATS_TEST_TMPDIR/editor" EDIT_CONTENT='export LOADED=1' EDITOR_STATUS=3
  run --separate-stderr -3 ws-edit "$W/proj"
  blocked "$W/proj/.workspace"
}

@test "ws-edit without an editor it can run exits 69 with a hint, and allows nothing" {
  ws_file "$W/proj" 'export LOADED=1'
  run --separate-stderr -69 env -u VISUAL EDITOR=no-such-editor-here ws-edit "$W/proj"
  [ "${stderr_lines[-2]}" = "ws-edit: cannot run editor 'no-such-editor-here': not found" ]
  [ "${stderr_lines[-1]}" = "set VISUAL or EDITOR to your editor, e.g. export EDITOR=nano" ]
  blocked "$W/proj/.workspace"
  # Neither VISUAL nor EDITOR, and no vi on PATH: the same.
  mkdir -p "$BATS_TEST_TMPDIR/nobin"
  ln -s "$(command -v node)" "$BATS_TEST_TMPDIR/nobin/node"
  ln -s "$(command -v sh)" "$BATS_TEST_TMPDIR/nobin/sh"
  run --separate-stderr -69 env -u VISUAL -u EDITOR PATH="$BATS_TEST_TMPDIR/nobin" "$REPO/bin/ws-edit" "$W/proj"
  [ "${stderr_lines[-2]}" = "ws-edit: cannot run editor 'vi': not found" ]
  blocked "$W/proj/.workspace"
}

@test "an editor that does not save a new file: nothing allowed, exit 0" {
  export EDITOR=true
  mkdir -p "$W/new"
  cd "$W/new"
  run --separate-stderr ws-edit
  [ "$status" -eq 0 ]
  [ ! -e "$W/new/.workspace" ]
  [[ $stderr == *"not saved"* ]]
  [ -z "$(ls -A "$XDG_STATE_HOME/ws/allow" 2>/dev/null)" ]
}

@test "ws-edit passes a file name with shell characters safely to the editor" {
  make_editor
  export EDITOR="$BATS_TEST_TMPDIR/editor" EDIT_CONTENT='export LOADED=1'
  dir="$W/a \$(touch $W/marker) \`touch $W/marker2\` 'q'"
  mkdir -p "$dir"
  run --separate-stderr ws-edit "$dir/.workspace"
  [ "$status" -eq 0 ]
  [ "$(cat "$EDITOR_LOG")" = "$dir/.workspace" ]
  [ ! -e "$W/marker" ]
  [ ! -e "$W/marker2" ]
  loads "$dir"
}

@test "ws-edit of a changed (blocked) file allows the content the editor saved, not the content before" {
  ws_file "$W/proj" 'export LOADED=0'
  ws-allow "$W/proj" 2>/dev/null
  echo 'export LOADED=2; touch /nonexistent/evil' >"$W/proj/.workspace"
  make_editor
  export EDITOR="$BATS_TEST_TMPDIR/editor" EDIT_CONTENT='export LOADED=1'
  ws-edit "$W/proj" 2>/dev/null
  loads "$W/proj"
}

# ----------------------------------------------------- WS_TRUSTED_DIRS ----

@test "a file in or below a WS_TRUSTED_DIRS directory loads without ws-allow" {
  ws_file "$W/mine/proj" 'export LOADED=1'
  ws_file "$W/mine/deep/er/proj" 'export LOADED=1'
  ws_file "$W/mine2" 'export LOADED=1'
  export WS_TRUSTED_DIRS="/nonexistent:$W/mine"
  loads "$W/mine/proj"
  loads "$W/mine/deep/er/proj"
  blocked "$W/mine2/.workspace"
}

@test "WS_TRUSTED_DIRS naming the workspace's own directory trusts its file" {
  ws_file "$W/proj" 'export LOADED=1'
  WS_TRUSTED_DIRS="$W/proj" loads "$W/proj"
}

@test "a directory whose name merely starts like a trusted one is not trusted" {
  ws_file "$W/mine-evil" 'export LOADED=1'
  export WS_TRUSTED_DIRS="$W/mine"
  blocked "$W/mine-evil/.workspace"
}

@test "a relative or empty WS_TRUSTED_DIRS entry trusts nothing" {
  ws_file "$W/proj" 'export LOADED=1'
  cd "$W"
  export WS_TRUSTED_DIRS="proj::."
  blocked "$W/proj/.workspace"
}

@test "a symlink into a trusted directory is trusted; a symlink out of one is not" {
  ws_file "$W/mine/proj" 'export LOADED=1'
  ws_file "$W/other" 'export LOADED=1'
  ln -s "$W/mine/proj" "$W/in-link"
  ln -s "$W/other" "$W/mine/out-link"
  export WS_TRUSTED_DIRS="$W/mine"
  loads "$W/in-link"
  blocked "$W/mine/out-link/.workspace" || blocked "$W/other/.workspace"
}

@test "ws-deny wins over WS_TRUSTED_DIRS" {
  ws_file "$W/mine/proj" 'export LOADED=1'
  export WS_TRUSTED_DIRS="$W/mine"
  loads "$W/mine/proj"
  ws-deny "$W/mine/proj" 2>/dev/null
  blocked "$W/mine/proj/.workspace"
}

@test "a .workspace.local in a trusted directory is trusted too" {
  ws_file "$W/mine/proj" 'export A=1'
  echo 'export LOADED=1' >"$W/mine/proj/.workspace.local"
  export WS_TRUSTED_DIRS="$W/mine"
  loads "$W/mine/proj"
}
