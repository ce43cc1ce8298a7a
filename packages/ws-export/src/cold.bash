# The cold path (docs/hook.md "The cold path: a first entry without node"):
# the first entry of a project from a shell in no context, with the shell
# waiting for bash only. The hook runs this file (ws-export writes it into
# the state home, cold/<hash>/cold.bash, beside build.bash: the stdlib and the
# driver exactly as startBuild runs them) as
#   bash cold.bash STATE_HOME ROOT EXPORTER SHELL_PID LIVE [SHELL] >LIST
# (SHELL: bash, the default, or zsh: the hook's shell)
# with the shell's exported environment, which is the base (no WS_DIFF).
# It does exactly what ws-export's first entry does up to the build's answer
# (trust gate, build lock, request.json, the driver, the applied record) and
# prints the changes as a NUL-separated list: NAME=VALUE to export, NAME to
# unset, and :KEY=VALUE lines for the hook. `ws-export adopt`, started
# detached, does the bookkeeping afterwards (user record, events, context
# record, reaper, stamps, the cached entry) and leaves the hook's shell code
# in cache/adopted/. Anything it does not handle exactly exits 3 before it
# prints anything or changes the shell: the hook then runs ws-export as
# always (which finds, shares or replaces what this left, as any build's).
# Values must be printable ASCII (they are written as JSON by builtins);
# anything else goes to node, which keeps every byte exact.
# shellcheck shell=bash
# shellcheck disable=SC2154,SC2206 # printf -v assigns (_wc_json, _wc_knob_ms); /proc/PID/stat fields are split on purpose

# Our names must be nobody's exported ones (an assignment would change the base).
[[ -z ${!_wc_@} ]] || exit 3
# Ctrl-C (the hook starts this with SIGINT at its default: env --default-signal):
# give up at once with 4; the hook then runs ws-export --interrupted, which
# sends the build to the background as a Ctrl-C in ws-export does.
trap 'exit 4' INT
_wc_home=$1 _wc_root=$2 _wc_exporter=$3 _wc_spid=$4 _wc_live=$5 _wc_sh=${6:-bash}
[[ $_wc_sh == bash || $_wc_sh == zsh ]] || exit 3
_wc_dir=${BASH_SOURCE[0]%/*}
# bash counted itself in SHLVL: the base is the shell's.
[[ ${SHLVL-} =~ ^[0-9]+$ ]] && ((SHLVL > 0)) && SHLVL=$((SHLVL - 1))

# Plain printable ASCII (JSON by builtins: only \ and " to escape), in C.
_wc_plain() {
  local LC_ALL=C
  [[ $1 != *[![:print:]]* ]]
}
_wc_json() { # VAR VALUE: VALUE as a JSON string into VAR
  local v=${2//\\/\\\\}
  printf -v "$1" '"%s"' "${v//\"/\\\"}"
}
# A tracked name (core env/diff.ts isTrackedName): cold.ts puts diff.ts's own
# list of names and prefixes that are not tracked in place of the pattern.
_wc_tracked() {
  [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || return 1
  case $1 in
    @UNTRACKED@) return 1 ;;
  esac
  return 0
}
# ISO-8601 UTC with milliseconds into _wc_ts (as Date.toISOString).
_wc_now() {
  # (The clock's decimal mark follows the locale.)
  local t=${EPOCHREALTIME}
  TZ=UTC printf -v _wc_ts '%(%Y-%m-%dT%H:%M:%S)T.%sZ' "${t%[.,]*}" "${t#*[.,]}"
  _wc_ts=${_wc_ts:0:23}Z
}
# A knob as node reads it (env/knobs.ts): a non-negative number, else the default.
_wc_knob_ms() { # VAR VALUE DEFAULT SCALE
  local v=$2
  [[ $v =~ ^[0-9]+$ ]] || v=$3
  printf -v "$1" '%d' $((v * $4))
}

# ---- what the context is, with builtins (no process yet)
[[ $_wc_root == /* && $_wc_root != / && $_wc_spid =~ ^[0-9]+$ ]] || exit 3
_wc_plain "$_wc_root" && _wc_plain "$_wc_home" && _wc_plain "$PWD" || exit 3
if [[ -f $_wc_root/.workspace ]]; then
  _wc_file=$_wc_root/.workspace
elif [[ -f $_wc_root/.envrc ]]; then
  _wc_file=$_wc_root/.envrc
else
  exit 3
fi
[[ ! -e $_wc_root/.workspace.local && ! -L $_wc_root/.workspace.local ]] || exit 3
# The name (discover.ts contextName): nested contexts are outer/relative.
_wc_outer=$_wc_root _wc_d=${_wc_root%/*}
while :; do
  _wc_d=${_wc_d:-/}
  [[ -f $_wc_d/.workspace || -f $_wc_d/.envrc ]] && _wc_outer=$_wc_d
  [[ $_wc_d == / ]] && break
  _wc_d=${_wc_d%/*}
done
_wc_base=${_wc_outer##*/}
if [[ $_wc_outer == "$_wc_root" ]]; then _wc_name=$_wc_base; else _wc_name=$_wc_base/${_wc_root#"$_wc_outer"/}; fi

# ---- the base: the environment as the shell exported it, every value plain
# Every variable, by prefix (no process), and of those the exported ones with a value (compgen -e).
declare -A _wc_b=()
_wc_names=() _wc_all=()
for _wc_p in {A..Z} {a..z} _; do eval "_wc_all+=(\${!$_wc_p@})"; done
for _wc_n in "${_wc_all[@]}"; do
  [[ $_wc_n != _wc_* && -v $_wc_n && ${!_wc_n@a} == *x* && ${!_wc_n@a} != *[aA]* ]] || continue
  _wc_names+=("$_wc_n")
  [[ $_wc_n == WS_DIFF ]] && exit 3
  _wc_plain "${!_wc_n}" || exit 3
  _wc_b[$_wc_n]=${!_wc_n}
done
# The shell counts as entering from no context with nothing pinned (the hook checked; so does this).
for _wc_n in WS_WORKSPACE WS_ENV WS_CEILING_DIRS WS_ENVRC WS_ROOT WS_CONTEXT WS_STATE_DIR; do
  [[ -z ${_wc_b[$_wc_n]+x} ]] || exit 3
done

# The trust path (trust.ts trustPath): the file's name in its directory's real path.
_wc_cwd=$PWD _wc_oldpwd=${OLDPWD-} _wc_hadold=${OLDPWD+x}
cd -P -- "$_wc_root" 2>/dev/null || exit 3
_wc_trust=$PWD/${_wc_file##*/}
cd -- "$_wc_cwd" 2>/dev/null || exit 3
PWD=$_wc_cwd
if [[ -n $_wc_hadold ]]; then OLDPWD=$_wc_oldpwd; else unset OLDPWD; fi
_wc_plain "$_wc_trust" || exit 3

# ---- the hashes: the root (contextId), the trust key, the content: one process
_wc_tmp=$_wc_home/cold/tmp/$_wc_spid
printf '%s' "$_wc_root" >"$_wc_tmp.root" && printf '%s' "$_wc_trust" >"$_wc_tmp.trust" || exit 3
mapfile -t _wc_sums < <(command -p sha256sum -- "$_wc_tmp.root" "$_wc_tmp.trust" "$_wc_file" 2>/dev/null)
((${#_wc_sums[@]} == 3)) || exit 3
for _wc_i in 0 1 2; do
  [[ ${_wc_sums[_wc_i]} =~ ^\\?([0-9a-f]{64})\  ]] || exit 3
  _wc_sums[_wc_i]=${BASH_REMATCH[1]}
done
_wc_slug=${_wc_root##*/}
_wc_slug=${_wc_slug//[^A-Za-z0-9._-]/_}
_wc_slug=${_wc_slug:0:40}
_wc_id=${_wc_slug:-root}-${_wc_sums[0]:0:12}
_wc_ctx=$_wc_home/contexts/$_wc_id

# ---- the trust gate (trust.ts trustGate): an allow record naming this content, nothing else
_wc_rec=''
{ IFS= read -r _wc_rec <"$_wc_home/allow/${_wc_sums[1]}"; } 2>/dev/null
[[ $_wc_rec =~ \"sha256\":\"([0-9a-f]{64})\" ]] || exit 3
_wc_sha=${BASH_REMATCH[1]}
# Exactly one sha256 field, and the content it names: else node decides (blocked, changed, corrupt).
[[ ${_wc_rec#*\"sha256\":} != *\"sha256\":* && $_wc_sha == "${_wc_sums[2]}" ]] || exit 3

# ---- the context: never built here, not loaded, not shared (else node)
_wc_cache=$_wc_ctx/cache _wc_build=$_wc_ctx/cache/build
[[ ! -e $_wc_build && ! -L $_wc_build && ! -e $_wc_ctx/needs-unload && ! -e $_wc_cache/build.lock ]] || exit 3
if [[ -e $_wc_ctx/context.json ]]; then
  _wc_rec=''
  { IFS= read -r _wc_rec <"$_wc_ctx/context.json"; } 2>/dev/null
  [[ $_wc_rec == '{'* && $_wc_rec != *'"context":'* ]] || exit 3
fi
_wc_mk=()
for _wc_d in "$_wc_home/contexts" "$_wc_ctx" "$_wc_cache" "$_wc_cache/applied" "$_wc_cache/adopted" "$_wc_ctx/data" "$_wc_ctx/users" "$_wc_build"; do
  [[ -d $_wc_d ]] || _wc_mk+=("$_wc_d")
done
# mkdir of the build directory fails if another process made it meanwhile: then node decides.
command -p mkdir -m 700 -- "${_wc_mk[@]}" 2>/dev/null || exit 3
# The build lock (lock.ts tryLock), created O_EXCL with our `PID START`. It is
# not removed (no process for that): once this script exits its holder is
# dead, and the next taker breaks it as stale (adopt does it first thing).
_wc_st=''
read -r _wc_st <"/proc/$$/stat" || exit 3
_wc_f=(${_wc_st##*) })
_wc_me="$$ ${_wc_f[19]}"
set -C
{ printf '%s\n' "$_wc_me" >"$_wc_cache/build.lock"; } 2>/dev/null || exit 3
set +C
# Under the lock: the build directory still ours and empty (a node holding the lock before us replaced it: its request is there).
[[ -d $_wc_build && ! -e $_wc_build/request.json && ! -e $_wc_build/owner ]] || exit 3

# ---- the request (build.ts startBuild), then the driver
_wc_ms=${EPOCHREALTIME/[.,]/} _wc_ms=$((10#$_wc_ms / 1000))
_wc_b36='' _wc_n=$_wc_ms
while ((_wc_n > 0)); do
  _wc_d=0123456789abcdefghijklmnopqrstuvwxyz
  _wc_b36=${_wc_d:_wc_n % 36:1}$_wc_b36 _wc_n=$((_wc_n / 36))
done
_wc_bid=$_wc_b36-$$
_wc_state=$_wc_ctx/data
declare -A _wc_ws=([WS_ROOT]=$_wc_root [WS_CONTEXT]=$_wc_name [WS_STATE_DIR]=$_wc_state [WS_ENV]=default)
_wc_json _wc_jroot "$_wc_root"
_wc_json _wc_jname "$_wc_name"
_wc_json _wc_jfile "$_wc_file"
_wc_body=''
for _wc_n in "${_wc_names[@]}"; do
  _wc_json _wc_k "$_wc_n"
  _wc_json _wc_v "${_wc_b[$_wc_n]}"
  _wc_body+=${_wc_body:+,}$_wc_k:$_wc_v
done
_wc_json _wc_jstate "$_wc_state"
printf '{"root":%s,"name":%s,"file":%s,"fileApproval":{"kind":"allowed","sha256":"%s"},"base":{%s},"wsVars":{"WS_ROOT":%s,"WS_CONTEXT":%s,"WS_STATE_DIR":%s,"WS_ENV":"default"},"id":"%s","started":%d}' \
  "$_wc_jroot" "$_wc_jname" "$_wc_jfile" "$_wc_sha" "$_wc_body" "$_wc_jroot" "$_wc_jname" "$_wc_jstate" "$_wc_bid" "$_wc_ms" >"$_wc_build/request.json" || exit 3
_wc_prog=''
IFS= read -r -d '' _wc_prog <"$_wc_dir/build.bash"
[[ -n $_wc_prog ]] || exit 3
# As startBuild: its own session, stdio to the log, from the root, with the
# request's environment (SIGINT at its default: our trap is not inherited).
(
  cd -- "$_wc_root" || exit 69
  WS_ROOT=$_wc_root WS_CONTEXT=$_wc_name WS_STATE_DIR=$_wc_state WS_ENV=default \
    _WS_EVAL=$_wc_build _WS_FILE=$_wc_file _WS_LOCAL='' _WS_FILE_APPROVAL=sha256:$_wc_sha _WS_LOCAL_APPROVAL='' \
    _WS_EXPORT=$_wc_exporter _WS_EVENTS=$_wc_home/events.jsonl _WS_JSON_CONTEXT=$_wc_jname _WS_JSON_ROOT=$_wc_jroot \
    _WS_BUILD_ID=$_wc_bid exec setsid bash --noprofile --norc -c "$_wc_prog" ws-build
) </dev/null >>"$_wc_build/log" 2>&1 &
_wc_pid=$!
_wc_st=''
read -r _wc_st <"/proc/$_wc_pid/stat" 2>/dev/null
_wc_f=(${_wc_st##*) })
printf '%s %s\n' "$_wc_pid" "${_wc_f[19]-}" >"$_wc_build/owner"
_wc_now
_wc_ev=$_wc_home/events.jsonl
if [[ ! -L $_wc_ev && (-f $_wc_ev || ! -e $_wc_ev) ]]; then
  printf '{"v":1,"ts":"%s","type":"build.start","context":%s,"root":%s,"build":"%s"}\n' "$_wc_ts" "$_wc_jname" "$_wc_jroot" "$_wc_bid" >>"$_wc_ev"
fi

# ---- waiting for it, as long as ws-export would before it answers "building"
# (obtain.ts obtainBuild). Past that, or at a Ctrl-C, exit 4: ws-export
# --interrupted sends the build to the background at once (no second wait).
_wc_knob_ms _wc_wait "${WS_BUILD_TIMEOUT-}" 100 1
_wc_knob_ms _wc_w2 "${WS_BUILD_WAIT-}" 2 1000
[[ -e $_wc_cache/last-good.json ]] || ((_wc_w2 <= _wc_wait)) || _wc_wait=$_wc_w2
# On a terminal, ws-export's progress line (obtain.ts progressLine), from
# PROGRESS_AFTER_MS on, at most every 100 ms; cleared however the wait ends.
_wc_after=@PROGRESS_AFTER_MS@ _wc_tty='' _wc_shown='' _wc_last=0 _wc_e=0
[[ -t 2 ]] && _wc_tty=1
_wc_unshow() { [[ -z $_wc_shown ]] || printf '\r\e[K' >&2; _wc_shown=''; }
trap '_wc_unshow; exit 4' INT
_wc_start=$((${EPOCHREALTIME/[.,]/} / 1000))
_wc_sleep=''
[[ -p $_wc_dir/sleep ]] && { exec {_wc_sleep}<>"$_wc_dir/sleep"; } 2>/dev/null || exit 3
while [[ ! -e $_wc_build/status ]]; do
  _wc_t=$((${EPOCHREALTIME/[.,]/} / 1000 - _wc_start))
  ((_wc_t < _wc_wait)) || { _wc_unshow; exit 4; }
  if [[ -n $_wc_tty ]] && ((_wc_t >= _wc_after && _wc_t - _wc_last >= 100)); then
    _wc_last=$_wc_t _wc_shown=1 _wc_e=$(((_wc_t + 50) / 100))
    printf '\r\e[Kws: building %s… %d.%d s — Ctrl-C to continue in the background' "$_wc_name" $((_wc_e / 10)) $((_wc_e % 10)) >&2
  fi
  read -r -t 0.002 -u "$_wc_sleep" _ 2>/dev/null
done
_wc_unshow
wait "$_wc_pid" 2>/dev/null
_wc_status=''
read -r _wc_status <"$_wc_build/status"
[[ $_wc_status == 0 ]] || exit 3
# Anything node would report or treat specially: ws_context, a value left out, a result that cut short.
[[ ! -e $_wc_build/context && ! -s $_wc_build/too-long && -f $_wc_build/env ]] || exit 3

# ---- the result, diffed as diff.ts does
declare -A _wc_r=()
_wc_read_env() {
  local LC_ALL=C kv
  while IFS= read -r -d '' kv; do
    [[ $kv == *=* ]] || continue
    _wc_r[${kv%%=*}]=${kv#*=}
  done <"$_wc_build/env"
}
_wc_read_env
# WS_* belong to ws (obtain.ts wsViolation): unchanged from the request.
for _wc_n in "${!_wc_r[@]}" "${!_wc_b[@]}" "${!_wc_ws[@]}"; do
  [[ $_wc_n == WS_* && $_wc_n != WS_DIFF ]] || continue
  _wc_v=${_wc_ws[$_wc_n]-${_wc_b[$_wc_n]-}}
  _wc_set=${_wc_ws[$_wc_n]+x}${_wc_b[$_wc_n]+x}
  [[ ${_wc_r[$_wc_n]+x} == "${_wc_set:0:1}" && ${_wc_r[$_wc_n]-} == "$_wc_v" ]] || exit 3
done
# What the load changes relative to the base: every tracked name whose value differs.
_wc_changed=()
for _wc_n in "${!_wc_r[@]}" "${!_wc_b[@]}"; do
  _wc_tracked "$_wc_n" || continue
  [[ ${_wc_r[$_wc_n]+x} == "${_wc_b[$_wc_n]+x}" && ${_wc_r[$_wc_n]-} == "${_wc_b[$_wc_n]-}" ]] && continue
  [[ -z ${_wc_r[$_wc_n]+x} ]] || _wc_plain "${_wc_r[$_wc_n]}" || exit 3
  _wc_changed+=("$_wc_n")
done
# Sorted (encodeDiff), in C order, without a process; duplicates (a name in both) dropped.
_wc_sort() {
  local LC_ALL=C i j n out=()
  for n in "${_wc_changed[@]}"; do
    for ((i = 0; i < ${#out[@]}; i++)); do
      [[ ${out[i]} == "$n" ]] && continue 2
      [[ $n < ${out[i]} ]] && break
    done
    for ((j = ${#out[@]}; j > i; j--)); do out[j]=${out[j - 1]}; done
    out[i]=$n
  done
  _wc_changed=("${out[@]}")
}
_wc_sort
_wc_prev='' _wc_next='' _wc_list=() _wc_sum=()
for _wc_n in "${_wc_changed[@]}"; do
  if [[ -n ${_wc_b[$_wc_n]+x} ]]; then _wc_json _wc_v "${_wc_b[$_wc_n]}"; else _wc_v=null; fi
  _wc_prev+=${_wc_prev:+,}\"$_wc_n\":$_wc_v
  if [[ -n ${_wc_r[$_wc_n]+x} ]]; then
    _wc_json _wc_v "${_wc_r[$_wc_n]}"
    _wc_list+=("$_wc_n=${_wc_r[$_wc_n]}")
    if [[ $_wc_n == WS_* ]]; then :; elif [[ -n ${_wc_b[$_wc_n]+x} ]]; then _wc_sum+=("~$_wc_n"); else _wc_sum+=("+$_wc_n"); fi
  else
    _wc_v=null
    _wc_list+=("$_wc_n")
    [[ $_wc_n == WS_* ]] || _wc_sum+=("-$_wc_n")
  fi
  _wc_next+=${_wc_next:+,}\"$_wc_n\":$_wc_v
done
# ---- the applied record (applied.ts saveApplied): content-addressed, one process for the hash
printf -v _wc_text '{"prev":{%s},"next":{%s}}' "$_wc_prev" "$_wc_next"
printf '%s' "$_wc_text" >"$_wc_tmp.applied" || exit 3
_wc_sum1=''
read -r _wc_sum1 _ < <(command -p sha256sum -- "$_wc_tmp.applied" 2>/dev/null)
_wc_sum1=${_wc_sum1#\\}
[[ $_wc_sum1 =~ ^[0-9a-f]{64}$ ]] || exit 3
_wc_applied=$_wc_cache/applied/$_wc_sum1.json
[[ -e $_wc_applied ]] || printf '%s' "$_wc_text" >"$_wc_applied" || exit 3
_wc_diff=$_wc_id/$_wc_sum1

# From here on it commits (records, adopt): a Ctrl-C no longer stops it half-way.
trap '' INT
# ---- the shell is a user now (users.ts registerUser, as the cached entry writes it), before anything is applied
_wc_st=''
read -r _wc_st <"/proc/$_wc_spid/stat" 2>/dev/null || exit 3
_wc_f=(${_wc_st##*) })
[[ ! -L $_wc_ctx/users/$_wc_spid && ! -e $_wc_ctx/users/$_wc_spid && ! -L $_wc_ctx/needs-unload ]] || exit 3
_wc_now
[[ -e $_wc_ctx/needs-unload ]] || printf '%s\n' "$_wc_ts" >"$_wc_ctx/needs-unload" || exit 3
printf '{"pid":%d,"start":"%s","shell":"%s","joined":"%s"}\n' "$_wc_spid" "${_wc_f[19]}" "$_wc_sh" "$_wc_ts" >"$_wc_ctx/users/$_wc_spid" || exit 3
if [[ ! -L $_wc_ev && (-f $_wc_ev || ! -e $_wc_ev) ]]; then
  printf '{"v":1,"ts":"%s","type":"user.join","context":%s,"root":%s,"pid":%d,"shell":"%s","cold":true}\n' "$_wc_ts" "$_wc_jname" "$_wc_jroot" "$_wc_spid" "$_wc_sh" >>"$_wc_ev"
fi

# ---- bookkeeping by node, detached: ws-export adopt, in the environment the shell will have
_wc_adopted=$_wc_cache/adopted/$_wc_spid-$_wc_bid
for _wc_kv in "${_wc_list[@]}"; do
  # shellcheck disable=SC2163 # NAME=VALUE as one word
  if [[ $_wc_kv == *=* ]]; then export "$_wc_kv"; else unset "$_wc_kv"; fi
done
export WS_DIFF=$_wc_diff
[[ ${_wc_b[SHLVL]+x} ]] && SHLVL=${_wc_b[SHLVL]}
_wc_args=(adopt "$_wc_sh" --pid "$_wc_spid" --build "$_wc_bid" --out "$_wc_adopted")
[[ $_wc_live == 1 ]] && _wc_args+=(--live)
(exec setsid "$_wc_exporter" "${_wc_args[@]}" </dev/null >/dev/null 2>&1) &
_wc_apid=$!
_wc_st=''
read -r _wc_st <"/proc/$_wc_apid/stat" 2>/dev/null
_wc_f=(${_wc_st##*) })
_wc_adopter="$_wc_apid ${_wc_f[19]-}"
# A leave before adopt is done waits for it (export.ts): its holder record.
printf '%s\n' "$_wc_adopter" >"$_wc_cache/adopted/$_wc_spid.adopting" 2>/dev/null

# ---- what the user sees (as ws-export: the build's log with the file's own name, then the summary)
_wc_log=''
IFS= read -r -d '' _wc_log <"$_wc_build/log"
_wc_log=${_wc_log//"$_wc_build/file.copy"/"$_wc_file"}
printf '%s' "$_wc_log" >&2
_wc_fmt=${WS_LOG_FORMAT-ws: %s}
if [[ -n $_wc_fmt && ${#_wc_sum[@]} -gt 0 ]]; then
  printf '%s\n' "${_wc_fmt/\%s/export ${_wc_sum[*]}}" >&2
fi

# ---- the answer
printf '%s\0' ok "${_wc_list[@]}" "WS_DIFF=$_wc_diff" ":ctxdir=$_wc_ctx" ":name=$_wc_name" ":adopted=$_wc_adopted" ":adopter=$_wc_adopter"
exit 0
