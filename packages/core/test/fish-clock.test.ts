import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import hookFish from '../src/shells/hook.fish';

// fish has no clock builtin: the hook's _ws_utc adds /proc/uptime to a boot
// time and _ws_iso turns the milliseconds into a date with `math`. Run by a
// real fish for chosen times, it must give what Date#toISOString gives.
describe("hook.fish's _ws_iso: milliseconds since the epoch as ISO-8601 UTC", () => {
  const start = hookFish.indexOf('function _ws_iso');
  const end = hookFish.indexOf('\nend\n', start) + 5;

  it('agrees with Date#toISOString around leap days, centuries and now', () => {
    expect(start).toBeGreaterThan(0);
    const times = [
      0, 59_001, 86_399_999, 86_400_000, 951_782_400_123 /* 2000-02-29 */, 951_868_799_999, 951_868_800_000 /* 2000-03-01 */,
      1_709_164_800_500 /* 2024-02-29 */, 1_735_689_599_999 /* 2024-12-31T23:59:59.999 */, 1_735_689_600_000, 1_796_297_771_042,
      4_107_542_400_000 /* 2100-03-01: not a leap year */, 4_107_455_999_001, Date.now(),
    ];
    const script = `${hookFish.slice(start, end)}${times.map((t) => `_ws_iso ${t}; echo`).join('\n')}\n`;
    const fish = spawnSync('fish', ['--no-config', '-c', script], { encoding: 'utf8' });
    expect(fish.stderr).toBe('');
    expect(fish.status).toBe(0);
    expect(fish.stdout.trim().split('\n')).toEqual(times.map((t) => new Date(t).toISOString()));
  });
});

// _ws_utc computes the date once a day (_ws_day) and the time of day with
// one math: at every call, across midnight both ways, it must give the same.
describe("hook.fish's _ws_utc: the boot time + /proc/uptime, the date cached for the day", () => {
  const slice = (from: string) => {
    const start = hookFish.indexOf(from);
    return hookFish.slice(start, hookFish.indexOf('\nend\n', start) + 5);
  };

  it('agrees with Date#toISOString for times in the cached day, after it and before it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-fish-clock-'));
    const uptime = join(dir, 'uptime');
    writeFileSync(uptime, '100.00 50.00\n');
    const utc = slice('function _ws_utc').replace('</proc/uptime', `<'${uptime}'`);
    expect(utc).toContain(uptime);
    const day = Date.UTC(2024, 1, 28);
    const times = [
      day + 86_399_990, day + 86_399_995, day + 86_400_000 /* 2024-02-29 */, day + 86_400_000 + 45_296_789, day + 36_000_000 /* back a day */, day,
      day - 1, 1_735_689_599_999, 1_735_689_600_000, 1_796_297_771_042, Date.now(),
    ];
    // uptime 100 s: the boot time is the time minus 100 000 ms.
    const script = `set -g _ws_day 0 ''\n${utc}${slice('function _ws_iso')}${times.map((t) => `_ws_utc ${t - 100_000}; echo $_ws_now`).join('\n')}\n`;
    const fish = spawnSync('fish', ['--no-config', '-c', script], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    expect(fish.stderr).toBe('');
    expect(fish.status).toBe(0);
    expect(fish.stdout.trim().split('\n')).toEqual(times.map((t) => new Date(t).toISOString()));
  });
});
