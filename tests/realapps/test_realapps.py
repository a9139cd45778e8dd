"""squasher on real apps installed from PyPI (the test bed of ``.ci/realapps.sh``).

Every command runs in the real-app venv (``SQUASHER_REALAPPS_PYTHON``) in a subprocess; the
apps are never imported into this process. Per app label: a scratch project with the app's
migrations copied and selected with ``MIGRATION_MODULES`` (computed by a helper function for
some apps), then the default ``squasher squash <label> <last>`` (verification on) must write a
squash that imports, leaves ``makemigrations --check`` clean and verifies on SQLite (fresh and
partially applied databases) and on PostgreSQL.

On a laptop without the test bed the tests skip; under ``CI=true`` a missing test bed fails them.

    export SQUASHER_REALAPPS_PYTHON=$(bash .ci/realapps.sh | tail -n 1)
    python -m pytest -x -m realapps tests/realapps
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import IN_CI, postgres_dsn, require
from scratch import APPS, PYTHON_ENV, RealApp, build_project, migration_names, realapps_python, run

pytestmark = pytest.mark.realapps

#: Labels that fail today for reasons outside verification, with the error line seen.
XFAIL: dict[str, str] = {}


def _params() -> list[object]:
    return [pytest.param(label, marks=pytest.mark.xfail(strict=False, reason=XFAIL[label]))
            if label in XFAIL else label for label in APPS]


@pytest.fixture(scope="session")
def python() -> str:
    found = realapps_python()
    require(found is not None,
            f"the real-app test bed (bash .ci/realapps.sh; export {PYTHON_ENV}=<its python>)")
    return found  # type: ignore[return-value]


def _squash(python: str, root: Path, app: RealApp, *extra: str) -> tuple[dict, list[str]]:
    """Squash the app's whole history with the default command; returns the summary and the
    names of the squashes written (more than one only where one would be circular)."""
    last = migration_names(root / f"scratch_{app.label}" / app.label / "migrations")[-1]
    proc = run(python, ["-m", "squasher", "squash", app.label, last, "--format", "json", *extra],
               root)
    assert proc.returncode == 0, f"squash {app.label} {last}: {proc.stderr[-4000:]}"
    summary = json.loads(proc.stdout)["summary"]
    names = [piece["name"] for piece in summary["squashes"]]
    assert len(names) == 1 or summary["split_because_of_cycle"] or summary["kept_dynamic"] \
        or summary["split_to_keep_order"], summary
    return summary, names


@pytest.mark.parametrize("label", _params())
def test_squash_real_app(label: str, python: str, tmp_path: Path) -> None:
    app = APPS[label]
    root = tmp_path / "project"
    migrations = build_project(root, app, python)
    names = migration_names(migrations)
    count = len(names)

    summary, squashes = _squash(python, root, app)

    replaced: set[str] = set()
    for piece in summary["squashes"]:
        path = Path(piece["path"])
        assert path == migrations / f"{piece['name']}.py" and path.is_file()
        replaced |= set(piece["replaces"])
        ops = piece["operations"]
        assert ops["after"] <= ops["django_optimizer"] <= ops["before"], ops
    # every migration of the history (an older squash in it stands for some of them; a
    # migration computed at import time stays as it is)
    kept = {k.split(".", 1)[1] for k in summary["kept_dynamic"] + summary["kept_as_is"]}
    assert {f"{label}.{n}" for n in names if "_squashed_" not in n and n not in kept} <= replaced
    # the default command verified each squash on SQLite: fresh and partially applied databases
    assert summary["verified"] is True
    assert len(summary["verification"]) == len(squashes)
    for report in summary["verification"]:
        assert report["ok"], "\n".join(report["differences"])
        assert label in report["scope"]
    assert any(r["partial_target"] for r in summary["verification"]) or count < 3

    for name in squashes:
        module = f"scratch_{label}.{label}.migrations.{name}"
        imported = run(python, ["-c", "import django, importlib, sys; django.setup(); "
                                      "importlib.import_module(sys.argv[1])", module], root)
        assert imported.returncode == 0, imported.last_error()

    check = run(python, ["manage.py", "makemigrations", label, "--check", "--dry-run",
                         "--skip-checks"], root)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No changes detected" in check.stdout

    # the same squashes verified on PostgreSQL (in this project: no second build and squash)
    dsn = postgres_dsn()
    if not dsn:
        require(not IN_CI, "PostgreSQL (set SQUASHER_POSTGRES_DSN)")
        return
    for name in squashes:
        proc = run(python, ["-m", "squasher", "verify", label, name, "--verify-on", "postgresql",
                            "--format", "json"], root, env={"SQUASHER_POSTGRES_DSN": dsn})
        assert proc.returncode in (0, 1), proc.last_error()
        report = json.loads(proc.stdout)
        assert report["database"] == "postgresql"
        assert report["ok"], "\n".join(report["differences"])
