"""``squasher finalize``: the second half of a squash, atomic, never splitting an app."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_squasher, snapshot_tree
from support.lifecycle import manage

from squasher.errors import SquasherError
from squasher.graph.project import Project
from squasher.lifecycle.finalize import FinalizeError, NotAppliedError, plan_finalize

BILLING_SQUASH = "0001_squashed_0004_alter_invoice_number"
ORIGINALS = ["0001_initial", "0002_invoice_amount", "0003_payment", "0004_alter_invoice_number"]
NO_CONFLICT = {"SAMPLE_APPS_WITHOUT_CONFLICT": "1"}


def _env(root: Path, db: str = "t.sqlite3", **extra: str) -> dict[str, str]:
    return {**NO_CONFLICT, "SAMPLE_APPS_SQLITE": str(root / db), **extra}


def test_finalize_billing_fresh_database(sample_project: Path):
    billing = sample_project / "billing/migrations"
    before = snapshot_tree(sample_project)
    result = run_squasher("finalize", "billing", cwd=sample_project)
    assert result.returncode == 0, result.stderr
    assert f"billing: finalized {BILLING_SQUASH}" in result.stdout
    assert "delete 4 replaced migration(s)" in result.stdout
    for name in ORIGINALS:
        assert not (billing / f"{name}.py").exists()
    text = (billing / f"{BILLING_SQUASH}.py").read_text()
    assert "replaces" not in text
    # Only the `replaces` line (and its blank line) went away; the rest is byte-identical.
    old = before[f"billing/migrations/{BILLING_SQUASH}.py"].decode()
    assert [line for line in old.splitlines() if line not in text.splitlines()] == [
        line for line in old.splitlines() if line.strip().startswith("replaces")]
    after = snapshot_tree(sample_project)
    changed = {k for k in before if after.get(k) != before[k]}
    assert changed == {f"billing/migrations/{n}.py" for n in [*ORIGINALS, BILLING_SQUASH]}

    check = run_squasher("check", "billing", cwd=sample_project)
    assert check.returncode == 0, check.stdout
    migrate = manage(sample_project, "migrate", env=_env(sample_project))
    assert migrate.returncode == 0, migrate.stderr
    assert f"Applying billing.{BILLING_SQUASH}... OK" in migrate.stdout


def test_finalize_on_database_that_had_the_originals(sample_project: Path):
    billing = sample_project / "billing/migrations"
    squash = billing / f"{BILLING_SQUASH}.py"
    hidden = sample_project / "hidden"
    hidden.mkdir()
    env = _env(sample_project)
    # A database migrated before the squash (and what depends on it) existed: the
    # originals are recorded.
    later = [squash, *(p for p in sorted(billing.glob("0*.py")) if int(p.name[:4]) >= 5)]
    for path in later:
        shutil.move(path, hidden / path.name)
    migrated = manage(sample_project, "migrate", "billing", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "Applying billing.0004_alter_invoice_number... OK" in migrated.stdout
    for path in later:
        shutil.move(hidden / path.name, path)
    hidden.rmdir()
    before = snapshot_tree(sample_project)
    # The squash itself is not recorded yet: --database refuses, files untouched.
    refused = run_squasher("finalize", "billing", "--database", "default", "--settings", "settings",
                           cwd=sample_project, env=env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "the squash itself is not recorded yet" in refused.stderr
    assert "python manage.py migrate --database default" in refused.stderr
    assert snapshot_tree(sample_project) == before
    # One `migrate` with the squash present records it (Django's check_replacements).
    assert manage(sample_project, "migrate", env=env).returncode == 0
    done = run_squasher("finalize", "billing", "--database", "default", "--settings", "settings",
                        cwd=sample_project, env=env)
    assert done.returncode == 0, done.stderr
    assert "migrate --prune --database default" in done.stdout
    migrate = manage(sample_project, "migrate", env=env)
    assert migrate.returncode == 0, migrate.stderr
    assert "No migrations to apply" in migrate.stdout
    assert run_squasher("check", "billing", cwd=sample_project).returncode == 0


def test_finalize_django_squash_over_merge_node_keeps_one_leaf(sample_project: Path):
    """Django's squashmigrations from inside one branch drops the edge to the other branch."""
    env = _env(sample_project)
    # In Django's plan 0020_category_description comes after 0021_alter_supplier_phone, so
    # this squash holds one branch plus the merge and keeps only 0019 as its dependency.
    squashed = manage(sample_project, "squashmigrations", "catalog", "0020_category_description",
                      "0022_merge_supplier_phone_category_description", "--noinput", env=env)
    assert squashed.returncode == 0, squashed.stderr
    name = "0020_category_description_squashed_0022_merge_supplier_phone_category_description"
    squash = sample_project / f"catalog/migrations/{name}.py"
    assert squash.exists()
    assert "'0021_alter_supplier_phone'" not in squash.read_text().split("operations")[0]
    project = Project.load(sample_project, use_cache=False)
    plan = plan_finalize(project, "catalog", [name])
    assert plan.added_dependencies == {("catalog", name): [("catalog", "0021_alter_supplier_phone")]}
    # References to the merge node (0023 depends on it) now point at the squash.
    assert [p.name for p in plan.rewritten] == ["0023_rename_title_product_name.py"]
    plan.changes.apply()
    after = Project.load(sample_project, use_cache=False)
    assert after.graph.leaves("catalog") == [("catalog", "0048_assign_default_brand")]
    assert ("catalog", "0021_alter_supplier_phone") in after.graph.parents(("catalog", name))
    assert run_squasher("check", "catalog", cwd=sample_project).returncode == 0
    migrate = manage(sample_project, "migrate", env=env)
    assert migrate.returncode == 0, migrate.stderr
    assert f"Applying catalog.{name}... OK" in migrate.stdout


def test_injected_failure_midway_leaves_every_file(sample_project: Path):
    before = snapshot_tree(sample_project)
    plan = plan_finalize(Project.load(sample_project, use_cache=False), "billing")
    assert len(plan.changes.changes) == 5
    seen: list[str] = []

    def crash(change):
        seen.append(change.kind)
        if len(seen) == 3:  # after the squash was rewritten and one original deleted
            raise OSError("disk full (injected)")

    plan.changes.before_each = crash
    # an OS error is one clear error (no traceback in the CLI) and the tree is restored
    with pytest.raises(SquasherError, match="cannot apply the change: disk full .injected.; nothing was changed"):
        plan.changes.apply()
    assert seen == ["modify", "delete", "delete"]
    assert snapshot_tree(sample_project) == before


def test_not_a_squash_and_nothing_to_finalize(sample_project: Path):
    before = snapshot_tree(sample_project)
    result = run_squasher("finalize", "billing", "0005", cwd=sample_project)
    assert result.returncode == 2
    assert "billing.0005_taxrate is not a squash" in result.stderr
    assert "billing/migrations/0005_taxrate.py:" in result.stderr and "Traceback" not in result.stderr
    nothing = run_squasher("finalize", "accounts", cwd=sample_project)
    assert nothing.returncode == 0 and "nothing to finalize" in nothing.stdout
    unknown = run_squasher("finalize", "nope", cwd=sample_project)
    assert unknown.returncode == 2 and "unknown app 'nope'" in unknown.stderr
    assert snapshot_tree(sample_project) == before


def test_half_finalized_offer_to_finish(sample_project: Path):
    billing = sample_project / "billing/migrations"
    (billing / "0002_invoice_amount.py").unlink()
    (billing / "0003_payment.py").unlink()
    before = snapshot_tree(sample_project)
    result = run_squasher("finalize", "billing", cwd=sample_project)
    assert result.returncode == 2
    assert "half-finalized: 2 of 4 replaced migrations are already gone (0002_invoice_amount, 0003_payment)" in result.stderr
    assert f"squasher finalize billing {BILLING_SQUASH} --finish" in result.stderr
    assert snapshot_tree(sample_project) == before
    done = run_squasher("finalize", "billing", "--finish", cwd=sample_project)
    assert done.returncode == 0, done.stderr
    assert "already gone: 0002_invoice_amount, 0003_payment" in done.stdout
    assert not (billing / "0001_initial.py").exists()
    assert run_squasher("check", "billing", cwd=sample_project).returncode == 0


def test_unparsable_referencing_file_refused(sample_project: Path):
    broken = sample_project / "billing/migrations/0009_broken.py"
    broken.write_text("from django.db import migrations\n\nclass Migration(migrations.Migration:\n"
                      "    dependencies = [('billing', '0003_payment')]\n")
    before = snapshot_tree(sample_project)
    result = run_squasher("finalize", "billing", cwd=sample_project)
    assert result.returncode == 2
    # Django (the source of truth when the project imports) cannot import it: file and line
    assert "billing/migrations/0009_broken.py:3: a migration cannot be imported" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot_tree(sample_project) == before


def test_reference_from_another_app_is_rewritten(sample_project: Path):
    """A migration of another app depending on a replaced migration follows the squash."""
    orders = sample_project / "orders/migrations"
    leaf = Project.load(sample_project, use_cache=False).graph.leaves("orders")[0][1]
    (orders / "0099_invoice_link.py").write_text(
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
        f"    dependencies = [\n        ('orders', '{leaf}'),\n"
        "        ('billing', '0003_payment'),  # payments must exist\n    ]\n\n    operations = []\n")
    result = run_squasher("finalize", "billing", "--dry-run", "--format", "json", cwd=sample_project)
    data = json.loads(result.stdout)
    assert [Path(p).name for p in data["rewritten"]] == ["0099_invoice_link.py"]
    assert (orders / "0099_invoice_link.py").read_text().count("0003_payment") == 1  # dry run
    assert run_squasher("finalize", "billing", cwd=sample_project).returncode == 0
    text = (orders / "0099_invoice_link.py").read_text()
    assert f"('billing', '{BILLING_SQUASH}'),  # payments must exist" in text
    assert run_squasher("check", "billing", "orders", cwd=sample_project).returncode == 0
    assert manage(sample_project, "migrate", env=_env(sample_project)).returncode == 0


def test_library_applied_check():
    from conftest import SAMPLE_APPS

    project = Project.load(SAMPLE_APPS, use_cache=False)
    with pytest.raises(NotAppliedError, match="0 of 4"):
        plan_finalize(project, "billing", databases=["default"], applied={"default": set()})
    plan = plan_finalize(project, "billing", databases=["default", "other"], applied={
        "default": {("billing", BILLING_SQUASH)}, "other": {("billing", BILLING_SQUASH)}})
    assert plan.finalized == [("billing", BILLING_SQUASH)]
    with pytest.raises(FinalizeError, match="not a squash"):
        plan_finalize(project, "billing", ["0005"])


def test_finalize_after_squasher_squash_over_merge_node(sample_project: Path):
    """`squasher squash` over catalog's merge node (0019..0023), then finalize it."""
    squashed = run_squasher("squash", "catalog", "0019", "0023", "--no-verify", cwd=sample_project)
    assert squashed.returncode == 0, squashed.stdout + squashed.stderr
    name = "0019_alter_supplier_unique_together_squashed_0023_rename_title_product_name"
    assert (sample_project / f"catalog/migrations/{name}.py").exists()
    result = run_squasher("finalize", "catalog", name, cwd=sample_project)
    assert result.returncode == 0, result.stderr
    assert "delete 6 replaced migration(s)" in result.stdout
    assert "rewrite references in catalog/migrations/0024_product_is_active.py" in result.stdout
    for gone in ("0020_supplier_phone", "0020_category_description",
                 "0022_merge_supplier_phone_category_description"):
        assert not (sample_project / f"catalog/migrations/{gone}.py").exists()
    assert f"('catalog', '{name}')" in (sample_project / "catalog/migrations/0024_product_is_active.py").read_text()
    project = Project.load(sample_project, use_cache=False)
    assert project.graph.leaves("catalog") == [("catalog", "0048_assign_default_brand")]
    assert run_squasher("check", "catalog", cwd=sample_project).returncode == 0
    migrate = manage(sample_project, "migrate", env=_env(sample_project))
    assert migrate.returncode == 0, migrate.stderr
    assert f"Applying catalog.{name}... OK" in migrate.stdout


def test_nested_squash_closure(tmp_path: Path):
    """S1 replaces S0 and (flattened) S0's originals: all of them go, S0 first is refused."""
    from support.lifecycle import add_field, create, write_project

    def replaces(*names: str) -> str:
        return "    replaces = [" + ", ".join(f"('shop', '{n}')" for n in names) + "]\n"

    root = write_project(tmp_path / "p", {"shop": {
        "0001_initial": ([], create("Item", "name")),
        "0002_a": ([("shop", "0001_initial")], add_field("item", "a")),
        "0001_squashed_0002_a": ([], create("Item", "name", "a"), replaces("0001_initial", "0002_a")),
        "0003_b": ([("shop", "0001_squashed_0002_a")], add_field("item", "b")),
        "0001_squashed_0003_b": ([], create("Item", "name", "a", "b"),
                                 replaces("0001_initial", "0002_a", "0001_squashed_0002_a", "0003_b")),
        "0004_c": ([("shop", "0003_b")], add_field("item", "c")),
    }})
    project = Project.load(root, use_cache=False)
    with pytest.raises(FinalizeError, match="replaced by the squash 0001_squashed_0003_b"):
        plan_finalize(project, "shop", ["0001_squashed_0002_a"])
    plan = plan_finalize(project, "shop")  # both squashes: the outer one covers the inner
    assert plan.finalized == [("shop", "0001_squashed_0003_b")]
    assert sorted(k[1] for k in plan.deleted[("shop", "0001_squashed_0003_b")]) == [
        "0001_initial", "0001_squashed_0002_a", "0002_a", "0003_b"]
    plan.changes.apply()
    names = sorted(p.stem for p in (root / "shop/migrations").glob("0*.py"))
    assert names == ["0001_squashed_0003_b", "0004_c"]
    assert "('shop', '0001_squashed_0003_b')" in (root / "shop/migrations/0004_c.py").read_text()
    assert run_squasher("check", cwd=root).returncode == 0
    migrate = manage(root, "migrate")
    assert migrate.returncode == 0, migrate.stderr


def test_database_unreachable_is_an_error(sample_project: Path, tmp_path: Path):
    before = snapshot_tree(sample_project)
    env = {"SAMPLE_APPS_SQLITE": str(tmp_path / "no" / "such" / "db.sqlite3")}
    result = run_squasher("finalize", "billing", "--database", "default", "--settings", "settings",
                          cwd=sample_project, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot read applied migrations from database 'default'" in result.stderr
    assert snapshot_tree(sample_project) == before


def test_run_before_and_swappable_dependency_of_originals_are_added(tmp_path: Path):
    """An original's run_before and swappable dependency the squash lacks are added to it
    (while `replaces` is there Django applies them through the replaced nodes)."""
    from support.lifecycle import add_field, create, migration_source, write_project

    root = write_project(tmp_path / "p", {
        "shop": {
            "0001_initial": ([], create("Item", "name")),
            "0002_item_note": ([("shop", "0001_initial")], add_field("item", "note"),
                               "    run_before = [('news', '0001_initial')]\n"),
            "0001_squashed_0002_item_note": (
                [], create("Item", "name", "note"),
                "    replaces = [('shop', '0001_initial'), ('shop', '0002_item_note')]\n"),
        },
        "news": {"0001_initial": ([], create("Letter", "subject"))},
    })
    original = root / "shop/migrations/0002_item_note.py"
    original.write_text(
        "from django.conf import settings\n"
        + migration_source([("shop", "0001_initial")], add_field("item", "note"),
                           "    run_before = [('news', '0001_initial')]\n").replace(
            "        ('shop', '0001_initial'),\n",
            "        ('shop', '0001_initial'),\n        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n"))
    project = Project.load(root, use_cache=False)
    assert ("shop", "0001_squashed_0002_item_note") in project.graph.ancestors(("news", "0001_initial"))
    result = run_squasher("finalize", "shop", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in result.stdout
    assert "add run_before news.0001_initial (from 0002_item_note)" in result.stdout
    assert "add swappable_dependency(settings.AUTH_USER_MODEL) (from 0002_item_note)" in result.stdout
    text = (root / "shop/migrations/0001_squashed_0002_item_note.py").read_text()
    assert text == (
        "from django.conf import settings\n"
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [\n"
        "        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n"
        "    ]\n"
        "    run_before = [(\"news\", \"0001_initial\")]\n\n"
        "    operations = [\n" + create("Item", "name", "note") + "    ]\n")
    project = Project.load(root, use_cache=False)
    squash = ("shop", "0001_squashed_0002_item_note")
    assert not project.graph.records[squash].replaces
    assert squash in project.graph.ancestors(("news", "0001_initial"))
    assert [r.swappable_setting for r in project.graph.records[squash].dependencies] == ["AUTH_USER_MODEL"]
    assert run_squasher("check", cwd=root).returncode == 0
    migrate = manage(root, "migrate")
    assert migrate.returncode == 0, migrate.stderr
    order = [line.split()[1] for line in migrate.stdout.splitlines() if line.strip().startswith("Applying")]
    assert order.index("shop.0001_squashed_0002_item_note...") < order.index("news.0001_initial...")
