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
    let envrc = (($env.WS_ENVRC? | default '') != '0')
    mut d = $env.PWD
    mut found = ''
    loop {
      let here = $d
      if ($h.ceil | any {|c| $c == $here or ($c | path expand) == ($here | path expand) }) { break }
      if (_ws_is_file ($d | path join '.workspace')) or ($envrc and (_ws_is_file ($d | path join '.envrc'))) {
        $found = $d
        break
      }
      if $d == '/' { break }
      $d = ($d | path dirname)
    }
    if $found != $h.root { return false }
  }
  if $h.valid != '' and not ($h.valid | path exists) { return false }
  # Watch triples PATH LO HI (see makeStamps): PATH newer than LO and older
  # than HI; an empty LO: PATH must be absent, or with HI, must exist.
  let w = $h.watch
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

def --env _ws_hook [] {
  # The user's last exit code survives the hook (a caught error would set it to 1).
  let code = $env.LAST_EXIT_CODE?
  if (_ws_unchanged) {
    $env._ws = ($env._ws | upsert pwd $env.PWD)
  } else {
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
