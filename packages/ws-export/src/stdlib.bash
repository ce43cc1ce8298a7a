# ws stdlib: the functions a workspace file (or a direnv .envrc) can use.
# direnv-compatible names and behaviour; ws's own additions at the end.
# Sourced by the evaluation driver; everything here runs in bash.

# ---- logging -------------------------------------------------------------

# WS_LOG_FORMAT works like DIRENV_LOG_FORMAT: a printf format, empty = silent.
log_status() {
  local format=${WS_LOG_FORMAT-"ws: %s"}
  [[ -n $format ]] || return 0
  # shellcheck disable=SC2059
  printf "${format}\n" "$*" >&2
}

log_error() {
  local format=${WS_LOG_FORMAT-"ws: %s"}
  local red=$'\e[31m' reset=$'\e[m'
  [[ -t 2 && -z ${NO_COLOR+x} ]] || { red=; reset=; }
  [[ -n $format ]] || return 0
  # shellcheck disable=SC2059
  printf "${red}${format}${reset}\n" "$*" >&2
}

# ---- small helpers -------------------------------------------------------

# direnv's stdlib runs every .envrc with these options: a file may rely on
# them (`for f in .envrc.d/*.sh` with no match, `+(pattern)`).
shopt -s gnu_errfmt nullglob extglob

# Programs can tell that they run inside an .envrc evaluation; never exported.
export DIRENV_IN_ENVRC=1

# direnv_config_dir as direnv computes it (a file may look for its lib/ there).
direnv_config_dir=${DIRENV_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/direnv}

has() {
  type "$1" >/dev/null 2>&1
}

# join_args ARGS...: the arguments quoted for bash, one string.
join_args() {
  printf '%q ' "$@"
}

# expand_path REL [BASE]: the absolute path of REL relative to BASE (default
# $PWD), with . and .. removed; symlinks are not resolved (as in direnv).
expand_path() {
  local REPLY
  realpath.absolute "${2-}" "${1-}"
  printf '%s\n' "$REPLY"
}

# _ws_abs VAR PATH [BASE]: VAR = expand_path PATH [BASE], without a subshell.
_ws_abs() {
  local REPLY
  realpath.absolute "${3-}" "${2-}"
  printf -v "$1" '%s' "$REPLY"
}

# realpath.absolute PART...: REPLY = the parts joined onto $PWD (an absolute
# part starts again from /), with . and .. removed. direnv's helpers.
realpath.absolute() {
  local path=$PWD part
  local -a parts=() out=()
  for part in "$@"; do
    [[ -z $part ]] && continue
    [[ $part == /* ]] && path=$part || path=$path/$part
  done
  IFS=/ read -ra parts <<<"$path"
  for part in ${parts[@]+"${parts[@]}"}; do
    case $part in
      '' | .) ;;
      ..) ((${#out[@]})) && unset 'out[${#out[@]}-1]' ;;
      *) out+=("$part") ;;
    esac
  done
  local IFS=/
  REPLY=/${out[*]}
}

# realpath.dirname PATH / realpath.basename PATH: REPLY = its directory / last name.
realpath.dirname() {
  local path=$1
  [[ $path =~ ^/+$ ]] && { REPLY=/; return; }
  path=${path%%+(/)}
  if [[ $path == */* ]]; then
    REPLY=${path%/*}
    REPLY=${REPLY%%+(/)}
    REPLY=${REPLY:-/}
  else
    REPLY=.
  fi
}

realpath.basename() {
  local path=${1%%+(/)}
  REPLY=${path##*/}
  REPLY=${REPLY:-/}
}

# user_rel_path PATH: PATH with a leading $HOME shown as ~ (for messages).
user_rel_path() {
  local path=${1#-}
  [[ -n $path ]] || return 0
  if [[ -n ${HOME-} && $path == "$HOME"* ]]; then
    path="~${path#"$HOME"}"
  fi
  printf '%s\n' "$path"
}

# find_up NAME: the nearest file NAME in $PWD or above; prints its path.
find_up() {
  local dir=$PWD
  while :; do
    if [[ -f $dir/$1 ]]; then
      printf '%s\n' "${dir%/}/$1"
      return 0
    fi
    [[ $dir == / || $dir == // || -z $dir ]] && return 1
    dir=${dir%/*}
    [[ -n $dir ]] || dir=/
  done
}

# direnv_layout_dir: where layouts keep what they create (virtualenvs, GOPATH,
# gems, a flake's profile). The one rule for every layout: $direnv_layout_dir
# if the file sets it, else direnv's $PWD/.direnv for an .envrc, else the
# context's $WS_STATE_DIR for a .workspace file.
direnv_layout_dir() {
  if [[ -n ${direnv_layout_dir-} ]]; then
    printf '%s\n' "$direnv_layout_dir"
  elif [[ ${_WS_FILE##*/} == .envrc ]]; then
    printf '%s\n' "$PWD/.direnv"
  else
    printf '%s\n' "${WS_STATE_DIR:?WS_STATE_DIR is not set}"
  fi
}

# direnv_version VERSION: true if the direnv ws stands in for (2.32.1, whose
# stdlib ws provides) is at least VERSION.
_WS_DIRENV_VERSION=2.32.1
direnv_version() {
  (($#)) || { printf '%s\n' "$_WS_DIRENV_VERSION"; return 0; }
  local -a want=() have=()
  local i
  IFS=. read -ra want <<<"${1#v}"
  IFS=. read -ra have <<<"$_WS_DIRENV_VERSION"
  for i in 0 1 2; do
    [[ ${want[i]:-0} =~ ^[0-9]+$ ]] || { log_error "direnv_version: not a version: $1"; return 1; }
    ((10#${have[i]:-0} > 10#${want[i]:-0})) && return 0
    if ((10#${have[i]:-0} < 10#${want[i]:-0})); then
      log_error "This .envrc requires direnv version $1 or above (ws provides direnv $_WS_DIRENV_VERSION's stdlib)"
      return 1
    fi
  done
  return 0
}

# ---- watching ------------------------------------------------------------

# watch_file PATH...: re-evaluate when a file changes, appears or disappears.
# Also records each file's identity as it is now (inode, size, mtime, ctime),
# so that ws can tell a change made after this call from one made before it
# (a file the workspace writes, then watches, must not make every build stale).
# A PATH with glob characters that names no file is a pattern
# (`watch_file 'src/**/*.nix'`): ws-export expands it (docs/direnv.md).
watch_file() {
  local path abs
  for path in "$@"; do
    path=${path/#\~/$HOME}
    _ws_abs abs "$path"
    if [[ $path == *[*?[]* && ! -e $abs && ! -L $abs ]]; then
      _ws_watch_tree glob "$abs"
      continue
    fi
    printf '%s\0' "$abs" >>"$_WS_EVAL/watches" || _ws_no_space
    if [[ -L $abs ]]; then
      # A symlink: its target's identity and its own (retargeting changes the latter).
      { stat -L --printf '%i %s %.9Y %.9Z ' -- "$abs" && stat --printf 'link %i %.9Z\0%n\0' -- "$abs"; } >>"$_WS_EVAL/watch-stats" 2>/dev/null
    elif [[ -e $abs ]]; then
      stat -L --printf '%i %s %.9Y %.9Z\0%n\0' -- "$abs" >>"$_WS_EVAL/watch-stats" 2>/dev/null
    else
      printf 'missing\0%s\0' "$abs" >>"$_WS_EVAL/watch-stats"
    fi
  done
}

# watch_dir DIR...: re-evaluate when anything under DIR is added, removed or
# changed, at any depth (as direnv's walk of the tree). ws-export lists the
# tree after the build; the prompt checks it without a process.
watch_dir() {
  local dir abs
  for dir in "$@"; do
    _ws_abs abs "${dir/#\~/$HOME}"
    watch_file "$abs"
    _ws_watch_tree dir "$abs"
  done
}

# _ws_watch_tree dir|glob PATH: a tree or a pattern for ws-export to expand;
# the part of a pattern before its first glob character is watched as a path
# (creating it reloads).
_ws_watch_tree() {
  printf '%s\0' "$1" "$2" >>"$_WS_EVAL/watch-trees" || _ws_no_space
  if [[ $1 == glob ]]; then
    local base=${2%%[*?[]*}
    base=${base%/*}
    watch_file "${base:-/}"
  fi
}

# ---- PATH-like variables -------------------------------------------------

# path_add VAR PATH...: prepend the paths (expanded), keeping their order.
path_add() {
  local var=$1 i
  shift
  local -a entries=()
  [[ -n ${!var-} ]] && IFS=: read -ra entries <<<"${!var}"
  local _ws_pa_abs
  for ((i = $#; i > 0; i--)); do
    _ws_abs _ws_pa_abs "${!i}"
    entries=("$_ws_pa_abs" ${entries[@]+"${entries[@]}"})
  done
  local IFS=:
  export "$var=${entries[*]}"
}

PATH_add() {
  path_add PATH "$@"
}

# MANPATH_add PATH: prepend PATH to MANPATH, keeping man's own directories
# (an empty MANPATH means man's defaults: `man -w` lists them).
MANPATH_add() {
  local old=${MANPATH:-$(man -w 2>/dev/null)} dir
  _ws_abs dir "$1"
  export "MANPATH=$dir:$old"
}

# path_rm VAR PATTERN...: drop the entries of VAR that match a bash pattern.
path_rm() {
  local var=$1 entry pattern keep
  shift
  local -a entries=() kept=()
  IFS=: read -ra entries <<<"${!var-}"
  for entry in ${entries[@]+"${entries[@]}"}; do
    keep=1
    for pattern in "$@"; do
      # shellcheck disable=SC2053
      [[ $entry == +($pattern) ]] && { keep=0; break; }
    done
    ((keep)) && kept+=("$entry")
  done
  local IFS=:
  export "$var=${kept[*]}"
}

PATH_rm() {
  path_rm PATH "$@"
}

# load_prefix DIR: put an installation prefix's bin, lib, include, man and
# pkgconfig directories on the usual search paths.
load_prefix() {
  local REPLY
  realpath.absolute "$1"
  MANPATH_add "$REPLY/man"
  MANPATH_add "$REPLY/share/man"
  path_add CPATH "$REPLY/include"
  path_add LD_LIBRARY_PATH "$REPLY/lib"
  path_add LIBRARY_PATH "$REPLY/lib"
  path_add PATH "$REPLY/bin"
  path_add PKG_CONFIG_PATH "$REPLY/lib/pkgconfig"
}

# semver_search DIR PREFIX PARTIAL: the highest X.Y.Z such that
# DIR/PREFIXX.Y.Z is a directory and X.Y.Z starts with PARTIAL.
semver_search() {
  local dir=${1:-} prefix=${2:-} partial=${3:-} entry version best= b
  local -a v=() bv=()
  [[ -d $dir ]] || return 0
  for entry in "${dir%/}/$prefix$partial"*; do
    [[ -d $entry ]] || continue
    version=${entry#"${dir%/}/$prefix"}
    if [[ -z $best ]]; then best=$version; continue; fi
    IFS=. read -ra v <<<"$version"
    IFS=. read -ra bv <<<"$best"
    for b in 0 1 2; do
      local x=${v[b]:-0} y=${bv[b]:-0}
      [[ $x =~ ^[0-9]+ ]] && x=${BASH_REMATCH[0]} || x=0
      [[ $y =~ ^[0-9]+ ]] && y=${BASH_REMATCH[0]} || y=0
      ((10#$x > 10#$y)) && { best=$version; break; }
      ((10#$x < 10#$y)) && break
    done
  done
  [[ -n $best ]] && printf '%s\n' "$best"
  return 0
}

# ---- sourcing ------------------------------------------------------------

# The workspace file a directory holds: .workspace, else .envrc.
_ws_file_in() {
  if [[ -f $1/.workspace ]]; then
    printf '%s\n' "$1/.workspace"
  elif [[ ${WS_ENVRC-} != 0 && -f $1/.envrc ]]; then
    printf '%s\n' "$1/.envrc"
  else
    printf '%s\n' "$1/.workspace"
  fi
}

# source_env FILE|DIR: source another file (a directory means its workspace
# file) from its own directory, and watch it. As in direnv, its status is
# that of returning to the caller's directory: what the sourced file's last
# command (or a `return` in it) says does not fail the caller; only `exit`,
# `set -e`/strict_env errors and bash dying do.
source_env() {
  local rcpath=${1/#\~/$HOME}
  [[ -d $rcpath ]] && rcpath=$(_ws_file_in "$rcpath")
  _ws_abs rcpath "$rcpath"
  # Watched even while missing (direnv does not): creating it reloads.
  watch_file "$rcpath"
  if [[ ! -e $rcpath ]]; then
    log_status "referenced $(user_rel_path "$rcpath") does not exist"
    return 1
  fi
  local dir=${rcpath%/*}
  pushd "${dir:-/}" >/dev/null || return 1
  log_status "loading $(user_rel_path "$rcpath")"
  # shellcheck disable=SC1090
  . "$rcpath"
  popd >/dev/null
}

source_env_if_exists() {
  watch_file "$1"
  [[ -f $1 ]] || return 0
  source_env "$1"
}

# source_up [NAME]: source the nearest workspace file (or NAME) above this directory.
source_up() {
  _source_up "${1:-}" false
}

source_up_if_exists() {
  _source_up "${1:-}" true
}

# _source_up NAME true|false: direnv's helper; true = no file found is fine.
_source_up() {
  local found
  if found=$(_ws_find_above "${1-}"); then
    source_env "$found"
  elif [[ ${2-} == true ]]; then
    return 0
  else
    log_error "source_up: no ${1:-.workspace or .envrc} above $(user_rel_path "$PWD")"
    return 1
  fi
}

_ws_find_above() {
  [[ $PWD == / ]] && return 1
  if [[ -n $1 ]]; then
    (cd .. && find_up "$1")
  else
    local dir=${PWD%/*}
    dir=${dir:-/}
    while :; do
      if [[ -f $dir/.workspace || (${WS_ENVRC-} != 0 && -f $dir/.envrc) ]]; then
        _ws_file_in "$dir"
        return 0
      fi
      [[ $dir == / ]] && return 1
      dir=${dir%/*}
      dir=${dir:-/}
    done
  fi
}

# ---- dotenv --------------------------------------------------------------

# dotenv [FILE]: export the variables of a .env file. Values are parsed, never
# executed: 'single' is literal, "double" knows \n \t \" \\ \$ and ${VAR},
# unquoted values expand $VAR and end at a ' #' comment.
dotenv() {
  local file
  _ws_abs file "${1:-.env}"
  [[ -d $file ]] && file=$file/.env
  watch_file "$file"
  if [[ ! -f $file ]]; then
    log_error "dotenv: $(user_rel_path "$file") does not exist"
    return 1
  fi
  local line name value rest n=0
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
    if [[ ! $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]]; then
      log_error "dotenv: $(user_rel_path "$file"):$n: cannot parse: $line"
      continue
    fi
    name=${BASH_REMATCH[2]}
    rest=${BASH_REMATCH[3]}
    case $rest in
      \'*)
        rest=${rest#\'}
        while [[ $rest != *\'* ]] && IFS= read -r line; do n=$((n + 1)); rest+=$'\n'$line; done
        value=${rest%%\'*}
        ;;
      \"*)
        rest=${rest#\"}
        while ! _ws_dq_closed "$rest" && IFS= read -r line; do n=$((n + 1)); rest+=$'\n'$line; done
        value=$(_ws_dq_value "$rest")
        value=${value%.}
        ;;
      *)
        value=${rest%%[[:space:]]#*}
        value=${value%"${value##*[![:space:]]}"}
        value=$(_ws_expand_vars "$value")
        value=${value%.}
        ;;
    esac
    [[ $name == WS_* ]] && { log_error "dotenv: $(user_rel_path "$file"):$n: may not set $name"; continue; }
    export "$name=$value"
  done <"$file"
}

dotenv_if_exists() {
  local file
  _ws_abs file "${1:-.env}"
  [[ -d $file ]] && file=$file/.env
  watch_file "$file"
  [[ -f $file ]] || return 0
  dotenv "$file"
}

# True if a double-quoted value's closing quote (not escaped) is in $1.
_ws_dq_closed() {
  local s=$1 i
  for ((i = 0; i < ${#s}; i++)); do
    case ${s:i:1} in
      \\) i=$((i + 1)) ;;
      \") return 0 ;;
    esac
  done
  return 1
}

# The value of a double-quoted string up to its closing quote. Printed with a
# trailing '.' so that $(...) keeps trailing newlines; callers strip it.
_ws_dq_value() {
  local s=$1 out= i ch
  for ((i = 0; i < ${#s}; i++)); do
    ch=${s:i:1}
    case $ch in
      \\)
        i=$((i + 1))
        case ${s:i:1} in
          n) out+=$'\n' ;;
          t) out+=$'\t' ;;
          r) out+=$'\r' ;;
          *) out+=${s:i:1} ;;
        esac
        ;;
      \") break ;;
      \$)
        local tail=${s:i}
        if [[ $tail =~ ^\$\{([A-Za-z_][A-Za-z0-9_]*)\} || $tail =~ ^\$([A-Za-z_][A-Za-z0-9_]*) ]]; then
          local ref=${BASH_REMATCH[1]}
          out+=${!ref-}
          i=$((i + ${#BASH_REMATCH[0]} - 1))
        else
          out+=$ch
        fi
        ;;
      *) out+=$ch ;;
    esac
  done
  printf '%s.' "$out"
}

_ws_expand_vars() {
  local s=$1 out= ref
  while [[ $s =~ ^([^\$]*)\$(\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))(.*)$ ]]; do
    ref=${BASH_REMATCH[3]:-${BASH_REMATCH[4]}}
    out+=${BASH_REMATCH[1]}${!ref-}
    s=${BASH_REMATCH[5]}
  done
  printf '%s.' "$out$s"
}

# ---- checks and modes ----------------------------------------------------

# env_vars_required NAME...: fail (and say which) unless every NAME is
# exported and non-empty.
env_vars_required() {
  local name missing=0
  for name in "$@"; do
    if [[ ! $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ || ! -v $name || ${!name@a} != *x* || -z ${!name} ]]; then
      log_error "env var $name is required but missing/empty"
      missing=1
    fi
  done
  return "$missing"
}

# strict_env [CMD...]: `set -euo pipefail` from here on, or for CMD only; a
# CMD that fails in strict mode fails the file (as in direnv).
strict_env() {
  __env_strictness strict "$@"
}

unstrict_env() {
  if (($#)); then
    __env_strictness unstrict "$@"
  else
    set +euo pipefail
  fi
}

# __env_strictness strict|unstrict [CMD...]: direnv's helper behind both.
__env_strictness() {
  local mode=$1 saved status=0
  shift
  case $mode in
    strict) saved=$(set +o); set -euo pipefail ;;
    unstrict) saved=$(set +o); set +euo pipefail ;;
    *) log_error "Unknown strictness mode '$mode'."; exit 1 ;;
  esac
  if (($#)); then
    "$@"
    status=$?
    eval "$saved"
  fi
  [[ $mode == strict ]] && ((status > 0)) && exit 1
  return "$status"
}

# ---- layouts and use -----------------------------------------------------

layout() {
  _ws_dispatch layout "unknown layout" "$@"
}

use() {
  (($#)) && log_status "using $*"
  _ws_dispatch use "unknown" "$@"
}

# _ws_dispatch KIND WHAT NAME ARGS...: run KIND_NAME ARGS..., or say WHAT 'NAME'.
# (Odd local names: a layout or use that loads an environment, as use nix
# does, may set any variable, and a local of a caller would swallow it.)
_ws_dispatch() {
  local _ws_d_kind=$1 _ws_d_what=$2 _ws_d_name=${3-}
  shift 3 || shift $#
  if ! declare -F "${_ws_d_kind}_$_ws_d_name" >/dev/null; then
    log_error "$_ws_d_kind: $_ws_d_what '$_ws_d_name'"
    return 1
  fi
  "${_ws_d_kind}_$_ws_d_name" "$@"
}

# _ws_needs WHO PROGRAM: true if PROGRAM can run; else one line saying so.
_ws_needs() {
  has "$2" && return 0
  log_error "$1: $2 is not installed"
  return 1
}

# Every layout keeps what it makes under $(direnv_layout_dir) (see there).

layout_go() {
  local dir
  dir=$(direnv_layout_dir)
  path_add GOPATH "$dir/go"
  PATH_add "$dir/go/bin"
}

layout_node() {
  PATH_add node_modules/.bin
}

layout_perl() {
  local libdir
  libdir=$(direnv_layout_dir)/perl5
  export LOCAL_LIB_DIR=$libdir
  export PERL_MB_OPT="--install_base '$libdir'"
  export PERL_MM_OPT="INSTALL_BASE=$libdir"
  path_add PERL5LIB "$libdir/lib/perl5"
  path_add PERL_LOCAL_LIB_ROOT "$libdir"
  PATH_add "$libdir/bin"
}

layout_php() {
  PATH_add vendor/bin
}

layout_julia() {
  export JULIA_PROJECT=$PWD
}

# layout python [PYTHON [VENV ARGS...]]: a virtualenv in
# $(direnv_layout_dir)/python-X.Y.Z (or $VIRTUAL_ENV if set), created with
# venv or virtualenv, as in direnv. Like direnv it runs `python`; where there
# is no `python` at all (direnv fails) ws falls back to python3.
layout_python() {
  local python=${1:-python}
  (($#)) && shift
  if [[ $python == python ]] && ! has python && has python3; then
    log_status "layout python: no python on PATH, using python3"
    python=python3
  fi
  local layout_dir old_env
  layout_dir=$(direnv_layout_dir)
  old_env=$layout_dir/virtualenv
  unset PYTHONHOME
  if [[ -d $old_env && $python == python ]]; then
    VIRTUAL_ENV=$old_env
  else
    local version= ve=
    read -r version ve <<<"$("$python" -c 'import importlib.util as u, platform as p
ve = "venv" if u.find_spec("venv") else ("virtualenv" if u.find_spec("virtualenv") else "")
print(p.python_version() + " " + ve)' 2>/dev/null)"
    if [[ -z $version ]]; then
      log_error "Could not find python's version"
      return 1
    fi
    if [[ -n ${VIRTUAL_ENV-} ]]; then
      VIRTUAL_ENV=$(expand_path "$VIRTUAL_ENV")
    else
      VIRTUAL_ENV=$layout_dir/python-$version
    fi
    if [[ ! -d $VIRTUAL_ENV ]]; then
      case $ve in
        venv | virtualenv) "$python" -m "$ve" "$@" "$VIRTUAL_ENV" >&2 ;;
        *)
          log_error "Error: neither venv nor virtualenv are available."
          return 1
          ;;
      esac
    fi
  fi
  export VIRTUAL_ENV
  PATH_add "$VIRTUAL_ENV/bin"
}

layout_python2() {
  layout_python python2 "$@"
}

layout_python3() {
  layout_python python3 "$@"
}

# layout pipenv: the virtualenv pipenv makes for ./Pipfile (or $PIPENV_PIPFILE).
# No Pipfile ends the file with status 2, as in direnv.
layout_pipenv() {
  PIPENV_PIPFILE=${PIPENV_PIPFILE:-Pipfile}
  if [[ ! -f $PIPENV_PIPFILE ]]; then
    log_error "No Pipfile found.  Use \`pipenv\` to create a \`$PIPENV_PIPFILE\` first."
    exit 2
  fi
  _ws_needs "layout pipenv" pipenv || return 1
  VIRTUAL_ENV=$(pipenv --venv 2>/dev/null || true)
  if [[ -z $VIRTUAL_ENV || ! -d $VIRTUAL_ENV ]]; then
    pipenv install --dev >&2
    VIRTUAL_ENV=$(pipenv --venv)
  fi
  PATH_add "$VIRTUAL_ENV/bin"
  export PIPENV_ACTIVE=1
  export VIRTUAL_ENV
}

# layout pyenv VERSION...: layout python with each pyenv-installed version
# (the first one first on PATH); PYENV_VERSION lists them.
layout_pyenv() {
  _ws_needs "layout pyenv" pyenv || return 1
  unset PYENV_VERSION
  local i version python root
  root=$(pyenv root) || return 1
  for ((i = $#; i > 0; i--)); do
    version=${!i}
    python=$root/versions/$version/bin/python
    if [[ ! -x $python ]]; then
      log_error "pyenv: version '$version' not installed"
      return 1
    fi
    layout_python "$python" && PYENV_VERSION=$version${PYENV_VERSION:+:$PYENV_VERSION}
  done
  [[ -n ${PYENV_VERSION-} ]] && export PYENV_VERSION
  return 0
}

# layout ruby: gems in $(direnv_layout_dir)/ruby (ruby-ENGINE-VERSION for
# rubygems 2.2 and older), bundler's binstubs in $(direnv_layout_dir)/bin.
layout_ruby() {
  local dir
  dir=$(direnv_layout_dir)
  BUNDLE_BIN=$dir/bin
  if ruby -e "exit Gem::VERSION > '2.2.0'" 2>/dev/null; then
    GEM_HOME=$dir/ruby
  else
    has ruby || log_error "layout ruby: ruby is not installed"
    local ruby_version
    ruby_version=$(ruby -e "puts (defined?(RUBY_ENGINE) ? RUBY_ENGINE : 'ruby') + '-' + RUBY_VERSION" 2>/dev/null)
    GEM_HOME=$dir/ruby-$ruby_version
  fi
  export BUNDLE_BIN GEM_HOME
  PATH_add "$GEM_HOME/bin"
  PATH_add "$BUNDLE_BIN"
}

# layout anaconda [NAME|PREFIX] [CONDA]: activate a conda environment, made
# from ./environment.yml if it does not exist yet.
layout_anaconda() {
  local target=${1-} conda env_name= env_loc= REPLY
  if (($# > 1)); then conda=$2; else conda=$(type -P conda) || conda=; fi
  [[ -n $conda ]] || { log_error "layout anaconda: conda is not installed"; return 1; }
  realpath.dirname "$conda"
  PATH_add "$REPLY"
  if [[ $target == ./* || $target == . ]]; then
    env_loc=$(expand_path "$target")
  elif [[ $target == /* ]]; then
    env_loc=$target
  else
    env_name=$target
    if [[ -z $env_name && -e environment.yml ]]; then
      env_name=$(grep -- '^name:' environment.yml)
      env_name=${env_name#name:}
      env_name=${env_name##+([[:space:]])}
    fi
    if [[ -z $env_name ]]; then
      log_error "Could not determine conda env name (set in environment.yml or pass explicitly)"
      return 1
    fi
    env_loc=$("$conda" env list | grep -- "^$env_name[[:space:]]")
    env_loc=${env_loc##* }
  fi
  if [[ ! -d $env_loc ]]; then
    if [[ ! -e environment.yml ]]; then
      log_error "Could not find environment.yml"
      return 1
    fi
    log_status "creating conda environment"
    if [[ -n $env_name ]]; then
      "$conda" env create --name "$env_name" >&2
      env_loc=$("$conda" env list | grep -- "^$env_name[[:space:]]")
      env_loc=/${env_loc##* /}
    else
      "$conda" env create --prefix "$env_loc" >&2
    fi
  fi
  eval "$("$conda" shell.bash activate "$env_loc")"
}

# use julia VERSION: the Julia in $JULIA_VERSIONS/${JULIA_VERSION_PREFIX-julia-}VERSION
# (the highest matching X.Y.Z when VERSION is partial).
use_julia() {
  _ws_use_prefix "Julia" julia "${1:-}" "${JULIA_VERSIONS:-}" "${JULIA_VERSION_PREFIX-julia-}" JULIA_VERSIONS
}

# use node [VERSION]: the Node.js in $NODE_VERSIONS/${NODE_VERSION_PREFIX-node-v}VERSION;
# without VERSION, the one .nvmrc or .node-version names.
use_node() {
  local version=${1:-} via=
  if [[ -z ${NODE_VERSIONS:-} || ! -d $NODE_VERSIONS ]]; then
    log_error "You must specify a \$NODE_VERSIONS environment variable and the directory specified must exist!"
    return 1
  fi
  if [[ -z $version && -f .nvmrc ]]; then version=$(<.nvmrc) via=.nvmrc; fi
  if [[ -z $version && -f .node-version ]]; then version=$(<.node-version) via=.node-version; fi
  if [[ -z $version ]]; then
    log_error "I do not know which NodeJS version to load because one has not been specified!"
    return 1
  fi
  _ws_use_prefix "NodeJS" node "$version" "$NODE_VERSIONS" "${NODE_VERSION_PREFIX-node-v}" NODE_VERSIONS "$via"
}

# _ws_use_prefix LABEL BINARY VERSION DIR PREFIX DIRVAR [VIA]: load_prefix the
# best installed match of VERSION in DIR (use node, use julia).
_ws_use_prefix() {
  local label=$1 bin=$2 version=$3 dir=$4 prefix=$5 dirvar=$6 via=${7-} found
  if [[ -z $dir || -z $version ]]; then
    log_error "Must specify the \$$dirvar environment variable and a $label version!"
    return 1
  fi
  found=$dir/$prefix$version
  [[ -d $found ]] || found=$dir/$prefix$(semver_search "$dir" "$prefix" "$version")
  if [[ ! -d $found || $found == "$dir/$prefix" ]]; then
    log_error "Unable to find $label version ($version) in ($dir)!"
    return 1
  fi
  if [[ ! -x $found/bin/$bin ]]; then
    log_error "Unable to load $label binary ($bin) for version ($version) in ($dir)!"
    return 1
  fi
  load_prefix "$found"
  log_status "Successfully loaded $label $("$bin" --version 2>/dev/null)${via:+ (via $via)}, from prefix ($found)"
}

# use nodenv VERSION: that nodenv-installed Node.js, and node_modules/.bin.
use_nodenv() {
  _ws_needs "use nodenv" nodenv || return 1
  local version=${1-} versions
  versions=$(nodenv root)/versions
  if [[ -z $version || ! -e $versions/$version ]]; then
    log_error "nodenv: version '$version' not installed.  Use \`nodenv install $version\` to install it first."
    return 1
  fi
  NODE_VERSIONS=$versions NODE_VERSION_PREFIX= use_node "$version" && layout_node
}

use_rbenv() {
  _ws_needs "use rbenv" rbenv || return 1
  eval "$(rbenv init -)"
}

# rvm ARGS...: rvm itself, from its scripts ($rvm_scripts_path, $rvm_path or ~/.rvm).
rvm() {
  local script=$HOME/.rvm/scripts/rvm
  if [[ -n ${rvm_scripts_path:-} ]]; then
    script=$rvm_scripts_path/rvm
  elif [[ -n ${rvm_path:-} ]]; then
    script=$rvm_path/scripts/rvm
  fi
  if [[ ! -f $script ]]; then
    log_error "rvm: rvm is not installed ($(user_rel_path "$script") does not exist)"
    return 1
  fi
  unset -f rvm
  # shellcheck disable=SC1090
  source "$script"
  rvm "$@"
}

# use guix ARGS...: the search paths of `guix environment ARGS...`.
use_guix() {
  _ws_needs "use guix" guix || return 1
  local code
  code=$(guix environment "$@" --search-paths) || return 1
  eval "$code"
}

# use vim [FILE]: put FILE (default .vimrc.local) on DIRENV_EXTRA_VIMRC for direnv.vim.
use_vim() {
  path_add DIRENV_EXTRA_VIMRC "${1:-.vimrc.local}"
}

# on_git_branch [BRANCH] | on_git_branch -r REGEX: true inside a git work tree
# (on that branch, or one matching REGEX); watches .git/HEAD when a branch is given.
on_git_branch() {
  local git_dir branch
  if ! has git; then
    log_error "on_git_branch needs git, which could not be found on your system"
    return 1
  elif ! git_dir=$(git rev-parse --absolute-git-dir 2>/dev/null); then
    log_error "on_git_branch could not locate the .git directory corresponding to the current working directory"
    return 1
  elif [[ -z ${1-} ]]; then
    return 0
  elif [[ $1 == -r && -z ${2-} ]]; then
    log_error "missing regexp pattern after \`-r\` flag"
    return 1
  fi
  watch_file "$git_dir/HEAD"
  branch=$(git branch --show-current)
  if [[ $1 == -r ]]; then
    [[ $branch =~ $2 ]]
  else
    [[ $1 == "$branch" ]]
  fi
}

# ---- direnv's own commands ------------------------------------------------

# $direnv: what an .envrc runs as the direnv binary (`"$direnv" dump` in a
# nix-shell, opam's env). Inside ws it is a small bash script of ws's,
# written once per context: dump, apply_dump, version, fetchurl, expand_path;
# anything else says it is not available and exits 1.
direnv=${WS_STATE_DIR%/*}/cache/bin/direnv
_WS_DIRENV_SHIM="# ws direnv stand-in 2 (direnv $_WS_DIRENV_VERSION)"

# Writes $direnv unless it is there already, up to date.
_ws_direnv_shim() {
  local first=
  [[ -x $direnv ]] && { IFS= read -r first && IFS= read -r first; } <"$direnv"
  [[ $first == "$_WS_DIRENV_SHIM" ]] && return 0
  mkdir -p "${direnv%/*}" && {
    printf '#!%s\n%s\n' "$BASH" "$_WS_DIRENV_SHIM"
    declare -f _ws_shim_main
    printf '_WS_DIRENV_VERSION=%q\n_ws_shim_main "$@"\n' "$_WS_DIRENV_VERSION"
  } >"$direnv.$$" && chmod 755 "$direnv.$$" && mv -f "$direnv.$$" "$direnv"
}

# The body of $direnv (runs as its own process).
_ws_shim_main() {
  local __ws_cmd=${1-}
  shift
  case $__ws_cmd in
    dump)
      # direnv dump [FORMAT [FILE]]: the environment, NUL-separated, for apply_dump.
      command -p env -0 >"${DIRENV_DUMP_FILE_PATH:-${2:-/dev/stdout}}"
      ;;
    apply_dump)
      # apply_dump FILE: bash code turning this environment into the dumped one.
      [[ -f ${1-} ]] || { printf 'direnv: apply_dump: no such file %s\n' "${1-}" >&2; exit 1; }
      local __ws_e __ws_n
      local -A __ws_dumped=()
      while IFS= read -r -d '' __ws_e; do
        __ws_n=${__ws_e%%=*}
        [[ $__ws_n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && __ws_dumped[$__ws_n]=${__ws_e#*=}
      done <"$1"
      local __ws_ignored=' _ PWD OLDPWD SHLVL SHELL SHELLOPTS BASHOPTS PS1 COMP_WORDBREAKS DIRENV_CONFIG DIRENV_BASH DIRENV_IN_ENVRC DIRENV_DUMP_FILE_PATH DIRENV_WATCHES DIRENV_DIR DIRENV_DIFF DIRENV_FILE '
      for __ws_n in "${!__ws_dumped[@]}"; do
        [[ $__ws_ignored == *" $__ws_n "* || $__ws_n == __fish* ]] && continue
        [[ ${!__ws_n+x} && ${!__ws_n} == "${__ws_dumped[$__ws_n]}" && ${!__ws_n@a} == *x* ]] && continue
        printf 'export %s=%q;\n' "$__ws_n" "${__ws_dumped[$__ws_n]}"
      done
      for __ws_n in $(compgen -e); do
        [[ $__ws_ignored == *" $__ws_n "* || $__ws_n == __fish* || -n ${__ws_dumped[$__ws_n]+x} ]] && continue
        printf 'unset %s;\n' "$__ws_n"
      done
      ;;
    version)
      if (($#)); then
        local -a __ws_want=() __ws_have=()
        local __ws_i
        IFS=. read -ra __ws_want <<<"${1#v}"
        IFS=. read -ra __ws_have <<<"$_WS_DIRENV_VERSION"
        for __ws_i in 0 1 2; do
          ((10#${__ws_have[__ws_i]:-0} > 10#${__ws_want[__ws_i]:-0})) && exit 0
          ((10#${__ws_have[__ws_i]:-0} < 10#${__ws_want[__ws_i]:-0})) && { printf 'direnv: this .envrc needs direnv %s or above (ws provides %s)\n' "$1" "$_WS_DIRENV_VERSION" >&2; exit 1; }
        done
        exit 0
      fi
      printf '%s\n' "$_WS_DIRENV_VERSION"
      ;;
    expand_path)
      local __ws_b=${2:-$PWD}
      [[ $__ws_b == /* ]] || __ws_b=$PWD/$__ws_b
      [[ ${1-} == /* ]] && printf '%s\n' "$1" || printf '%s\n' "$__ws_b/${1-}"
      ;;
    *)
      printf "direnv: '%s' is not available inside ws (ws runs the .envrc itself)\n" "$__ws_cmd" >&2
      exit 1
      ;;
  esac
}

# direnv_load CMD ARGS...: apply the environment that CMD dumps with
# `"$direnv" dump` (to $DIRENV_DUMP_FILE_PATH), as in direnv.
direnv_load() {
  _ws_direnv_shim || { log_error "direnv_load: cannot write $direnv"; return 1; }
  local _ws_dl_tmp=$_WS_EVAL/direnv_load.$BASHPID.$((_ws_load_seq += 1)) _ws_dl_status=0
  local _ws_dl_old=${DIRENV_DUMP_FILE_PATH-}
  mkdir -p "$_ws_dl_tmp" || return 1
  : >"$_ws_dl_tmp/output" &&
    DIRENV_DUMP_FILE_PATH=$_ws_dl_tmp/output "$@" &&
    { [[ -s $_ws_dl_tmp/output ]] || {
      log_error "Environment not dumped; did you invoke 'direnv dump'?"
      false
    }; } &&
    "$direnv" apply_dump "$_ws_dl_tmp/output" >"$_ws_dl_tmp/script" &&
    source "$_ws_dl_tmp/script" ||
    _ws_dl_status=$?
  command -p rm -rf "$_ws_dl_tmp"
  if [[ -n $_ws_dl_old ]]; then export DIRENV_DUMP_FILE_PATH=$_ws_dl_old; else unset DIRENV_DUMP_FILE_PATH; fi
  return "$_ws_dl_status"
}

# direnv_apply_dump FILE: apply a dump that `"$direnv" dump` wrote to FILE.
direnv_apply_dump() {
  _ws_direnv_shim || return 1
  local code
  code=$("$direnv" apply_dump "$1") || return 1
  eval "$code"
}

# fetchurl URL [INTEGRITY]: download URL once into the context's cache and
# print the file's path. INTEGRITY is an SRI hash (sha256-BASE64): a cached
# copy is used without the network, a download that does not match fails.
# Offline (or no curl) it fails with a one-line error; the file goes on.
fetchurl() {
  local url=${1-} want=${2-}
  if [[ -z $url ]]; then
    log_error "fetchurl: <url> argument missing"
    return 1
  fi
  local cas=${WS_STATE_DIR%/*}/cache/fetchurl
  if [[ -n $want ]]; then
    if [[ ! $want =~ ^sha256-[A-Za-z0-9+/]{43}=$ ]]; then
      log_error "fetchurl: unsupported integrity hash '$want' (sha256-BASE64 expected)"
      return 1
    fi
    local cached=$cas/$(_ws_sri_name "$want")
    if [[ -f $cached ]]; then
      printf '%s\n' "$cached"
      return 0
    fi
  fi
  _ws_needs fetchurl curl || return 1
  mkdir -p "$cas" || return 1
  local tmp=$cas/.part.$BASHPID err
  if ! err=$(curl -fsSL --connect-timeout 10 --max-time 120 -o "$tmp" -- "$url" 2>&1); then
    rm -f "$tmp"
    log_error "fetchurl: cannot download $url: ${err:-curl failed} (offline?)"
    return 1
  fi
  local sum got
  sum=$(sha256sum <"$tmp") || { rm -f "$tmp"; return 1; }
  got=sha256-$(_ws_hex_base64 "${sum%% *}")
  if [[ -n $want && $got != "$want" ]]; then
    rm -f "$tmp"
    log_error "fetchurl: invalid hash for $url: wanted $want, got $got"
    return 1
  fi
  [[ -n $want ]] || log_status "fetchurl: $url has hash $got"
  local path=$cas/$(_ws_sri_name "$got")
  mv -f "$tmp" "$path" && chmod a-w "$path" && printf '%s\n' "$path"
}

# source_url URL INTEGRITY: fetchurl, then source it (both are required).
source_url() {
  local url=${1-} hash=${2-} path
  if [[ -z $url ]]; then
    log_error "source_url: <url> argument missing"
    return 1
  fi
  if [[ -z $hash ]]; then
    log_error "source_url: <integrity-hash> argument missing. Use \`fetchurl $url\` to find out the hash."
    return 1
  fi
  log_status "loading $url ($hash)"
  path=$(fetchurl "$url" "$hash") || return 1
  # shellcheck disable=SC1090
  source "$path"
}

# An SRI hash as a file name (its base64, with / made safe).
_ws_sri_name() {
  local name=${1//\//_}
  printf '%s\n' "${name//+/-}"
}

# _ws_hex_base64 HEX: the bytes HEX stands for, in base64 (bash only).
_ws_hex_base64() {
  local hex=$1 out= i n chars=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/
  local rest=$((${#hex} % 6))
  for ((i = 0; i + 6 <= ${#hex}; i += 6)); do
    n=$((16#${hex:i:6}))
    out+=${chars:n >> 18 & 63:1}${chars:n >> 12 & 63:1}${chars:n >> 6 & 63:1}${chars:n & 63:1}
  done
  if ((rest == 2)); then
    n=$((16#${hex:i:2} << 16))
    out+=${chars:n >> 18 & 63:1}${chars:n >> 12 & 63:1}==
  elif ((rest == 4)); then
    n=$((16#${hex:i:4} << 8))
    out+=${chars:n >> 18 & 63:1}${chars:n >> 12 & 63:1}${chars:n >> 6 & 63:1}=
  fi
  printf '%s\n' "$out"
}

# __main__ CMD ARGS...: direnv's entry point; in ws the build driver has set
# everything up already, so it just runs CMD.
__main__() {
  "$@"
}

# __dump_at_exit: direnv's exit handler; in ws, ending the evaluation here
# with the current status applies the environment as it is.
__dump_at_exit() {
  exit
}

# ---- ws's own ------------------------------------------------------------

# ws_context NAME: this root belongs to the shared context NAME (docs/contexts.md):
# every root that declares it shares WS_CONTEXT, WS_STATE_DIR, users,
# services, ports and unload hooks. It switches WS_CONTEXT and WS_STATE_DIR
# where it is called, so it comes first in the file, before allocate_port,
# service or on_unload. NAME: letters, digits, ".", "_", "-", starting with
# a letter or digit, at most 64; anything else fails the file.
ws_context() {
  local name=${1-} where=${BASH_SOURCE[1]-} hash
  case $where in
    "$_WS_EVAL/file.copy") where=$_WS_FILE ;;
    "$_WS_EVAL/local.copy") where=$_WS_LOCAL ;;
  esac
  if (($# != 1)) || ((${#name} > 64)) || [[ ! $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
    (($# == 1)) || name="$*"
    printf -v name '%q' "$name"
    printf 'ws: %s: ws_context: refused name %s (letters, digits, ".", "_", "-", starting with a letter or digit, at most 64)\n' "$where" "$name" >&2
    exit 65
  fi
  hash=$(printf 'ws_context:%s' "$name" | command -p sha256sum) || exit 70
  # The shared context's directory, beside this root's own (…/contexts/<id>/cache/build is $_WS_EVAL).
  export WS_CONTEXT=$name WS_STATE_DIR=${_WS_EVAL%/*/*/*}/${name:0:40}-${hash:0:12}/data
  command -p mkdir -p -m 700 "${WS_STATE_DIR%/data}" "$WS_STATE_DIR" || exit 73
  printf '%s' "$name" >"$_WS_EVAL/context"
}

# on_unload FILE | on_unload 'SHELL COMMAND' | on_unload -- CMD ARGS...:
# run it when the context's last user leaves (see ws-on-unload).
on_unload() {
  if [[ ${1-} == -- ]]; then
    shift
    (($#)) || { log_error "on_unload: no command after --"; return 1; }
    printf '%s\0' argv "$#" "$@" >>"$_WS_EVAL/on_unload" || _ws_no_space
  elif (($# == 1)) && [[ -f $1 ]]; then
    printf '%s\0' file 1 "$(expand_path "$1")" >>"$_WS_EVAL/on_unload" || _ws_no_space
  elif (($# == 1)) && [[ -n $1 ]]; then
    printf '%s\0' sh 1 "$1" >>"$_WS_EVAL/on_unload" || _ws_no_space
  else
    log_error "on_unload: usage: on_unload FILE | on_unload 'COMMAND' | on_unload -- CMD ARGS..."
    return 1
  fi
}

# service NAME [OPTIONS] -- CMD ARGS...: a development server (see ws-service).
service() {
  ws-service start "$@"
}

# resource [OPTIONS] -- INIT ARGS...: the path of a cached, hash-addressed
# resource, made once by INIT and held by the context until it unloads
# (see ws-resource, docs/resources.md):
#   export GNUPGHOME=$(resource --target pubring.kbx -- ./make-gpg-home)
resource() {
  ws-resource "$@"
}

# env_file FILE: apply the environment $WS_ENV of a JSON file of named
# environments. Values arrive NUL-separated, never as code.
env_file() {
  local file name value
  file=$(expand_path "${1:?env_file: FILE is required}")
  watch_file "$file"
  local private_dir
  private_dir=$(git -C "${file%/*}" rev-parse --absolute-git-dir 2>/dev/null) && watch_file "$private_dir/ws/${file##*/}"
  printf '%s\0' "$file" >>"$_WS_EVAL/env_files"
  "$_WS_EXPORT" env-file "$file" >"$_WS_EVAL/env_file" || {
    # 65: the file is broken (malformed JSON, a WS_* name): the workspace file fails and
    # keeps its last good environment; an environment it does not define fails env_file only.
    (($? == 65)) && exit 65
    return 1
  }
  while IFS= read -r -d '' name && IFS= read -r -d '' value; do
    export "$name=$value"
  done <"$_WS_EVAL/env_file"
}
