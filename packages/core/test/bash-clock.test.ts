import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import hookBash from '../src/shells/hook.bash';

// bash's _ws_utc reads EPOCHREALTIME once and computes the date once a day
// (_ws_utc_day). Run by a real bash with the clock set (an unset
// EPOCHREALTIME is a plain variable), it must give what Date#toISOString
// gives: across midnight both ways, leap days, and with a comma for the
// locale's decimal mark.
describe("hook.bash's _ws_utc: EPOCHREALTIME as ISO-8601 UTC with milliseconds", () => {
  const slice = (from: string) => {
    const start = hookBash.indexOf(from);
    return hookBash.slice(start, hookBash.indexOf('\n}\n', start) + 3);
  };

  it('agrees with Date#toISOString for times in the cached day, after it and before it', () => {
    const day = Date.UTC(2024, 1, 28);
    const times = [0, 59_001, day + 86_399_990, day + 86_400_000 /* 2024-02-29 */, day + 86_400_000 + 45_296_789, day + 36_000_000 /* back a day */, day, day - 1];
    times.push(951_782_400_123 /* 2000-02-29 */, 1_735_689_599_999, 1_735_689_600_000, 4_107_542_400_000 /* 2100-03-01 */, Date.now());
    const clock = (ms: number, mark: string) => `${Math.floor(ms / 1000)}${mark}${String((ms % 1000) * 1000 + 456).padStart(6, '0')}`;
    const calls = times.map((t, i) => `EPOCHREALTIME=${clock(t, i % 2 ? ',' : '.')}; _ws_utc; echo "$_ws_now"`);
    const script = `unset EPOCHREALTIME\n${slice('_ws_utc() {')}${slice('_ws_utc_day() {')}${calls.join('\n')}\n`;
    const bash = spawnSync('bash', ['--noprofile', '--norc', '-c', script], { encoding: 'utf8' });
    expect(bash.stderr).toBe('');
    expect(bash.status).toBe(0);
    expect(bash.stdout.trim().split('\n')).toEqual(times.map((t) => new Date(t).toISOString()));
  });
});
