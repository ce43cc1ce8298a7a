/**
 * Warnings from deep code (a bad knob value, say) go through one sink that
 * the command's entry point installs: deep code never writes to stderr
 * itself. Each distinct warning is given once per process.
 */
let sink: (message: string) => void = () => {};
const given = new Set<string>();

/** Installed by runCli: where warnings go (stderr, with the command's prefix). */
export function setWarningSink(write: (message: string) => void): void {
  sink = write;
}

export function warn(message: string): void {
  if (given.has(message)) return;
  given.add(message);
  sink(message);
}
