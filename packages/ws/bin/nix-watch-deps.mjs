#!/usr/bin/env node
// nix-watch-deps from its own package, bundled into ws-env: `npm i -g` links only ws-env's own bins.
import module from 'node:module';
module.enableCompileCache?.();
await import('nix-watch-deps/dist/cli.js');
