#!/usr/bin/env python3
# Lists bats lines that cannot fail a test: tests joined by && (`[ A ] && [ B ]`)
# as a command of their own that is not the last of its function. Under
# bats' set -e, a failure before the last && is ignored: A false passes.
# Split them, one test per line. Usage: lint-bats-and.py DIR -> FILE:LINE
# lines, then the count (0: clean).
import glob, re, sys

TEST = r'\[\[?\s[^|;&]*?\s\]\]?'
AND_ONLY = re.compile(rf'^\s*{TEST}(\s*&&\s*{TEST})+\s*$')
where = []
for path in sorted(glob.glob(sys.argv[1] + '/**/*.bats', recursive=True)):
    lines = open(path, encoding='utf8', errors='replace').read().split('\n')
    code = [(i + 1, l) for i, l in enumerate(lines) if l.strip() and not l.strip().startswith('#')]
    for k, (n, line) in enumerate(code):
        nxt = code[k + 1][1].strip() if k + 1 < len(code) else '}'
        if AND_ONLY.match(line) and nxt != '}':
            where.append(f'{path}:{n}')
print('\n'.join(where))
print(len(where))
