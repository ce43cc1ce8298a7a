import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventTail, followEvents, parseEventLine, readEvents, type EventLine } from '../src/events/stream.js';
import { emitEvent } from '../src/events/emit.js';

let home: string;
let live: string;
let rotated: string;
const tails: EventTail[] = [];
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'ws-stream-'));
  live = join(home, 'events.jsonl');
  rotated = join(home, 'events.jsonl.1');
});
afterEach(() => {
  for (const tail of tails.splice(0)) tail.close();
  rmSync(home, { recursive: true, force: true });
});

const line = (seq: number, type = 'test') => JSON.stringify({ v: 1, ts: '2024-05-01T12:00:00.000Z', type, context: 'c', root: '/r', seq });
const append = (file: string, ...seqs: number[]) => appendFileSync(file, seqs.map((seq) => `${line(seq)}\n`).join(''));
const seqs = (lines: string[]) => lines.map((text) => JSON.parse(text).seq as number);

/** A tail with a hand-moved clock. */
function makeTail(from: 'start' | 'end' = 'end', graceMs = 1000) {
  const clock = { now: 0 };
  const tail = new EventTail(home, { from, graceMs, now: () => clock.now });
  tails.push(tail);
  const poll = () => {
    tail.discover();
    const out: string[] = [];
    for (let batch = tail.read(); batch.length > 0; batch = tail.read()) out.push(...batch);
    return seqs(out);
  };
  return { tail, clock, poll };
}

describe('parseEventLine', () => {
  it('accepts an object with string type and ts', () => {
    expect(parseEventLine(line(1))).toMatchObject({ type: 'test', seq: 1 });
  });

  it('fills a missing context or root with an empty string', () => {
    expect(parseEventLine('{"v":1,"ts":"t","type":"gc"}')).toMatchObject({ context: '', root: '' });
  });

  it('rejects what is not an event', () => {
    for (const text of ['', 'nope', '[1]', 'null', '{"type":"x"}', '{"ts":"t","type":3}', '{"v":1,"ts":"t","type":"x"']) {
      expect(parseEventLine(text)).toBeUndefined();
    }
  });
});

describe('EventTail', () => {
  it('from the end: only what is appended afterwards', () => {
    append(live, 1, 2);
    const { poll } = makeTail();
    expect(poll()).toEqual([]);
    append(live, 3, 4);
    expect(poll()).toEqual([3, 4]);
    expect(poll()).toEqual([]);
  });

  it('waits for a file that does not exist yet, then reads it from its start', () => {
    const { poll } = makeTail();
    expect(poll()).toEqual([]);
    append(live, 1);
    expect(poll()).toEqual([1]);
  });

  it('keeps a partial line until its newline arrives', () => {
    const { poll } = makeTail();
    const text = `${line(1)}\n${line(2)}\n`;
    appendFileSync(live, text.slice(0, 10));
    expect(poll()).toEqual([]);
    appendFileSync(live, text.slice(10, text.length - 5));
    expect(poll()).toEqual([1]);
    appendFileSync(live, text.slice(text.length - 5));
    expect(poll()).toEqual([2]);
  });

  it('reads long lines (far over the read chunk) whole', () => {
    const { tail } = makeTail();
    const big = JSON.stringify({ v: 1, ts: 't', type: 'big', pad: 'é'.repeat(200_000) });
    appendFileSync(live, `${big}\n${line(2)}\n`);
    tail.discover();
    const out: string[] = [];
    for (let batch = tail.read(); batch.length > 0; batch = tail.read()) out.push(...batch);
    expect(out[0]).toBe(big);
    expect(JSON.parse(out[1]).seq).toBe(2);
  });

  it('started in the middle of a line, skips that line', () => {
    appendFileSync(live, `${line(1)}\n${line(2).slice(0, 10)}`);
    const { poll } = makeTail();
    appendFileSync(live, `${line(2).slice(10)}\n`);
    append(live, 3);
    expect(poll()).toEqual([3]);
  });

  it('across a rotation: the rest of the old file, late appends to it, then the new file', () => {
    append(live, 1);
    const { poll, clock } = makeTail();
    append(live, 2);
    renameSync(live, rotated);
    append(rotated, 3); // a writer that opened the file just before the rename
    append(live, 4);
    expect(poll()).toEqual([2, 3, 4]);
    clock.now = 500;
    append(rotated, 5); // still within the grace period
    append(live, 6);
    expect(poll()).toEqual([5, 6]);
    clock.now = 5000;
    expect(poll()).toEqual([]);
    append(rotated, 7); // after the grace period the old file is closed
    append(live, 8);
    expect(poll()).toEqual([8]);
  });

  it('across two rotations between looks: the file in between is read too', () => {
    const { poll } = makeTail();
    append(live, 1);
    expect(poll()).toEqual([1]);
    append(live, 2);
    renameSync(live, rotated);
    append(live, 3);
    renameSync(live, rotated);
    append(live, 4);
    expect(poll()).toEqual([2, 3, 4]);
  });

  it('a file rotated before the first one was seen is read too', () => {
    const { poll } = makeTail();
    append(live, 1);
    renameSync(live, rotated);
    append(live, 2);
    expect(poll()).toEqual([1, 2]);
  });

  it('does not replay the old rotated file when events.jsonl is deleted and re-created', () => {
    append(rotated, 1);
    append(live, 2);
    const { poll } = makeTail();
    rmSync(live);
    append(live, 3);
    expect(poll()).toEqual([3]);
  });

  it('starts over when the file is truncated in place', () => {
    append(live, 1, 2);
    const { poll } = makeTail();
    truncateSync(live, 0);
    append(live, 3);
    expect(poll()).toEqual([3]);
  });

  it('from the start: events.jsonl.1 then events.jsonl', () => {
    append(rotated, 1, 2);
    append(live, 3);
    const { poll } = makeTail('start');
    expect(poll()).toEqual([1, 2, 3]);
    append(live, 4);
    expect(poll()).toEqual([4]);
  });

  it('hands out at most about maxBytes per read', () => {
    const { tail } = makeTail();
    append(live, ...Array.from({ length: 1000 }, (_, i) => i + 1));
    tail.discover();
    const first = tail.read(4096);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(1000);
    const rest: string[] = [];
    for (let batch = tail.read(); batch.length > 0; batch = tail.read()) rest.push(...batch);
    expect(seqs([...first, ...rest])).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  });
});

describe('EventTail registration', () => {
  it('records the file it holds in readers/, follows it across a rotation, and removes it on close', () => {
    const tail = new EventTail(home, { register: true });
    const [name] = readdirSync(join(home, 'readers'));
    const record = () => JSON.parse(readFileSync(join(home, 'readers', name), 'utf8'));
    expect(name).toMatch(new RegExp(`^${process.pid}-\\d+$`));
    expect(record()).toMatchObject({ pid: process.pid, ino: null });
    append(live, 1);
    tail.discover();
    expect(record().ino).toBe(statSync(live).ino);
    renameSync(live, rotated);
    append(live, 2);
    tail.discover();
    expect(record().ino).toBe(statSync(live).ino);
    tail.close();
    expect(existsSync(join(home, 'readers', name))).toBe(false);
  });

  it('an EventTail does not register unless asked', () => {
    makeTail();
    expect(existsSync(join(home, 'readers'))).toBe(false);
  });
});

describe('readEvents', () => {
  it('returns every valid event on disk, oldest first, skipping malformed lines', () => {
    append(rotated, 1);
    appendFileSync(live, 'garbage\n');
    append(live, 2);
    appendFileSync(live, line(3).slice(0, 5)); // being written: not complete
    expect(readEvents(home).map((e) => e.event.seq)).toEqual([1, 2]);
  });

  it('is empty for a state home without events', () => {
    expect(readEvents(home)).toEqual([]);
  });
});

describe('followEvents', () => {
  async function collect(options: Parameters<typeof followEvents>[1], produce: () => Promise<void>, until: (got: EventLine[]) => boolean) {
    const controller = new AbortController();
    const got: EventLine[] = [];
    const malformed: string[] = [];
    const stream = followEvents(home, { ...options, signal: controller.signal, onMalformed: (text) => malformed.push(text) });
    const consumer = (async () => {
      for await (const item of stream) {
        got.push(item);
        if (until(got)) controller.abort();
      }
    })();
    await produce();
    const timeout = setTimeout(() => controller.abort(), 10_000);
    await consumer;
    clearTimeout(timeout);
    return { got, malformed };
  }

  it('yields new events as they are appended (fs.watch)', async () => {
    append(live, 0);
    const { got, malformed } = await collect(
      {},
      async () => {
        await sleep(50);
        append(live, 1);
        appendFileSync(live, 'not json\n');
        await sleep(20);
        append(live, 2);
      },
      (events) => events.length >= 2,
    );
    expect(got.map((e) => e.event.seq)).toEqual([1, 2]);
    expect(got[0].line).toBe(line(1));
    expect(malformed).toEqual(['not json']);
  });

  it('works by polling alone', async () => {
    const { got } = await collect(
      { watch: false, pollMs: 20 },
      async () => {
        await sleep(50);
        append(live, 1, 2);
      },
      (events) => events.length >= 2,
    );
    expect(got.map((e) => e.event.seq)).toEqual([1, 2]);
  });

  it('sees every event exactly once across many rotations', async () => {
    const env = { WS_EVENTS_MAX: '4000' };
    const total = 600;
    const { got } = await collect(
      {},
      async () => {
        await sleep(20);
        for (let seq = 1; seq <= total; seq++) {
          emitEvent(home, 'test', { context: 'c', root: '/r' }, { seq }, env);
          if (seq % 5 === 0) await sleep(1);
        }
      },
      (events) => events.length >= total,
    );
    expect(got.map((e) => e.event.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('ends when the signal aborts, even with nothing to read', async () => {
    const controller = new AbortController();
    const stream = followEvents(home, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const got: EventLine[] = [];
    for await (const item of stream) got.push(item);
    expect(got).toEqual([]);
  });

  it('a stream never iterated closes its files and registration on return()', async () => {
    const stream = followEvents(home);
    expect(readdirSync(join(home, 'readers'))).toHaveLength(1);
    await stream.return(undefined);
    expect(readdirSync(join(home, 'readers'))).toHaveLength(0);
  });

  it('fixes its starting point when called, before the first next()', async () => {
    const controller = new AbortController();
    const stream = followEvents(home, { signal: controller.signal });
    append(live, 1); // after the call, before iteration: a new event
    const first = await stream.next();
    expect(first.value?.event.seq).toBe(1);
    controller.abort();
    await stream.return(undefined);
  });
});
