import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHELLS } from '@ws/core';
import { DEFAULT_GLYPHS, parseFormat } from '../src/format.js';
import { renderInit } from '../src/init.js';

// renderInit fills prompt-init.bash|zsh|fish: run what it prints in the real
// shell, with hostile text in the format and the glyphs, and read $WS_PROMPT.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-prompt-init-'));
  mkdirSync(join(dir, 'ctx', 'users'), { recursive: true });
  mkdirSync(join(dir, 'ctx', 'services', 'db'), { recursive: true });
  // Two live users, a dead one (no such PID), a writer's temporary file; one running service, one whose process is gone.
  for (const name of [String(process.pid), String(process.ppid), '999999999', `${process.pid}.tmp.1.2`, 'x.tmp']) writeFileSync(join(dir, 'ctx', 'users', name), '');
  writeFileSync(join(dir, 'ctx', 'services', 'db', 'pid'), `{"pid":${process.pid},"start":"1"}\n`);
  mkdirSync(join(dir, 'ctx', 'services', 'gone'), { recursive: true });
  writeFileSync(join(dir, 'ctx', 'services', 'gone', 'pid'), '{"pid":999999999,"start":"1"}\n');
  // ... which crashed (should run, does not): %S shows 1/2.
  writeFileSync(join(dir, 'ctx', 'services', 'gone', 'state.json'), '{"state":"failed","restarts":3}\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('renderInit', () => {
  it.each(SHELLS)('%s: renders every field; quotes, $( ), %% and newlines in the format and glyphs stay text', (shell) => {
    const hostile = `it's $(touch pwned) \`x\` \\ %%`;
    const tokens = parseFormat(`[${hostile}\n%n|%e|%s|%u|%S]`);
    // ready, shown as degraded: a service crashed (below).
    const code = renderInit(shell, tokens, { ...DEFAULT_GLYPHS, degraded: `$(touch pwned)'` });
    expect(code).not.toMatch(/@[A-Z_]+@/);
    writeFileSync(join(dir, `init.${shell}`), code);
    const set =
      shell === 'fish'
        ? `set -g _ws_root /r; set -g _ws_state ready; set -g _ws_name proj; set -g _ws_ctxdir '${dir}/ctx'; set -gx WS_ENV dev`
        : `_ws_root=/r _ws_state=ready _ws_name=proj _ws_ctxdir='${dir}/ctx' WS_ENV=dev`;
    const script = `${set}; ${shell === 'fish' ? 'source' : '.'} '${join(dir, `init.${shell}`)}'; _ws_prompt_render; printf '%s' "$WS_PROMPT"`;
    const argv = { bash: ['--noprofile', '--norc', '-c', script], zsh: ['-f', '-c', script], fish: ['--no-config', '-c', script] }[shell];
    const result = spawnSync(shell, argv, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, NO_COLOR: '1' }, timeout: 20_000 });
    expect(result.stderr).toBe('');
    // zsh's value is for prompt expansion: its '%' is doubled.
    const percent = shell === 'zsh' ? '%%' : '%';
    expect(result.stdout).toBe(`[it's $(touch pwned) \`x\` \\ ${percent}\nproj|dev|$(touch pwned)'|2|1/2]`);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });

  it('counts users and services only when the format shows them', () => {
    for (const shell of SHELLS) {
      const code = renderInit(shell, parseFormat('%s %n'), DEFAULT_GLYPHS);
      // No loop over users/ or services/*/pid (the degraded check reads services/*/state.json always).
      expect(code).not.toMatch(/\/users\/|services\/\*\/pid/);
      expect(code).toMatch(/services\/\*\/state\.json/);
    }
  });
});
