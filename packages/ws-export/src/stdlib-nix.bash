# use nix / use flake: cached, GC-pinned, watched Nix shells (docs/nix.md).
#
# A miss (no cache, or a watched input changed) runs, all offline:
#   1. nix-watch-deps: the shell's .drv and every file the evaluation read;
#   2. nix show-derivation + nix-instantiate: a twin of the shell derivation
#      whose builder dumps the environment (lorri's trick, built from the .drv
#      so that a flake is not evaluated twice);
#   3. nix-store --realise: builds the shell's inputs and the dump, rooted in
#      contexts/<id>/cache/nix/<key>/roots/.
# A hit runs no Nix at all: the dump in the store is read with bash builtins.
# Either way the variables are applied and the shellHook runs here, in the
# project directory, like `nix develop` and nix-direnv do.

# Bumped whenever the dump's format or the derivation around it changes.
_WS_NIX_VERSION=1

# use nix [FILE] [-A ATTR] [--option NAME VALUE]...: the environment nix-shell
# would give for FILE (default: ./shell.nix, else ./default.nix), cached and
# pinned. Any other nix-shell argument (`-p PKGS`, `--pure`, `-I`, `--arg`)
# goes to nix-shell itself, as direnv does it (then nothing is cached).
# A shell that cannot be loaded prints Nix's message and returns 1: the file
# goes on (`use flake || use nix`), unless strict_env makes that fatal.
use_nix() {
  local _wsn_file= _wsn_attr= _wsn_arg
  local -a _wsn_extra=()
  while (($#)); do
    _wsn_arg=$1
    shift
    case $_wsn_arg in
      -A | --attr)
        (($#)) || { _ws_nix_fail "use nix" "$_wsn_arg needs an attribute"; return 1; }
        _wsn_attr=$1
        shift
        ;;
      --attr=*) _wsn_attr=${_wsn_arg#--attr=} ;;
      --option)
        (($# >= 2)) || { _ws_nix_fail "use nix" "--option needs NAME and VALUE"; return 1; }
        _wsn_extra+=(--option "$1" "$2")
        shift 2
        ;;
      -*)
        _ws_nix_via_nix_shell ${_wsn_file:+"$_wsn_file"} ${_wsn_attr:+-A "$_wsn_attr"} ${_wsn_extra[@]+"${_wsn_extra[@]}"} "$_wsn_arg" "$@"
        return
        ;;
      *)
        if [[ -n $_wsn_file ]]; then
          _ws_nix_via_nix_shell "$_wsn_file" ${_wsn_attr:+-A "$_wsn_attr"} ${_wsn_extra[@]+"${_wsn_extra[@]}"} "$_wsn_arg" "$@"
          return
        fi
        _wsn_file=$_wsn_arg
        ;;
    esac
  done
  _ws_nix_load nix "$_wsn_file" "$_wsn_attr" ${_wsn_extra[@]+"${_wsn_extra[@]}"}
}

# use flake [REF] [--option NAME VALUE]...: the environment `nix develop REF`
# would give (default REF: the flake in the current directory), cached and
# pinned. nix-direnv's other arguments (--impure, --no-pure-eval,
# --override-input A B, --accept-flake-config, ...) go to
# `nix print-dev-env`, as direnv and nix-direnv do (then nothing is cached).
use_flake() {
  local _wsn_ref= _wsn_arg
  local -a _wsn_extra=()
  for _wsn_arg in "$@"; do
    if [[ $_wsn_arg == -* && $_wsn_arg != --option ]]; then
      _ws_nix_print_dev_env "$@"
      return
    fi
  done
  while (($#)); do
    _wsn_arg=$1
    shift
    case $_wsn_arg in
      --option)
        (($# >= 2)) || { _ws_nix_fail "use flake" "--option needs NAME and VALUE"; return 1; }
        _wsn_extra+=(--option "$1" "$2")
        shift 2
        ;;
      *)
        if [[ -n $_wsn_ref ]]; then
          _ws_nix_print_dev_env "$_wsn_ref" ${_wsn_extra[@]+"${_wsn_extra[@]}"} "$_wsn_arg" "$@"
          return
        fi
        _wsn_ref=$_wsn_arg
        ;;
    esac
  done
  _ws_nix_load flake "${_wsn_ref:-.}" "" ${_wsn_extra[@]+"${_wsn_extra[@]}"}
}

# use nix ARGS... the way direnv's stdlib does it: nix-shell dumps its environment.
_ws_nix_via_nix_shell() {
  hash nix-shell 2>/dev/null || { _ws_nix_fail "use nix" "nix is not installed (no nix-shell on PATH)"; return 1; }
  log_status "use nix: passing $* to nix-shell (not cached or pinned by ws)"
  _ws_direnv_shim || { _ws_nix_fail "use nix" "cannot write $direnv"; return 1; }
  direnv_load nix-shell --show-trace "$@" --run "$(join_args "$direnv" dump)" || {
    _ws_nix_fail "use nix" "nix-shell $* failed"
    return 1
  }
}

# use flake ARGS... the way direnv's stdlib does it: `nix print-dev-env`,
# with its profile in $(direnv_layout_dir).
_ws_nix_print_dev_env() {
  hash nix 2>/dev/null || { _ws_nix_fail "use flake" "nix is not installed (no nix on PATH)"; return 1; }
  local _wsn_layout _wsn_code
  _wsn_layout=$(direnv_layout_dir)
  watch_file flake.nix flake.lock
  mkdir -p "$_wsn_layout" || { _ws_nix_fail "use flake" "cannot create $_wsn_layout"; return 1; }
  log_status "use flake: passing $* to nix print-dev-env (not cached or pinned by ws)"
  _wsn_code=$(nix --extra-experimental-features 'nix-command flakes' print-dev-env --profile "$_wsn_layout/flake-profile" "$@") || {
    _ws_nix_fail "use flake" "nix print-dev-env $* failed"
    return 1
  }
  eval "$_wsn_code"
}

# _ws_nix_fail WHO MESSAGE: one line on stderr; the caller returns 1. Not
# fatal (as in direnv and nix-direnv): the file goes on without the shell.
_ws_nix_fail() {
  log_error "$1: $2"
}

# _ws_nix_load KIND TARGET ATTR [NIX OPTION...]
_ws_nix_load() {
  local kind=$1 target=$2 attr=$3
  shift 3
  local -a extra=("$@")
  local who="use $kind"
  # `hash` also puts the path into BASH_CMDS: no process to read it.
  hash nix-instantiate nix-store nix 2>/dev/null || { _ws_nix_fail "$who" "nix is not installed (no nix-instantiate, nix-store and nix on PATH)"; return 1; }

  # What the result depends on besides the files: the target, the options,
  # the Nix in use, NIX_PATH (<nixpkgs> lookups), the bash that dumps.
  local -a candidates=() args=()
  local label material
  if [[ $kind == nix ]]; then
    local path
    path=$(expand_path "${target:-.}")
    if [[ -z $target || -d $path ]]; then
      # nix-shell's choice: shell.nix, else default.nix; creating either changes it.
      candidates=("$path/shell.nix" "$path/default.nix")
      label=default.nix
      [[ -f $path/shell.nix ]] && label=shell.nix
      [[ -n $target ]] && label=${target%/}/$label
    else
      candidates=("$path")
      label=$target
    fi
    args=("$path")
  else
    args=(--flake "$target")
    label=$target
    local dir=${target%%#*}
    case $dir in
      path:* | git+file:*)
        dir=${dir#*:}
        dir=${dir#//}
        dir=${dir%%\?*}
        ;;
      *:*) dir= ;;
    esac
    if [[ -n $dir ]]; then
      dir=$(expand_path "$dir")
      candidates=("$dir/flake.nix" "$dir/flake.lock")
    fi
  fi
  [[ -n $attr ]] && args+=(--attr "$attr")
  printf -v material '%s\n' "ws-nix $_WS_NIX_VERSION" "$kind" "$PWD" "$target" "$attr" "${extra[*]-}" \
    "NIX_PATH=${NIX_PATH-}" "${BASH_CMDS[nix-instantiate]-}" "$BASH"

  local cache=${WS_STATE_DIR%/*}/cache/nix key
  _ws_nix_hash key "$material"
  local dir=$cache/$key
  [[ -d $dir/roots ]] || mkdir -p "$dir/roots" || { _ws_nix_fail "$who" "cannot create $dir"; return 1; }
  _ws_nix_note_key "$cache" "$key"

  local -a files=()
  local result=
  if _ws_nix_cached "$dir" "$material" ${candidates[@]+"${candidates[@]}"}; then
    log_status "$who: $label unchanged, using the cached environment"
    mapfile -d '' -t files <"$dir/watches"
    IFS= read -r result <"$dir/result"
  else
    log_status "$who: building the environment of $label"
    local nwd
    nwd=$(_ws_nix_watch_deps_path) || { _ws_nix_fail "$who" "nix-watch-deps is not installed"; return 1; }
    _ws_nix_build "$dir" "$who" "$label" "$material" "$nwd" "${args[@]}" -- ${candidates[@]+"${candidates[@]}"} -- ${extra[@]+"${extra[@]}"} ||
      return 1
    mapfile -d '' -t files <"$dir/watches.last"
    IFS= read -r result <"$dir/result.last"
  fi
  ((${#files[@]})) && watch_file "${files[@]}"
  ((${#candidates[@]})) && watch_file "${candidates[@]}"
  _ws_nix_prune "$cache"
  _ws_nix_apply "$who" "$result" "$dir/attrs" || { _ws_nix_fail "$who" "cannot read the environment $result"; return 1; }
}

# The nix-watch-deps beside this ws-export, or on PATH.
_ws_nix_watch_deps_path() {
  local candidate bin=${_WS_EXPORT:-/nonexistent/ws-export}
  bin=${bin%/*}
  for candidate in "$(type -P nix-watch-deps)" "$bin/nix-watch-deps" "$bin/../../nix-watch-deps/bin/nix-watch-deps.mjs"; do
    if [[ -n $candidate && -f $candidate && -x $candidate ]]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# _ws_nix_fingerprint OUT MATERIAL FILE...: what the inputs look like now.
# Directories are listed recursively (a copied `src = ./src` changes with any
# file in it); mtime, ctime, size, inode and mode catch every edit, also one
# that keeps the mtime.
_ws_nix_fingerprint() {
  local out=$1 material=$2
  shift 2
  {
    printf '%s\n' "$material" "--" "$@" "--"
    # find's order is readdir's: the same for the same directories.
    (($# == 0)) || find -P "$@" -printf '%y %i %s %T@ %C@ %m %p\n' 2>/dev/null
  } >"$out" || true
}

# _ws_nix_cached DIR MATERIAL CANDIDATE...: true if the cached result in DIR
# still stands: same material, no watched file changed, result still in the
# store and rooted.
_ws_nix_cached() {
  local dir=$1 material=$2 result
  shift 2
  [[ -f $dir/fingerprint && -f $dir/watches && -f $dir/result && -L $dir/roots/env ]] || return 1
  IFS= read -r result <"$dir/result" || return 1
  [[ -f $result ]] || return 1
  local -a files=()
  mapfile -d '' -t files <"$dir/watches"
  _ws_nix_fingerprint "$dir/fingerprint.now" "$material" ${files[@]+"${files[@]}"} "$@"
  local was= now=
  IFS= read -r -d '' was <"$dir/fingerprint" || :
  IFS= read -r -d '' now <"$dir/fingerprint.now" || :
  [[ -n $was && $was == "$now" ]]
}

# _ws_nix_hash VAR TEXT: a short name for TEXT in VAR (32-bit FNV-1a, in
# bash: no process). A collision costs a rebuild, never a wrong result: the
# fingerprint holds the whole text.
_ws_nix_hash() {
  local _wsn_text=$2 _wsn_i _wsn_c _wsn_h=2166136261 LC_ALL=C
  for ((_wsn_i = 0; _wsn_i < ${#_wsn_text}; _wsn_i++)); do
    printf -v _wsn_c '%d' "'${_wsn_text:_wsn_i:1}"
    _wsn_h=$(((_wsn_h ^ (_wsn_c & 255)) * 16777619 & 0xffffffff))
  done
  printf -v "$1" '%08x' "$_wsn_h"
}

# _ws_nix_build DIR WHO LABEL MATERIAL NWD NWD-ARGS... -- CANDIDATES... -- OPTIONS...
# Evaluates and builds; leaves watches.last and result.last in DIR, and the
# cache entry when no input changed while it ran. Fails the workspace file
# (with Nix's message in the log) when the shell cannot be built.
_ws_nix_build() {
  local dir=$1 who=$2 label=$3 material=$4 nwd=$5
  shift 5
  local -a nwd_args=() candidates=() extra=()
  while (($#)) && [[ $1 != -- ]]; do nwd_args+=("$1"); shift; done
  shift
  while (($#)) && [[ $1 != -- ]]; do candidates+=("$1"); shift; done
  shift
  extra=("$@")
  local -a opts=(--option sandbox false --option substituters '' ${extra[@]+"${extra[@]}"})
  local tmp=$dir/tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp" || { _ws_nix_fail "$who" "cannot create $tmp"; return 1; }

  # Inputs edited from here on are not in the result: then it is not cached
  # (ws sees the edit and runs the file again). 20 ms of slack for coarse
  # file-system clocks.
  local now=${EPOCHREALTIME/[.,]/}
  now=$((now - 20000))
  touch -d "@${now:0:-6}.${now: -6}" "$tmp/start" 2>/dev/null || : >"$tmp/start"

  local status=0
  "$nwd" -0 --gc-root "$dir/roots" --drv-out "$tmp/drv" "${nwd_args[@]}" >"$tmp/watch" 2>"$tmp/err" || status=$?
  [[ -s $tmp/err ]] && cat "$tmp/err" >&2
  local -a files=()
  if ((status != 0)); then
    # Keep watching what the last good evaluation read and what Nix's message
    # names, so that the fix is seen.
    [[ -f $dir/watches ]] && mapfile -d '' -t files <"$dir/watches"
    ((${#files[@]})) && watch_file "${files[@]}"
    ((${#candidates[@]})) && watch_file "${candidates[@]}"
    _ws_nix_watch_named "$tmp/err"
    rm -rf "$tmp"
    case $status in
      69) _ws_nix_fail "$who" "nix is not usable (see above)" ;;
      *) _ws_nix_fail "$who" "cannot evaluate $label" ;;
    esac
    return 1
  fi
  mapfile -d '' -t files <"$tmp/watch"
  # Watched from here on, also when building fails below.
  ((${#files[@]})) && watch_file "${files[@]}"

  local -a drvs=()
  mapfile -t drvs <"$tmp/drv"
  if ((${#drvs[@]} != 1)); then
    rm -rf "$tmp"
    _ws_nix_fail "$who" "the expression gives ${#drvs[@]} derivations; pick the shell with -A ATTR"
    return 1
  fi

  local envdrv result
  # `nix show-derivation` is `nix derivation show` in later Nix.
  if ! { nix --extra-experimental-features nix-command "${opts[@]}" show-derivation "${drvs[0]}" >"$tmp/drv.json" 2>"$tmp/err" ||
    nix --extra-experimental-features nix-command "${opts[@]}" derivation show "${drvs[0]}" >"$tmp/drv.json"; } ||
    ! envdrv=$(nix-instantiate "${opts[@]}" --add-root "$dir/roots/env-drv" --indirect \
      --argstr json "$tmp/drv.json" --argstr drvPath "${drvs[0]}" --argstr bash "$BASH" \
      --argstr script "$(_ws_nix_dump_script)" --expr "$(_ws_nix_env_expr)") ||
    ! nix-store "${opts[@]}" --realise "$(readlink "$dir/roots/env-drv")" --add-root "$dir/roots/env" --indirect >/dev/null ||
    ! result=$(readlink "$dir/roots/env"); then
    rm -rf "$tmp"
    _ws_nix_fail "$who" "cannot build the environment of ${drvs[0]}"
    return 1
  fi

  # Only the write of the fingerprint makes a cache entry.
  printf '%s\n' "$result" >"$dir/result.last"
  cp "$tmp/watch" "$dir/watches.last"
  rm -f "$dir/fingerprint"
  local -a inputs=(${files[@]+"${files[@]}"} ${candidates[@]+"${candidates[@]}"})
  if ((${#inputs[@]} == 0)) || [[ -z $(find -P "${inputs[@]}" -newer "$tmp/start" -print -quit 2>/dev/null) ]]; then
    cp "$dir/result.last" "$dir/result"
    cp "$dir/watches.last" "$dir/watches"
    _ws_nix_fingerprint "$dir/fingerprint.new" "$material" ${inputs[@]+"${inputs[@]}"}
    mv "$dir/fingerprint.new" "$dir/fingerprint"
  fi
  rm -rf "$tmp"
}

# Watch the absolute paths a Nix error message names (`at /p/x.nix:3:5`,
# `'/p/missing.nix'`), outside the store: fixing them must reload.
_ws_nix_watch_named() {
  local text rest path
  text=$(<"$1") || return 0
  local -a found=()
  rest=$text
  while [[ $rest =~ (/[^[:space:]:\'\"]+):[0-9]+:[0-9]+ ]]; do
    found+=("${BASH_REMATCH[1]}")
    rest=${rest#*"${BASH_REMATCH[0]}"}
  done
  rest=$text
  while [[ $rest =~ \'(/[^\']+)\' ]]; do
    found+=("${BASH_REMATCH[1]}")
    rest=${rest#*"${BASH_REMATCH[0]}"}
  done
  for path in ${found[@]+"${found[@]}"}; do
    [[ $path == "${NIX_STORE_DIR:-/nix/store}"/* ]] || watch_file "$path"
  done
}

# _ws_nix_apply WHO DUMP ATTRDIR: export the shell's variables from the dump,
# then run its shellHook here.
#
# Not applied (docs/nix.md): what Nix's build environment sets rather than
# the shell (NIX_BUILD_TOP, TMPDIR, TEMPDIR, TMP, TEMP, NIX_STORE,
# NIX_BUILD_CORES, NIX_LOG_FD, HOME, PWD, OLDPWD, SHLVL, TERM, ...), what
# `nix develop` drops (NIX_ENFORCE_PURITY, NIX_REMOTE, TZ, SSL_CERT_FILE of
# /no-cert-file.crt, ...), the derivation's plumbing (builder, system, the
# output paths out, dev, ...) and WS_*. PATH and XDG_DATA_DIRS are prepended.
_ws_nix_apply() {
  local who=$1 dump=$2 attrdir=$3
  local kind name value version vars= funcs= hook=
  local -A outs=()
  {
    IFS= read -r -d '' kind && [[ $kind == ws-nix-env ]] && IFS= read -r -d '' version || return 1
    while IFS= read -r -d '' kind; do
      case $kind in
        outputs)
          IFS= read -r -d '' value || return 1
          for name in $value; do outs[$name]=1; done
          ;;
        env)
          IFS= read -r -d '' name && IFS= read -r -d '' value || return 1
          [[ $name == shellHook ]] && hook=1
          [[ -z ${outs[$name]+x} ]] && _ws_nix_export "$who" "$name" "$value"
          ;;
        attr)
          # passAsFile: the content, kept beside the cache (Nix's copy went
          # away with the build directory).
          IFS= read -r -d '' name && IFS= read -r -d '' value || return 1
          mkdir -p "$attrdir" && printf '%s' "$value" >"$attrdir/$name" || return 1
          declare -gx "${name}Path=$attrdir/$name"
          ;;
        vars) IFS= read -r -d '' vars || return 1 ;;
        funcs) IFS= read -r -d '' funcs || return 1 ;;
        *) return 1 ;;
      esac
    done
  } <"$dump"
  # The hook may be a shell variable only (__structuredAttrs) or stdenv's runHook.
  if [[ -n $hook || -n $funcs || $vars == *" shellHook="* ]]; then
    _ws_nix_shell_hook "$who" "$vars" "$funcs" "$_WS_EVAL/nix-hook.$BASHPID"
  fi
  return 0
}

_ws_nix_export() {
  local who=$1 name=$2 value=$3
  [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || return 0
  case $name in
    NIX_BUILD_TOP | TMPDIR | TEMPDIR | TMP | TEMP | NIX_STORE | NIX_BUILD_CORES | NIX_LOG_FD | \
      NIX_ATTRS_JSON_FILE | NIX_ATTRS_SH_FILE | NIX_ENFORCE_PURITY | NIX_REMOTE | HOME | PWD | OLDPWD | \
      SHLVL | _ | TERM | TZ | SHELL | SHELLOPTS | BASHOPTS | UID | EUID | PPID | HOSTNAME | builder | system)
      return 0
      ;;
    SSL_CERT_FILE | NIX_SSL_CERT_FILE)
      [[ $value == /no-cert-file.crt ]] && return 0
      ;;
    PATH | XDG_DATA_DIRS)
      [[ $value == /path-not-set || -z $value ]] && return 0
      declare -gx "$name=$value${!name:+:${!name}}"
      return 0
      ;;
    WS_* | _WS_*)
      log_error "$who: the shell sets $name; ignored (WS_* variables belong to ws)"
      return 0
      ;;
  esac
  # -g: the variable of the environment, not a local of a caller with that name.
  declare -gx "$name=$value"
}

# _ws_nix_shell_hook WHO VARS FUNCS SNAPSHOT: run the shellHook as nix-shell
# does (`runHook shellHook` when stdenv defines runHook, else the shellHook
# variable, like `nix develop`), with stdenv's shell variables and functions,
# in a subshell so that they stay out of the workspace file; then apply what
# the hook exported or unset.
_ws_nix_shell_hook() {
  local _wsn_who=$1 _wsn_snapshot=$4
  (
    set +euo pipefail
    eval "$2" 2>/dev/null
    eval "$3"
    _ws_nix_exported >&3
    printf '\0' >&3
    if declare -F runHook >/dev/null; then
      runHook shellHook
    else
      eval "${shellHook-}"
    fi
    _ws_nix_exported >&3
  ) 3>"$_wsn_snapshot" >&2 || true
  local _wsn_entry _wsn_name
  local -A _wsn_before=() _wsn_after=()
  local -a _wsn_gone=()
  {
    while IFS= read -r -d '' _wsn_entry && [[ -n $_wsn_entry ]]; do _wsn_before[${_wsn_entry%%=*}]=${_wsn_entry#*=}; done
    while IFS= read -r -d '' _wsn_entry; do _wsn_after[${_wsn_entry%%=*}]=${_wsn_entry#*=}; done
  } <"$_wsn_snapshot"
  for _wsn_name in "${!_wsn_after[@]}"; do
    case $_wsn_name in PWD | OLDPWD | SHLVL | _ | _WS_*) continue ;; esac
    [[ -n ${_wsn_before[$_wsn_name]+x} && ${_wsn_before[$_wsn_name]} == "${_wsn_after[$_wsn_name]}" ]] && continue
    if [[ $_wsn_name == WS_* ]]; then
      log_error "$_wsn_who: the shellHook sets $_wsn_name; ignored (WS_* variables belong to ws)"
      continue
    fi
    declare -gx "$_wsn_name=${_wsn_after[$_wsn_name]}"
  done
  for _wsn_name in "${!_wsn_before[@]}"; do
    case $_wsn_name in PWD | OLDPWD | SHLVL | _ | _WS_* | WS_*) continue ;; esac
    [[ -n ${_wsn_after[$_wsn_name]+x} ]] || _wsn_gone+=("$_wsn_name")
  done
  # Last: an unset reaches the innermost variable of that name.
  ((${#_wsn_gone[@]} == 0)) || unset "${_wsn_gone[@]}"
  return 0
}

# Every exported variable of this shell as NAME=VALUE, NUL-terminated, with
# builtins only.
_ws_nix_exported() {
  local __ws_p __ws_n
  local -a __ws_names
  for __ws_p in {A..Z} {a..z} _; do
    eval '__ws_names=(${!'"$__ws_p"'@})'
    for __ws_n in ${__ws_names[@]+"${__ws_names[@]}"}; do
      [[ ${!__ws_n@a} == *x* && ${!__ws_n@a} != *[aA]* && -n ${!__ws_n+x} ]] &&
        printf '%s=%s\0' "$__ws_n" "${!__ws_n}"
    done
  done
  return 0
}

# _ws_nix_note_key CACHE KEY: remember that this build uses KEY. The keys of
# the last build that succeeded (events.jsonl says build.done) stay; others
# are pruned by _ws_nix_prune.
_ws_nix_note_key() {
  local cache=$1 key=$2 id=${_WS_BUILD_ID:-} first=
  [[ -f $cache/keys ]] && { IFS= read -r first <"$cache/keys" || first=; }
  if [[ $first != "$id" ]]; then
    if [[ -n $first && -f ${_WS_EVENTS-} ]] &&
      grep -F "\"build\":\"$first\"" "$_WS_EVENTS" 2>/dev/null | grep -qF '"type":"build.done"'; then
      mv -f "$cache/keys" "$cache/good"
    fi
    printf '%s\n' "$id" >"$cache/keys"
  fi
  printf '%s\n' "$key" >>"$cache/keys"
}

# Removes the cache entries (and so the GC roots) that neither this build nor
# the last good one used: a shell the file no longer loads is not pinned.
_ws_nix_prune() {
  local cache=$1 entry
  [[ -f $cache/good ]] || return 0
  local -A keep=()
  local -a lines=()
  mapfile -s 1 -t lines <"$cache/good"
  for entry in ${lines[@]+"${lines[@]}"}; do keep[$entry]=1; done
  mapfile -s 1 -t lines <"$cache/keys"
  for entry in ${lines[@]+"${lines[@]}"}; do keep[$entry]=1; done
  for entry in "$cache"/*/; do
    entry=${entry%/}
    entry=${entry##*/}
    [[ $entry =~ ^[0-9a-f]{8}$ && -z ${keep[$entry]+x} ]] && rm -rf "${cache:?}/$entry"
  done
  return 0
}

# The builder of the dump derivation: it runs in Nix's build environment, where
# the shell's attributes are the environment, sources stdenv's setup like
# nix-shell and `nix develop`, and writes NUL-separated records to $out:
#   ws-nix-env VERSION | outputs NAMES | env NAME VALUE | attr NAME CONTENT |
#   vars DECLARATIONS | funcs DEFINITIONS
# Bash builtins only: without stdenv, PATH is /path-not-set.
_ws_nix_dump_script() {
  cat <<'EOF'
set -e
__ws_out=$out
__ws_structured=
if [[ -e .attrs.sh ]]; then
  source .attrs.sh
  __ws_structured=1
  __ws_out=${outputs[out]}
fi
unset out
export name=$wsEnvName builder=$wsEnvBuilder
__ws_outnames=
if [[ -n $__ws_structured ]]; then
  unset outputs
  declare -A outputs=()
  for __ws_p in $wsEnvOutputs; do outputs[${__ws_p%%=*}]=${__ws_p#*=}; __ws_outnames+=" ${__ws_p%%=*}"; done
else
  for __ws_p in $wsEnvOutputs; do export "${__ws_p%%=*}=${__ws_p#*=}"; __ws_outnames+=" ${__ws_p%%=*}"; done
  if [[ -n ${wsEnvOutputNames+x} ]]; then export outputs=$wsEnvOutputNames; else unset outputs; fi
fi
unset wsEnvName wsEnvBuilder wsEnvOutputs wsEnvOutputNames wsEnvInputs
declare -A __ws_skip=()
__ws_attrs=()
for __ws_a in ${passAsFile-}; do
  __ws_v=${__ws_a}Path
  if [[ -n ${!__ws_v-} && -f ${!__ws_v} ]]; then __ws_attrs+=("$__ws_a"); __ws_skip[$__ws_v]=1; fi
done
export IN_NIX_SHELL=impure
dontAddDisableDepTrack=1
if [[ -n ${stdenv-} && -e $stdenv/setup ]]; then source "$stdenv/setup"; fi
set +e
{
  printf '%s\0' ws-nix-env 1 outputs "${__ws_outnames# }"
  for __ws_a in ${__ws_attrs[@]+"${__ws_attrs[@]}"}; do
    __ws_v=${__ws_a}Path
    __ws_c=
    IFS= read -r -d '' __ws_c <"${!__ws_v}"
    printf '%s\0' attr "$__ws_a" "$__ws_c"
  done
  __ws_plain=()
  for __ws_p in {A..Z} {a..z} _; do
    eval '__ws_names=(${!'"$__ws_p"'@})'
    for __ws_n in ${__ws_names[@]+"${__ws_names[@]}"}; do
      case $__ws_n in
        __ws_* | BASH* | COMP_* | DIRSTACK | EPOCHREALTIME | EPOCHSECONDS | EUID | FUNCNAME | GROUPS | HISTCMD | \
          HOSTNAME | HOSTTYPE | IFS | LINENO | MACHTYPE | OPTARG | OPTERR | OPTIND | OSTYPE | PIPESTATUS | PPID | \
          PS1 | PS2 | PS4 | RANDOM | SECONDS | SHELLOPTS | SRANDOM | UID | _ | COLUMNS | LINES)
          continue ;;
      esac
      [[ -n ${__ws_skip[$__ws_n]+x} ]] && continue
      case ${!__ws_n@a} in
        *r*) ;;
        *[aA]*) __ws_plain+=("$__ws_n") ;;
        *x*) [[ -n ${!__ws_n+x} ]] && printf '%s\0' env "$__ws_n" "${!__ws_n}" ;;
        *) __ws_plain+=("$__ws_n") ;;
      esac
    done
  done
  if ((${#__ws_plain[@]})); then
    printf 'vars\0'
    declare -p "${__ws_plain[@]}"
    printf '\0'
  fi
  printf 'funcs\0'
  declare -f
  printf '\0'
} >"$__ws_out"
EOF
}

# The dump derivation, made from `nix show-derivation` of the shell: the
# same attributes and inputs (their string context restored with
# appendContext), bash as the builder, the dump script as its program, one
# output. No evaluation of the shell's expression again.
_ws_nix_env_expr() {
  cat <<'EOF'
{ json, drvPath, bash, script }:
let
  shown = builtins.fromJSON (builtins.readFile json);
  d = shown.${drvPath} or shown.${baseNameOf drvPath};
  inStore = p: if builtins.substring 0 1 p == "/" then p else "${builtins.storeDir}/${p}";
  structured = d.env ? __json;
  attrs = if structured then builtins.fromJSON d.env.__json else d.env;
  outputNames =
    if structured then attrs.outputs or [ "out" ]
    else if attrs ? outputs then builtins.filter (o: builtins.isString o && o != "") (builtins.split "[[:space:]]+" attrs.outputs)
    else [ "out" ];
  inputs =
    builtins.listToAttrs (map (p: { name = inStore p; value = { outputs = let o = d.inputDrvs.${p}; in if builtins.isList o then o else o.outputs; }; }) (builtins.attrNames d.inputDrvs))
    // builtins.listToAttrs (map (p: { name = inStore p; value = { path = true; }; }) d.inputSrcs);
  # Checks on the shell's own outputs mean nothing for the dump.
  dropped = outputNames ++ [ "outputs" "__json" "allowedReferences" "allowedRequisites" "disallowedReferences"
    "disallowedRequisites" "outputChecks" "outputHash" "outputHashAlgo" "outputHashMode" "__contentAddressed"
    "__impure" "requiredSystemFeatures" ];
in
derivation (removeAttrs attrs dropped // {
  name = "${attrs.name}-ws-env";
  outputs = [ "out" ];
  system = d.system or d.platform;
  builder = if baseNameOf d.builder == "bash" then d.builder else bash;
  args = [ "-c" script ];
  wsEnvName = attrs.name;
  wsEnvBuilder = d.builder;
  wsEnvOutputs = toString (map (o: let p = (d.outputs.${o} or { }).path or ""; in "${o}=${if p == "" then "" else inStore p}") outputNames);
  wsEnvInputs = builtins.appendContext "" inputs;
} // (if attrs ? outputs then { wsEnvOutputNames = toString outputNames; } else { })
  // (if structured then { __structuredAttrs = true; } else { }))
EOF
}
