import { createColors } from 'picocolors';

export type Colors = ReturnType<typeof createColors>;

/**
 * Colors for one stream: only on a terminal, never with NO_COLOR.
 * picocolors' own detection only looks at stdout, so decide per stream.
 */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Colors {
  return createColors(Boolean(stream.isTTY) && !('NO_COLOR' in env) && env.TERM !== 'dumb');
}

export const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');
