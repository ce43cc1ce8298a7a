#!/usr/bin/env node
// ws-on-event from its own package, bundled into ws-env: `npm i -g` links only ws-env's own bins.
import module from 'node:module';
module.enableCompileCache?.();
await import('ws-on-event/dist/cli.js');
