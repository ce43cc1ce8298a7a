import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/**
 * Finds a sibling ws binary: beside the running one (the repo's bin/ or an
 * install prefix), beside its real file in the monorepo layout, then on the
 * PATH of `env`.
 */
export function locateBinary(name: string, env: NodeJS.ProcessEnv): string | undefined {
  // Where the running program is installed is a fact of this process, like process.execPath.
  const self = process.argv[1] ?? '';
  let real = self;
  try {
    real = realpathSync(self);
  } catch {
    /* keep the given path */
  }
  const dirs = [dirname(self), join(dirname(real), '..', '..', name, 'bin'), ...(env.PATH ?? '').split(delimiter)].filter(Boolean);
  for (const dir of dirs) {
    for (const candidate of [join(dir, name), join(dir, `${name}.mjs`)]) {
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        /* next */
      }
    }
  }
  return undefined;
}
