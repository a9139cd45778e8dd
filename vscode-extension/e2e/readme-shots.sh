#!/usr/bin/env bash
# Retake the README images from the current build:
#   vscode-extension/images/screenshot.png  the SQ001 diagnostic's hover and the conflict count in
#                                           the status bar (blog/migrations/0005_post_reading_time.py)
#   vscode-extension/images/graph.png       the graph webview beside the editor, opened from the
#                                           title button of catalog's merge migration
#   docs/images/graph-html.png              the page of `squasher graph -o graph.html`, in Chromium
# The editor images come from run.sh in README mode (SQUASHER_E2E_README_SHOTS: the freshly built
# .vsix in code-server, 1400x850, on a copy of sample_apps holding only the files git tracks), so
# run e2e/setup.sh first; the page needs Graphviz (dot) and Chromium. The images are replaced
# only when every step passed. pngquant, when installed (apt-get install pngquant), shrinks them.
#
#   readme-shots.sh            all three
#   readme-shots.sh --html     only docs/images/graph-html.png (no code-server needed)
#
# Environment as for run.sh (SQUASHER_E2E_DIR, SQUASHER_E2E_PYTHON, ...); the check screenshots
# and logs of the editor run go to $SQUASHER_E2E_ARTIFACTS (default ci-artifacts/readme-shots).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
EXT_DIR="$(dirname "$HERE")"
REPO="$(dirname "$EXT_DIR")"
log() { printf '[readme-shots %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

EDITOR=1
case "${1:-}" in
  "") ;;
  --html) EDITOR=0 ;;
  *) echo "usage: $0 [--html]" >&2; exit 2 ;;
esac

PY="${SQUASHER_E2E_PYTHON:-$(command -v python3)}"
CHROMIUM="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$CHROMIUM" ] || { log "chromium not found (vscode-extension/e2e/setup.sh installs it)"; exit 2; }
command -v dot >/dev/null || { log "Graphviz (dot) not found: apt-get install graphviz"; exit 2; }

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/squasher-readme-shots.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT

# --- 1. the editor: run.sh in README mode ----------------------------------------------------
if [ "$EDITOR" = 1 ]; then
  log "taking the editor images (run.sh, README mode)"
  SQUASHER_E2E_README_SHOTS="$STAGE/ext" SQUASHER_E2E_PYTHON="$PY" bash "$HERE/run.sh"
  for f in screenshot.png graph.png; do
    [ -s "$STAGE/ext/$f" ] || { log "run.sh passed but wrote no $f"; exit 1; }
  done
fi

# --- 2. the graph page: squasher graph -o graph.html, opened in headless Chromium --------------
log "taking the graph page"
mkdir -p "$STAGE/sample_apps" "$STAGE/docs"
git -C "$REPO/sample_apps" ls-files -z -- . |
  tar -C "$REPO/sample_apps" --null --no-recursion --ignore-failed-read -T - -cf - | tar -C "$STAGE/sample_apps" -xf -
"$PY" -m squasher graph -o "$STAGE/graph.html" --root "$STAGE/sample_apps" --no-cache
# the panel shows the merge migration (#app.name opens the page on one migration)
"$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --window-size=1400,850 --user-data-dir="$STAGE/chromium" --screenshot="$STAGE/docs/graph-html.png" \
  "file://$STAGE/graph.html#catalog.0022_merge_supplier_phone_category_description" >/dev/null 2>&1
[ -s "$STAGE/docs/graph-html.png" ] || { log "chromium wrote no screenshot"; exit 1; }

# --- 3. shrink (optional) and put them in place ----------------------------------------------------
if command -v pngquant >/dev/null; then
  for f in "$STAGE"/ext/*.png "$STAGE"/docs/*.png; do
    [ -f "$f" ] && pngquant --force --skip-if-larger --quality=80-100 --output "$f" -- "$f" || true
  done
fi
install_png() {
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2"
  log "$(realpath --relative-to="$REPO" "$2"): $(du -k "$2" | cut -f1) KB"
}
if [ "$EDITOR" = 1 ]; then
  install_png "$STAGE/ext/screenshot.png" "$EXT_DIR/images/screenshot.png"
  install_png "$STAGE/ext/graph.png" "$EXT_DIR/images/graph.png"
fi
install_png "$STAGE/docs/graph-html.png" "$REPO/docs/images/graph-html.png"
