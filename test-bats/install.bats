#!/usr/bin/env bats
# Installing ws as a user does (README "Install"): scripts/pack.sh packs
# every package, and `npm i -g --offline` of the umbrella ws-env tarball
# alone, into a fresh prefix with an empty npm cache and no registry
# reachable, must put every command on PATH and work from there: `ws`,
# `ws-export hook bash`, and a whole enter/leave cycle in a bash with the
# hook, its reaper the prefix's own. Needs `pnpm build` first (as every
# test here does).

load test_helper/common-setup

BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-180}

setup_file() {
  PACKED="$BATS_FILE_TMPDIR/packed"
  PREFIX="$BATS_FILE_TMPDIR/prefix"
  export PACKED PREFIX
  "$BATS_TEST_DIRNAME/../scripts/pack.sh" "$PACKED" >"$BATS_FILE_TMPDIR/pack.out"
  # Offline, an empty cache, and a registry nobody answers at: everything
  # must come from the one tarball.
  npm_config_registry=http://127.0.0.1:9/ npm install --global --offline --no-audit --no-fund \
    --prefix "$PREFIX" --cache "$BATS_FILE_TMPDIR/npm-cache" "$PACKED/ws-env-$(version).tgz" \
    >"$BATS_FILE_TMPDIR/npm.out" 2>&1
}

setup() {
  common_setup
  # Only the prefix and the system: not the repository's bin/.
  export PATH="$PREFIX/bin:/usr/local/bin:/usr/bin:/bin"
}
teardown() { common_teardown; }

version() { node -p 'require(process.argv[1]).version' "$BATS_TEST_DIRNAME/../package.json"; }

# The commands of the repository: what bin/ links.
repo_commands() { (cd "$BATS_TEST_DIRNAME/../bin" && ls | LC_ALL=C sort); }

@test "pack.sh makes one tarball per command and the umbrella ws-env; a command's holds its shim, bundle, README and manifest only" {
  local v
  v=$(version)
  run ls "$PACKED"
  [ "$status" -eq 0 ]
  local name expected=()
  for name in $(ls "$REPO/packages"); do
    [[ $name == core ]] && continue
    [[ $name == ws ]] && name=ws-env
    expected+=("$name-$v.tgz")
  done
  [ "$(printf '%s\n' "${expected[@]}" | LC_ALL=C sort)" = "$(ls "$PACKED" | LC_ALL=C sort)" ]
  run tar -tzf "$PACKED/ws-export-$v.tgz"
  [ "$(printf '%s\n' "${lines[@]}" | LC_ALL=C sort)" = "package/README.md
package/bin/ws-export.mjs
package/dist/cli.js
package/package.json" ]
  # The umbrella bundles every command's package.
  run tar -tzf "$PACKED/ws-env-$v.tgz"
  for name in $(repo_commands); do
    [[ $name == ws ]] && continue
    [[ $output == *"package/bin/$name.mjs"* ]]
  done
  [[ $output == *package/node_modules/ws-export/dist/cli.js* ]]
  [[ $output != *"/src/"* && $output != *"/test/"* ]]
}

@test "every package's manifest is publishable: name, the one version, license, repository, files, engines, no runtime dependency but the umbrella's bundled ones" {
  local v dir
  v=$(version)
  for dir in "$REPO"/packages/*/; do
    [[ $dir == */core/ ]] && continue
    run jq -r '[.name, .version, .license, .repository.url, .repository.directory, (.files | join(",")), .engines.node, (.private // false), (.bin | length > 0)] | @tsv' "$dir/package.json"
    IFS=$'\t' read -r name version license url directory files node private has_bin <<<"$output"
    [ "$version" = "$v" ] || { echo "$dir: version $version" >&2; return 1; }
    [ "$license" = MIT ]
    [ -n "$url" ]
    [ "$directory" = "packages/$(basename "$dir")" ]
    [ "$files" = "bin,dist,README.md" ]
    [ "$node" = ">=20" ]
    [ "$private" = false ]
    [ "$has_bin" = true ]
    [ -f "$dir/README.md" ]
    if [[ $name == ws-env ]]; then
      [ "$(jq -c '.dependencies | keys' "$dir/package.json")" = "$(jq -c '.bundleDependencies | sort' "$dir/package.json")" ]
    else
      [ "$(jq -r '.dependencies // {} | length' "$dir/package.json")" = 0 ] || { echo "$dir has runtime dependencies" >&2; return 1; }
    fi
  done
  # packages/ws is the umbrella: its binary stays `ws` (the name `ws` is the WebSocket library's).
  [ "$(jq -r .name "$REPO/packages/ws/package.json")" = ws-env ]
}

@test "npm i -g of ws-env alone, offline, puts every command on PATH, each its own version" {
  [ "$(ls "$PREFIX/bin" | LC_ALL=C sort)" = "$(repo_commands)" ]
  local name
  for name in $(repo_commands); do
    [ "$(command -v "$name")" = "$PREFIX/bin/$name" ]
    run --separate-stderr "$name" --version
    [ "$status" -eq 0 ]
    [ "$output" = "$name $(version)" ]
  done
}

@test "from the prefix: ws lists the commands and ws-export hook bash runs the prefix's ws-export" {
  run --separate-stderr ws
  [ "$status" -eq 0 ]
  [[ $output == *"  export "* && $output == *"  prompt "* && $output == *"  shell "* ]]
  run --separate-stderr ws-export hook bash
  [ "$status" -eq 0 ]
  [[ $output == *"=\$('$PREFIX/lib/node_modules/ws-env/bin/ws-export.mjs' "* ]]
  # Dispatch finds the installed commands.
  run --separate-stderr ws prompt --version
  [ "$output" = "ws-prompt $(version)" ]
}

@test "from the prefix: bash with the hook enters a workspace, leaves it, and the prefix's reaper unloads it" {
  local proj="$BATS_TEST_TMPDIR/work/proj" out="$BATS_TEST_TMPDIR/work"
  mkdir -p "$proj"
  printf '%s\n' 'export FROM_PREFIX=yes' "on_unload 'echo bye >\"\$WS_STATE_DIR/../unloaded\"'" >"$proj/.workspace"
  run --separate-stderr ws allow "$proj"
  [ "$status" -eq 0 ]
  run --separate-stderr bash --noprofile --norc -c '
    eval "$(ws-export hook bash)"
    cd "$1"; _ws_hook
    echo "inside: ${FROM_PREFIX-unset} $WS_CONTEXT"
    cd "$2"; _ws_hook
    echo "outside: ${FROM_PREFIX-unset} ${WS_ROOT-unset}"' _ "$proj" "$out"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "inside: yes proj" ]
  [ "${lines[1]}" = "outside: unset unset" ]
  [[ $stderr == *"ws: loading"* ]]
  # The reaper that runs the unload is the installed one.
  local home="$XDG_STATE_HOME/ws" pid
  wait_until "[[ -s $home/reaper.pid ]]" 10
  read -r pid _ <"$home/reaper.pid"
  [[ $(tr '\0' ' ' <"/proc/$pid/cmdline") == *"$PREFIX/"* ]]
  wait_until "compgen -G '$home/contexts/*/unloaded' >/dev/null" 15
}
