"""``squasher squash`` on copies of sample_apps, proven by migrating real databases.

For every squash: the written file imports (Django's loader builds the graph with it), a
fresh SQLite database migrated with the squash *and* the originals present ends with the
same schema and row counts as one migrated with the original history, and a database
migrated with the originals up to a migration inside the range, then to the end with the
squash present, ends identical too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_APPS, run_squasher, snapshot_tree
from support.squash_db import hide, migrate, schema, unhide


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole sample project migrated with its original history."""
    import shutil

    from conftest import _COPY_IGNORE

    dest = tmp_path_factory.mktemp("baseline") / "sample_apps"
    shutil.copytree(SAMPLE_APPS, dest, ignore=_COPY_IGNORE)
    return migrate(dest, db=dest / "baseline.sqlite3")


def squash(project: Path, *args: str) -> tuple[int, str, str]:
    proc = run_squasher("squash", *args, cwd=project)
    return proc.returncode, proc.stdout, proc.stderr


def written(project: Path, stdout: str) -> list[Path]:
    paths = [Path(p) for p in re.findall(r"wrote (\S+\.py)", stdout)]
    assert paths, stdout
    for path in paths:
        assert path.is_file()
        assert path.parent.parent.parent == project
    return paths


def check_migrates(project: Path, baseline: dict[str, Any], squashes: list[Path],
                   partial_target: tuple[str, str]) -> None:
    """Fresh DB with squash + originals; then partially applied originals + squash."""
    fresh = migrate(project, db=project / "fresh.sqlite3")
    assert schema(fresh) == schema(baseline)
    for path in squashes:
        app = path.parent.parent.name
        # Django used the squash (it is in the plan), and recorded it as applied
        assert f"{app}.{path.stem}" in fresh["plan"]
        assert f"{app}.{path.stem}" in fresh["applied"]

    hidden = [hide(p) for p in squashes]
    try:
        half = migrate(project, [partial_target], db=project / "partial.sqlite3")
        assert f"{partial_target[0]}.{partial_target[1]}" in half["applied"]
    finally:
        for h in hidden:
            unhide(h)
    partial = migrate(project, db=project / "partial.sqlite3")
    assert schema(partial) == schema(baseline)
    # the originals were used to finish (Django cannot use a half-applied squash), and once
    # all of them are applied the squash is recorded as applied too
    target = repr(tuple(partial_target))
    for path in squashes:
        app = path.parent.parent.name
        if target in path.read_text().replace('"', "'"):
            assert f"{app}.{path.stem}" not in partial["plan"]
        assert f"{app}.{path.stem}" in partial["applied"]


# ------------------------------------------------------------------------------ good cases


def test_accounts_full_history(sample_project: Path, baseline: dict[str, Any]) -> None:
    assert leaf(sample_project, "accounts") == "0002_user_bio"
    code, out, err = squash(sample_project, "accounts", "0002", "--no-verify")
    assert code == 0, err
    [path] = written(sample_project, out)
    assert path.name == "0001_squashed_0002_user_bio.py"
    text = path.read_text()
    assert "initial = True" in text
    assert "replaces = [" in text and "('accounts', '0001_initial')" in text.replace('"', "'")
    assert "replaces 2 migration(s)" in out
    check_migrates(sample_project, baseline, [path], ("accounts", "0001_initial"))


def test_catalog_full_history_cycle_then_split(sample_project: Path,
                                               baseline: dict[str, Any]) -> None:
    assert leaf(sample_project, "catalog") == "0048_assign_default_brand"
    before = snapshot_tree(sample_project)
    code, out, err = squash(sample_project, "catalog", "0048", "--no-split", "--no-verify")
    assert code != 0
    assert "circular dependency" in err and "orders.0002_orderline" in err
    assert "Split before 0030_review" in err and "--split" in err
    assert "Traceback" not in err
    assert snapshot_tree(sample_project) == before

    # the default writes the pieces, naming the cycle it avoids
    code, out, err = squash(sample_project, "catalog", "0048", "--no-verify")
    assert code == 0, err
    assert "would create a circular dependency" in out and "orders.0002_orderline" in out
    paths = written(sample_project, out)
    assert [p.name for p in paths] == [
        "0001_initial_squashed_0029_remove_product_catalog_unique_active_name_per_category.py",
        "0030_review_squashed_0048_assign_default_brand.py",
    ]
    # carried RunPython helpers, constants and imports
    first = paths[0].read_text()
    for needed in ("def seed_catalog(", "def _slugify(", "SLUG_RE = re.compile", "CATALOG = {",
                   "def fill_sku(", "SKU_PREFIX_LENGTH = 3", "import re",
                   "reverse_code=unseed_catalog", "elidable=False",
                   "migrations.swappable_dependency(settings.AUTH_USER_MODEL)"):
        assert needed in first, needed
    assert "Manual porting" not in first and "manual copying" not in first
    second = paths[1].read_text()
    # the second squash depends on the first (not on a migration the first replaces)
    assert f'"{paths[0].stem}"' in second
    check_migrates(sample_project, baseline, paths, ("catalog", "0024_product_is_active"))


def test_orders_full_history_split(sample_project: Path, baseline: dict[str, Any]) -> None:
    end = leaf(sample_project, "orders")
    code, out, err = squash(sample_project, "orders", end, "--no-split", "--no-verify")
    assert code != 0 and "circular dependency" in err and "billing." in err
    code, out, err = squash(sample_project, "orders", end, "--split", "--no-verify")
    assert code == 0, err
    paths = written(sample_project, out)
    assert len(paths) >= 1
    assert "kept as it is" in out or len(paths) >= 2
    # swappable dependency kept as swappable_dependency(settings.X)
    assert "migrations.swappable_dependency(settings.AUTH_USER_MODEL)" in paths[0].read_text()
    check_migrates(sample_project, baseline, paths, ("orders", "0002_orderline"))


def test_catalog_over_merge_node(sample_project: Path, baseline: dict[str, Any]) -> None:
    code, out, err = squash(sample_project, "catalog", "0019", "0023", "--no-verify")
    assert code == 0, err
    [path] = written(sample_project, out)
    text = path.read_text().replace('"', "'")
    for name in ("0020_supplier_phone", "0021_alter_supplier_phone", "0020_category_description",
                 "0022_merge_supplier_phone_category_description", "0023_rename_title_product_name"):
        assert f"('catalog', '{name}')" in text
    assert "initial = True" not in text
    assert "('catalog', '0018_insert_default_tags')" in text  # the in-app parent
    check_migrates(sample_project, baseline, [path], ("catalog", "0020_category_description"))


def test_catalog_runpython_helpers(sample_project: Path, baseline: dict[str, Any]) -> None:
    code, out, err = squash(sample_project, "catalog", "0002", "0009", "--no-verify")
    assert code == 0, err
    [path] = written(sample_project, out)
    assert "carried code:" in out and "seed_catalog" in out and "fill_sku" in out
    assert "RunPython: 2" in out
    text = path.read_text()
    assert "from decimal import Decimal" in text
    assert "migrations.RunPython.noop" in text or "reverse_code=unseed_catalog" in text
    check_migrates(sample_project, baseline, [path], ("catalog", "0005_alter_category_slug"))


def test_billing_non_atomic_run_before(sample_project: Path, baseline: dict[str, Any]) -> None:
    code, out, err = squash(sample_project, "billing", "0005", "0008", "--no-verify")
    assert code == 0, err
    [path] = written(sample_project, out)
    text = path.read_text().replace('"', "'")
    assert "atomic = False" in text
    assert "non-atomic" in out and "0006_seed_tax_rates" in out
    assert "run_before = [" in text and "('orders', '0004_order_shipped_at')" in text
    assert "('billing', '0001_squashed_0004_alter_invoice_number')" in text  # in-app parent
    check_migrates(sample_project, baseline, [path], ("billing", "0006_seed_tax_rates"))


def test_blog_branch_and_newsletter(sample_project: Path, baseline: dict[str, Any]) -> None:
    # the longer branch of the unresolved conflict; newsletter depends on 0004 inside it
    code, out, err = squash(sample_project, "blog", "0003_post_tags", "0005", "--no-verify")
    assert code == 0, err
    [path] = written(sample_project, out)
    code, out, err = squash(sample_project, "newsletter", "0001", "--no-verify")
    assert code == 0, err
    [news] = written(sample_project, out)
    check_migrates(sample_project, baseline, [path, news], ("blog", "0003_post_tags"))


def test_billing_over_existing_squash_dry_run(sample_project: Path) -> None:
    """Over the unfinalized squash: nested on Django 6+, absorbed on 4.2/5.2 (its file deleted
    and 0005_taxrate repointed in the same change set). tests/test_nested_squash.py migrates it."""
    from squasher.squash.plan import nested_replaces_supported

    old = "0001_squashed_0004_alter_invoice_number"
    before = snapshot_tree(sample_project)
    code, out, err = squash(sample_project, "billing", "0008", "--dry-run", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    kinds = {Path(c["path"]).name: c["kind"] for c in data["changes"]}
    [piece] = data["summary"]["squashes"]
    new = "0001_squashed_0008_default_invoice_tax_rate"  # no START: Django's naming
    assert piece["name"] == new and kinds[f"{new}.py"] == "create"
    if nested_replaces_supported():
        assert piece["replaces"][0] == f"billing.{old}" and len(piece["replaces"]) == 5
        assert kinds == {f"{new}.py": "create"} and piece["absorbed"] == []
    else:
        assert f"billing.{old}" not in piece["replaces"] and len(piece["replaces"]) == 8
        assert kinds == {f"{new}.py": "create", f"{old}.py": "delete", "0005_taxrate.py": "modify"}
        assert piece["absorbed"] == [f"billing.{old}"]
        [taxrate] = [c for c in data["changes"] if c["path"].endswith("0005_taxrate.py")]
        assert "('billing', '0004_alter_invoice_number')" in taxrate["text"]
    assert snapshot_tree(sample_project) == before


def test_dry_run_json(sample_project: Path) -> None:
    before = snapshot_tree(sample_project)
    code, out, err = squash(sample_project, "catalog", "0002", "0009", "--dry-run",
                            "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    [change] = data["changes"]
    assert change["kind"] == "create"
    assert change["display"].endswith("catalog/migrations/0002_product_description_squashed_0009_tag.py")
    assert "class Migration(migrations.Migration):" in change["text"]
    [summary] = data["summary"]["squashes"]
    assert summary["operations"]["before"] >= summary["operations"]["after"]
    assert summary["run_python"] == 2
    assert any(c["name"] == "seed_catalog" for c in summary["carried"])
    assert snapshot_tree(sample_project) == before


def test_dry_run_text_prints_file(sample_project: Path) -> None:
    before = snapshot_tree(sample_project)
    code, out, err = squash(sample_project, "accounts", "0002", "--dry-run")
    assert code == 0, err
    assert "class Migration(migrations.Migration):" in out and "dry run" in out
    assert snapshot_tree(sample_project) == before


def test_name_option(sample_project: Path) -> None:
    code, out, err = squash(sample_project, "catalog", "0002", "0003", "--name", "short",
                            "--no-verify", "--no-optimize")
    assert code == 0, err
    [path] = written(sample_project, out)
    assert path.name == "0002_short.py"
    assert "optimizer: none" in out


# ------------------------------------------------------------------------------ bad input


BAD = [
    (["nosuchapp", "0001"], "unknown app 'nosuchapp'"),
    (["catalog", "9999"], "no migration of 'catalog' matches '9999'"),
    (["catalog", "0020"], "more than one migration of 'catalog' starts with '0020'"),
    (["catalog", "0010", "0005"], "comes before"),
    (["catalog", "0019", "0021"], "branch 0020_category_description leaves the range"),
    (["blog", "0005"], "leaves the range"),
    (["catalog", "0020_supplier_phone", "0023"], "branch 0020_category_description enters the range"),
    (["orders", "0004", "0005", "--split"], "every piece that avoids one is a single migration"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input(sample_project: Path, args: list[str], message: str) -> None:
    before = snapshot_tree(sample_project)
    code, out, err = squash(sample_project, *args, "--no-verify")
    assert code != 0
    assert message in err
    assert "Traceback" not in err and "Traceback" not in out
    assert snapshot_tree(sample_project) == before


def leaf(project: Path, app: str) -> str:
    names = sorted(p.stem for p in (project / app / "migrations").glob("0*.py"))
    return names[-1]


def add_migration(project: Path, app: str, name: str, template: str) -> tuple[str, Path]:
    parent = leaf(project, app)
    path = project / app / "migrations" / f"{name}.py"
    path.write_text(template.replace("PARENT", parent))
    return parent, path


TAKEN = """
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("catalog", "PARENT")]
    operations = []
"""


def test_target_exists(sample_project: Path) -> None:
    add_migration(sample_project, "catalog", "0002_taken", TAKEN)
    before = snapshot_tree(sample_project)
    code, out, err = squash(sample_project, "catalog", "0002_product_description", "0003",
                            "--name", "taken", "--no-verify")
    assert code != 0
    assert "already exists" in err and "0002_taken.py" in err
    assert "Traceback" not in err
    assert snapshot_tree(sample_project) == before


def test_unparsable_migration(sample_project: Path) -> None:
    bad = sample_project / "orders" / "migrations" / "0003_order_note.py"
    bad.write_text(bad.read_text() + "\n    this is not python(\n")
    before = snapshot_tree(sample_project)
    code, out, err = squash(sample_project, "orders", "0002", "0004", "--no-verify")
    assert code != 0
    assert "0003_order_note.py" in err
    assert "Traceback" not in err
    assert snapshot_tree(sample_project) == before


def test_settings_import_failure(sample_project: Path) -> None:
    (sample_project / "broken_settings.py").write_text(
        "from settings import *  # noqa\nimport no_such_module_here\n")
    before = snapshot_tree(sample_project)
    code, out, err = squash(sample_project, "accounts", "0002", "--settings", "broken_settings",
                            "--no-verify")
    assert code != 0
    assert "No module named 'no_such_module_here'" in err
    assert "broken_settings" in err
    assert "Traceback" not in err
    assert snapshot_tree(sample_project) == before


LAMBDA_MIGRATION = '''
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orders", "PARENT")]

    operations = [
        migrations.RunPython(lambda apps, schema_editor: None),
    ]
'''


def test_uncarriable_function(sample_project: Path) -> None:
    parent, path = add_migration(sample_project, "orders", "0099_lambda", LAMBDA_MIGRATION)
    before = snapshot_tree(sample_project)
    code, out, err = squash(sample_project, "orders", parent, "0099_lambda", "--no-verify")
    assert code != 0
    assert "0099_lambda.py:9" in err and "lambda" in err and "hint:" in err
    assert "Traceback" not in err
    assert snapshot_tree(sample_project) == before


DYNAMIC_MIGRATION = '''
from django.db import connection, migrations

SQL = "SELECT 1"


class Migration(migrations.Migration):
    dependencies = [("orders", "PARENT")]

    operations = [migrations.RunSQL(SQL)] if connection.vendor == "postgresql" else []
'''


def test_dynamic_operations(sample_project: Path, baseline: dict[str, Any]) -> None:
    parent, path = add_migration(sample_project, "orders", "0099_dynamic", DYNAMIC_MIGRATION)
    before = snapshot_tree(sample_project)
    code, out, err = squash(sample_project, "orders", parent, "0099_dynamic", "--no-verify")
    assert code != 0
    assert "0099_dynamic.py:10" in err and "import time" in err and "--allow-dynamic" in err
    assert snapshot_tree(sample_project) == before
    code, out, err = squash(sample_project, "orders", parent, "0099_dynamic", "--no-verify",
                            "--allow-dynamic")
    assert code == 0, err
    assert "warning:" in out and "0099_dynamic" in out
    assert "connection.vendor='sqlite': 0 operation(s) (no operations)" in out
    [squashed] = written(sample_project, out)
    fresh = migrate(sample_project, db=sample_project / "fresh.sqlite3")
    assert schema(fresh) == schema(baseline)


def test_squash_never_runs_djangos_optimizer_to_report_a_count(sample_project: Path) -> None:
    """Django's count comes from the optimizer's exact replay: running MigrationOptimizer only
    to report it made a 3,000-operation squash take minutes (also with --no-optimize)."""
    script = (
        "import sys\n"
        "from django.db.migrations.optimizer import MigrationOptimizer\n"
        "def refuse(*a, **k):\n"
        "    raise SystemExit('MigrationOptimizer.optimize was called')\n"
        "MigrationOptimizer.optimize = refuse\n"
        "from squasher.squash.plan import plan_squash\n"
        "for optimize in (True, False):\n"
        "    result = plan_squash('.', 'catalog', '0029', '0001', optimize=optimize)\n"
        "    piece = result.pieces[0]\n"
        "    print(piece.ops_before, piece.ops_django, piece.ops_after)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=sample_project,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    optimized, plain = [tuple(map(int, line.split()))
                        for line in proc.stdout.strip().splitlines()[-2:]]
    assert optimized[1] == plain[1] < optimized[0]  # Django's count, the same both ways
    assert plain[2] == plain[0]  # --no-optimize keeps every operation
