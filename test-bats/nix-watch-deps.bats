#!/usr/bin/env bats
# nix-watch-deps: what a Nix evaluation read. Runs the real Nix (2.8 here),
# offline: nix-watch-deps passes --option sandbox false --option substituters ''.

load test_helper/common-setup

setup() {
  common_setup
  command -v nix-instantiate >/dev/null || { echo "nix is not installed (.ci/run installs nix-bin)" >&2; return 1; }
}
teardown() { common_teardown; }

# The issue's fixture: an import, a readFile, a pathExists of a file that
# does not exist (maybe.txt) and a copied source directory.
write_fixture() {
  cat >shell.nix <<'EOF'
derivation { name = "shell"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; FOO = "bar-${(import ./helper.nix).msg}"; DATA = builtins.readFile ./data.txt; E = if builtins.pathExists ./maybe.txt then "y" else "n"; src = ./src; }
EOF
  echo '{ msg = "hi"; }' >helper.nix
  echo data >data.txt
  mkdir -p src
  echo a >src/a
}

# write_drv FILE 'extra attributes' — a trivial derivation, unique to this
# test (its store paths are ours alone even when tests run in parallel).
write_drv() {
  cat >"$1" <<EOF
derivation { name = "t"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ]; nonce = "$BATS_TEST_TMPDIR"; $2 }
EOF
}

# ---------------------------------------------------------------- contract --

@test "no arguments in a directory without shell.nix or default.nix is missing input (66)" {
  run --separate-stderr nix-watch-deps
  [ "$status" -eq 66 ]
  [ "$output" = "" ]
  [ "$stderr" = "nix-watch-deps: no shell.nix or default.nix in $PWD" ]
}

@test "an unknown option or a missing value is a usage error (64), one line on stderr only" {
  run --separate-stderr -64 nix-watch-deps --bogus
  [ "$output" = "" ]
  [ "$stderr" = "nix-watch-deps: unknown option '--bogus'" ]
  run --separate-stderr -64 nix-watch-deps -x
  [ "$stderr" = "nix-watch-deps: unknown option '-x'" ]
  run --separate-stderr -64 nix-watch-deps default.nix -A
  [ "$stderr" = "nix-watch-deps: option '--attr' needs a value" ]
}

@test "--help prints the usage and the options" {
  run --separate-stderr nix-watch-deps --help
  [ "$status" -eq 0 ]
  [[ $output == *"nix-watch-deps"* ]]
  options=${output%%Examples:*}
  for option in --flake --attr --null -0 --gc-root --drv-out --json; do
    [[ $options == *" $option"[=,\ ]* ]]
  done
  [[ $output == *"Exit codes"* ]]
  [ "$stderr" = "" ]
}

@test "--version prints the name and version" {
  run --separate-stderr nix-watch-deps --version
  [ "$status" -eq 0 ]
  [[ $output =~ ^nix-watch-deps\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

# --------------------------------------------------------------- behaviour --

@test "prints the entry, imported, read, missing and copied files, canonical and sorted" {
  write_fixture
  here=$(pwd -P)
  run --separate-stderr nix-watch-deps shell.nix
  [ "$status" -eq 0 ]
  expected=$(printf '%s\n' "$here/data.txt" "$here/helper.nix" "$here/maybe.txt" "$here/shell.nix" "$here/src")
  [ "$output" = "$expected" ]
  [ "$stderr" = "" ]
}

@test "-0 ends every path with a NUL" {
  write_fixture
  here=$(pwd -P)
  nix-watch-deps -0 shell.nix >list
  [ "$(tr '\0' '\n' <list)" = "$(printf '%s\n' "$here/data.txt" "$here/helper.nix" "$here/maybe.txt" "$here/shell.nix" "$here/src")" ]
  [ "$(tr -cd '\0' <list | wc -c)" -eq 5 ]
  [ "$(tr -cd '\n' <list | wc -c)" -eq 0 ]
}

@test "without FILE it evaluates shell.nix, else default.nix, like nix-shell" {
  write_drv default.nix
  run --separate-stderr nix-watch-deps
  [ "$status" -eq 0 ]
  [ "$output" = "$(pwd -P)/default.nix" ]
  write_drv shell.nix
  run --separate-stderr nix-watch-deps
  [ "$output" = "$(pwd -P)/shell.nix" ]
  mkdir sub && write_drv sub/default.nix
  run --separate-stderr nix-watch-deps sub
  [ "$output" = "$(pwd -P)/sub/default.nix" ]
}

@test "readDir, filterSource and builtins.path report their directory" {
  mkdir -p listed filtered pathed
  touch listed/x filtered/y pathed/z
  write_drv default.nix 'a = builtins.attrNames (builtins.readDir ./listed); b = builtins.filterSource (p: t: true) ./filtered; c = builtins.path { path = ./pathed; name = "pathed"; };'
  here=$(pwd -P)
  run --separate-stderr nix-watch-deps
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n' "$here/default.nix" "$here/filtered" "$here/listed" "$here/pathed")" ]
}

@test "an imported directory is reported as its default.nix, also through NIX_PATH" {
  mkdir -p lib/sub np
  echo '{ v = "lib"; }' >lib/sub/default.nix
  echo '{ v = "np"; }' >np/default.nix
  write_drv default.nix 'a = (import ./lib/sub).v; b = (import <np>).v;'
  here=$(pwd -P)
  NIX_PATH="np=$PWD/np" run --separate-stderr nix-watch-deps
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n' "$here/default.nix" "$here/lib/sub/default.nix" "$here/np/default.nix")" ]
}

@test "a symlinked file is reported by its canonical path" {
  mkdir real
  echo secret >real/data.txt
  ln -s real/data.txt link.txt
  write_drv default.nix 'd = builtins.readFile ./link.txt;'
  ln -s "$PWD" ../alias
  cd ../alias
  here=$(pwd -P)
  [ "$here" != "$PWD" ]
  run --separate-stderr nix-watch-deps
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n' "$here/default.nix" "$here/real/data.txt")" ]
}

@test "every file appears once, in sorted order, however often and in whatever order it was read" {
  echo '"z"' >z.nix
  echo '"a"' >a.nix
  echo text >b.txt
  write_drv default.nix 'p = [ (import ./z.nix) (builtins.readFile ./b.txt) (import ./a.nix) (builtins.readFile ./b.txt) (import ./z.nix) (builtins.pathExists ./a.nix) ];'
  run --separate-stderr nix-watch-deps
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 4 ]
  [ "$output" = "$(printf '%s\n' "${lines[@]}" | LC_ALL=C sort -u)" ]
}

@test "without nix on PATH it exits 69 with 'nix is not installed'" {
  write_fixture
  mkdir nonix
  ln -s "$(command -v node)" nonix/node
  run --separate-stderr env PATH="$REPO/bin:$PWD/nonix" nix-watch-deps shell.nix
  [ "$status" -eq 69 ]
  [ "$output" = "" ]
  [ "$stderr" = "nix-watch-deps: nix is not installed" ]
}

@test "a syntax error exits 65 with Nix's own message and no stack trace" {
  echo '{ a = ; }' >shell.nix
  run --separate-stderr nix-watch-deps
  [ "$status" -eq 65 ]
  [ "$output" = "" ]
  [[ ${stderr_lines[0]} == "error: syntax error, unexpected ';'"* ]]
  [[ $stderr == *"$PWD/shell.nix:1:7"* ]]
  [ "${stderr_lines[-1]}" = "nix-watch-deps: cannot evaluate $PWD/shell.nix" ]
  [[ $stderr != *"node:internal"* && $stderr != *".js:"* && $stderr != *"CliError"* ]]
}

@test "an evaluation error in an imported file exits 65" {
  echo 'throw "broken helper"' >helper.nix
  write_drv default.nix 'h = import ./helper.nix;'
  run --separate-stderr nix-watch-deps
  [ "$status" -eq 65 ]
  [[ $stderr == *"error: broken helper"* ]]
}

@test "a missing FILE is missing input (66)" {
  run --separate-stderr nix-watch-deps nope.nix
  [ "$status" -eq 66 ]
  [ "$stderr" = "nix-watch-deps: nope.nix: no such file or directory" ]
}

@test "--attr picks an attribute, and the user's traces go to stderr" {
  echo text >only-b.txt
  cat >default.nix <<EOF
builtins.trace "hello from the user" {
  a = import ./a.nix;
  b = derivation { name = "b"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ]; t = builtins.readFile ./only-b.txt; };
}
EOF
  run --separate-stderr nix-watch-deps --attr b
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n' "$(pwd -P)/default.nix" "$(pwd -P)/only-b.txt")" ]
  [ "$stderr" = "trace: hello from the user" ]
  run --separate-stderr nix-watch-deps -A nope
  [ "$status" -eq 65 ]
  [[ $stderr == *"attribute 'nope'"* ]]
}

@test "--drv-out and --json give the instantiated .drv in the same run" {
  write_fixture
  run --separate-stderr nix-watch-deps --drv-out drv.txt
  [ "$status" -eq 0 ]
  drv=$(cat drv.txt)
  [[ $drv == /nix/store/*-shell.drv ]]
  [ -f "$drv" ]
  run --separate-stderr nix-watch-deps --json
  [ "$status" -eq 0 ]
  [[ $output == '{"files":["'*'"drvs":["'"$drv"'"],"roots":[]}' ]]
}

@test "--gc-root pins the .drv and the built output so the garbage collector keeps them" {
  write_drv default.nix
  run --separate-stderr nix-watch-deps --gc-root gcroots --drv-out drv.txt
  [ "$status" -eq 0 ]
  drv=$(cat drv.txt)
  [ "$(readlink gcroots/drv)" = "$drv" ]
  nix-store --gc --print-roots | grep -qF "$(pwd -P)/gcroots/drv -> $drv"
  # Nothing is built by nix-watch-deps; build the output, then pin again.
  out=$(nix-store --option substituters '' --realise "$drv" 2>/dev/null)
  run --separate-stderr nix-watch-deps --gc-root gcroots
  [ "$status" -eq 0 ]
  [ "$(readlink gcroots/out)" = "$out" ]
  nix-store --gc --print-roots | grep -qF "$(pwd -P)/gcroots/out -> $out"
  # The collector's own liveness check: neither is garbage, neither can be deleted.
  dead=$(nix-store --gc --print-dead 2>/dev/null)
  [[ $dead != *"$drv"* && $dead != *"$out"* ]]
  run nix-store --delete "$out"
  [ "$status" -ne 0 ]
  [ -e "$out" ]
  # Without the roots they are garbage.
  rm gcroots/drv gcroots/out
  dead=$(nix-store --gc --print-dead 2>/dev/null)
  [[ $dead == *"$drv"* && $dead == *"$out"* ]]
  nix-store --delete "$out" 2>/dev/null
  [ ! -e "$out" ]
}

@test "--gc-root keeps the last good root when the evaluation fails, and drops stale ones" {
  write_drv default.nix
  nix-watch-deps --gc-root gcroots >/dev/null
  good=$(readlink gcroots/drv)
  ln -s "$good" gcroots/drv-7
  echo '{ broken = ; }' >default.nix
  run --separate-stderr nix-watch-deps --gc-root gcroots
  [ "$status" -eq 65 ]
  [ "$(readlink gcroots/drv)" = "$good" ]
  write_drv default.nix 'changed = true;'
  nix-watch-deps --gc-root gcroots >/dev/null
  [ "$(readlink gcroots/drv)" != "$good" ]
  [ ! -e gcroots/drv-7 ]
  [ ! -L gcroots/drv-7 ]
}

@test "--flake evaluates a local flake in a git repository offline" {
  git init -q .
  cat >flake.nix <<EOF
{
  outputs = { self }: {
    devShells.\${builtins.currentSystem}.default = derivation {
      name = "fshell"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ];
      nonce = "$BATS_TEST_TMPDIR"; d = builtins.readFile ./data.txt; h = (import ./nix/helper.nix).msg;
    };
    packages.\${builtins.currentSystem}.other = derivation {
      name = "other"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ];
      o = builtins.readFile ./other.txt;
    };
  };
}
EOF
  mkdir nix
  echo '{ msg = "hi"; }' >nix/helper.nix
  echo data >data.txt
  echo other >other.txt
  git add -A
  here=$(pwd -P)
  run --separate-stderr nix-watch-deps --flake . --drv-out drv.txt
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n' "$here/data.txt" "$here/flake.lock" "$here/flake.nix" "$here/nix/helper.nix")" ]
  [[ $(cat drv.txt) == /nix/store/*-fshell.drv ]]
  run --separate-stderr nix-watch-deps --flake ".#other"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n' "$here/flake.lock" "$here/flake.nix" "$here/other.txt")" ]
  run --separate-stderr nix-watch-deps --flake . --attr nope
  [ "$status" -eq 65 ]
  [[ $stderr == *"does not provide attribute"*"nope"* ]]
}

@test "--flake with an input needs an up-to-date flake.lock, then watches it" {
  mkdir dep app
  echo '{ outputs = { self }: { msg = builtins.readFile ./m.txt; }; }' >dep/flake.nix
  echo from-dep >dep/m.txt
  cat >app/flake.nix <<EOF
{
  inputs.dep.url = "path:$PWD/dep";
  outputs = { self, dep }: {
    devShell.\${builtins.currentSystem} = derivation {
      name = "app"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > \$out" ];
      m = dep.msg; l = builtins.readFile ./local.txt;
    };
  };
}
EOF
  echo local >app/local.txt
  cd app
  here=$(pwd -P)
  run --separate-stderr nix-watch-deps --flake .
  [ "$status" -eq 65 ]
  [ "${stderr_lines[-1]}" = "nix-watch-deps: cannot evaluate path:$here: its flake.lock is missing or out of date; run 'nix flake lock'" ]
  [ ! -e flake.lock ]
  run --separate-stderr nix --extra-experimental-features "nix-command flakes" --option substituters "" flake lock
  [ "$status" -eq 0 ]
  [ -f flake.lock ]
  run --separate-stderr nix-watch-deps --flake .
  [ "$status" -eq 0 ]
  # The input is locked by hash: its files change nothing until flake.lock does.
  [ "$output" = "$(printf '%s\n' "$here/flake.lock" "$here/flake.nix" "$here/local.txt")" ]
}
