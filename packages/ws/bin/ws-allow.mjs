#!/usr/bin/env node
// ws-allow from its own package, bundled into ws-env: `npm i -g` links only ws-env's own bins.
import module from 'node:module';
module.enableCompileCache?.();
await import('ws-allow/dist/cli.js');
