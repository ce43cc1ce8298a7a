import type { GcItem, GcKept, Problem } from '@ws/core';

/** What one run of ws-gc removed (or, with dryRun, would), kept and found wrong. */
export interface GcResult {
  dryRun: boolean;
  home: string;
  removed: GcItem[];
  kept: GcKept[];
  problems: Problem[];
  /** Sum of `bytes` of removed items. */
  bytes: number;
}

export interface GcOptions {
  env: NodeJS.ProcessEnv;
  dryRun?: boolean;
  /** Contexts unused longer than this (ms) go too. */
  maxAgeMs?: number;
  now?: () => Date;
  /** Test seams: called where a concurrent command may act. */
  hooks?: {
    /** After the plan, before anything is removed. */
    afterPlan?: () => void | Promise<void>;
    /** Holding the context's lock, after the last check, right before the rename. */
    beforeRename?: (dir: string) => void;
  };
}
