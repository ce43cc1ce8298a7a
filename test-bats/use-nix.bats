#!/usr/bin/env bats
# The stdlib's `use nix` and `use flake` (docs/nix.md) with the real Nix
# (2.8 here), offline and without nixpkgs: the shells are bare derivations.
#
# Every test has its own nonce in its derivations, so its store paths are its
# own even when tests run in parallel; nothing here runs a real garbage
# collection (it would delete other tests' unrooted paths): pinning is checked
# with `nix-store --delete`, which refuses a path that is alive.
#
# $CALLS counts nix-instantiate runs (a wrapper earlier on PATH): every
# evaluation runs it (nix-watch-deps once, the environment derivation once).
# $EVALS counts runs of the workspace file.

load test_helper/common-setup

setup() {
  common_setup
  command -v nix-instantiate >/dev/null || skip "nix is not installed"
  # Leaving is not unloading here, unless a test unloads on purpose.
  export WS_UNLOAD_GRACE=60
  proj="$BATS_TEST_TMPDIR/work/proj"
  CALLS="$BATS_TEST_TMPDIR/nix-instantiate.calls"
  EVALS="$BATS_TEST_TMPDIR/evaluations"
  local wrap="$BATS_TEST_TMPDIR/wrap" real
  real=$(command -v nix-instantiate)
  mkdir -p "$wrap" "$proj"
  printf '#!/bin/sh\necho "$*" >>%q\nexec %q "$@"\n' "$CALLS" "$real" >"$wrap/nix-instantiate"
  chmod +x "$wrap/nix-instantiate"
  export PATH="$wrap:$PATH"
}
teardown() { common_teardown; }

# ------------------------------------------------------------ helpers ----

# The issue's fixture: an import, a readFile, a pathExists of a file that does
# not exist yet (maybe.txt) and a copied source directory.
write_fixture() {
  cat >"$proj/shell.nix" <<EOF
derivation {
  name = "shell"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ];
  FOO = "bar-\${(import ./helper.nix).msg}";
  DATA = builtins.readFile ./data.txt;
  E = if builtins.pathExists ./maybe.txt then "y" else "n";
  src = ./src;
  nonce = "$BATS_TEST_TMPDIR";
}
EOF
  echo '{ msg = "hi"; }' >"$proj/helper.nix"
  echo data >"$proj/data.txt"
  mkdir -p "$proj/src"
  echo a >"$proj/src/a"
}

# workspace 'LINE...' — $proj/.workspace counting its runs in $EVALS, allowed.
workspace() {
  printf 'echo run >>%q\n' "$EVALS" >"$proj/.workspace"
  printf '%s\n' "$@" >>"$proj/.workspace"
  ws-allow "$proj" >/dev/null
}

calls() { if [[ -f $CALLS ]]; then wc -l <"$CALLS"; else echo 0; fi; }
evals() { if [[ -f $EVALS ]]; then wc -l <"$EVALS"; else echo 0; fi; }

# show NAME... — enter $proj in a fresh bash (eval "$(ws-export bash)") and
# print each variable as NAME=<%q value>, or `NAME unset`. ws-export's
# messages go to $BATS_TEST_TMPDIR/stderr.
show() {
  (cd "$proj" && bash -c '
    eval "$(ws-export bash)"
    for n; do
      if [[ -n ${!n+x} ]]; then printf "%s=%q\n" "$n" "${!n}"; else printf "%s unset\n" "$n"; fi
    done' show "$@") 2>"$BATS_TEST_TMPDIR/stderr"
}

messages() { cat "$BATS_TEST_TMPDIR/stderr"; }

# The GC root of the environment of the only `use nix` of the context.
env_root() {
  local roots=("$XDG_STATE_HOME"/ws/contexts/*/cache/nix/*/roots/env)
  [[ ${#roots[@]} -eq 1 && -L ${roots[0]} ]] || { echo "env_root: ${roots[*]}" >&2; return 1; }
  printf '%s\n' "${roots[0]}"
}

# ----------------------------------------------------------- use nix ----

@test "use nix loads the shell's attributes, without Nix's builder internals" {
  write_fixture
  workspace 'use nix'
  outer_tmpdir=${TMPDIR-}
  run show FOO DATA E name src IN_NIX_SHELL NIX_BUILD_TOP NIX_STORE NIX_BUILD_CORES NIX_LOG_FD out builder system TEMP TMPDIR HOME
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "FOO=bar-hi" ]
  [ "${lines[1]}" = "DATA=$'data\\n'" ]
  [ "${lines[2]}" = "E=n" ]
  [ "${lines[3]}" = "name=shell" ]
  [[ ${lines[4]} == src=/nix/store/*-src ]]
  [ "${lines[5]}" = "IN_NIX_SHELL=impure" ]
  for i in 6 7 8 9 10 11 12 13; do [[ ${lines[i]} == *" unset" ]]; done
  if [[ -n $outer_tmpdir ]]; then [ "${lines[14]}" = "TMPDIR=$(printf %q "$outer_tmpdir")" ]; else [ "${lines[14]}" = "TMPDIR unset" ]; fi
  [ "${lines[15]}" = "HOME=$(printf %q "$HOME")" ]
  messages | grep -qx 'ws: use nix: building the environment of shell.nix'
}

@test "watched inputs: editing data.txt reloads at the next prompt, creating maybe.txt flips E" {
  write_fixture
  workspace 'use nix'
  tmux_start bash
  tmux_run "cd $(printf %q "$proj")"
  run tmux_run 'printf "%s|%s\n" "$DATA" "$E"'
  [ "$output" = $'data\n|n' ]
  # The prompt after the next command applies the change (as with direnv).
  echo changed >"$proj/data.txt"
  tmux_run true
  run tmux_run 'printf "%s|%s\n" "$DATA" "$E"'
  [ "$output" = $'changed\n|n' ]
  touch "$proj/maybe.txt"
  tmux_run true
  run tmux_run 'printf "%s|%s\n" "$DATA" "$E"'
  [ "$output" = $'changed\n|y' ]
  echo '{ msg = "ho"; }' >"$proj/helper.nix"
  tmux_run true
  run tmux_run 'printf "%s\n" "$FOO"'
  [ "$output" = "bar-ho" ]
}

@test "editing a file the evaluation did not read runs neither the workspace file nor Nix" {
  write_fixture
  echo notes >"$proj/README"
  workspace 'use nix'
  run show FOO
  [ "$output" = "FOO=bar-hi" ]
  [ "$(calls)" -gt 0 ]
  before_calls=$(calls) before_evals=$(evals)
  echo more >>"$proj/README"
  touch "$proj/shell.nix.bak" "$proj/src.txt"
  run show FOO
  [ "$output" = "FOO=bar-hi" ]
  [ "$(calls)" -eq "$before_calls" ]
  [ "$(evals)" -eq "$before_evals" ]
}

@test "re-entry after ws-on-unload --run-now runs the workspace file again but no nix-instantiate" {
  write_fixture
  workspace 'use nix'
  run show FOO DATA
  [ "${lines[0]}" = "FOO=bar-hi" ]
  before_calls=$(calls) before_evals=$(evals)
  run --separate-stderr bash -c "cd $(printf %q "$proj") && ws-on-unload --run-now"
  [ "$status" -eq 0 ]
  run show FOO DATA
  [ "${lines[0]}" = "FOO=bar-hi" ]
  [ "${lines[1]}" = "DATA=$'data\\n'" ]
  [ "$(evals)" -eq $((before_evals + 1)) ]
  [ "$(calls)" -eq "$before_calls" ]
  messages | grep -qx 'ws: use nix: shell.nix unchanged, using the cached environment'
  # A changed input is evaluated again, once; then that result is the cache.
  echo other >"$proj/data.txt"
  run show DATA
  [ "$output" = "DATA=$'other\\n'" ]
  [ "$(calls)" -gt "$before_calls" ]
  after_change=$(calls)
  bash -c "cd $(printf %q "$proj") && ws-on-unload --run-now" 2>/dev/null
  run show DATA
  [ "$output" = "DATA=$'other\\n'" ]
  [ "$(calls)" -eq "$after_change" ]
}

@test "an edit that keeps the mtime is not served from the cache after an unload" {
  write_fixture
  workspace 'use nix'
  run show DATA
  [ "$output" = "DATA=$'data\\n'" ]
  # Same size, same mtime: only the ctime and the content differ.
  stamp=$(stat -c %y "$proj/data.txt")
  echo DATA >"$proj/data.txt"
  touch -d "$stamp" "$proj/data.txt"
  bash -c "cd $(printf %q "$proj") && ws-on-unload --run-now" 2>/dev/null
  run show DATA
  [ "$output" = "DATA=$'DATA\\n'" ]
}

@test "the environment and its inputs are GC roots while the context holds them; a rebuild unpins the old one" {
  write_fixture
  workspace 'use nix'
  run show src
  src=${output#src=}
  root=$(env_root)
  env=$(readlink "$root")
  [[ $env == /nix/store/*-shell-ws-env ]]
  nix-store --gc --print-roots | grep -qF "$root -> $env"
  # The collector's own check: alive paths cannot be deleted.
  run nix-store --delete "$env"
  [ "$status" -ne 0 ]
  [ -e "$env" ]
  run nix-store --delete "$src"
  [ "$status" -ne 0 ]
  [ -e "$src" ]
  # A rebuild replaces the root; the old environment is garbage then.
  echo changed >"$proj/data.txt"
  run show DATA
  [ "$output" = "DATA=$'changed\\n'" ]
  new=$(readlink "$(env_root)")
  [ "$new" != "$env" ]
  [[ $(nix-store --gc --print-roots) != *"-> $env"* ]]
  nix-store --delete "$env" 2>/dev/null
  [ ! -e "$env" ]
}

@test "a syntax error prints Nix's message and the file goes on without the shell (as in direnv); the fix loads" {
  write_fixture
  workspace 'use nix'
  run show FOO
  [ "$output" = "FOO=bar-hi" ]
  echo '{ a = ; }' >"$proj/shell.nix"
  run show FOO
  [ "$output" = "FOO unset" ]
  messages | grep -q "^error: syntax error, unexpected ';'"
  messages | grep -qF "$proj/shell.nix:1:7"
  messages | grep -qx 'ws: use nix: cannot evaluate shell.nix'
  run ! grep -q "failed with exit status" "$BATS_TEST_TMPDIR/stderr"
  write_fixture
  echo '{ msg = "fixed"; }' >"$proj/helper.nix"
  run show FOO
  [ "$output" = "FOO=bar-fixed" ]
}

@test "an error in an imported file at the first evaluation is watched: fixing it loads" {
  write_fixture
  echo '{ msg = ; }' >"$proj/helper.nix"
  workspace 'use nix'
  run show FOO
  [ "$output" = "FOO unset" ]
  messages | grep -qF "$proj/helper.nix:1:9"
  echo '{ msg = "ok"; }' >"$proj/helper.nix"
  run show FOO
  [ "$output" = "FOO=bar-ok" ]
}

@test "a failing use nix returns 1 and the file goes on (as in direnv); under strict_env it fails the file" {
  write_fixture
  workspace 'use nix || export NO_SHELL=1' 'export AFTER=1'
  run show FOO AFTER
  [ "${lines[0]}" = "FOO=bar-hi" ]
  echo 'throw "broken on purpose"' >"$proj/helper.nix"
  echo 2 >"$proj/data.txt"
  run show FOO AFTER DATA NO_SHELL
  [ "${lines[0]}" = "FOO unset" ]
  [ "${lines[1]}" = "AFTER=1" ]
  [ "${lines[2]}" = "DATA unset" ]
  [ "${lines[3]}" = "NO_SHELL=1" ]
  messages | grep -qF "error: broken on purpose"
  # strict_env: the failure ends the file; the last good environment stays.
  write_fixture
  workspace 'strict_env' 'use nix' 'export AFTER=1'
  run show FOO AFTER
  [ "${lines[0]}" = "FOO=bar-hi" ]
  echo 'throw "broken on purpose"' >"$proj/helper.nix"
  run show FOO AFTER
  [ "${lines[0]}" = "FOO=bar-hi" ]
  messages | grep -qF "error: broken on purpose"
  messages | grep -q "ws: $proj/.workspace:3: failed with exit status 1; keeping the last good environment"
}

@test "use nix works under strict_env, evaluating and from the cache" {
  write_fixture
  workspace 'strict_env' 'use nix' 'export AFTER=1'
  run show FOO AFTER
  [ "${lines[0]}" = "FOO=bar-hi" ]
  [ "${lines[1]}" = "AFTER=1" ]
  bash -c "cd $(printf %q "$proj") && ws-on-unload --run-now" 2>/dev/null
  run show FOO AFTER
  [ "${lines[0]}" = "FOO=bar-hi" ]
  [ "${lines[1]}" = "AFTER=1" ]
  messages | grep -qx 'ws: use nix: shell.nix unchanged, using the cached environment'
}

@test "without nix on PATH, use nix says so" {
  write_fixture
  workspace 'use nix'
  farm="$BATS_TEST_TMPDIR/nonix"
  mkdir -p "$farm"
  # Everything on a usual PATH (node, bash, coreutils) but Nix.
  cp -sn /usr/local/bin/* /usr/bin/* /bin/* "$farm"/ 2>/dev/null || true
  rm -f "$farm"/nix*
  [ -e "$farm/node" ]
  [ -e "$farm/bash" ]
  [ ! -e "$farm/nix-instantiate" ]
  exporter=$(command -v ws-export)
  run --separate-stderr bash -c "cd $(printf %q "$proj") && PATH=$(printf %q "${exporter%/*}:$REPO/bin:$farm") ws-export json"
  [ "$status" -eq 0 ]
  [[ $stderr == *"ws: use nix: nix is not installed (no nix-instantiate, nix-store and nix on PATH)"* ]]
  [[ $stderr != *"failed with exit status"* ]]
  [[ $output != *'"FOO"'* ]]
}

@test "other nix-shell options go to nix-shell, as direnv's use nix does; a failure is not fatal" {
  write_fixture
  workspace 'use nix --argstr unused x' 'export AFTER=1'
  run show FOO AFTER
  [ "${lines[0]}" = "FOO=bar-hi" ]
  [ "${lines[1]}" = "AFTER=1" ]
  messages | grep -qx "ws: use nix: passing --argstr unused x to nix-shell (not cached or pinned by ws)"
  workspace 'use nix --no-such-nix-shell-flag' 'export AFTER=1'
  run show FOO AFTER
  [ "${lines[0]}" = "FOO unset" ]
  [ "${lines[1]}" = "AFTER=1" ]
  messages | grep -q "no-such-nix-shell-flag"
}

@test "the shellHook runs in the project with the shell's variables; PATH is prepended, not replaced" {
  cat >"$proj/shell.nix" <<EOF
let
  hello = derivation {
    name = "hello"; system = builtins.currentSystem; builder = "/bin/sh"; nonce = "$BATS_TEST_TMPDIR";
    args = [ "-c" "/bin/mkdir -p \$out/bin && printf '#!/bin/sh\\\\necho hello-from-nix\\\\n' >\$out/bin/hello-nix && /bin/chmod +x \$out/bin/hello-nix" ];
  };
in derivation {
  name = "shell"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ];
  nonce = "$BATS_TEST_TMPDIR"; FOO = "foo"; outputs = [ "out" "dev" ];
  PATH = "\${hello}/bin";
  shellHook = ''
    export HOOKED="\$FOO:\$PWD:\$(hello-nix)"
    unset DROP_ME
    echo "a word from the hook"
  '';
}
EOF
  workspace 'use nix'
  export DROP_ME=1
  run show HOOKED DROP_ME outputs out dev
  [ "${lines[0]}" = "HOOKED=$(printf %q "foo:$proj:hello-from-nix")" ]
  [ "${lines[1]}" = "DROP_ME unset" ]
  # nix-shell's `outputs`, but not the output paths (nothing can be written there).
  [ "${lines[2]}" = "outputs=$(printf %q "out dev")" ]
  [ "${lines[3]}" = "out unset" ]
  [ "${lines[4]}" = "dev unset" ]
  messages | grep -qx "a word from the hook"
  run bash -c "cd $(printf %q "$proj") && eval \"\$(ws-export bash 2>/dev/null)\" && hello-nix && command -v cat && [[ \$PATH == /nix/store/*-hello/bin:* ]]"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "hello-from-nix" ]
}

@test "stdenv's setup is sourced; runHook shellHook sees its variables and functions; passAsFile survives" {
  mkdir -p "$proj/stdenv"
  cat >"$proj/stdenv/setup" <<'EOF'
export FROM_SETUP="setup saw $FOO"
hookWords=(one two)
greet() { echo "hi ${hookWords[1]}"; }
runHook() { eval "${!1-}"; export RAN_HOOK=$1; }
EOF
  cat >"$proj/shell.nix" <<EOF
derivation {
  name = "shell"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ];
  nonce = "$BATS_TEST_TMPDIR"; FOO = "foo";
  stdenv = ./stdenv;
  passAsFile = [ "big" ]; big = "a long\\nvalue";
  shellHook = "export FROM_HOOK=\"\$(greet)\"";
}
EOF
  workspace 'use nix'
  run show FROM_SETUP FROM_HOOK RAN_HOOK big hookWords
  [ "${lines[0]}" = "FROM_SETUP=$(printf %q "setup saw foo")" ]
  [ "${lines[1]}" = "FROM_HOOK=$(printf %q "hi two")" ]
  [ "${lines[2]}" = "RAN_HOOK=shellHook" ]
  [ "${lines[3]}" = "big unset" ]
  [ "${lines[4]}" = "hookWords unset" ]
  run bash -c "cd $(printf %q "$proj") && eval \"\$(ws-export bash 2>/dev/null)\" && cat \"\$bigPath\""
  [ "$output" = $'a long\nvalue' ]
}

@test "__structuredAttrs: attributes stay shell variables (as with nix develop), the shellHook sees them" {
  cat >"$proj/shell.nix" <<EOF
derivation {
  name = "sshell"; system = builtins.currentSystem; builder = "/bin/bash";
  args = [ "-c" "source .attrs.sh; echo > \\\${outputs[out]}" ];
  __structuredAttrs = true; outputs = [ "out" "dev" ]; nonce = "$BATS_TEST_TMPDIR";
  FOO = "structured"; shellHook = "export HOOKED=\$FOO";
}
EOF
  workspace 'use nix'
  run show HOOKED FOO name IN_NIX_SHELL
  [ "${lines[0]}" = "HOOKED=structured" ]
  [ "${lines[1]}" = "FOO unset" ]
  [ "${lines[2]}" = "name=sshell" ]
  [ "${lines[3]}" = "IN_NIX_SHELL=impure" ]
}

@test "-A picks one of several shells; without it the error says to pick one" {
  cat >"$proj/default.nix" <<EOF
let shell = n: derivation { name = n; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ]; nonce = "$BATS_TEST_TMPDIR"; WHICH = n; };
in { a = shell "a"; b = shell "b"; }
EOF
  workspace 'use nix default.nix -A b'
  run show WHICH
  [ "$output" = "WHICH=b" ]
  workspace 'use nix'
  run show WHICH
  [ "$output" = "WHICH unset" ]
  messages | grep -qx "ws: use nix: the expression gives 2 derivations; pick the shell with -A ATTR"
}

@test "a shell the workspace file no longer uses is unpinned after the next good build" {
  for n in a b; do
    cat >"$proj/$n.nix" <<EOF
derivation { name = "$n"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ]; nonce = "$BATS_TEST_TMPDIR"; WHICH = "$n"; }
EOF
  done
  workspace 'use nix a.nix'
  run show WHICH
  [ "$output" = "WHICH=a" ]
  a_env=$(readlink "$(env_root)")
  workspace 'use nix b.nix'
  run show WHICH
  [ "$output" = "WHICH=b" ]
  # The build that loaded a.nix was the last good one when b.nix was loaded: a stays pinned.
  nix-store --gc --print-roots | grep -qF -- "-> $a_env"
  touch "$proj/b.nix"
  run show WHICH
  [ "$output" = "WHICH=b" ]
  [[ $(readlink "$(env_root)") == *-b-ws-env ]]
  [[ $(nix-store --gc --print-roots) != *"-> $a_env"* ]]
}

# ---------------------------------------------------------- use flake ----

@test "use flake loads a local git flake offline, watches what it reads, and is cached" {
  cd "$proj"
  git init -q .
  cat >flake.nix <<EOF
{
  outputs = { self }: {
    devShells.\${builtins.currentSystem}.default = derivation {
      name = "fshell"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ];
      nonce = "$BATS_TEST_TMPDIR"; FOO = "flake-\${builtins.readFile ./data.txt}";
    };
  };
}
EOF
  echo one >data.txt
  git add flake.nix data.txt
  workspace 'use flake'
  run show FOO name
  [ "${lines[0]}" = "FOO=$'flake-one\\n'" ]
  [ "${lines[1]}" = "name=fshell" ]
  echo two >data.txt
  run show FOO
  [ "$output" = "FOO=$'flake-two\\n'" ]
  before=$(calls)
  bash -c "ws-on-unload --run-now" 2>/dev/null
  run show FOO
  [ "$output" = "FOO=$'flake-two\\n'" ]
  [ "$(calls)" -eq "$before" ]
  messages | grep -qx 'ws: use flake: . unchanged, using the cached environment'
  root=$(env_root)
  run nix-store --delete "$(readlink "$root")"
  [ "$status" -ne 0 ]
}
