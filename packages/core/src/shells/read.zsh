## File readers for zsh, builtins only: hook.zsh has them (@ZSH_READ@), and
## so does every zsh output of ws-export (shell-output.ts), so that a shell
## whose hook is older than its ws-export still has what the output and the
## cached entry it writes call. Lines starting with ## are dropped.
## Lint: scripts/lint-shell.sh.
## zsh's own `read` takes one byte per system call (a /proc stat line: 300, a
## 2.7 KB workspace file: 2,700); sysread (zsh/system) is one read(2).
## _ws_slurp FILE SIZE: a whole file into _ws_c, for the content check of
## _ws_watch_ok as older outputs wrote it (hooks.ts contentCheck now calls
## sysread inline, where _ws_sysread says it is there): SIZE is one byte more than the
## approved text (a longer file differs; a small buffer: 64 KiB each time
## cost an mmap and a munmap); default more than CONTENT_CHECK_MAX. _ws_read1: the first line of a file into _ws_line as `read -r`
## reads it (blanks around it trimmed; fails without a newline), for the
## cached entry and _ws_depart (state files, /proc: under 4 KB).
# zsh's file readers, one read(2) each (zsh's read: one per byte).
## _ws_sysread: 1 where sysread is there (the content check calls it inline).
if zmodload zsh/system 2>/dev/null; then
  _ws_sysread=1
  _ws_slurp() { sysread -s "${2:-65537}" _ws_c <"$1"; }
  _ws_read1() {
    local c= r=0
    sysread -s 4096 c <"$1" || [[ $? == 5 ]] || { _ws_line=; return 1; }
    [[ $c == *$'\n'* ]] || r=1
    c=${c%%$'\n'*} c=${c#"${c%%[!$' \t']*}"}
    _ws_line=${c%"${c##*[!$' \t']}"}
    return r
  }
else
  _ws_sysread=0
  _ws_slurp() { IFS= read -r -d '' _ws_c <"$1"; }
  _ws_read1() { read -r _ws_line <"$1"; }
fi
