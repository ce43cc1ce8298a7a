import { describe, expect, it } from 'vitest';
import { commandEnv, eventVariables, variableName } from '../src/event-env.js';

describe('variableName', () => {
  it('is WS_EVENT_ + the field in upper case, other characters as one _', () => {
    expect(variableName('status')).toBe('WS_EVENT_STATUS');
    expect(variableName('duration_ms')).toBe('WS_EVENT_DURATION_MS');
    expect(variableName('exit-code')).toBe('WS_EVENT_EXIT_CODE');
    expect(variableName('ready.port')).toBe('WS_EVENT_READY_PORT');
    expect(variableName('__odd..name__')).toBe('WS_EVENT_ODD_NAME');
    expect(variableName('é')).toBeUndefined();
    expect(variableName('')).toBeUndefined();
  });
});

describe('eventVariables', () => {
  const event = {
    v: 1 as const,
    ts: '2024-05-01T12:00:00.000Z',
    type: 'service.ready',
    context: 'shop',
    root: '/src/shop',
    service: 'db',
    port: 5432,
    ok: true,
    preferred: null,
    users: [1, 2],
    spec: { a: 1 },
    nul: 'a\u0000b',
    json: 'would clash',
    'SERVICE': 'clash',
  };
  const line = JSON.stringify(event);
  const vars = eventVariables(line, event);

  it('has the envelope, the JSON line, and every top-level scalar', () => {
    expect(vars).toMatchObject({
      WS_EVENT_JSON: line,
      WS_EVENT_V: '1',
      WS_EVENT_TS: '2024-05-01T12:00:00.000Z',
      WS_EVENT_TYPE: 'service.ready',
      WS_EVENT_CONTEXT: 'shop',
      WS_EVENT_ROOT: '/src/shop',
      WS_EVENT_SERVICE: 'db',
      WS_EVENT_PORT: '5432',
      WS_EVENT_OK: 'true',
      WS_EVENT_PREFERRED: '',
    });
  });

  it('leaves out objects, arrays and values holding NUL; earlier fields win a clash', () => {
    expect(vars.WS_EVENT_USERS).toBeUndefined();
    expect(vars.WS_EVENT_SPEC).toBeUndefined();
    expect(vars.WS_EVENT_NUL).toBeUndefined();
    expect(vars.WS_EVENT_JSON).toBe(line);
    expect(vars.WS_EVENT_SERVICE).toBe('db');
  });

  it('commandEnv drops inherited WS_EVENT_* names and keeps the rest', () => {
    const env = commandEnv({ PATH: '/bin', WS_EVENT_STALE: 'x', WS_ROOT: '/r' }, line, event);
    expect(env.PATH).toBe('/bin');
    expect(env.WS_ROOT).toBe('/r');
    expect(env.WS_EVENT_STALE).toBeUndefined();
    expect(env.WS_EVENT_TYPE).toBe('service.ready');
  });
});
