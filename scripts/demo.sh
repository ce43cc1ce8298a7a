#!/usr/bin/env bash
# A scripted demo of the main job, in a throwaway state home: a shell enters a
# workspace (environment, a port, a development server), leaves by exiting,
# and the reaper stops the server and runs the unload hook.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=$(mktemp -d "${TMPDIR:-/tmp}/ws-demo.XXXXXX")
# WS_BUILD_TIMEOUT: wait for the server at the first prompt instead of building in the background.
export PATH="$repo/bin:$PATH" WS_STATE_HOME="$demo/state" WS_UNLOAD_GRACE=1 WS_REAPER_IDLE=5 WS_BUILD_TIMEOUT=10000 NO_COLOR=1
trap 'pkill -f "$demo" 2>/dev/null || true; rm -rf "$demo"' EXIT
step() { if [[ -t 1 ]]; then printf '\n\033[1m$ %s\033[0m\n' "$*"; else printf '\n$ %s\n' "$*"; fi; }

mkdir -p "$demo/shop"
cat >"$demo/shop/.workspace" <<'WS'
export GREETING="hello from $WS_CONTEXT"
export WEB_PORT=$(allocate_port --tcp 8000)
service web --ready-port "$WEB_PORT" -- python3 -m http.server "$WEB_PORT" --bind 127.0.0.1
on_unload 'echo "unloaded $WS_CONTEXT at $(date +%T)" >> "$WS_ROOT/unload.txt"'
WS
step "cat shop/.workspace"; cat "$demo/shop/.workspace"
step "ws-allow shop"; ws-allow "$demo/shop"

# An interactive-style bash with the hook: each _ws_hook call is a prompt.
cat >"$demo/session.sh" <<SESSION
eval "\$(ws-export hook bash)"
cd "$demo/shop"; _ws_hook
echo "GREETING=\$GREETING"
echo "WEB_PORT=\$WEB_PORT"
curl -s -o /dev/null -w "web server answers: HTTP %{http_code}\n" "http://127.0.0.1:\$WEB_PORT/" 2>/dev/null || python3 -c "import urllib.request,os; print('web server answers: HTTP', urllib.request.urlopen('http://127.0.0.1:'+os.environ['WEB_PORT']).status)"
ws-service status
echo "(the shell exits now)"
SESSION
step "bash session.sh   # cd shop, see the env, the port and the server, then exit"
bash --noprofile --norc "$demo/session.sh"

step "sleep 3   # the reaper notices the last user is gone; after the grace, the unload runs"
sleep 3
step "cat shop/unload.txt"; cat "$demo/shop/unload.txt"
step "ws-service status   # the server is gone"; (cd "$demo/shop" && ws-service status) || true
step "allocate_port --list"; allocate_port --list || true
