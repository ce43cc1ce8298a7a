import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import enterFish from '../src/enter.fish';

// fish has no clock builtin: cache/enter.fish reads the time from a file's
// mtime (whole seconds) and turns it into a date with `math`. Its lines, run
// by a real fish for chosen times, must give what Date#toISOString gives.
describe('enter.fish: the date from seconds since the epoch', () => {
  const lines = enterFish.split('\n');
  const first = lines.findIndex((line) => line.startsWith('set -l _ws_z '));
  const last = lines.findIndex((line) => line.startsWith('set -l _ws_ts '));

  it('is the ISO-8601 UTC time (milliseconds .000) for days around leap years, centuries and now', () => {
    expect(first).toBeGreaterThan(0);
    expect(last).toBeGreaterThan(first);
    const arithmetic = lines.slice(first, last + 1).join('\n');
    const times = [
      0, 59, 86_399, 86_400, 951_782_400 /* 2000-02-29 */, 951_868_799, 951_868_800 /* 2000-03-01 */,
      1_709_164_800 /* 2024-02-29 */, 1_735_689_599 /* 2024-12-31T23:59:59 */, 1_735_689_600, 1_796_297_771,
      4_107_542_400 /* 2100-03-01: not a leap year */, 4_107_455_999,
    ];
    const script = times.map((t) => `begin\nset -l _ws_t ${t}\n${arithmetic}\necho $_ws_ts\nend`).join('\n');
    const fish = spawnSync('fish', ['--no-config', '-c', script], { encoding: 'utf8' });
    expect(fish.stderr).toBe('');
    expect(fish.status).toBe(0);
    expect(fish.stdout.trim().split('\n')).toEqual(times.map((t) => new Date(t * 1000).toISOString()));
  });
});
