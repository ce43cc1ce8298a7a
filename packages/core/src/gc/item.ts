// What ws-gc removes and keeps, as its scanners, removers and report see it.

export type GcKind = 'user' | 'context' | 'port' | 'root' | 'nix-root' | 'resource' | 'trust' | 'events' | 'corrupt' | 'leftover';

/** One thing removed (or, with dryRun, that would be). */
export interface GcItem {
  kind: GcKind;
  /** Where it was in the state home, relative to it (a context: contexts/<id>). */
  path: string;
  /** Bytes of regular files it held (see diskUsage); 0 for a symlink or a part of a context counted with it. */
  bytes: number;
  reason: string;
  /** The context it belonged to: name, root, id. */
  context?: string;
  root?: string;
  id?: string;
  pid?: number;
  proto?: string;
  port?: number;
  key?: string;
  /** A root's or a Nix GC root's target; a trust record's file. */
  target?: string;
}

/** A context that would go for `reason` but stays because something holds it. */
export interface GcKept {
  id: string;
  name: string;
  root?: string;
  reason: string;
  heldBy: string[];
}

/** `path` relative to the state home, as GcItem.path is. */
export const homeRelative = (home: string, path: string) => (path.startsWith(`${home}/`) ? path.slice(home.length + 1) : path);
