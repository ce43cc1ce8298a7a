import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { CliError, EX } from '@ws/core';

/** What to evaluate: a Nix file (like nix-shell) or a flake (like nix develop). */
export type Target =
  | { kind: 'file'; entry: string; attr?: string }
  | {
      kind: 'flake';
      /** The reference handed to builtins.getFlake. */
      ref: string;
      /** The flake's directory on disk; undefined for a remote flake. */
      localDir?: string;
      /** The root of the flake's source tree on disk (the git root, or localDir). */
      localRoot?: string;
      /** The flake's directory inside its source tree: "" or "/sub/dir". */
      subdir: string;
      /** "" picks the default dev shell. */
      attr: string;
    };

export interface TargetOptions {
  file?: string;
  flake?: string;
  attr?: string;
  cwd: string;
}

const NAMES = ['shell.nix', 'default.nix'];

/** Resolves the command line to a Target, checking that its files exist. */
export function resolveTarget({ file, flake, attr, cwd }: TargetOptions): Target {
  if (file !== undefined && flake !== undefined) throw new CliError(EX.USAGE, 'give either FILE or --flake, not both');
  if (flake !== undefined) return resolveFlake(flake, attr || undefined, cwd);
  return { kind: 'file', entry: resolveEntry(file, cwd), attr: attr || undefined };
}

/** Like nix-shell: FILE, or in a directory (default: the current one) shell.nix, else default.nix. */
function resolveEntry(file: string | undefined, cwd: string): string {
  const path = resolve(cwd, file ?? '.');
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    throw new CliError(EX.NOINPUT, `${file}: no such file or directory`);
  }
  if (!isDirectory) return path;
  const found = NAMES.map((name) => join(path, name)).find((candidate) => existsSync(candidate));
  if (!found) throw new CliError(EX.NOINPUT, `no shell.nix or default.nix in ${path}`);
  return found;
}

function resolveFlake(flake: string, attr: string | undefined, cwd: string): Target {
  const hash = flake.indexOf('#');
  const ref = hash === -1 ? flake : flake.slice(0, hash);
  const fragment = hash === -1 ? undefined : decodeURIComponent(flake.slice(hash + 1));
  if (fragment !== undefined && attr !== undefined) throw new CliError(EX.USAGE, 'give the attribute either as REF#ATTR or with --attr, not both');
  const chosen = fragment ?? attr ?? '';
  if (ref === '') throw new CliError(EX.USAGE, `'${flake}' is not a flake reference`);

  // A bare path, as `nix develop` takes it: inside a git repository it is a
  // git+file flake (only tracked files count), else a path: flake.
  if (!/^[a-z][a-z0-9+.-]*:/i.test(ref)) {
    const dir = resolve(cwd, ref);
    if (!existsSync(join(dir, 'flake.nix'))) throw new CliError(EX.NOINPUT, `no flake.nix in ${dir}`);
    const gitRoot = findGitRoot(dir);
    if (gitRoot === undefined) return { kind: 'flake', ref: `path:${encodePath(dir)}`, localDir: dir, localRoot: dir, subdir: '', attr: chosen };
    const sub = relative(gitRoot, dir);
    const query = sub ? `?dir=${encodeURIComponent(sub)}` : '';
    return { kind: 'flake', ref: `git+file://${encodePath(gitRoot)}${query}`, localDir: dir, localRoot: gitRoot, subdir: sub ? `/${sub}` : '', attr: chosen };
  }

  // An explicit local URL: path:/abs or git+file:///abs (with an optional ?dir=).
  const local = /^(?:path:|git\+file:(?:\/\/)?)(\/[^?]*)(?:\?(.*))?$/.exec(ref);
  if (local) {
    const root = decodeURIComponent(local[1]);
    const sub = new URLSearchParams(local[2] ?? '').get('dir') ?? '';
    const dir = join(root, sub);
    if (!existsSync(join(dir, 'flake.nix'))) throw new CliError(EX.NOINPUT, `no flake.nix in ${dir}`);
    return { kind: 'flake', ref, localDir: dir, localRoot: root, subdir: sub ? `/${sub}` : '', attr: chosen };
  }
  // Anything else (github:, a registry name) lives only in the store.
  return { kind: 'flake', ref, subdir: '', attr: chosen };
}

function findGitRoot(dir: string): string | undefined {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(join(current, '.git'))) return current;
    if (dirname(current) === current) return undefined;
  }
}

/** Percent-encodes what a URL path cannot hold, keeping the slashes. */
const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');
