#!/usr/bin/env bash
# The real-app test bed: a virtualenv with Django 5.2, psycopg, squasher (editable, from this
# checkout) and the real apps pinned in .ci/realapps-requirements.txt.
#
#   export SQUASHER_REALAPPS_PYTHON=$(bash .ci/realapps.sh | tail -n 1)
#
# The venv lives in $SQUASHER_REALAPPS_VENV (default /tmp/squasher-ci/venv-realapps). Idempotent:
# an existing venv is reused and pip only installs what is missing. The apps are installed with
# a constraints file frozen from the base install (Django 5.2 and its dependencies), so no app
# can up- or downgrade Django. The last line printed is the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
VENV=${SQUASHER_REALAPPS_VENV:-/tmp/squasher-ci/venv-realapps}
log() { echo "realapps.sh: $*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"

log "Django 5.2, psycopg and squasher (editable)"
"$PY" -m pip install -q "django==5.2.*" "psycopg[binary]>=3.1" -e "$REPO[dev]" >&2

CONSTRAINTS="$VENV/realapps-constraints.txt"
# The base install, exactly, except squasher itself (editable lines are not constraints): the
# apps may add packages but not change these, Django above all. Frozen once, right after the
# base install of a new venv (a re-run must not freeze the apps' own dependencies too).
if [ ! -s "$CONSTRAINTS" ]; then
  "$PY" -m pip freeze --exclude-editable | grep -v '^-e ' | grep -iv '^squasher' > "$CONSTRAINTS"
fi
grep -i '^django==5\.2\.' "$CONSTRAINTS" >&2 || { log "Django 5.2 is not installed"; exit 1; }

log "real apps (.ci/realapps-requirements.txt) under the constraints"
"$PY" -m pip install -q -c "$CONSTRAINTS" -r .ci/realapps-requirements.txt >&2
"$PY" -m pip check >&2 || log "pip check reports conflicts (see above)"
"$PY" - >&2 <<'PY'
import django
assert django.VERSION[:2] == (5, 2), django.get_version()
print("realapps.sh: Django", django.get_version())
PY
echo "$PY"
