import { afterEach, describe, expect, it } from 'vitest';
import { setWarningSink } from '../src/cli/warnings.js';
import { envNumber, knob, KNOBS, type KnobName } from '../src/env/knobs.js';

const warnings: string[] = [];
setWarningSink((message) => warnings.push(message));
afterEach(() => {
  warnings.length = 0;
});

describe('knob: one meaning of unset, empty and invalid values (docs/knobs.md)', () => {
  for (const name of Object.keys(KNOBS) as KnobName[]) {
    const def = KNOBS[name];
    it(`${name}: unset and empty give the default (${def.default}), silently`, () => {
      expect(knob({}, name)).toBe(def.default);
      expect(knob({ [name]: '' }, name)).toBe(def.default);
      expect(knob({ [name]: '  ' }, name)).toBe(def.default);
      expect(warnings).toEqual([]);
    });
    it(`${name}: a valid number is taken`, () => {
      expect(knob({ [name]: '7' }, name)).toBe(7);
      expect(knob({ [name]: ' 3.5 ' }, name)).toBe(3.5);
      expect(warnings).toEqual([]);
    });
    it(`${name}: an invalid value warns once, naming the variable, and gives the default`, () => {
      for (const bad of ['abc', '-1', 'NaN', 'Infinity', '1s']) {
        expect(knob({ [name]: bad }, name)).toBe(def.default);
      }
      knob({ [name]: 'abc' }, name);
      expect(warnings.filter((w) => w.includes('"abc"'))).toHaveLength(1);
      expect(warnings[0]).toMatch(new RegExp(`^${name}="abc" is not a number of ${def.unit} ≥ [0-9.]+; using ${def.default}$`));
    });
  }

  it('zero is a valid value where the minimum is 0 (no grace, build in the background at once)', () => {
    expect(knob({ WS_UNLOAD_GRACE: '0' }, 'WS_UNLOAD_GRACE')).toBe(0);
    expect(knob({ WS_BUILD_TIMEOUT: '0' }, 'WS_BUILD_TIMEOUT')).toBe(0);
    expect(knob({ WS_REAPER_IDLE: '0' }, 'WS_REAPER_IDLE')).toBe(0);
  });

  it('zero is invalid where it would mean "never" or "nothing" (a 0 s hook timeout, a 0-byte log)', () => {
    expect(knob({ WS_UNLOAD_TIMEOUT: '0' }, 'WS_UNLOAD_TIMEOUT')).toBe(30);
    expect(knob({ WS_SERVICE_LOG_MAX: '0' }, 'WS_SERVICE_LOG_MAX')).toBe(KNOBS.WS_SERVICE_LOG_MAX.default);
    expect(knob({ WS_EVENTS_MAX: '0' }, 'WS_EVENTS_MAX')).toBe(KNOBS.WS_EVENTS_MAX.default);
  });

  it('envNumber with integer: a fraction is invalid', () => {
    expect(envNumber({ N: '2.5' }, 'N', 4, { integer: true })).toBe(4);
    expect(warnings[0]).toBe('N="2.5" is not a whole number ≥ 0; using 4');
  });
});
