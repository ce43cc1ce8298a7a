import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Shell and Nix files are imported as text, as tsup's `text` loader does.
  plugins: [
    {
      name: 'ws-text-files',
      transform: (code, id) => (/\.(bash|zsh|fish|nu|nix)$/.test(id) ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined),
    },
  ],
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 20_000,
  },
});
