#!/usr/bin/env python3
# Lists bats lines that cannot fail a test: tests joined by && (`[ A ] && [ B ]`,
# `[[ A ]] && test B`) as a command of their own that is not the last of its
# function. Under bats' set -e, a failure before the last && is ignored: a false
# A passes. Split them, one test per line. Heredoc bodies are skipped; a line
# with || (an explicit failure branch) is fine. Usage: lint-bats-and.py DIR ->
# FILE:LINE lines, then the count (0: clean).
import glob, re, sys

HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")
COMMENT = re.compile(r"\s+#[^'\"]*$")


def is_test(part: str) -> bool:
    part = part.strip()
    return (part.startswith('[') and part.endswith(']')) or part.startswith('test ')


def and_only(line: str) -> bool:
    s = COMMENT.sub('', line.strip())
    if '||' in s or s.endswith(('\\', '&&', '|')):
        return False
    parts = s.split(' && ')
    return len(parts) > 1 and all(is_test(p) for p in parts)


where = []
paths = sorted(glob.glob(sys.argv[1] + '/**/*.bats', recursive=True) + glob.glob(sys.argv[1] + '/**/*.bash', recursive=True))
for path in paths:
    code, end = [], None
    for n, line in enumerate(open(path, encoding='utf8', errors='replace').read().split('\n'), 1):
        if end is not None:
            end = None if line.strip() == end else end
            continue
        if line.strip() and not line.strip().startswith('#'):
            code.append((n, line))
        m = HEREDOC.search(line)
        if m:
            end = m.group(2)
    for k, (n, line) in enumerate(code):
        # A function's last command gives its status (a `}` at column 0 here);
        # before the `fi`, `done` or `}` of a block, set -e ignores it too.
        nxt = code[k + 1][1] if k + 1 < len(code) else '}'
        if and_only(line) and not nxt.startswith('}'):
            where.append(f'{path}:{n}')
print('\n'.join(where))
print(len(where))
