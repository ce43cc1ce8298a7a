## The prompt segment for nushell: `ws-prompt init nu [FORMAT]` prints this
## file (see docs/prompt.md), saved where nushell autoloads files, like the
## hook. Filled in by init.ts: @RESET@ and each state's @<STATE>_GLYPH@ and
## @<STATE>_COLOR@ become that value quoted for nushell; @SEGMENT@ becomes
## the FORMAT as code (a list of quoted literals and field expressions,
## joined); a line ending in `# if:u` (`# if:S`) stays only if FORMAT shows
## %u (%S). Lines starting with ## are dropped. Lint: scripts/lint-shell.sh.
# Called by the ws hook after each check: renders the segment into
# $env.WS_PROMPT from the hook's own variables ($env._ws), with builtins only.
$env._ws_prompt_render = {||
  $env.WS_PROMPT = ''
  let h = ($env._ws? | default {})
  if ($h | is-empty) or $h.root == '' or $h.state == '' {
    hide-env -i WS_PROMPT_STATE WS_PROMPT_CONTEXT
    return
  }
  mut st = $h.state
  # A service that should run and does not makes a ready context degraded
  # (as ws-list says: contextState in core); state.json is read with builtins.
  let services = (try { ls -s ($h.ctxdir | path join 'services') | get name } catch { [] })
  if $st == 'ready' {
    for name in $services {
      let line = (try { open --raw ($h.ctxdir | path join 'services' $name 'state.json') } catch { '' })
      if ($line =~ '"state":"(exited|failed|backoff)"') {
        $st = 'degraded'
        break
      }
    }
  }
  mut g = ''
  mut c = ''
  mut r = @RESET@
  match $st {
    'ready' => { $g = @READY_GLYPH@; $c = @READY_COLOR@ }
    'building' => { $g = @BUILDING_GLYPH@; $c = @BUILDING_COLOR@ }
    'stale' => { $g = @STALE_GLYPH@; $c = @STALE_COLOR@ }
    'degraded' => { $g = @DEGRADED_GLYPH@; $c = @DEGRADED_COLOR@ }
    'error' => { $g = @ERROR_GLYPH@; $c = @ERROR_COLOR@ }
    'blocked' => { $g = @BLOCKED_GLYPH@; $c = @BLOCKED_COLOR@ }
  }
  if 'NO_COLOR' in $env {
    $c = ''
    $r = ''
  }
  # Only users and services whose process exists (the reaper drops the others' records within a second).
  mut u = 0 # if:u
  for pid in (try { ls -s ($h.ctxdir | path join 'users') | get name } catch { [] }) { # if:u
    if ($pid =~ '^[0-9]+$') and (('/proc' | path join $pid) | path exists) { $u += 1 } # if:u
  } # if:u
  mut S = 0 # if:S
  for name in $services { # if:S
    let line = (try { open --raw ($h.ctxdir | path join 'services' $name 'pid') } catch { '' }) # if:S
    let pid = ($line | parse -r '"pid":(?<pid>[0-9]+)' | get -o 0.pid | default '') # if:S
    if $pid != '' and (('/proc' | path join $pid) | path exists) { $S += 1 } # if:S
  } # if:S
  # Services that should run and do not: %S shows RUNNING/EXPECTED then (1/2).
  mut d = 0 # if:S
  for name in $services { # if:S
    let line = (try { open --raw ($h.ctxdir | path join 'services' $name 'state.json') } catch { '' }) # if:S
    if ($line =~ '"state":"(exited|failed|backoff)"') { $d += 1 } # if:S
  } # if:S
  let shown_services = if $d == 0 { $S | into string } else { $"($S)/($S + $d)" } # if:S
  # Plain words for prompts that draw their own segment without a process.
  $env.WS_PROMPT_STATE = $st
  $env.WS_PROMPT_CONTEXT = $h.name
  $env.WS_PROMPT = ([@SEGMENT@] | str join)
}
