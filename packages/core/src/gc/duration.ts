import { CliError, EX } from '../cli/errors.js';

// Durations of ws-gc: `--max-age` as given, ages and sizes as reported.

/**
 * Parses `--max-age`: a whole number and a unit, `45s`, `90m`, `12h`, `30d`,
 * `2w`. Anything else is a usage error (64).
 */
export function parseMaxAge(text: string): number {
  const match = /^([0-9]{1,9})(s|m|h|d|w)$/.exec(text.trim());
  if (!match) throw new CliError(EX.USAGE, `invalid --max-age '${text.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 40)}': expected a number and a unit: 45s, 90m, 12h, 30d, 2w`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[match[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(match[1]) * unit * 1000;
}

/** `3d 4h`, `12m`, `40s`: a duration for messages. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s >= 86400) return `${Math.floor(s / 86400)}d${s % 86400 >= 3600 ? ` ${Math.floor((s % 86400) / 3600)}h` : ''}`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h${s % 3600 >= 60 ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  if (s >= 60) return `${Math.floor(s / 60)}m`;
  return `${s}s`;
}

/** `12.3 MiB`, one decimal, as in `recovered N bytes (12.3 MiB)`. */
export const formatMiB = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
