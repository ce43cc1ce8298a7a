import { warn } from '../cli/warnings.js';

/**
 * The one reading of every numeric `WS_*` knob (docs/knobs.md):
 * - unset or empty: the default;
 * - a number within bounds (`min`, default 0; whole numbers where `integer`):
 *   that number;
 * - anything else: a one-line warning naming the variable, and the default.
 */
export function envNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  opts: { min?: number; integer?: boolean; unit?: string } = {},
): number {
  const text = env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text.trim());
  const min = opts.min ?? 0;
  if (Number.isFinite(value) && value >= min && (!opts.integer || Number.isInteger(value))) return value;
  const kind = opts.integer ? 'a whole number' : 'a number';
  const unit = opts.unit ? ` of ${opts.unit}` : '';
  warn(`${name}=${JSON.stringify(text)} is not ${kind}${unit} ≥ ${min}; using ${fallback}`);
  return fallback;
}

/** A knob in seconds, returned in milliseconds. */
export const envSeconds = (env: NodeJS.ProcessEnv, name: string, fallbackSeconds: number, min = 0) =>
  envNumber(env, name, fallbackSeconds, { min, unit: 'seconds' }) * 1000;

/** The knobs, their units and defaults: what docs/knobs.md lists and the tests check. */
export const KNOBS = {
  WS_UNLOAD_GRACE: { unit: 'seconds', default: 2 },
  WS_UNLOAD_TIMEOUT: { unit: 'seconds', default: 30, min: 0.001 },
  WS_REAPER_IDLE: { unit: 'seconds', default: 60 },
  WS_BUILD_TIMEOUT: { unit: 'milliseconds', default: 100 },
  WS_BUILD_WAIT: { unit: 'seconds', default: 2 },
  WS_PORT_HOLD: { unit: 'seconds', default: 30 },
  WS_SERVICE_LOG_MAX: { unit: 'bytes', default: 10 * 1024 * 1024, min: 1 },
  WS_EVENTS_MAX: { unit: 'bytes', default: 10 * 1024 * 1024, min: 1 },
} as const;

export type KnobName = keyof typeof KNOBS;

/** Reads a knob of {@link KNOBS} in its own unit. */
export function knob(env: NodeJS.ProcessEnv, name: KnobName): number {
  const def = KNOBS[name];
  return envNumber(env, name, def.default, { min: 'min' in def ? def.min : 0, unit: def.unit });
}
