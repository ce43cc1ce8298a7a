import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processStartTime } from '@ws/core';
import { snapshotEvents } from '../src/snapshot.js';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'ws-snapshot-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

function context(id: string, record: unknown, users: Record<string, unknown> = {}, services: string[] = []) {
  const dir = join(home, 'contexts', id);
  mkdirSync(join(dir, 'users'), { recursive: true });
  if (record !== undefined) writeFileSync(join(dir, 'context.json'), typeof record === 'string' ? record : JSON.stringify(record));
  for (const [pid, user] of Object.entries(users)) writeFileSync(join(dir, 'users', pid), JSON.stringify(user));
  for (const name of services) mkdirSync(join(dir, 'services', name), { recursive: true });
}

describe('snapshotEvents', () => {
  it('one event per context: state, live users, services; sorted by name', () => {
    const me = { pid: process.pid, start: processStartTime(process.pid) };
    context('shop-1', { root: '/src/shop', name: 'shop', file: '/src/shop/.workspace', state: 'ready', env: 'default' }, {
      [process.pid]: me,
      '999999': { pid: 999999, start: '1' },
      '4242': { pid: process.pid, start: 'not-the-start-time' },
      garbage: 'not json',
    }, ['db', 'web']);
    context('api-2', { root: '/src/api', name: 'api', state: 'error' });
    const now = new Date('2024-05-01T12:00:00.000Z');
    expect(snapshotEvents(home, now)).toEqual([
      { v: 1, ts: now.toISOString(), type: 'snapshot', context: 'api', root: '/src/api', state: 'error', users: [], services: [] },
      {
        v: 1,
        ts: now.toISOString(),
        type: 'snapshot',
        context: 'shop',
        root: '/src/shop',
        state: 'ready',
        users: [process.pid],
        services: ['db', 'web'],
        file: '/src/shop/.workspace',
        env: 'default',
      },
    ]);
  });

  it('skips a context whose context.json is missing, corrupt or not a record, as ws-list reports it', () => {
    context('missing', undefined);
    context('corrupt', '{"root": "/x", "na');
    context('wrong', '[1,2]');
    context('nameless', { root: '/src/nameless' });
    context('ok', { root: '/src/ok', name: 'ok' });
    expect(snapshotEvents(home).map((e) => [e.context, e.state])).toEqual([['ok', 'unknown']]);
  });

  it('is empty without a contexts directory', () => {
    expect(snapshotEvents(join(home, 'nothing'))).toEqual([]);
  });
});
