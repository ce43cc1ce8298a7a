import type { WsEvent } from '@ws/core';

export const EVENT_PREFIX = 'WS_EVENT_';

/**
 * The variable for a top-level field: `WS_EVENT_` + the field name in upper
 * case, each run of characters other than ASCII letters and digits turned
 * into one `_`, with leading and trailing `_` dropped (`duration_ms` ->
 * `WS_EVENT_DURATION_MS`, `exit-code` -> `WS_EVENT_EXIT_CODE`). Undefined for
 * a name with no letter or digit.
 */
export function variableName(field: string): string | undefined {
  const body = field
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  return body ? `${EVENT_PREFIX}${body}` : undefined;
}

/**
 * The variables a command run for an event receives: `WS_EVENT_JSON` (the
 * exact line) and one per top-level scalar field (string as is, number and
 * boolean as JSON prints them, null as empty). Objects and arrays are only in
 * `WS_EVENT_JSON`. On a name clash the earlier field wins (`WS_EVENT_JSON` is
 * always the line); a value holding a NUL byte cannot be an environment
 * variable and is left out.
 */
export function eventVariables(line: string, event: WsEvent): Record<string, string> {
  const vars: Record<string, string> = { WS_EVENT_JSON: line };
  for (const [field, value] of Object.entries(event)) {
    if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    const name = variableName(field);
    if (!name || name in vars) continue;
    const text = value === null ? '' : String(value);
    if (!text.includes('\0')) vars[name] = text;
  }
  return vars;
}

/** The command's whole environment: ours without stale `WS_EVENT_*` names, plus the event's. */
export function commandEnv(base: NodeJS.ProcessEnv, line: string, event: WsEvent): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) if (!name.startsWith(EVENT_PREFIX)) env[name] = value;
  return Object.assign(env, eventVariables(line, event));
}
