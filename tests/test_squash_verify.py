"""``squasher squash`` with its automatic verification (squasher.runtime.verify) on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import run_squasher, snapshot_tree
from support.squash_db import migrate


def test_verified_on_sqlite(sample_project: Path) -> None:
    proc = run_squasher("squash", "catalog", "0019", "0023", cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    assert "on sqlite: OK" in proc.stdout
    assert "partial (migrated to catalog." in proc.stdout
    assert (sample_project / "catalog" / "migrations" /
            "0019_alter_supplier_unique_together_squashed_0023_rename_title_product_name.py").is_file()


@pytest.mark.postgres
def test_verified_on_postgres_with_data_migrations(sample_project: Path,
                                                   require_postgres: str) -> None:
    """RunPython data changes followed by schema changes in one transaction: the
    constraint checkpoints make PostgreSQL accept them (pending trigger events)."""
    proc = run_squasher("squash", "catalog", "0002", "0009", "--verify-on", "postgresql",
                        cwd=sample_project, env={"SQUASHER_POSTGRES_DSN": require_postgres})
    assert proc.returncode == 0, proc.stderr
    assert "on postgresql (SQUASHER_POSTGRES_DSN): OK" in proc.stdout
    assert "constraint checkpoints: 2" in proc.stdout


@pytest.mark.postgres
def test_whole_project_migrates_on_postgres(sample_project: Path, require_postgres: str) -> None:
    import psycopg

    proc = run_squasher("squash", "catalog", "0048", "--split", "--no-verify", cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    proc = run_squasher("squash", "billing", "0005", "0008", "--no-verify", cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    name = f"squasher_sqtest_{os.getpid()}"
    with psycopg.connect(require_postgres, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(require_postgres)
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": name,
                    "USER": info.get("user", ""), "PASSWORD": info.get("password", ""),
                    "HOST": info.get("host", ""), "PORT": str(info.get("port", ""))}
        result = migrate(sample_project, database=database)
        assert any("squashed" in m for m in result["plan"])
        assert result["tables"]["catalog_product"]["rows"] > 0
    finally:
        with psycopg.connect(require_postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_unreachable_database(sample_project: Path) -> None:
    """Also the older spelling ``--database postgres`` (now read as --verify-on postgresql)."""
    before = snapshot_tree(sample_project)
    proc = run_squasher("squash", "catalog", "0019", "0023", "--database", "postgres",
                        cwd=sample_project,
                        env={"SQUASHER_POSTGRES_DSN": "postgresql://nobody:x@127.0.0.1:1/postgres"})
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("squasher: error:")
    assert snapshot_tree(sample_project) == before


def test_postgres_without_dsn(sample_project: Path) -> None:
    before = snapshot_tree(sample_project)
    env = {k: v for k, v in os.environ.items() if k != "SQUASHER_POSTGRES_DSN"}
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "squasher", "squash", "catalog", "0019", "0023",
                           "--verify-on", "postgresql"], cwd=sample_project, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "SQUASHER_POSTGRES_DSN is not set" in proc.stderr
    assert snapshot_tree(sample_project) == before


FAILING_VERIFY = r"""
import sys
import squasher.runtime.verify as verify

def fake(root, app, name, **kw):
    report = verify.VerifyReport(app=app, squash=name, database=kw.get("database", "sqlite"))
    report.ok = False
    report.differences = ["table catalog_product: column sku differs (simulated)"]
    return report

verify.verify_squash = fake
from squasher.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_failed_verification_removes_the_squash(sample_project: Path) -> None:
    import subprocess
    import sys

    before = snapshot_tree(sample_project)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = subprocess.run([sys.executable, "-c", FAILING_VERIFY, "squash", "catalog", "0019",
                           "0023"], cwd=sample_project, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1
    assert "column sku differs (simulated)" in proc.stderr
    assert "nothing was written" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot_tree(sample_project) == before
