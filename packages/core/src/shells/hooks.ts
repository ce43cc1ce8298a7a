import hookBash from './hook.bash';
import hookFish from './hook.fish';
import hookNu from './hook.nu';
import hookZsh from './hook.zsh';
import readZsh from './read.zsh';
import type { HookShell } from './render.js';
import { quoteFish, quoteNu, quotePosix } from './quote.js';
import { fillTemplate } from './template.js';

// The shell files' renderer, for the other shell code ws ships (ws-prompt init, ws-export's cached entry).
export { fillTemplate, type TemplateFill } from './template.js';

const HOOKS: Record<HookShell, { template: string; quote: (value: string) => string }> = {
  bash: { template: hookBash, quote: quotePosix },
  zsh: { template: hookZsh, quote: quotePosix },
  fish: { template: hookFish, quote: quoteFish },
  nu: { template: hookNu, quote: quoteNu },
};

/**
 * The hook a user puts in their rc file. At every prompt (and on cd) it first
 * checks, with shell builtins only, whether anything relevant changed since
 * the last export: the discovery knobs and WS_ENV, the nearest workspace
 * directory (walked up from $PWD with `test -f` at every prompt), the validity marker of the
 * loaded result, and each watched file's mtime against a pair of stamp files
 * that bracket it (`-nt lo && -ot hi`; an empty LO means: must be absent, or
 * with HI `+`, must exist). Only if something changed does it run
 * ws-export. The variables it reads are set by ws-export's own output. Then
 * it renders the prompt segment, if `ws-prompt init` defined the function.
 * bash and zsh test the watched files with `_ws_watch_ok`, which each
 * ws-export redefines as one `[[ ]]` expression (no loop, no indexing).
 * The code is in hook.bash, hook.zsh, hook.fish and hook.nu beside this file; only
 * the path of ws-export is filled in, quoted for the shell. A Ctrl-C while
 * ws-export runs applies all of its output or none (the SIGINT guard there).
 */
export function renderHook(shell: HookShell, exporter: string): string {
  const { template, quote } = HOOKS[shell];
  return fillTemplate(template, quote, { values: { WS_EXPORT: exporter }, ...(shell === 'zsh' ? { code: { ZSH_READ: ZSH_READ.trimEnd() } } : {}) });
}

/**
 * zsh's file readers (read.zsh: `_ws_read1`, `_ws_slurp`, sysread: zsh's
 * `read` takes one byte per system call): in hook.zsh, and at the start of
 * every zsh output of ws-export, so that an output or a cached entry never
 * calls a reader the shell's (older) hook lacks.
 */
export const ZSH_READ = fillTemplate(readZsh, quotePosix, {});

/**
 * The body of `_ws_watch_ok` for bash and zsh: one `[[ ]]` over the watch
 * triples (see makeStamps: bracketed mtime, must be absent, or must exist)
 * and the `-f` of each file whose content is compared, then the reads
 * (contentRead). No loop, no indexing: a dozen system calls at a prompt.
 */
export function watchCheck(triples: string[], contents: WatchedContent[] = [], shell: 'bash' | 'zsh' = 'bash'): string {
  if (contents.some((c) => c.text === undefined)) return 'return 1';
  const terms: string[] = [];
  for (let i = 0; i + 2 < triples.length; i += 3) {
    const [path, lo, hi] = [quotePosix(triples[i]), triples[i + 1], triples[i + 2]];
    if (lo) terms.push(`${path} -nt ${quotePosix(lo)} && ${path} -ot ${quotePosix(hi)}`);
    else terms.push(hi ? `-e ${path}` : `! -e ${path}`);
  }
  // A FIFO in a workspace file's place is never opened: -f first.
  for (const { path } of contents) terms.push(`-f ${quotePosix(path)}`);
  const tests = terms.length ? `[[ ${terms.join(' && ')} ]]` : ':';
  return contents.length ? `local _ws_c; ${tests} && ${contents.map((c) => contentRead(c, shell)).join(' && ')}` : tests;
}

/**
 * fish's watch check, as arguments of `test` (the hook keeps them in
 * `_ws_watch_test` and appends them to its own test of the prompt: one
 * builtin for all): the validity marker (`-e`, unless there is none) and the
 * watch triples, each condition after ` -a ` (fish's test has `-a`, `-o`,
 * `!`); '' when there is nothing to check. An operand that does not start
 * with `/` gets `./` before it, so that no value reads as an operator of
 * `test` (every path ws watches is absolute). fish does not compare content
 * (watchCheck's contents) here: CONTENTS only adds `-f` for each file
 * contentFunctionFish reads, which it reads only after this test held.
 */
export function watchTestFish(triples: string[], valid = '', contents: WatchedContent[] = []): string {
  const f = (path: string) => quoteFish(path === '' || path.startsWith('/') ? path : `./${path}`);
  const terms: string[] = valid ? [`-e ${f(valid)}`] : [];
  for (let i = 0; i + 2 < triples.length; i += 3) {
    const [path, lo, hi] = [f(triples[i]), triples[i + 1], triples[i + 2]];
    if (lo) terms.push(`${path} -nt ${f(lo)} -a ${path} -ot ${f(hi)}`);
    else terms.push(hi ? `-e ${path}` : `! -e ${path}`);
  }
  // Each file contentFunctionFish reads is a regular file (never open a FIFO): its -f is here, in the same test.
  for (const { path, text } of contents) if (text !== undefined) terms.push(`-f ${f(path)}`);
  return terms.map((t) => ` -a ${t}`).join('');
}

/**
 * The content of a workspace file as the trust gate checked it, for the hook
 * to compare at every prompt (bash and zsh): an edit of the same size whose
 * mtime was restored (`touch -r`) leaves the mtime stamps satisfied, but not
 * this. `text` undefined: the content cannot be vouched for (it changed
 * since the check), so the hook always asks ws-export.
 */
export interface WatchedContent {
  path: string;
  text: string | undefined;
}

/**
 * One content comparison with builtins only: bash's `mapfile -d ''` takes the
 * whole file (buffered, and per byte a third of what `read -d ''` costs; on
 * fd 9, which bash need not save and restore as it does fd 0, unless the
 * shell has it open), zsh's `sysread` one read(2) (zsh's `read` takes one
 * byte per system call: only where zsh/system is missing, read.zsh); no
 * process, and a FIFO is never read (`-f` first). `[[ == ]]` against the
 * quoted text compares it exactly. Leaves the content in `_ws_c`.
 */
export function contentCheck(content: WatchedContent, shell: 'bash' | 'zsh' = 'bash'): string {
  if (content.text === undefined) return 'false';
  return `{ [[ -f ${quotePosix(content.path)} ]] && ${contentRead(content, shell)}; }`;
}

/** The read and the comparison of contentCheck, for a file known to be a regular one. */
function contentRead({ path, text }: WatchedContent, shell: 'bash' | 'zsh'): string {
  if (text === undefined) return 'false';
  const p = quotePosix(path);
  if (shell === 'bash') {
    // The text holds no NUL (watchedContent), so the file is one element, or
    // none if empty; one more is a NUL in it. A file it cannot open: false.
    return `{ mapfile -d '' -u 9 _ws_c 9<${p} && [[ ${text ? `\${#_ws_c[@]} == 1 && \${_ws_c[0]} == ${quotePosix(text)}` : '${#_ws_c[@]} == 0'} ]]; }`;
  }
  const bashRead = `IFS= read -r -d '' -u 9 _ws_c 9<${p}`;
  // zsh: sysread where zsh/system loaded (read.zsh), one byte more than the
  // text (a longer file differs); inline, not _ws_slurp: a zsh function call costs as much as the read.
  const read = `if ((\${_ws_sysread-0})); then sysread -s ${Buffer.byteLength(text) + 1} -i 9 _ws_c 9<${p}; else ${bashRead}; fi`;
  // Emptied first: a read that could not open the file leaves nothing of
  // another. Its status (1 at the end of the file, sysread's 5 for an empty
  // one) is no answer: `|| :`, so that zsh's ERR_RETURN does not end the check there.
  return `{ _ws_c=; ${read} || :; [[ $_ws_c == ${quotePosix(text)} ]]; }`;
}

/**
 * fish's content check: the definition of `_ws_content_ok`, true while every
 * workspace file still holds the text the trust gate approved (contentCheck
 * for bash and zsh; none: always true). Each fish output and cached entry
 * defines it, the hook calls it after its one test of the prompt, which
 * holds `-f` of each file (watchTestFish's CONTENTS: a FIFO in its place is
 * never opened; it is not called unless that test held). `read -lz` reads a
 * file without NUL whole and exactly, into a local (an empty file: '', a
 * failed redirection: the `or`). Two builtins a file, the last one's status
 * the function's (each builtin costs several µs at every prompt).
 */
export function contentFunctionFish(contents: WatchedContent[]): string {
  const checks = contents.map(({ path, text }) => {
    if (text === undefined) return '  return 1';
    const p = quoteFish(path);
    return `  read -lz _ws_c <${p}; or set -l _ws_c ''\n  test "x$_ws_c" = x${quoteFish(text)}`;
  });
  return `function _ws_content_ok\n${checks.length ? checks.join('; or return 1\n') : '  true'}\nend\n`;
}

/** Files larger than this are compared by mtime only (their text would be copied into every shell). */
export const CONTENT_CHECK_MAX = 64 * 1024;
