## The nushell hook: `ws-export hook nu` prints this file (see docs/hook.md).
## nushell cannot evaluate code it is handed, so the rc line saves it where
## nushell autoloads files:
##   ws-export hook nu | save -f ($nu.user-autoload-dirs.0 | path join ws.nu)
## Lines starting with ## are dropped; @WS_EXPORT@ becomes the path of the
## ws-export binary, quoted for nushell by hooks.ts. `ws-export nu` prints
## JSON (renderNu): the changes, loaded with load-env / hide-env, PATH split
## back into a list, and the hook's own variables, kept in $env._ws: a
## record, which nushell passes to no child process. _ws_unchanged is
## hook.bash's check with nushell builtins (no process at an idle prompt).
## Lint: scripts/lint-shell.sh (nu --ide-check).

# The modification time of a file, following symlinks as `test -nt` does; null if absent.
def _ws_mtime [path: string] {
  try { ls -D ($path | path expand) | get 0.modified } catch { null }
}

def _ws_is_file [path: string] {
  ($path | path expand | path type) == 'file'
}

# Watch triples PATH LO HI (see makeStamps): PATH newer than LO and older
# than HI; an empty LO: PATH must be absent, or with HI, must exist.
def _ws_watch_ok [w: list] {
  for i in 0..<(($w | length) // 3) {
    let f = ($w | get ($i * 3))
    let lo = ($w | get ($i * 3 + 1))
    let hi = ($w | get ($i * 3 + 2))
    if $lo == '' {
      if ($f | path exists) != ($hi != '') { return false }
    } else {
      let m = (_ws_mtime $f)
      let l = (_ws_mtime $lo)
      let u = (_ws_mtime $hi)
      if $m == null or $l == null or $u == null { return false }
      if $m <= $l or $m >= $u { return false }
    }
  }
  true
}

# The workspace files' approved texts, PATH TEXT pairs (ws-export's nuContent):
# each still a plain file holding exactly that text (a same-size edit whose
# mtime was put back passes every watch triple). A text with a NUL never matches.
def _ws_content_ok [c: list] {
  for i in 0..<(($c | length) // 2) {
    let t = ($c | get ($i * 2 + 1))
    if ($t | str contains (char nul)) { return false }
    let f = ($c | get ($i * 2))
    if not (_ws_is_file $f) { return false }
    if (try { open --raw $f | into string } catch { null }) != $t { return false }
  }
  true
}

# The workspace directory nearest to PWD ('' for none), as ws-export finds it.
def _ws_nearest [ceil: list] {
  let envrc = (($env.WS_ENVRC? | default '') != '0')
  mut d = $env.PWD
  loop {
    let here = $d
    if ($ceil | any {|c| $c == $here or ($c | path expand) == ($here | path expand) }) { return '' }
    if (_ws_is_file ($d | path join '.workspace')) or ($envrc and (_ws_is_file ($d | path join '.envrc'))) { return $d }
    if $d == '/' { return '' }
    $d = ($d | path dirname)
  }
}

# True when nothing relevant changed since the last export: builtins only.
# (Not --env: calling an --env command in a condition stops a later
# hide-env in the caller from working, in nushell 0.115.)
def _ws_unchanged [] {
  let h = ($env._ws? | default {})
  if ($h | is-empty) { return false }
  let knobs = ([$env.WS_WORKSPACE? $env.WS_CEILING_DIRS? $env.WS_ENVRC? $env.WS_ENV?] | each {|v| $v | default '' } | str join (char -u '1f'))
  if $knobs != $h.knobs { return false }
  if ($env.WS_WORKSPACE? | default '') != '' {
    if $env.PWD != $h.pwd { return false }
  } else {
    # The nearest workspace directory, at every prompt: a file created in the
    # current directory or above changes the context without a cd.
    let found = (_ws_nearest $h.ceil)
    if $found != $h.root { return false }
  }
  if $h.valid != '' and not ($h.valid | path exists) { return false }
  (_ws_watch_ok $h.watch) and (_ws_content_ok ($h.content? | default []))
}

# The time now, UTC, ISO-8601 with milliseconds.
def _ws_utc [] {
  date now | date to-timezone UTC | format date '%Y-%m-%dT%H:%M:%S.%3fZ'
}

# A file's text, '' if it is not a plain file (never a link, never a FIFO) or unreadable.
def _ws_read [path: string] {
  if ($path | path type) != 'file' { return '' }
  try { open --raw $path | into string } catch { '' }
}

# Field 22 of /proc/PID/stat (the start time); '' if there is no such process.
def _ws_start [pid: string] {
  let stat = try { open --raw $'/proc/($pid)/stat' | into string } catch { '' }
  $stat | str replace -r '^.*\) ' '' | split row ' ' | get -o 19 | default ''
}

# A variable as the environment of a child holds it (PATH is a list in nushell); null if unset.
def _ws_value [name: string] {
  let v = ($env | get -o $name)
  if ($v | describe) =~ '^list' { $v | str join (char esep) } else { $v }
}

# What to do at a prompt where _ws_unchanged failed, with builtins only:
# null = run ws-export; else {leave, enter}: leave this load with
# $env._ws.revert, then enter the cached entry `enter` (a path), or none
# (''), or let ws-export enter (null). As hook.bash's _ws_unchanged.
def _ws_plan [] {
  let h = ($env._ws? | default {})
  if ($h | is-empty) or ($env.WS_WORKSPACE? | default '') != '' { return null }
  let knobs = ([$env.WS_WORKSPACE? $env.WS_CEILING_DIRS? $env.WS_ENVRC? $env.WS_ENV?] | each {|v| $v | default '' } | str join (char -u '1f'))
  if $knobs != $h.knobs { return null }
  let found = (_ws_nearest $h.ceil)
  if $found == $h.root { return null }
  let entry = ($env._ws_known? | default [] | where root == $found | get -o 0.path)
  mut leave = false
  if $h.root != '' {
    if $found != '' and $entry == null { return null }
    let r = ($h.revert? | default null)
    if $r == null or ($env.WS_DIFF? | default null) != $r.diff { return null }
    $leave = true
  } else if ($env.WS_DIFF? | default '') != '' {
    return null
  }
  if $found == '' { return {leave: $leave, enter: ''} }
  {leave: $leave, enter: $entry}
}

# The cached entry at `path` (cache/enter.nu.json, written by ws-export after
# a ready load) if nothing it depends on changed — validity marker, watched
# files, knobs, the base value of every variable the load changes — and a
# reaper runs to notice the shell leave; the shell is then registered as a
# user (users/PID, a user.join event marked cached). Else null: ws-export runs.
def _ws_entry [path: string] {
  if ($env.WS_DIFF? | default '') != '' { return null }
  let e = try { open --raw $path | from json } catch { return null }
  if $e.valid != '' and not ($e.valid | path exists) { return null }
  if not (_ws_watch_ok $e.watch) { return null }
  if not (_ws_content_ok ($e.content? | default [])) { return null }
  let knobs = ([$env.WS_WORKSPACE? $env.WS_CEILING_DIRS? $env.WS_ENVRC?] | each {|v| $v | default '' } | str join (char -u '1f'))
  if $knobs != $e.knobs or $env.WS_ENV? != $e.wsenv { return null }
  for b in ($e.base | transpose name value) {
    if (_ws_value $b.name) != $b.value { return null }
  }
  # No reaper, nobody to notice the shell leave: let ws-export start one.
  let r = (_ws_read $e.reaper | str trim | split row ' ')
  if ($r | length) != 2 or not ($r.0 =~ '^[0-9]+$') or (_ws_start $r.0) != $r.1 { return null }
  # Never write through a link planted in the state home (docs/reliability.md "Symlinks").
  let pid = ($nu.pid | into string)
  let rec = ($e.users | path join $pid)
  if ($e.users | path type) != 'dir' { return null }
  if ([$e.contexts $e.ctxdir $e.users $rec $e.events] | any {|p| ($p | path type) == 'symlink' }) { return null }
  let start = (_ws_start $pid)
  if $start == '' { return null }
  # Registered already, unless its record says it left (then it is overwritten).
  let old = (_ws_read $rec)
  if $old == '' or ($old | str contains '"left":') {
    let ts = (_ws_utc)
    try { $'{"pid":($pid),"start":"($start)","shell":"nu","joined":"($ts)"}(char nl)' | save -f $rec } catch { return null }
    $'{"v":1,"ts":"($ts)","type":"user.join","context":($e.context),"root":($e.root),"pid":($pid),"shell":"nu","cached":true}(char nl)' | save --append $e.events
  }
  $e
}

# The departure after a process-free leave (docs/state-home.md "Leaving
# without a process"): its own record, if it still is one, rewritten with
# "left"; then the user.leave event. No line to the reaper's wake FIFO:
# nushell cannot open a FIFO without blocking (the reaper's poll sees it).
def _ws_depart [r: record] {
  let f = ($r.users | path join ($nu.pid | into string))
  let rec = (_ws_read $f | str trim)
  if not ($rec starts-with '{') or not ($rec ends-with '}') or ($rec | str contains '"left":') { return }
  let ts = (_ws_utc)
  try { $'($rec | str replace -r '\}$' ''),"left":"($ts)"}(char nl)' | save -f $f } catch { return }
  if ($r.events | path type) == 'symlink' { return }
  $'{"v":1,"ts":"($ts)","type":"user.leave","context":($r.context),"root":($r.root),"pid":($nu.pid),"cached":true}(char nl)' | save --append $r.events
}

def --env _ws_hook [] {
  # The user's last exit code survives the hook (a caught error would set it to 1).
  let code = $env.LAST_EXIT_CODE?
  if (_ws_unchanged) {
    $env._ws = ($env._ws | upsert pwd $env.PWD)
  } else {
    let plan = (_ws_plan)
    mut run = ($plan == null)
    if not $run and $plan.leave {
      # Leaving the load it made, without a process: the values before, the
      # hook's variables as a leave to no context sets them, the departure.
      let r = $env._ws.revert
      let f = ($env.WS_LOG_FORMAT? | default 'ws: %s')
      if $f != '' { print -e ($f | str replace '%s' 'unloading') }
      mut set = $r.set
      if 'PATH' in $set { $set = ($set | upsert PATH ($set.PATH | split row (char esep))) }
      load-env $set
      hide-env -i ...$r.unset WS_DIFF
      let knobs = ([$env.WS_WORKSPACE? $env.WS_CEILING_DIRS? $env.WS_ENVRC? $env.WS_ENV?] | each {|v| $v | default '' } | str join (char -u '1f'))
      $env._ws = {pwd: $env.PWD, root: '', name: '', state: '', ctxdir: '', knobs: $knobs, ceil: $env._ws.ceil, valid: '', watch: [], content: [], revert: null}
      _ws_depart $r
    }
    if not $run and $plan.enter != '' {
      # Entering a context it entered before: the cached result, if still valid.
      let e = if $plan.enter == null { null } else { _ws_entry $plan.enter }
      if $e == null {
        $run = true
      } else {
        mut set = $e.set
        if 'PATH' in $set { $set = ($set | upsert PATH ($set.PATH | split row (char esep))) }
        load-env $set
        hide-env -i ...$e.unset
        $env._ws = ($e.hook | upsert pwd $env.PWD)
      }
    }
    if $run {
      # A ws-export that failed or was killed by a signal (Ctrl-C) applies
      # nothing: the environment stays as it was and the next prompt tries again.
      let out = try { ^@WS_EXPORT@ nu --pid $nu.pid } catch { null }
      if $out != null and $out != '' {
        let r = ($out | from json)
        mut set = $r.set
        # nushell keeps PATH a list.
        if 'PATH' in $set { $set = ($set | upsert PATH ($set.PATH | split row (char esep))) }
        load-env $set
        hide-env -i ...$r.unset
        $env._ws = $r.hook
        # Where the cached entry of this root is, for the next entry from outside.
        if ($r.known? | default null) != null {
          $env._ws_known = ($env._ws_known? | default [] | where root != $r.known.root | append $r.known)
        }
      }
    }
  }
  if ($env._ws_prompt_render? | describe) == 'closure' { do --env $env._ws_prompt_render }
  if $code != null { $env.LAST_EXIT_CODE = $code }
}

# Once, however often this file is sourced.
let _ws_hooks = ($env.config.hooks.pre_prompt? | default [])
if not ($_ws_hooks | any {|h| ($h | describe) == 'closure' and ((view source $h) | str contains '_ws_hook') }) {
  $env.config.hooks.pre_prompt = ($_ws_hooks | append {|| _ws_hook })
}
