import { CliError, EX } from '../cli/errors.js';

// allocate_port's input: PREFERRED, --range LO-HI, --key, --tcp/--udp.
// Every problem is a usage error (64) of one line.

export type Proto = 'tcp' | 'udp';

/** Control characters replaced, at most 80 characters: a value quoted in a one-line error. */
const oneLine = (text: string) => text.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 80);

/** Parses a port number 1-65535; anything else is a usage error (64). */
export function parsePort(text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new CliError(EX.USAGE, `invalid port '${oneLine(text)}': expected a number 1-65535`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new CliError(EX.USAGE, `invalid port '${oneLine(text)}': expected a number 1-65535`);
  return port;
}

/** Parses `LO-HI` (inclusive, LO <= HI, both valid ports). */
export function parseRange(text: string): [number, number] {
  const match = /^([0-9]+)-([0-9]+)$/.exec(text);
  if (!match) throw new CliError(EX.USAGE, `invalid range '${oneLine(text)}': expected LO-HI, e.g. 8000-8100`);
  const [lo, hi] = [Number(match[1]), Number(match[2])];
  if (lo < 1 || hi > 65535) throw new CliError(EX.USAGE, `invalid range '${oneLine(text)}': ports are 1-65535`);
  if (lo > hi) throw new CliError(EX.USAGE, `empty range '${oneLine(text)}': LO must not be above HI`);
  return [lo, hi];
}

/** A reservation key: one printable line. */
export function parseKey(text: string): string {
  if (!text || text.length > 200 || /[\x00-\x1f\x7f]/.test(text)) {
    throw new CliError(EX.USAGE, `invalid key '${oneLine(text)}': expected 1-200 printable characters`);
  }
  return text;
}
