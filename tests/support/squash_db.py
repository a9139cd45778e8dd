"""Helpers for the squash tests: migrate real databases in subprocesses and describe them.

Every Django run happens in its own ``python`` process (Django cannot be set up twice in
one process), inside the project copy, with ``DJANGO_SETTINGS_MODULE=settings``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# Runs in the project directory. argv: JSON {"targets": "all" | [[app, name], ...],
# "database": optional DATABASES["default"] dict}. Uses the executor directly so that the
# sample project's deliberate blog conflict does not stop `migrate`.
_MIGRATE_SCRIPT = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
spec = json.loads(sys.argv[1])
import django
from django.conf import settings
if spec.get("database"):
    settings.DATABASES["default"] = spec["database"]
django.setup()
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
executor = MigrationExecutor(connection)
if spec["targets"] == "all":
    targets = executor.loader.graph.leaf_nodes()
else:
    targets = [tuple(t) for t in spec["targets"]]
plan = executor.migration_plan(targets)
executor.migrate(targets, plan=plan)
executor.loader.build_graph()
applied = sorted(f"{a}.{n}" for a, n in executor.recorder.applied_migrations())
out = {"applied": applied, "plan": [f"{m.app_label}.{m.name}" for m, _ in plan], "tables": {}}
with connection.cursor() as cursor:
    intro = connection.introspection
    for table in sorted(intro.table_names(cursor)):
        if table == "django_migrations":
            continue
        columns = []
        for col in intro.get_table_description(cursor, table):
            columns.append([col.name, str(col.type_code), bool(col.null_ok)])
        constraints = intro.get_constraints(cursor, table)
        cons = sorted(
            [sorted(c["columns"]), bool(c["unique"]), bool(c["primary_key"]), bool(c["index"]),
             bool(c.get("check")), c["foreign_key"] and list(c["foreign_key"])]
            for c in constraints.values()
        )
        cursor.execute("SELECT COUNT(*) FROM %s" % connection.ops.quote_name(table))
        rows = cursor.fetchone()[0]
        out["tables"][table] = {"columns": sorted(columns), "constraints": cons, "rows": rows}
print("@@RESULT@@" + json.dumps(out))
"""


def migrate(project: Path, targets: str | list[tuple[str, str]] = "all", *,
            db: Path | None = None, database: dict[str, Any] | None = None,
            python: str | None = None) -> dict[str, Any]:
    """Migrate ``project`` (a sample_apps copy) and return applied migrations and schema."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env["SAMPLE_APPS_SQLITE"] = str(db or project / "db.sqlite3")
    env.pop("SAMPLE_APPS_WITHOUT_CONFLICT", None)
    spec = {"targets": targets if targets == "all" else [list(t) for t in targets],
            "database": database}
    proc = subprocess.run(
        [python or sys.executable, "-c", _MIGRATE_SCRIPT, json.dumps(spec)], cwd=project,
        env=env, capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0 or "@@RESULT@@" not in proc.stdout:
        raise AssertionError(f"migrate failed in {project}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return json.loads(proc.stdout.split("@@RESULT@@", 1)[1])


def schema(result: dict[str, Any]) -> dict[str, Any]:
    """Tables with columns/constraints/row counts, without tables whose content depends on
    the order in which content types were created (ids differ, counts do not)."""
    return result["tables"]


def hide(path: Path) -> Path:
    hidden = path.with_name(path.name + ".hidden")
    path.rename(hidden)
    return hidden


def unhide(hidden: Path) -> Path:
    path = hidden.with_name(hidden.name[: -len(".hidden")])
    hidden.rename(path)
    return path
