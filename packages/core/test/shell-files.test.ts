import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_CHECK_MAX, renderHook, ZSH_READ } from '../src/shells/hooks.js';
import { quotePosix } from '../src/shells/quote.js';
import { SHELLS, type Shell } from '../src/shells/render.js';
import { fillTemplate } from '../src/shells/template.js';

// The shell code ws ships lives in real files (hook.bash, hook.zsh, hook.fish,
// linted by scripts/lint-shell.sh); these tests check how they are filled in.

describe('fillTemplate', () => {
  it('quotes values, pastes code, drops ## lines and keeps `# if:` lines by condition', () => {
    const template = "## a note\necho @NAME@ @CODE@\nuse $u # if:u\nuse $S # if:S\n";
    const text = fillTemplate(template, quotePosix, { values: { NAME: "it's $&" }, code: { CODE: '"$x"' }, when: { u: true, S: false } });
    expect(text).toBe(`echo 'it'\\''s $&' "$x"\nuse $u\n`);
  });

  it('refuses a placeholder left empty, and a name the template does not have', () => {
    expect(() => fillTemplate('echo @NAME@\n', quotePosix, {})).toThrow('@NAME@');
    expect(() => fillTemplate('echo\n', quotePosix, { values: { NAME: 'x' } })).toThrow('NAME');
    expect(() => fillTemplate('echo # if:u\n', quotePosix, {})).toThrow('u');
    expect(() => fillTemplate('echo\n', quotePosix, { when: { u: true } })).toThrow('if:u');
    // A newline in the value would end the comment and run the rest.
    expect(() => fillTemplate('# runs @NAME@\n', quotePosix, { values: { NAME: 'x' } })).toThrow('comment');
  });
});

describe('renderHook', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ws-hook-files-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves no placeholder and no template note', () => {
    for (const shell of SHELLS) {
      const hook = renderHook(shell, '/x/ws-export');
      expect(hook).not.toMatch(/@[A-Z_]+@|^\s*##/m);
      expect(hook).toContain('/x/ws-export');
    }
  });

  it('bash and zsh share _ws_unchanged: only `emulate -L zsh` differs', () => {
    const body = (text: string) => text.slice(text.indexOf('_ws_unchanged() {'), text.indexOf('\n}\n', text.indexOf('_ws_unchanged() {')));
    const comments = (text: string) => text.replace(/^\s*# shellcheck .*\n/gm, '');
    const bash = comments(body(renderHook('bash', '/x')));
    const zsh = body(renderHook('zsh', '/x')).replace('  emulate -L zsh\n', '');
    expect(zsh).toBe(bash);
  });

  it('bash and zsh share the idle prompt\'s one test at a context\'s root', () => {
    const test = (text: string) => text.slice(text.indexOf('  [[ $PWD == "${_ws_root-}"'), text.indexOf('_ws_unchanged || _ws_apply'));
    const bash = test(renderHook('bash', '/x'));
    expect(bash).toContain('-e $_ws_valid');
    expect(test(renderHook('zsh', '/x'))).toBe(bash);
  });

  it('bash and zsh apply the cold path\'s answer alike: the same case over its items, the same hook variables', () => {
    const cold = (text: string) => {
      const body = text.slice(text.indexOf('_ws_cold() {'), text.indexOf('\n}\n', text.indexOf('_ws_cold() {')));
      const items = body.slice(body.indexOf('    case $kv in'), body.indexOf('    esac') + '    esac'.length);
      const vars = body.slice(body.indexOf('  _ws_pwd=$PWD _ws_root=$root'), body.indexOf('\n  _ws_adopt='));
      return { items, vars };
    };
    const bash = cold(renderHook('bash', '/x'));
    expect(bash.items).toContain(':adopted=*)');
    expect(bash.vars).toContain('_ws_knobs=');
    expect(cold(renderHook('zsh', '/x'))).toEqual(bash);
  });

  it('zsh: the hook has the file readers of ws-export\'s zsh output; _ws_slurp reads past CONTENT_CHECK_MAX', () => {
    expect(renderHook('zsh', '/x')).toContain(ZSH_READ.trimEnd());
    expect(ZSH_READ).toContain('sysread -s "${2:-' + (CONTENT_CHECK_MAX + 1) + '}" _ws_c');
  });

  // _ws_read1 stands for `read -r` in the cached entry: the same line and status.
  it.skipIf(spawnSync('zsh', ['-fc', 'true']).status !== 0)('zsh: _ws_read1 reads a first line as `read -r` does', () => {
    const files: Record<string, string> = { line: 'a b\n', blanks: ' \t x  y \t\nsecond\n', nonl: 'no newline', empty: '', nl: '\n', backslash: 'a\\b c\n' };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `r1-${name}`), text);
    const script = `${ZSH_READ}\nfor f in ${Object.keys(files).map((n) => quotePosix(join(dir, `r1-${n}`))).join(' ')}; do _ws_read1 $f; a=$?:$_ws_line; l=; read -r l < $f; b=$?:$l; [[ $a == "$b" ]] || print -r -- "differs: $f [$a] [$b]"; done`;
    const run = spawnSync('zsh', ['-fc', script], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  // A hostile install path ($&, $', quotes, $(...)) must be run as that path, and nothing else run.
  it.each(SHELLS)('%s: runs ws-export at a path with quotes, $( ) and $& in it, exactly', (shell) => {
    const bin = join(dir, `${shell} it's $(touch pwned) $& $' \`x\``);
    mkdirSync(bin, { recursive: true });
    const exporter = join(bin, 'ws-export');
    const line = shell === 'fish' ? 'set -gx HIT "%s"' : 'export HIT="%s"';
    writeFileSync(exporter, `#!/bin/sh\nprintf '${line}\\n' "$*"\n`);
    chmodSync(exporter, 0o755);
    writeFileSync(join(dir, `hook.${shell}`), renderHook(shell, exporter));
    const hook = join(dir, `hook.${shell}`);
    const script = shell === 'fish' ? `source '${hook}'; _ws_hook; echo "$HIT"` : `. '${hook}'; _ws_hook; echo "$HIT"`;
    const argv = { bash: ['--noprofile', '--norc', '-c', script], zsh: ['-f', '-c', script], fish: ['--no-config', '-c', script] }[shell];
    const result = spawnSync(shell, argv, { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toBe('');
    // --live: the hook applies a background build's result on SIGUSR1 (live apply).
    expect(result.stdout).toBe(`${shell} --pid ${result.pid} --live\n`);
    expect(() => readFileSync(join(dir, 'pwned'))).toThrow();
  });

  /** The hook's own SIGUSR1 trap (live apply), left out of a listing of the user's traps. */
  const withoutLiveTrap = (text: string) => text.replace(/^trap -- '_ws_live_apply' SIGUSR1\n/m, '').replace(/^TRAPUSR1 \(\) \{\n[\s\S]*?\n\}\n/m, '');

  /** Runs `script` in the shell after sourcing the hook rendered for a fake ws-export doing `body`. */
  function withFakeExport(shell: Shell, body: string, script: string) {
    const exporter = join(dir, `fake-${shell}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(exporter, `#!/bin/sh\n${body}\n`);
    chmodSync(exporter, 0o755);
    const hook = `${exporter}.hook`;
    writeFileSync(hook, renderHook(shell, exporter));
    const argv = { bash: ['--noprofile', '--norc', '-c'], zsh: ['-f', '-c'], fish: ['--no-config', '-c'] }[shell];
    return spawnSync(shell, [...argv, `source '${hook}'; ${script}`], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
  }

  // direnv's guard: the shell ignores SIGINT while ws-export runs (a Ctrl-C reaches both).
  it.each(['bash', 'zsh'] as const)('%s: SIGINT to the shell while ws-export runs: its whole output applies, $? and the user\'s INT trap stay', (shell) => {
    const result = withFakeExport(
      shell,
      // Its last line, as every ws-export's: zsh says 130 after it saw the SIGINT, the output is whole all the same.
      `kill -INT $PPID; printf 'export FIRST=1 SECOND=2\\n# ws-export: complete\\n'`,
      `trap 'echo user trap ran' INT; false; _ws_hook; echo "status=$? FIRST=$FIRST SECOND=$SECOND"; trap`,
    );
    expect(result.signal).toBeNull();
    // zsh runs _ws_hook as a precmd function, whose status does not become $?.
    expect(withoutLiveTrap(result.stdout)).toBe(`status=${shell === 'bash' ? 1 : 0} FIRST=1 SECOND=2\ntrap -- 'echo user trap ran' ${shell === 'bash' ? 'SIGINT' : 'INT'}\n`);
  });

  it.each(SHELLS)('%s: nothing of what a ws-export killed by a signal printed is applied', (shell) => {
    const line = shell === 'fish' ? 'set -gx FIRST 1' : 'export FIRST=1';
    const after = shell === 'fish' ? 'set -q FIRST; and echo FIRST=$FIRST; or echo FIRST=unset' : 'echo "FIRST=${FIRST-unset}"; trap';
    const result = withFakeExport(shell, `printf '${line}\\n'; kill -KILL $$`, `_ws_hook; ${after}`);
    expect(withoutLiveTrap(result.stdout)).toBe('FIRST=unset\n');
  });
});
