#!/usr/bin/env bash
# One command on a fresh Debian machine: install what ws and its tests need,
# build, put the binaries on PATH (~/.local/bin), and run the demo.
#   bash scripts/setup.sh            everything
#   WS_SETUP_NO_APT=1 ...            skip apt (packages already there)
#   WS_SETUP_NO_DEMO=1 ...           skip the demo
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

say() { printf '\n== %s\n' "$*"; }

if [[ -z ${WS_SETUP_NO_APT-} ]]; then
  say "apt packages (shells, tmux, direnv, nix, redis, postgresql, tools)"
  sudo=; [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    bash zsh fish tmux direnv nix-bin redis-server redis-tools postgresql \
    hyperfine jq strace procps git python3 python3-venv parallel shellcheck >/dev/null
fi

if ! command -v pnpm >/dev/null; then
  say "pnpm 10 (npm i -g; corepack's signature check fails here)"
  npm i -g pnpm@10 >/dev/null
fi

if [[ $(nu --version 2>/dev/null || true) != 0.115.1 ]]; then
  # For the nushell tests, as .ci/run does: Debian has no nushell; npm's ships
  # its binary, linked directly (its `nu` is a node wrapper).
  say "nushell 0.115.1 (npm)"
  sudo=; [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo npm install -g --no-audit --no-fund nushell@0.115.1 >/dev/null
  nu_binary=$(find "$(npm root -g)/nushell" -path '*/@nushell/linux-*/bin/nu' -type f | head -n1)
  [[ -x $nu_binary ]] && $sudo ln -sf "$nu_binary" /usr/local/bin/nu
fi

say "install and build"
pnpm install --frozen-lockfile
pnpm build

say "binaries on PATH: ~/.local/bin"
mkdir -p "$HOME/.local/bin"
for bin in "$repo"/bin/*; do ln -sf "$bin" "$HOME/.local/bin/${bin##*/}"; done
case ":$PATH:" in *":$HOME/.local/bin:"*) ;; *) echo "add ~/.local/bin to your PATH" ;; esac

if [[ -z ${WS_SETUP_NO_DEMO-} ]]; then
  say "demo"
  bash "$repo/scripts/demo.sh"
fi
