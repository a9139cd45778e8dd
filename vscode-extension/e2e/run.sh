#!/usr/bin/env bash
# Real-editor end-to-end test: the freshly built .vsix in code-server, driven by headless
# Chromium (playwright-core). Needs `e2e/setup.sh` first (same SQUASHER_E2E_DIR).
#
#   SQUASHER_E2E_DIR        install dir of setup.sh (default ~/.cache/squasher-e2e)
#   SQUASHER_E2E_ARTIFACTS  screenshots, logs, results.json (default <repo>/ci-artifacts/vscode-e2e)
#   SQUASHER_E2E_PYTHON     Python with squasher installed (default: python3 on PATH)
#   SQUASHER_E2E_VSIX       a prebuilt .vsix (default: build one with vsce into the temp dir)
#   SQUASHER_E2E_TIMEOUT    hard limit in seconds for the UI script (default 300)
#   SQUASHER_E2E_KEEP=1     keep the temporary directory (user-data-dir, workspace copy)
#   SQUASHER_E2E_README_SHOTS=DIR
#                           take the README images instead of running the checks: DIR/screenshot.png
#                           and DIR/graph.png, 1400x850, of a copy of sample_apps holding only the
#                           files git tracks (use readme-shots.sh, which also takes docs/images/)
#
# Exit status: 0 when every UI assertion passed; results.json lists each one.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
EXT_DIR="$(dirname "$HERE")"
REPO="$(dirname "$EXT_DIR")"
CACHE="${SQUASHER_E2E_DIR:-${SQUASHER_E2E_CACHE:-$HOME/.cache/squasher-e2e}}"
README_SHOTS="${SQUASHER_E2E_README_SHOTS:-}"
if [ -n "$README_SHOTS" ]; then
  mkdir -p "$README_SHOTS"
  README_SHOTS="$(cd "$README_SHOTS" && pwd)"
  ARTIFACTS="${SQUASHER_E2E_ARTIFACTS:-$REPO/ci-artifacts/readme-shots}"
else
  ARTIFACTS="${SQUASHER_E2E_ARTIFACTS:-$REPO/ci-artifacts/vscode-e2e}"
fi
TIMEOUT="${SQUASHER_E2E_TIMEOUT:-300}"
log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ ! -f "$CACHE/env.sh" ]; then
  log "no e2e environment in $CACHE: run vscode-extension/e2e/setup.sh first"
  exit 2
fi
# shellcheck disable=SC1091
source "$CACHE/env.sh"
for f in "$E2E_CODE_SERVER" "$E2E_NODE24_BIN/node" "$E2E_CHROMIUM"; do
  [ -x "$f" ] || { log "missing $f: run setup.sh again"; exit 2; }
done

PY="${SQUASHER_E2E_PYTHON:-$(command -v python3)}"
if ! "$PY" -c "import squasher, lsp_server.server" 2>/dev/null; then
  log "$PY cannot import squasher and lsp_server.server (pip install -e . first)"
  exit 2
fi
PY="$("$PY" -c 'import sys; print(sys.executable)')"

R="$(mktemp -d "${TMPDIR:-/tmp}/squasher-e2e.XXXXXX")"
mkdir -p "$ARTIFACTS"
# only what a previous run wrote (the folder itself may hold other CI artifacts)
rm -rf "$ARTIFACTS"/[0-9][0-9]-*.png "$ARTIFACTS/results.json" "$ARTIFACTS/browser-console.log" \
  "$ARTIFACTS/code-server.log" "$ARTIFACTS/vscode-logs"
CS_PGID=""
UI_PGID=""
cleanup() {
  local rc=$?
  for pg in "$UI_PGID" "$CS_PGID"; do
    [ -n "$pg" ] && kill -- "-$pg" 2>/dev/null || true
  done
  sleep 0.5
  for pg in "$UI_PGID" "$CS_PGID"; do
    [ -n "$pg" ] && kill -9 -- "-$pg" 2>/dev/null || true
  done
  [ -f "$R/server.log" ] && cp "$R/server.log" "$ARTIFACTS/code-server.log"
  [ -d "$R/data/logs" ] && cp -r "$R/data/logs" "$ARTIFACTS/vscode-logs" 2>/dev/null || true
  if [ "${SQUASHER_E2E_KEEP:-0}" = 1 ]; then
    log "kept $R"
  else
    rm -rf "$R"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the .vsix -----------------------------------------------------------------------------
if [ -n "${SQUASHER_E2E_VSIX:-}" ]; then
  VSIX="$SQUASHER_E2E_VSIX"
else
  log "building the .vsix"
  VSIX="$R/squasher.vsix"
  (
    cd "$EXT_DIR"
    [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
    # the server's libraries are bundled for the Python the test runs (importStrategy useBundled)
    SQUASHER_BUNDLE_PYTHON="${SQUASHER_BUNDLE_PYTHON:-$PY}" \
      npx vsce package --allow-missing-repository --no-rewrite-relative-links -o "$VSIX" </dev/null >/dev/null
  )
fi
[ -f "$VSIX" ] || { log "no .vsix at $VSIX"; exit 2; }

# --- a private copy of sample_apps and a fresh user-data-dir -------------------------------
WS="$R/sample_apps"
mkdir -p "$WS"
if [ -n "$README_SHOTS" ] && git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # the images show the project as checked out: only tracked files (their work-tree content),
  # nothing a local run left behind (caches, databases, catalog.mmd, ...)
  git -C "$REPO/sample_apps" ls-files -z -- . |
    tar -C "$REPO/sample_apps" --null --no-recursion --ignore-failed-read -T - -cf - | tar -C "$WS" -xf -
else
  tar -C "$REPO/sample_apps" --exclude=__pycache__ --exclude='*.pyc' --exclude='*.sqlite3' \
    --exclude=.squasher-cache --exclude=.squasher-journal -cf - . | tar -C "$WS" -xf -
fi

export HOME="$R/home" XDG_CONFIG_HOME="$R/home/.config" XDG_DATA_HOME="$R/home/.local/share" \
  XDG_CACHE_HOME="$R/home/.cache"
mkdir -p "$HOME" "$R/data/User" "$R/data/Machine"
PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" > "$R/config.yaml"
README_SETTINGS=""
if [ -n "$README_SHOTS" ]; then
  # no empty secondary side bar in the pictures
  README_SETTINGS='"workbench.secondarySideBar.defaultVisibility": "hidden",'
fi
cat > "$R/data/User/settings.json" <<JSON
{
  $README_SETTINGS
  "squasher.interpreter": "$PY",
  "squasher.trace.server": "messages",
  "security.workspace.trust.enabled": false,
  "chat.disableAIFeatures": true,
  "editor.hover.delay": 100,
  "editor.hover.sticky": true,
  "workbench.startupEditor": "none",
  "workbench.editor.enablePreview": false,
  "workbench.tips.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "update.mode": "none",
  "files.autoSave": "off",
  "git.enabled": false
}
JSON
# squasher.interpreter is machine-overridable: a remote window (code-server) reads it from
# the machine settings, not from the user settings
printf '{\n  "squasher.interpreter": "%s"\n}\n' "$PY" > "$R/data/Machine/settings.json"

CS=(env "PATH=$E2E_NODE24_BIN:$PATH" "$E2E_CODE_SERVER" --config "$R/config.yaml"
  --user-data-dir "$R/data" --extensions-dir "$R/ext")
log "installing $(basename "$VSIX") ($(du -k "$VSIX" | cut -f1) KB)"
"${CS[@]}" --install-extension "$VSIX" > "$R/install.log" 2>&1 || { cat "$R/install.log" >&2; exit 1; }

log "starting code-server on 127.0.0.1:$PORT"
setsid "${CS[@]}" --disable-telemetry --disable-update-check --disable-workspace-trust \
  --disable-getting-started-override "$WS" > "$R/server.log" 2>&1 &
CS_PGID=$!
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$CS_PGID" 2>/dev/null || { cat "$R/server.log" >&2; exit 1; }
  sleep 0.5
done
curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null || { log "code-server did not come up"; exit 1; }

log "running the UI script (timeout ${TIMEOUT}s)"
set +e
CS_URL="http://127.0.0.1:$PORT/?folder=$WS" WORKSPACE="$WS" SHOTS="$ARTIFACTS" \
  PLAYWRIGHT_CORE="$E2E_PLAYWRIGHT_DIR" CHROMIUM="$E2E_CHROMIUM" BROWSER_PROFILE="$R/chrome" \
  E2E_TIMEOUT="$TIMEOUT" README_SHOTS="$README_SHOTS" \
  setsid timeout --kill-after=10 "$TIMEOUT" "$E2E_NODE24_BIN/node" "$HERE/e2e.mjs" &
UI_PGID=$!
wait "$UI_PGID"
rc=$?
set -e
[ "$rc" = 124 ] && log "the UI script hit the ${TIMEOUT}s timeout"
log "exit $rc; artifacts in $ARTIFACTS"
exit "$rc"
