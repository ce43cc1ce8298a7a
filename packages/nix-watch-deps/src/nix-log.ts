import { stripAnsi } from '@ws/core';

/** A path the evaluation looked at; `follow`: Nix read through a symlink in its last component. */
export interface Access {
  path: string;
  follow: boolean;
  /** An imported file: a directory stands for its default.nix. */
  import?: boolean;
}

/** One stderr line of `nix-instantiate -vv` running logged-evaluation.nix, classified. */
export type LogEvent =
  | { type: 'access'; access: Access }
  | { type: 'store-dir'; path: string }
  | { type: 'flake-source'; path: string }
  /** A line meant for the user: their own `trace:` or a Nix warning. */
  | { type: 'message'; line: string }
  /** Anything else: Nix's chatter, or part of an error. */
  | { type: 'other'; line: string };

// Nix 2.x prints 'straight' quotes; older and some newer builds print ‘curly’ ones.
const OPEN = `['\u2018]`;
const CLOSE = `['\u2019]`;
const EVALUATING = new RegExp(`^evaluating file ${OPEN}(.*)${CLOSE}$`);
// Greedy: a source path may itself contain "' -> '"; the store path cannot.
const COPIED = new RegExp(`^copied source ${OPEN}(.*)${CLOSE} -> ${OPEN}[^'\u2018\u2019]*${CLOSE}$`);
const OURS = /^trace: nix-watch-deps (read|path|store-dir|flake-source) (".*")$/;
// Warnings that our own command line causes, not the user's expression, and
// Nix's retry notices under a busy store, which it resolves by itself.
const OUR_WARNINGS = [
  /^warning: you did not specify '--add-root'/,
  /^warning: ignoring the (client|user)-specified setting '(sandbox|substituters)'/,
  /^warning: (error: )?SQLite database .* is busy/,
];

/** Classifies one line of Nix's stderr. */
export function parseLogLine(raw: string): LogEvent {
  const line = stripAnsi(raw);
  let match = OURS.exec(line);
  if (match) {
    let path: string;
    try {
      path = JSON.parse(match[2]) as string;
    } catch {
      return { type: 'other', line };
    }
    const kind = match[1];
    if (kind === 'store-dir' || kind === 'flake-source') return { type: kind, path };
    return { type: 'access', access: { path, follow: kind === 'read' } };
  }
  // An imported file is read through symlinks; a copied source is copied as it is.
  if ((match = EVALUATING.exec(line))) return { type: 'access', access: { path: match[1], follow: true, import: true } };
  if ((match = COPIED.exec(line))) return { type: 'access', access: { path: match[1], follow: false } };
  if (line.startsWith('trace: ') || line.startsWith('warning: ')) {
    if (OUR_WARNINGS.some((re) => re.test(line))) return { type: 'other', line };
    return { type: 'message', line };
  }
  return { type: 'other', line };
}

/**
 * Nix's own error message out of the lines that were not ours: from the
 * first `error:` line to the end (Nix prints the error last), else all of them.
 */
export function errorText(lines: string[]): string {
  const start = lines.findIndex((line) => line.startsWith('error:'));
  const text = (start === -1 ? lines : lines.slice(start)).join('\n').trim();
  return text ? `${text}\n` : '';
}

/** Splits a stream of chunks into lines, calling `onLine` for each complete one. */
export function lineSplitter(onLine: (line: string) => void): { push: (chunk: string) => void; end: () => void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    },
    end() {
      if (pending) onLine(pending);
      pending = '';
    },
  };
}
