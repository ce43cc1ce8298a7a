import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

// One bundle per binary, with @ws/core and every dependency inlined, so a
// prompt-time binary loads exactly one file.
const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version?: string };
const binaries = readdirSync('packages').filter((name) => existsSync(`packages/${name}/src/cli.ts`));

export default defineConfig(
  binaries.map(
    (name): Options => ({
      name,
      entry: { cli: `packages/${name}/src/cli.ts` },
      outDir: `packages/${name}/dist`,
      format: ['esm'],
      platform: 'node',
      target: 'node20',
      bundle: true,
      noExternal: [/.*/],
      splitting: false,
      // No clean: a concurrent build must never see a binary's bundle missing.
      clean: false,
      silent: true,
      loader: { '.bash': 'text', '.zsh': 'text', '.fish': 'text', '.nu': 'text', '.nix': 'text' },
      define: { __WS_VERSION__: JSON.stringify(version ?? '0.1.0') },
    }),
  ),
);
