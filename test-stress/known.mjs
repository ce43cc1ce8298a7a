// Cases of the stress suite that fail today and are being fixed in parallel
// (issue 18 #4, #5, #6, #9, #12). They still run and are still printed, in a
// table of their own, but they do not fail `pnpm test:stress`. Switch one on
// by removing it from this list once its fix is merged (or for one run:
// WS_STRESS_KNOWN=none, or a comma-separated list of ids that replaces this
// one). A case listed here that passes is reported, so the list shrinks.
export const KNOWN = {
  '2.reaper-sigkill-start-window': 'found by this suite, reported: a reaper killed between creating <seq>.started and spawning the hook loses it (logged "exit ?", never run); once in 50 kills hooks 1-3 of 4 ran twice',
  '5.symlinked-workspace-file': '#4 a symlinked workspace file inherits the approval of its target',
  '5.state-home-symlink-safe': '#5 a state home that is a symlink to a safe directory is refused',
  '5.planted-link-ports': '#6 ports/ as a symlink out of the state home is written through',
  '5.planted-link-context': '#6 contexts/<id>/ as a symlink out of the state home is written through',
  '5.planted-link-events': '#6 events.jsonl as a symlink out of the state home is appended through',
  '6.full-disk-last-good': '#9 a full state home: ws-export prints no document, the last good environment is lost',
  '4.non-utf8-value': '#12 a value that is not valid UTF-8 arrives as U+FFFD',
};

export function knownIds() {
  const v = process.env.WS_STRESS_KNOWN;
  if (v === undefined) return new Set(Object.keys(KNOWN));
  if (v === '' || v === 'none') return new Set();
  return new Set(v.split(',').map((s) => s.trim()).filter(Boolean));
}
