import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../src/process/proc.js';
import { DEFAULT_EVENTS_MAX, emitEvent, eventsMax, formatEvent, readersBehind, rotateEvents, rotationHardLimit } from '../src/events/emit.js';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'ws-events-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
const now = new Date('2024-05-01T12:00:00.000Z');

describe('formatEvent', () => {
  it('puts the envelope first, then the fields, on one line', () => {
    const line = formatEvent('service.ready', { context: 'shop', root: '/src/shop' }, { service: 'db', port: 5432 }, now);
    expect(line).toBe('{"v":1,"ts":"2024-05-01T12:00:00.000Z","type":"service.ready","context":"shop","root":"/src/shop","service":"db","port":5432}\n');
  });

  it('keeps a value with newlines, quotes and $(...) on one line, exactly', () => {
    const hostile = 'a\nb "c" `d` $(touch /tmp/x) \\ é';
    const line = formatEvent('x', { context: 'c', root: '/r' }, { value: hostile }, now);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(JSON.parse(line).value).toBe(hostile);
  });

  it('does not let a field override the envelope', () => {
    const event = JSON.parse(formatEvent('allow', { context: 'c', root: '/r' }, { type: 'deny', v: 2, root: '/x', path: '/r/.workspace' }, now));
    expect(event).toMatchObject({ v: 1, type: 'allow', root: '/r', path: '/r/.workspace' });
  });

  it('accepts a core Context ({root, name, file}) as the source', () => {
    const event = JSON.parse(formatEvent('context.load', { root: '/src/shop', name: 'shop' }, {}, now));
    expect(event.context).toBe('shop');
  });
});

describe('emitEvent', () => {
  it('appends one line per event, creating the state home', () => {
    const nested = join(home, 'state', 'ws');
    emitEvent(nested, 'gc', { context: '', root: '' }, { removed: 3, bytes: 1024 }, {}, now);
    emitEvent(nested, 'deny', { context: 'c', root: '/r' }, { path: '/r/.workspace' }, {}, now);
    const got = lines(join(nested, 'events.jsonl')).map((line) => JSON.parse(line));
    expect(got.map((e) => e.type)).toEqual(['gc', 'deny']);
    expect(got[0]).toMatchObject({ removed: 3, bytes: 1024 });
  });

  it('never throws, even where nothing can be written', () => {
    const file = join(home, 'a-file');
    writeFileSync(file, '');
    expect(() => emitEvent(join(file, 'ws'), 'gc', { context: '', root: '' })).not.toThrow();
  });

  it('rotates past WS_EVENTS_MAX to events.jsonl.1, keeping every event', () => {
    const env = { WS_EVENTS_MAX: '1000' };
    for (let seq = 1; seq <= 30; seq++) emitEvent(home, 'test', { context: 'c', root: '/r' }, { seq }, env, now);
    const old = lines(join(home, 'events.jsonl.1'));
    const live = lines(join(home, 'events.jsonl'));
    expect(old.length).toBeGreaterThan(0);
    // Only one generation is kept: what survives is the newest events, in order, none torn.
    const seqs = [...old, ...live].map((line) => JSON.parse(line).seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 31 - seqs.length + i));
    expect(readFileSync(join(home, 'events.jsonl')).length).toBeLessThanOrEqual(1000 + 200);
  });

  it('a rotation does not happen twice for one oversize file', () => {
    appendFileSync(join(home, 'events.jsonl'), 'x'.repeat(50) + '\n');
    expect(rotateEvents(home, 10)).toBe(true);
    expect(rotateEvents(home, 10)).toBe(false); // the new file does not exist yet
    expect(lines(join(home, 'events.jsonl.1'))).toHaveLength(1);
  });

  it('leaves the file alone while a rotation lock is held by a live process', () => {
    appendFileSync(join(home, 'events.jsonl'), 'x'.repeat(50) + '\n');
    writeFileSync(join(home, 'events.lock'), `${process.pid} ${processStartTime(process.pid)}\n`);
    expect(rotateEvents(home, 10)).toBe(false);
    expect(existsSync(join(home, 'events.jsonl.1'))).toBe(false);
  });
});

describe('eventsMax', () => {
  it('reads WS_EVENTS_MAX, defaulting to 10 MB for anything not a positive number', () => {
    expect(eventsMax({ WS_EVENTS_MAX: '4096' })).toBe(4096);
    for (const value of [undefined, '', 'abc', '0', '-5']) expect(eventsMax({ WS_EVENTS_MAX: value })).toBe(DEFAULT_EVENTS_MAX);
  });
});

describe('rotation and registered followers', () => {
  const register = (name: string, record: object | string) => {
    mkdirSync(join(home, 'readers'), { recursive: true });
    writeFileSync(join(home, 'readers', name), typeof record === 'string' ? record : JSON.stringify(record));
  };
  const me = () => ({ pid: process.pid, start: processStartTime(process.pid) });
  const oversize = (bytes: number) => appendFileSync(join(home, 'events.jsonl'), `${'x'.repeat(bytes - 1)}\n`);

  it('waits while a live follower does not hold the live file yet', () => {
    oversize(50);
    register('1-1', { ...me(), dev: 0, ino: 1 });
    expect(readersBehind(home, statSync(join(home, 'events.jsonl')))).toBe(1);
    expect(rotateEvents(home, 10)).toBe(false);
    const st = statSync(join(home, 'events.jsonl'));
    register('1-1', { ...me(), dev: st.dev, ino: st.ino });
    expect(rotateEvents(home, 10)).toBe(true);
  });

  it('ignores, and removes, registrations of followers that are gone', () => {
    oversize(50);
    register('999999-1', { pid: 999999, start: '1', dev: 0, ino: 1 });
    register('garbage', 'not json');
    expect(rotateEvents(home, 10)).toBe(true);
    expect(readdirSync(join(home, 'readers'))).toEqual([]);
  });

  it('rotates anyway past the hard limit: a stopped follower cannot make the file grow for ever', () => {
    expect(rotationHardLimit(10)).toBe(10 + 4 * 1024 * 1024);
    expect(rotationHardLimit(10 * 1024 * 1024)).toBe(20 * 1024 * 1024);
    register('1-1', { ...me(), dev: 0, ino: 1 });
    oversize(4 * 1024 * 1024 + 20);
    expect(rotateEvents(home, 10)).toBe(true);
  });
});
