#!/usr/bin/env bash
# Packs every publishable package into OUT (default .tmp/pack), from the
# built bundles (run `pnpm build` first):
#
#   scripts/pack.sh [OUT]        then: npm publish OUT/<name>-<version>.tgz, each
#
# One tarball per command (ws-export-0.1.0.tgz, ws-prompt-0.1.0.tgz, ...),
# made by `pnpm pack` (it turns `workspace:*` into the version), and the
# umbrella ws-env-0.1.0.tgz: the `ws` front door with every command's package
# bundled in its node_modules (bundleDependencies), so that `npm i -g ws-env`
# is one download that needs nothing else, offline too, and links every
# command (npm links only the installed package's own `bin` entries, so
# ws-env declares each command with a two-line shim over its dependency's
# bundle). pnpm refuses to pack bundleDependencies with its isolated
# node_modules, so the umbrella is packed by npm from a staging directory
# holding the other tarballs unpacked. Prints the tarballs' paths.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
out=${1:-.tmp/pack}
mkdir -p "$out"
out=$(cd "$out" && pwd)
umbrella=packages/ws

version=$(node -p 'require("./package.json").version')
for dir in packages/*/; do
  dir=${dir%/}
  [[ $dir == packages/core || $dir == "$umbrella" ]] && continue
  [[ -f $dir/dist/cli.js ]] || { echo "pack: $dir/dist/cli.js is missing: run pnpm build first" >&2; exit 66; }
  (cd "$dir" && pnpm pack --pack-destination "$out" >/dev/null)
done

stage=$(mktemp -d "${TMPDIR:-/tmp}/ws-pack.XXXXXXXX")
trap 'rm -rf "$stage"' EXIT
cp -R "$umbrella/bin" "$umbrella/dist" "$umbrella/README.md" "$stage/"
# The published manifest: each bundled dependency pinned to this version.
node -e '
  const fs = require("fs");
  const [from, to, version] = process.argv.slice(1);
  const pkg = JSON.parse(fs.readFileSync(from, "utf8"));
  for (const name of Object.keys(pkg.dependencies)) pkg.dependencies[name] = version;
  delete pkg.devDependencies;
  fs.writeFileSync(to, JSON.stringify(pkg, null, 2) + "\n");
' "$umbrella/package.json" "$stage/package.json" "$version"
for name in $(node -p 'require("./'"$umbrella"'/package.json").bundleDependencies.join(" ")'); do
  tarball="$out/$name-$version.tgz"
  [[ -f $tarball ]] || { echo "pack: $tarball was not made" >&2; exit 70; }
  mkdir -p "$stage/node_modules/$name"
  tar -xzf "$tarball" -C "$stage/node_modules/$name" --strip-components=1
done
(cd "$stage" && npm pack --silent --pack-destination "$out" >/dev/null)
cd "$repo"
ls "$out"/*.tgz
