import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { allowFile, allowRecordPath, denyRecordPath, sha256 } from '@ws/core';
import { approvalToken, gateContext, sameApproval, trustWatches } from '../src/trust-gate.js';

// The context's trust gate: what the build is handed is exactly what core's
// trustGate checked, for the workspace file and the .workspace.local.

let base: string;
let home: string;
let dir: string;
let seq = 0;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ws-gate-')));
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});
beforeEach(() => {
  home = join(base, `home-${++seq}`);
  dir = join(base, `proj-${seq}`);
  mkdirSync(home, { mode: 0o700 });
  mkdirSync(dir);
});

const write = (name: string, content: string) => {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
};

describe('gateContext', () => {
  it('approves both files with the hashes that were allowed', () => {
    const file = write('.workspace', 'export A=1\n');
    const local = write('.workspace.local', 'export B=1\n');
    allowFile(home, file);
    allowFile(home, local);
    expect(gateContext(home, file, local, {})).toEqual({
      kind: 'approved',
      file: { kind: 'allowed', sha256: sha256('export A=1\n') },
      local: { kind: 'allowed', sha256: sha256('export B=1\n') },
    });
    expect(gateContext(home, file, undefined, {})).toEqual({ kind: 'approved', file: { kind: 'allowed', sha256: sha256('export A=1\n') } });
  });

  it('a trusted directory gives the explicit marker, never an empty hash', () => {
    const file = write('.workspace', 'x\n');
    const gate = gateContext(home, file, undefined, { WS_TRUSTED_DIRS: dir });
    expect(gate).toStrictEqual({ kind: 'approved', file: { kind: 'trusted-dir' } });
  });

  it('blocks the context if either file is not approved, naming the first one', () => {
    const file = write('.workspace', 'a\n');
    const local = write('.workspace.local', 'b\n');
    allowFile(home, file);
    expect(gateContext(home, file, local, {})).toEqual({ kind: 'blocked', message: `ws: ${local} is blocked. Run 'ws-allow' to approve its content.` });
    allowFile(home, local);
    writeFileSync(file, 'changed\n');
    expect(gateContext(home, file, local, {})).toEqual({ kind: 'blocked', message: `ws: ${file} is blocked. Run 'ws-allow' to approve its content.` });
  });

  it('a file it cannot read blocks the context and says why', () => {
    const file = write('.workspace', 'a\n');
    const missing = join(dir, '.workspace.local');
    expect(gateContext(home, file, missing, { WS_TRUSTED_DIRS: dir })).toMatchObject({ kind: 'blocked', message: expect.stringMatching(`^ws: cannot read ${missing}: `) });
    if (process.getuid?.() !== 0) {
      chmodSync(file, 0o000);
      expect(gateContext(home, file, undefined, { WS_TRUSTED_DIRS: dir })).toEqual({ kind: 'blocked', message: `ws: cannot read ${file}: permission denied` });
    }
  });
});

describe('the approval as the driver reads it', () => {
  it('is sha256:<hex> or trusted-dir; there is no empty approval', () => {
    expect(approvalToken({ kind: 'allowed', sha256: 'ab'.repeat(32) })).toBe(`sha256:${'ab'.repeat(32)}`);
    expect(approvalToken({ kind: 'trusted-dir' })).toBe('trusted-dir');
    // A corrupt request's "approval" spells something the driver refuses.
    expect(approvalToken({ kind: 'blocked' } as never)).toBe('');
  });

  it('a finished build is reused only if it was approved the same way', () => {
    const a = { kind: 'allowed', sha256: 'a'.repeat(64) } as const;
    expect(sameApproval(a, { ...a })).toBe(true);
    expect(sameApproval(a, { kind: 'allowed', sha256: 'b'.repeat(64) })).toBe(false);
    expect(sameApproval(a, { kind: 'trusted-dir' })).toBe(false);
    // A request from before approvals (no field) never matches one.
    expect(sameApproval(undefined, a)).toBe(false);
    expect(sameApproval(undefined, undefined)).toBe(true);
  });
});

describe('trustWatches', () => {
  it('watches the allow record by existence when allowed, both records under a trusted dir, by mtime too when blocked', () => {
    const file = write('.workspace', 'a\n');
    const local = write('.workspace.local', 'b\n');
    const records = (f: string) => [allowRecordPath(home, f), denyRecordPath(home, f)];
    const allowed = { kind: 'allowed', sha256: 'x' } as const;
    expect(trustWatches(home, [file], { kind: 'approved', file: allowed })).toEqual({ watches: [], existence: [allowRecordPath(home, file)] });
    expect(trustWatches(home, [file, local], { kind: 'approved', file: allowed, local: { kind: 'trusted-dir' } })).toEqual({
      watches: [],
      existence: [allowRecordPath(home, file), ...records(local)],
    });
    expect(trustWatches(home, [file], { kind: 'blocked', message: 'm' })).toEqual({ watches: records(file), existence: [] });
  });
});
