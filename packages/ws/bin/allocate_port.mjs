#!/usr/bin/env node
// allocate_port from its own package, bundled into ws-env: `npm i -g` links only ws-env's own bins.
import module from 'node:module';
module.enableCompileCache?.();
await import('allocate_port/dist/cli.js');
