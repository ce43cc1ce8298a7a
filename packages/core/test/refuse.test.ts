import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError, EX } from '../src/cli/errors.js';
import { ensureStateHome } from '../src/state/home.js';
import { refuseBlocked, targetDir } from '../src/trust/refuse.js';
import { allowFile } from '../src/trust/trust.js';

// ws-exec and ws-shell refuse a blocked context before anything starts (77, the ws-allow hint).

let base: string;
let env: NodeJS.ProcessEnv;
let proj: string;

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ws-refuse-')));
  env = { WS_STATE_HOME: join(base, 'state') };
  proj = join(base, 'proj');
  mkdirSync(proj);
  writeFileSync(join(proj, '.workspace'), 'export A=1\n');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const refusal = (fn: () => void) => {
  try {
    fn();
  } catch (error) {
    return error as CliError;
  }
  return undefined;
};

describe('refuseBlocked', () => {
  it('refuses a workspace file that is not allowed, naming it, with the ws-allow hint', () => {
    const error = refusal(() => refuseBlocked(proj, env));
    expect(error).toBeInstanceOf(CliError);
    expect(error?.code).toBe(EX.NOPERM);
    expect(error?.message).toBe(`${join(proj, '.workspace')} is blocked`);
    expect(error?.hint).toBe(`Run 'ws-allow ${proj}' to approve its content.`);
  });

  it('lets an allowed file through, from a subdirectory too; a blocked .workspace.local blocks', () => {
    allowFile(ensureStateHome(env), join(proj, '.workspace'));
    mkdirSync(join(proj, 'sub'));
    expect(refusal(() => refuseBlocked(join(proj, 'sub'), env))).toBeUndefined();
    writeFileSync(join(proj, '.workspace.local'), 'export B=1\n');
    expect(refusal(() => refuseBlocked(proj, env))?.message).toBe(`${join(proj, '.workspace.local')} is blocked`);
  });

  it('has nothing to refuse where there is no context', () => {
    mkdirSync(join(base, 'plain'));
    expect(refusal(() => refuseBlocked(join(base, 'plain'), { ...env, WS_CEILING_DIRS: base }))).toBeUndefined();
  });
});

describe('targetDir', () => {
  it('resolves against cwd; a missing directory or a file is 66', () => {
    expect(targetDir('proj', base)).toBe(proj);
    expect(refusal(() => targetDir('nope', base))?.code).toBe(EX.NOINPUT);
    expect(refusal(() => targetDir('.workspace', proj))?.code).toBe(EX.NOINPUT);
  });
});
