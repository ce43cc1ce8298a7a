import { fillTemplate, quoteFish, quotePosix } from '@ws/core';
import completionBash from './completion.bash';
import completionFish from './completion.fish';
import completionZsh from './completion.zsh';
import { COMMANDS, type COMPLETION_SHELLS } from './commands.js';

type CompletionShell = (typeof COMPLETION_SHELLS)[number];

const TEMPLATES: Record<CompletionShell, { template: string; quote: (value: string) => string }> = {
  bash: { template: completionBash, quote: quotePosix },
  zsh: { template: completionZsh, quote: quotePosix },
  fish: { template: completionFish, quote: quoteFish },
};

/**
 * `ws completion SHELL`: completion for `ws` and for every ws command called
 * by its own name. The code is completion.bash|zsh|fish beside this file;
 * each TAB runs `ws __complete` (complete.ts), at the path given here.
 */
export function renderCompletion(shell: CompletionShell, ws: string): string {
  const { template, quote } = TEMPLATES[shell];
  // Plain words (checked), pasted as code: the shell's list of names.
  const names = ['ws', ...COMMANDS.map((c) => c.binary)];
  if (!names.every((n) => /^[\w.-]+$/.test(n))) throw new Error('a command name that is not a plain word');
  return fillTemplate(template, quote, { values: { WS: ws }, code: { COMMANDS: names.join(' ') } });
}
