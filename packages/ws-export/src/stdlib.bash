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

has() {
  type "$1" >/dev/null 2>&1
}

# expand_path REL [BASE]: the absolute path of REL relative to BASE (default
# $PWD), with . and .. removed; symlinks are not resolved (as in direnv).
expand_path() {
  local path=${1-} base=${2:-$PWD}
  [[ $base == /* ]] || base=$PWD/$base
  [[ $path == /* ]] || path=$base/$path
  local -a parts=() out=()
  local part
  IFS=/ read -ra parts <<<"$path"
  for part in "${parts[@]}"; do
    case $part in
      '' | .) ;;
      ..) ((${#out[@]})) && unset 'out[${#out[@]}-1]' ;;
      *) out+=("$part") ;;
    esac
  done
  local IFS=/
  printf '/%s\n' "${out[*]}"
}

# user_rel_path PATH: PATH with $HOME shown as ~ (for messages).
user_rel_path() {
  local path=$1
  if [[ -n ${HOME-} && $path == "$HOME"/* ]]; then
    printf '~/%s\n' "${path#"$HOME"/}"
  else
    printf '%s\n' "$path"
  fi
}

# find_up NAME: the nearest NAME in $PWD or above; prints its path.
find_up() {
  local dir=$PWD
  while :; do
    if [[ -e $dir/$1 ]]; then
      printf '%s\n' "${dir%/}/$1"
      return 0
    fi
    [[ $dir == / || -z $dir ]] && return 1
    dir=${dir%/*}
    [[ -n $dir ]] || dir=/
  done
}

# ---- watching ------------------------------------------------------------

# watch_file PATH...: re-evaluate when a file changes, appears or disappears.
# Also records each file's identity as it is now (inode, size, mtime, ctime),
# so that ws can tell a change made after this call from one made before it
# (a file the workspace writes, then watches, must not make every build stale).
watch_file() {
  local path abs
  for path in "$@"; do
    abs=$(expand_path "$path")
    printf '%s\0' "$abs" >>"$_WS_EVAL/watches"
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

# watch_dir DIR: re-evaluate when an entry of DIR is added, removed or renamed.
watch_dir() {
  watch_file "$@"
}

# ---- PATH-like variables -------------------------------------------------

# path_add VAR PATH...: prepend the paths (expanded), keeping their order.
path_add() {
  local var=$1 i
  shift
  local -a entries=()
  [[ -n ${!var-} ]] && IFS=: read -ra entries <<<"${!var}"
  for ((i = $#; i > 0; i--)); do
    entries=("$(expand_path "${!i}")" ${entries[@]+"${entries[@]}"})
  done
  local IFS=:
  export "$var=${entries[*]}"
}

PATH_add() {
  path_add PATH "$@"
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
# file) from its own directory, and watch it.
source_env() {
  local rcpath=${1/#\~/$HOME}
  [[ -d $rcpath ]] && rcpath=$(_ws_file_in "$rcpath")
  rcpath=$(expand_path "$rcpath")
  watch_file "$rcpath"
  if [[ ! -f $rcpath ]]; then
    log_status "referenced $(user_rel_path "$rcpath") does not exist"
    return 1
  fi
  local dir=${rcpath%/*}
  pushd "${dir:-/}" >/dev/null || return 1
  log_status "loading $(user_rel_path "$rcpath")"
  # shellcheck disable=SC1090
  . "$rcpath"
  local status=$?
  popd >/dev/null || return 1
  return "$status"
}

source_env_if_exists() {
  watch_file "$1"
  [[ -f $1 ]] || return 0
  source_env "$1"
}

# source_up [NAME]: source the nearest workspace file above this directory.
source_up() {
  local found
  found=$(_ws_find_above "${1-}") || {
    log_error "source_up: no ${1:-.workspace or .envrc} above $(user_rel_path "$PWD")"
    return 1
  }
  source_env "$found"
}

source_up_if_exists() {
  local found
  found=$(_ws_find_above "${1-}") || return 0
  source_env "$found"
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
  file=$(expand_path "${1:-.env}")
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
  file=$(expand_path "${1:-.env}")
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

# env_vars_required NAME...: fail (and say which) unless every NAME is set and non-empty.
env_vars_required() {
  local name missing=0
  for name in "$@"; do
    if [[ -z ${!name-} ]]; then
      log_error "env var $name is required but missing/empty"
      missing=1
    fi
  done
  return "$missing"
}

# strict_env [CMD...]: turn on `set -euo pipefail` (for CMD only, if given).
strict_env() {
  _ws_with_options -euo "$@"
}

unstrict_env() {
  _ws_with_options +euo "$@"
}

# _ws_with_options -euo|+euo [CMD...]: set those options and pipefail, for CMD only if given.
_ws_with_options() {
  local flags=$1 saved status
  shift
  if (($#)); then
    saved=$(set +o)
    set "$flags" pipefail
    "$@"
    status=$?
    eval "$saved"
    return "$status"
  fi
  set "$flags" pipefail
}

# ---- layouts and use -----------------------------------------------------

layout() {
  _ws_dispatch layout "unknown layout" "$@"
}

use() {
  _ws_dispatch use "unknown" "$@"
}

# _ws_dispatch KIND WHAT NAME ARGS...: run KIND_NAME ARGS..., or say WHAT 'NAME'.
_ws_dispatch() {
  local kind=$1 what=$2 name=$3
  shift 3
  if ! declare -F "${kind}_$name" >/dev/null; then
    log_error "$kind: $what '$name'"
    return 1
  fi
  "${kind}_$name" "$@"
}

layout_node() {
  PATH_add node_modules/.bin
}

# layout python [PYTHON]: a virtualenv under the context's state dir.
layout_python() {
  local python=${1:-python3}
  [[ $# -gt 0 ]] && shift
  local version
  version=$("$python" -c 'import sys; print(".".join(map(str, sys.version_info[:2])))' 2>/dev/null) || {
    log_error "layout python: cannot run $python"
    return 1
  }
  export VIRTUAL_ENV=${VIRTUAL_ENV:-$WS_STATE_DIR/python-$version}
  if [[ ! -x $VIRTUAL_ENV/bin/python ]]; then
    log_status "creating a virtualenv in $(user_rel_path "$VIRTUAL_ENV")"
    "$python" -m venv "$@" "$VIRTUAL_ENV" >&2 || {
      log_error "layout python: cannot create $VIRTUAL_ENV"
      return 1
    }
  fi
  PATH_add "$VIRTUAL_ENV/bin"
}

layout_python3() {
  layout_python python3 "$@"
}

# ---- ws's own ------------------------------------------------------------

# on_unload FILE | on_unload 'SHELL COMMAND' | on_unload -- CMD ARGS...:
# run it when the context's last user leaves (see ws-on-unload).
on_unload() {
  if [[ ${1-} == -- ]]; then
    shift
    (($#)) || { log_error "on_unload: no command after --"; return 1; }
    printf '%s\0' argv "$#" "$@" >>"$_WS_EVAL/on_unload"
  elif (($# == 1)) && [[ -f $1 ]]; then
    printf '%s\0' file 1 "$(expand_path "$1")" >>"$_WS_EVAL/on_unload"
  elif (($# == 1)) && [[ -n $1 ]]; then
    printf '%s\0' sh 1 "$1" >>"$_WS_EVAL/on_unload"
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
  "$_WS_EXPORT" env-file "$file" >"$_WS_EVAL/env_file" || return 1
  while IFS= read -r -d '' name && IFS= read -r -d '' value; do
    export "$name=$value"
  done <"$_WS_EVAL/env_file"
}
