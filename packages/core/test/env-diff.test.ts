import { describe, expect, it } from 'vitest';
import {
  applyChanges,
  changesBetween,
  decodeDiff,
  diffEnv,
  encodeDiff,
  isTrackedName,
  revertDiff,
  type Env,
  type EnvDiff,
} from '../src/env/diff.js';

// SPEC §4: unset and set-to-empty are different; leaving a context restores
// exactly what was there before.

const before: Env = {
  HOME: '/home/u',
  PATH: '/usr/bin:/bin',
  KEEP: 'same',
  CHANGE: 'old',
  EMPTY_TO_SET: '',
  SET_TO_EMPTY: 'full',
  REMOVE: 'there',
  REMOVE_EMPTY: '',
};
const after: Env = {
  HOME: '/home/u',
  PATH: '/proj/bin:/usr/bin:/bin',
  KEEP: 'same',
  CHANGE: 'new',
  EMPTY_TO_SET: 'now',
  SET_TO_EMPTY: '',
  ADD: 'added',
  ADD_EMPTY: '',
  WS_ROOT: '/proj',
};

describe('diffEnv', () => {
  it('records every changed name with its value before and after; unchanged names are left out', () => {
    const diff = diffEnv(before, after);
    expect(diff.next).toEqual({
      PATH: '/proj/bin:/usr/bin:/bin',
      CHANGE: 'new',
      EMPTY_TO_SET: 'now',
      SET_TO_EMPTY: '',
      REMOVE: undefined,
      REMOVE_EMPTY: undefined,
      ADD: 'added',
      ADD_EMPTY: '',
      WS_ROOT: '/proj',
    });
    expect(diff.prev).toEqual({
      PATH: '/usr/bin:/bin',
      CHANGE: 'old',
      EMPTY_TO_SET: '',
      SET_TO_EMPTY: 'full',
      REMOVE: 'there',
      REMOVE_EMPTY: '',
      ADD: undefined,
      ADD_EMPTY: undefined,
      WS_ROOT: undefined,
    });
    expect(Object.keys(diff.next).sort()).toEqual(Object.keys(diff.prev).sort());
    expect('KEEP' in diff.next || 'HOME' in diff.next).toBe(false);
  });

  it('tells unset from empty in both directions', () => {
    expect(diffEnv({}, { A: '' })).toEqual({ prev: { A: undefined }, next: { A: '' } });
    expect(diffEnv({ A: '' }, {})).toEqual({ prev: { A: '' }, next: { A: undefined } });
    expect(diffEnv({ A: '' }, { A: '' })).toEqual({ prev: {}, next: {} });
    // An explicit undefined is the same as absent.
    expect(diffEnv({ A: undefined }, {})).toEqual({ prev: {}, next: {} });
  });

  it('ignores names the shell manages itself, describe the evaluating process, or cannot be exported', () => {
    const ignored = ['_', 'PWD', 'OLDPWD', 'SHLVL', 'SHELLOPTS', 'BASHOPTS', 'COMP_WORDBREAKS', 'PS1', 'PS2', 'PS3', 'PS4', 'BASH_ARGV0', 'BASH_EXECUTION_STRING', 'COLUMNS', 'LINES', 'WS_DIFF', '_WS_EVAL', '_WS_ANYTHING', 'BASH_FUNC_f%%', '1BAD', 'A-B', 'A B', '', 'É'];
    const a: Env = {};
    const b: Env = {};
    for (const name of ignored) {
      a[name] = 'one';
      b[name] = 'two';
    }
    expect(diffEnv(a, b)).toEqual({ prev: {}, next: {} });
    expect(diffEnv({}, b)).toEqual({ prev: {}, next: {} });
    for (const name of ignored) expect(isTrackedName(name), name).toBe(false);
  });

  it('tracks ordinary names, including WS_* other than WS_DIFF and lower case', () => {
    for (const name of ['A', 'a', '_x', 'PATH', 'WS_ROOT', 'WS_ENV', 'X_WS_', '_ws_pwd', 'BASH_VERSION_X', 'A1']) expect(isTrackedName(name), name).toBe(true);
  });
});

describe('revertDiff', () => {
  it('restores exactly the environment before, unset and empty included', () => {
    const diff = diffEnv(before, after);
    expect(revertDiff(after, diff)).toEqual(before);
    const reverted = revertDiff(after, diff);
    expect('ADD' in reverted).toBe(false);
    expect('ADD_EMPTY' in reverted).toBe(false);
    expect(reverted.REMOVE_EMPTY).toBe('');
  });

  it('leaves names outside the diff alone, and does not change its input', () => {
    const diff = diffEnv(before, after);
    const current = { ...after, OTHER: 'set later by the user' };
    const copy = { ...current };
    const reverted = revertDiff(current, diff);
    expect(reverted.OTHER).toBe('set later by the user');
    expect(current).toEqual(copy);
  });

  it('round-trips hostile and very long values', () => {
    const long = 'é\n$(x)`y`\'"\\'.repeat(20_000);
    const a: Env = { V: long, W: undefined };
    const b: Env = { V: `${long}!`, W: '' };
    expect(revertDiff(b, diffEnv(a, b))).toEqual({ V: long });
  });
});

describe('applyChanges and changesBetween', () => {
  it('applyChanges sets values and deletes undefined, without touching its input', () => {
    const env: Env = { A: '1', B: '2' };
    expect(applyChanges(env, { A: undefined, B: '', C: '3' })).toEqual({ B: '', C: '3' });
    expect(env).toEqual({ A: '1', B: '2' });
  });

  it('changesBetween gives the minimal changes that turn one environment into the other', () => {
    const changes = changesBetween(before, after);
    expect(applyChanges(before, changes)).toEqual(after);
    expect(changesBetween(after, after)).toEqual({});
    expect(changesBetween({ A: '' }, {})).toEqual({ A: undefined });
    expect(changesBetween({}, { A: '' })).toEqual({ A: '' });
    expect(Object.keys(changesBetween(before, after))).not.toContain('KEEP');
  });

  it('changesBetween leaves out ignored names even when they differ', () => {
    expect(changesBetween({ PWD: '/a', SHLVL: '1', WS_DIFF: 'x' }, { PWD: '/b', SHLVL: '2' })).toEqual({});
  });
});

describe('encodeDiff / decodeDiff', () => {
  it('round-trips, with unset (null in JSON) distinct from empty', () => {
    const diff = diffEnv(before, after);
    const text = encodeDiff(diff);
    expect(JSON.parse(text).prev.ADD).toBeNull();
    expect(JSON.parse(text).next.ADD_EMPTY).toBe('');
    const decoded = decodeDiff(text)!;
    expect(decoded).toEqual(diff);
    expect('ADD' in decoded.prev && decoded.prev.ADD === undefined).toBe(true);
    expect(revertDiff(after, decoded)).toEqual(before);
  });

  it('is stable: the same diff encodes to the same text', () => {
    expect(encodeDiff(diffEnv(before, after))).toBe(encodeDiff(diffEnv({ ...before }, { ...after })));
  });

  it('round-trips hostile values', () => {
    const diff: EnvDiff = { prev: { X: '\u0000\n"\\\u2028', Y: undefined }, next: { X: '', Y: '😀' } };
    expect(decodeDiff(encodeDiff(diff))).toEqual(diff);
  });

  it('returns undefined for anything that is not an encoded diff, never throws', () => {
    for (const text of ['', 'null', '{}', '[]', '"x"', '{"prev":{}}', '{"next":{}}', '{"prev":null,"next":{}}', '{"prev":{},"next":', 'garbage', '{"prev":{"A":"x"},"next":{"A":"y"}']) {
      expect(decodeDiff(text), text).toBeUndefined();
    }
  });

  it('reads a non-string value as unset rather than crashing', () => {
    expect(decodeDiff('{"prev":{"A":1,"B":null},"next":{"A":"x","B":"y"}}')).toEqual({ prev: { A: undefined, B: undefined }, next: { A: 'x', B: 'y' } });
  });
});
