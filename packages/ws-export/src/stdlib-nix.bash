# use nix / use flake: cached, GC-pinned, watched Nix shells (see nix-watch-deps).
