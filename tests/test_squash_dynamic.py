"""Migrations that compute ``operations`` at import time are carried, not frozen (issue 15, item 4).

A copy of sample_apps gets two such migrations inside catalog 0011..0019: one choosing its
operations with ``if connection.vendor == "postgresql": operations = [...] else: operations =
[...]``, one appending to a literal list under a condition. ``squasher squash catalog 0011
0019`` keeps both as they are and squashes the three runs around them; the result migrates on
SQLite and PostgreSQL to the same schema as the original history on that database, where
``--allow-dynamic`` (the branch this machine takes, frozen) does not on PostgreSQL.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import _COPY_IGNORE, SAMPLE_APPS, run_squasher, snapshot_tree
from support.squash_db import migrate, schema

IF_ELSE = '''from django.db import connection, migrations


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0014_alter_product_options'),
    ]

    if connection.vendor == 'postgresql':
        operations = [
            migrations.RunSQL(
                'CREATE INDEX catalog_supplier_name_upper ON catalog_supplier (UPPER(name))',
                'DROP INDEX catalog_supplier_name_upper',
            ),
        ]
    else:
        operations = [
            migrations.RunSQL(
                'CREATE INDEX catalog_supplier_name_plain ON catalog_supplier (name)',
                'DROP INDEX catalog_supplier_name_plain',
            ),
        ]
'''

APPENDED = '''from django.db import connection, migrations


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0017_remove_product_weight'),
    ]

    operations = [
        migrations.RunSQL("UPDATE catalog_supplier SET name = name", migrations.RunSQL.noop),
    ]
    if connection.vendor == 'postgresql':
        operations.append(migrations.RunSQL(
            'CREATE INDEX catalog_product_sku_lower ON catalog_product (LOWER(sku))',
            'DROP INDEX catalog_product_sku_lower',
        ))
'''

VENDOR_INDEX = "0014_supplier_vendor_index"
APPENDED_NAME = "0017_product_sku_vendor_index"
PIECES = ["0011_supplier_squashed_0014_alter_product_options",
          "0015_product_weight_squashed_0017_remove_product_weight",
          "0018_insert_default_tags_squashed_0019_alter_supplier_unique_together"]


def make_project(dest: Path) -> Path:
    """sample_apps with the two dynamic migrations threaded into catalog's history."""
    shutil.copytree(SAMPLE_APPS, dest, ignore=_COPY_IGNORE)
    migrations = dest / "catalog" / "migrations"
    (migrations / f"{VENDOR_INDEX}.py").write_text(IF_ELSE)
    (migrations / f"{APPENDED_NAME}.py").write_text(APPENDED)
    for child, old, new in [("0015_product_weight", "0014_alter_product_options", VENDOR_INDEX),
                            ("0018_insert_default_tags", "0017_remove_product_weight",
                             APPENDED_NAME)]:
        path = migrations / f"{child}.py"
        text = path.read_text()
        assert f"('catalog', '{old}')" in text
        path.write_text(text.replace(f"('catalog', '{old}')", f"('catalog', '{new}')"))
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "sample_apps")


def written(stdout: str) -> list[str]:
    return [Path(p).stem for p in re.findall(r"wrote (\S+\.py)", stdout)]


def test_split_around_dynamic_migrations_sqlite(project: Path, tmp_path: Path) -> None:
    original = migrate(project, db=tmp_path / "original.sqlite3")
    proc = run_squasher("squash", "catalog", "0011", "0019", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert written(proc.stdout) == PIECES
    for name, line in [(VENDOR_INDEX, 10), (APPENDED_NAME, 13)]:
        assert (f"note: catalog.{name} is kept as it is (not squashed): it computes its "
                "operations at import time") in proc.stdout
        assert f"{name}.py:{line}" in proc.stdout
    assert "--allow-dynamic freezes it instead" in proc.stdout
    assert proc.stdout.count("on sqlite: OK") == 3
    migrations = project / "catalog" / "migrations"
    for name in (VENDOR_INDEX, APPENDED_NAME):  # untouched, and nobody replaces them
        assert "replaces" not in (migrations / f"{name}.py").read_text()
        for piece in PIECES:
            assert f"'{name}')" not in (migrations / f"{piece}.py").read_text().split(
                "dependencies")[0]
    fresh = migrate(project, db=tmp_path / "fresh.sqlite3")
    assert schema(fresh) == schema(original)
    plan = [m for m in fresh["plan"] if m.startswith("catalog.")]
    assert plan[plan.index(f"catalog.{PIECES[0]}"):plan.index(f"catalog.{PIECES[2]}") + 1] == [
        f"catalog.{PIECES[0]}", f"catalog.{VENDOR_INDEX}", f"catalog.{PIECES[1]}",
        f"catalog.{APPENDED_NAME}", f"catalog.{PIECES[2]}"]


@pytest.mark.postgres
def test_split_around_dynamic_migrations_postgres(project: Path, require_postgres: str,
                                                  tmp_path: Path) -> None:
    from squasher.runtime.sandbox import postgres_databases

    frozen = tmp_path / "frozen" / "sample_apps"
    shutil.copytree(project, frozen)
    proc = run_squasher("squash", "catalog", "0011", "0019", "--verify-on", "postgresql",
                        cwd=project, env={"SQUASHER_POSTGRES_DSN": require_postgres})
    assert proc.returncode == 0, proc.stderr
    assert written(proc.stdout) == PIECES
    assert proc.stdout.count("on postgresql (SQUASHER_POSTGRES_DSN): OK") == 3
    # the explicit choice: freeze the branch taken here (SQLite) into one squash
    proc = run_squasher("squash", "catalog", "0011", "0019", "--allow-dynamic", "--no-verify",
                        cwd=frozen)
    assert proc.returncode == 0, proc.stderr
    assert "frozen as evaluated here" in proc.stdout and len(written(proc.stdout)) == 1

    with postgres_databases(require_postgres, 3) as (first, second, third):
        def indexes(result: dict[str, Any], table: str) -> int:
            return len(result["tables"][table]["constraints"])

        original = migrate(make_project(tmp_path / "original" / "sample_apps"), database=first)
        squashed = migrate(project, database=second)
        assert schema(squashed) == schema(original)
        frozen_result = migrate(frozen, database=third)
        # the frozen squash runs SQLite's branches on PostgreSQL: the plain index instead of
        # UPPER(name), no LOWER(sku) index
        assert schema(frozen_result) != schema(original)
        supplier = "catalog_supplier"
        assert frozen_result["tables"][supplier] != original["tables"][supplier]
        assert indexes(frozen_result, "catalog_product") == indexes(original, "catalog_product") - 1


def test_nothing_left_to_squash(project: Path) -> None:
    before = snapshot_tree(project)
    proc = run_squasher("squash", "catalog", "0014_alter", VENDOR_INDEX, "--no-verify",
                        cwd=project)
    assert proc.returncode != 0
    err = proc.stderr
    assert f"{VENDOR_INDEX}.py:10" in err and "nothing to squash" in err
    assert "--allow-dynamic" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert snapshot_tree(project) == before


def test_dry_run_json_lists_kept(project: Path) -> None:
    import json

    proc = run_squasher("squash", "catalog", "0011", "0019", "--dry-run", "--format", "json",
                        cwd=project)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert summary["kept_dynamic"] == [f"catalog.{VENDOR_INDEX}", f"catalog.{APPENDED_NAME}"]
    assert [s["name"] for s in summary["squashes"]] == PIECES
