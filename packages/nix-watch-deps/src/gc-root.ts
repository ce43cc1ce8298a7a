import { existsSync, lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readDerivation } from './derivation.js';
import { NIX_OPTIONS, runNix } from './nix.js';
import { errorText } from './nix-log.js';

/** The names nix-instantiate and nix-store give the roots: `drv`, `drv-2`, `out`, `out-2`, ... */
const OUR_ROOT = /^(drv|out)(-\d+)?$/;

/**
 * The store paths worth pinning beside the .drv files: the outputs of each
 * derivation and of its direct inputs, as far as they are built already.
 * (Pinning a .drv keeps the .drv closure and the sources, not outputs.)
 * Nothing is built here: an output built later is pinned by the next run.
 */
export function builtOutputs(drvs: string[]): string[] {
  const paths = new Set<string>();
  for (const drv of drvs) {
    let parsed;
    try {
      parsed = readDerivation(drv);
    } catch {
      continue;
    }
    for (const path of Object.values(parsed.outputs)) paths.add(path);
    for (const [input, names] of Object.entries(parsed.inputDrvs)) {
      try {
        const { outputs } = readDerivation(input);
        for (const name of names) if (outputs[name]) paths.add(outputs[name]);
      } catch {
        /* an input .drv we cannot read: nothing to pin from it */
      }
    }
  }
  return [...paths].filter((path) => path && existsSync(path));
}

/**
 * Pins `paths` as indirect roots `DIR/out`, `DIR/out-2`, ... (nix-store
 * realises a valid path without building anything). Returns the roots made,
 * or Nix's error.
 */
export async function pinOutputs(dir: string, paths: string[], env: NodeJS.ProcessEnv): Promise<{ roots: string[]; error?: string }> {
  if (paths.length === 0) return { roots: [] };
  const stderr: string[] = [];
  const args = [...NIX_OPTIONS, '--add-root', join(dir, 'out'), '--indirect', '--realise', ...paths];
  const { code, stdout } = await runNix('nix-store', args, env, (line) => stderr.push(line));
  if (code !== 0) return { roots: [], error: errorText(stderr).split('\n')[0] || `nix-store exited with ${code}` };
  return { roots: stdout.split('\n').filter(Boolean) };
}

/** Removes the roots an earlier run left in `dir` that this run did not renew. */
export function removeStaleRoots(dir: string, keep: string[]): void {
  const kept = new Set(keep.map((root) => basename(root)));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!OUR_ROOT.test(name) || kept.has(name)) continue;
    const path = join(dir, name);
    try {
      if (lstatSync(path).isSymbolicLink()) unlinkSync(path);
    } catch {
      /* gone already */
    }
  }
}
